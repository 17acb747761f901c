// module/src/shim.cpp: the global module: RegisterModule, the per-request module, the global
// module for GL_APPLICATION_STOP, and the shared answers.
//
// IIS loads this DLL, calls RegisterModule (docs/iis.md §4.6 step 1) and, for every request that
// reaches the execute-request-handler stage, asks the factory for a module object and calls its
// OnExecuteRequestHandler. The module does no HTTP work itself: it picks the application's
// handler from configuration (select.cpp), loads it (handlers.cpp) and passes the request to it
// through the C ABI of archway/handler_abi.h (request.cpp). A handler that returns
// ARCHWAY_S_PENDING leaves the notification pending; OnAsyncCompletion ends it after the
// handler's complete (request.cpp explains the PostCompletion design).
//
// Error detail: a 500 body names no path and no Win32 error unless the worker's environment
// has ARCHWAY_DETAILED_ERRORS=1 (or "true"), modelled on ANCM's ASPNETCORE_DETAILEDERRORS,
// which gates its detailed startup-failure page the same way; the detail always goes to the
// debug log (OutputDebugStringW).
#include "shim.h"

namespace shim {

Process g_process;

namespace {

// "1" or "true" (any case), as ANCM reads ASPNETCORE_DETAILEDERRORS.
bool env_flag(const wchar_t* name) {
    wchar_t value[8];
    const DWORD n = GetEnvironmentVariableW(name, value, 8);
    if (n == 0 || n >= 8) return false;
    return archway::equal_nocase(value, n, L"1", 1) || archway::equal_nocase(value, n, L"true", 4);
}

class ShimModule final : public CHttpModule {
public:
    REQUEST_NOTIFICATION_STATUS OnExecuteRequestHandler(IHttpContext* context,
                                                        IHttpEventProvider* provider) override {
        (void)provider;
        HeapBuffer<wchar_t> buffer(kMessageCapacity);
        if (!buffer.get()) {
            static const char kText[] = "archway: out of memory";
            send_response(context, 500, nullptr, "text/plain; charset=utf-8", kText,
                          sizeof(kText) - 1);
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
        archway::WideBuilder message(buffer.get(), kMessageCapacity);
        char name[kHandlerNameMax + 1];
        HandlerEntry* entry = nullptr;
        if (!select_handler(context, name, message) || !(entry = handler_entry(name, message)) ||
            !handler_enter(entry, message)) {
            log_message(message);
            send_error(context, message.c_str(), message.size());
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
        ShimRequest* request = request_create(context, entry);  // holds the in-flight count
        if (!request) {
            handler_leave(entry);
            message.ascii("archway: out of memory");
            send_error(context, message.c_str(), message.size());
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
        request_ = request;
        const ArchwayHandler& handler = handler_of(entry);
        const HRESULT hr = handler.execute(handler.state, request_abi(request));
        const REQUEST_NOTIFICATION_STATUS status = request_after_execute(request, hr);
        if (status != RQ_NOTIFICATION_PENDING) request_ = nullptr;  // ended and freed
        return status;
    }

    // After complete's PostCompletion (request.cpp), on an IIS thread.
    REQUEST_NOTIFICATION_STATUS OnAsyncCompletion(IHttpContext* context, DWORD notification,
                                                  BOOL post, IHttpEventProvider* provider,
                                                  IHttpCompletionInfo* info) override {
        (void)context;
        (void)notification;
        (void)post;
        (void)provider;
        (void)info;
        ShimRequest* request = request_;
        if (!request) return RQ_NOTIFICATION_CONTINUE;  // not ours (no request pending)
        request_ = nullptr;
        return request_after_completion(request);
    }

private:
    ShimRequest* request_ = nullptr;
};

class ShimFactory final : public IHttpModuleFactory {
public:
    HRESULT GetHttpModule(CHttpModule** module, IModuleAllocator* allocator) override {
        (void)allocator;  // plain heap objects; CHttpModule::Dispose deletes them
        if (!module) return E_POINTER;
        *module = new (archway::nothrow) ShimModule();
        return *module ? S_OK : E_OUTOFMEMORY;
    }

    void Terminate() override {
        close_all_handlers();
        delete this;
    }
};

// GL_APPLICATION_STOP (docs/iis.md §4.3 slot 9): the handlers let go of the application, and its
// handler choice is read again when it starts anew.
class ShimGlobal final : public CGlobalModule {
public:
    GLOBAL_NOTIFICATION_STATUS OnGlobalApplicationStop(IHttpApplicationStopProvider* provider) override {
        IHttpApplication* application = provider ? provider->GetApplication() : nullptr;
        if (!application) return GL_NOTIFICATION_CONTINUE;
        const wchar_t* path = application->GetAppConfigPath();
        if (path) forget_application(path);
        // Handlers know an application by APPL_MD_PATH, which is GetApplicationId
        // (archway/handler_abi.h, stop_application).
        const wchar_t* id = application->GetApplicationId();
        if (!id) return GL_NOTIFICATION_CONTINUE;
        const size_t n = archway::length(id);
        HeapBuffer<char> utf8(n * 3 + 1);
        if (utf8.get()) {
            archway::Utf8Builder b(utf8.get(), n * 3 + 1);
            b.utf16(id, n);
            stop_application_all(b.c_str());
        }
        return GL_NOTIFICATION_CONTINUE;
    }
    void Terminate() override { delete this; }
};

// "x64" from "...\archway_x64.dll", "" from "...\archway.dll" (or any other name).
void compute_suffix() {
    Process& g = g_process;
    const wchar_t* file = g.shim_path + g.folder_length;
    size_t stem = g.shim_path_length - g.folder_length;
    if (stem >= 4 && archway::equal_nocase(file + stem - 4, 4, L".dll", 4)) stem -= 4;
    static const wchar_t kPrefix[] = L"archway_";
    const size_t prefix = sizeof(kPrefix) / sizeof(kPrefix[0]) - 1;
    size_t n = 0;
    if (stem > prefix && archway::equal_nocase(file, prefix, kPrefix, prefix)) {
        for (size_t i = prefix; i < stem; ++i) g.suffix[n++] = file[i];
    }
    g.suffix[n] = 0;
}

}  // namespace

const char* default_reason(uint16_t status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

void log_message(archway::WideBuilder& message) {
    const size_t n = message.size();
    message.ch(L'\n');
    OutputDebugStringW(message.c_str());
    message.truncate(n);
}

// The whole response (docs/iis.md §4.6 step 3): Clear, SetStatus, SetHeader by name (slot 5), one
// FromMemory chunk through WriteEntityChunks (slot 21). The body is first copied into request
// memory, so the caller's buffer may go away even if response buffering has been disabled.
HRESULT send_response(IHttpContext* context, uint16_t status, const char* reason,
                      const char* content_type, const void* body, uint32_t body_length) {
    IHttpResponse* response = context->GetResponse();
    if (!response) return E_UNEXPECTED;
    response->Clear();
    // fTrySkipCustomErrors = TRUE: the body is the point (handler output or our error text),
    // so ask IIS not to replace it with a custom error page.
    HRESULT hr = response->SetStatus(status, reason ? reason : default_reason(status), 0, S_OK,
                                     nullptr, TRUE);
    if (FAILED(hr)) return hr;
    if (content_type && content_type[0]) {
        hr = response->SetHeader("Content-Type", content_type,
                                 static_cast<USHORT>(archway::length(content_type)), TRUE);
        if (FAILED(hr)) return hr;
    }
    if (body_length == 0) return S_OK;
    if (!body) return E_POINTER;
    void* data = context->AllocateRequestMemory(body_length);
    if (data) {
        memcpy(data, body, body_length);
    } else {
        data = const_cast<void*>(body);  // buffered responses are copied by IIS anyway
    }
    HTTP_DATA_CHUNK chunk;
    chunk.DataChunkType = HttpDataChunkFromMemory;
    chunk.FromMemory.pBuffer = data;
    chunk.FromMemory.BufferLength = body_length;
    DWORD sent = 0;
    BOOL completion_expected = FALSE;
    return response->WriteEntityChunks(&chunk, 1, FALSE, FALSE, &sent, &completion_expected);
}

// A 500 with a short text/plain body. Clients see the message (paths, Win32 errors) only when
// ARCHWAY_DETAILED_ERRORS is set; otherwise a generic text, and the detail is in the log.
void send_error(IHttpContext* context, const wchar_t* message, size_t length) {
    static const char kGeneric[] =
        "archway: the server could not process this request. The details are in the server's "
        "debug log.";
    if (!g_process.detailed_errors) {
        send_response(context, 500, nullptr, "text/plain; charset=utf-8", kGeneric,
                      sizeof(kGeneric) - 1);
        return;
    }
    const size_t capacity = length * 3 + 1;  // UTF-8 needs at most 3 bytes per UTF-16 unit
    HeapBuffer<char> text(capacity);
    if (!text.get()) {
        static const char kFallback[] = "archway: out of memory";
        send_response(context, 500, nullptr, "text/plain; charset=utf-8", kFallback,
                      sizeof(kFallback) - 1);
        return;
    }
    archway::Utf8Builder body(text.get(), capacity);
    body.utf16(message, length);
    send_response(context, 500, nullptr, "text/plain; charset=utf-8", body.c_str(),
                  static_cast<uint32_t>(body.size()));
}

}  // namespace shim

// ---------------------------------------------------------------------------------------------
// Exports. RegisterModule is exported undecorated through module/archway.def, never with
// dllexport (docs/toolchains.md §4.3: on x86 dllexport would export _RegisterModule@12).

extern "C" HRESULT WINAPI RegisterModule(DWORD server_version,
                                         IHttpModuleRegistrationInfo* module_info,
                                         IHttpServer* server) {
    using shim::g_process;
    (void)server_version;  // the IIS major version; nothing depends on it
    if (!module_info || !server) return E_POINTER;

    const DWORD n = GetModuleFileNameW(g_process.self, g_process.shim_path, shim::kPathCapacity);
    if (n == 0 || n >= shim::kPathCapacity) {
        const DWORD error = n == 0 ? GetLastError() : static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER);
        OutputDebugStringW(L"archway: RegisterModule cannot determine its own path\n");
        return HRESULT_FROM_WIN32(error);
    }
    g_process.shim_path_length = n;
    g_process.folder_length = archway::folder_length(g_process.shim_path, n);
    shim::compute_suffix();
    g_process.server = server;
    g_process.detailed_errors = shim::env_flag(L"ARCHWAY_DETAILED_ERRORS");

    shim::ShimFactory* factory = new (archway::nothrow) shim::ShimFactory();
    if (!factory) return E_OUTOFMEMORY;
    HRESULT hr = module_info->SetRequestNotifications(factory, RQ_EXECUTE_REQUEST_HANDLER, 0);
    if (FAILED(hr)) {
        delete factory;
        return hr;
    }
    shim::ShimGlobal* global = new (archway::nothrow) shim::ShimGlobal();
    if (!global) return E_OUTOFMEMORY;
    hr = module_info->SetGlobalNotifications(global, GL_APPLICATION_STOP);
    if (FAILED(hr)) {
        delete global;
        return hr;
    }
    return S_OK;
}

extern "C" BOOL WINAPI DllMain(HMODULE module, DWORD reason, void* reserved) {
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        shim::g_process.self = module;
        DisableThreadLibraryCalls(module);
    }
    return TRUE;
}
