// module/src/shim.cpp: the global module: RegisterModule, factory, request hand-off to a handler.
//
// IIS loads this DLL, calls RegisterModule (iis.md §4.6 step 1) and, for every request that
// reaches the execute-request-handler stage, asks the factory for a module object and calls its
// OnExecuteRequestHandler. The module does no HTTP work itself: it passes the request to a
// handler DLL through the C ABI of archway/handler_abi.h.
//
// Handler selection: environment variable ARCHWAY_HANDLER (default "diagnostics"; only
// [a-z0-9_], 1-32 characters). The handler file sits next to this DLL and carries the same
// architecture suffix: archway_x64.dll loads archway_<handler>_x64.dll, plain archway.dll loads
// archway_<handler>.dll. It is loaded once, by full path, with
// LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS so that Arm64X forwarders
// in that folder resolve (iis.md §5, aspnetcore PR 63773). Success is cached; a failure answers
// 500 and is retried on a later request.
#include "archway/handler_abi.h"
#include "archway/httpserv.h"
#include "archway/memory.h"
#include "archway/text.h"
#include "archway_version.h"

extern "C" void* __cdecl memcpy(void* dest, const void* src, size_t count);

namespace {

constexpr DWORD kPathCapacity = 2048;     // UTF-16 units for one full path (incl. NUL)
constexpr size_t kMessageCapacity = 4096;  // UTF-16 units for one error message
constexpr size_t kHandlerNameMax = 32;
constexpr DWORD kEnvCapacity = 256;

// Process-wide state. Zero-initialised static storage (no constructor runs).
struct ShimState {
    HMODULE self;               // this DLL (from DllMain)
    IHttpServer* server;        // from RegisterModule, kept for the module's lifetime
    HTTP_MODULE_ID module_id;   // from IHttpModuleRegistrationInfo::GetId
    wchar_t shim_path[kPathCapacity];
    size_t shim_path_length;
    size_t folder_length;       // of shim_path, including the trailing backslash
    wchar_t suffix[kPathCapacity];  // "x64" for archway_x64.dll, empty for archway.dll
    ArchwayHost host;

    SRWLOCK lock;               // guards everything below
    bool handler_ready;
    HMODULE handler_module;
    ArchwayHandler handler;
    wchar_t handler_path[kPathCapacity];  // host.handler_path points here
};
ShimState g;

void log_message(archway::WideBuilder& message) {
    const size_t n = message.size();
    message.ch(L'\n');
    OutputDebugStringW(message.c_str());
    message.truncate(n);
}

const char* default_reason(uint16_t status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

// The whole response (iis.md §4.6 step 3): Clear, SetStatus, SetHeader by name (slot 5), one
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

// A 500 with a short text/plain body: the message, as UTF-8.
void send_error(IHttpContext* context, const wchar_t* message, size_t length) {
    const size_t capacity = length * 3 + 1;  // UTF-8 needs at most 3 bytes per UTF-16 unit
    char* text = static_cast<char*>(archway::heap_alloc(capacity));
    if (!text) {
        static const char kFallback[] = "archway: out of memory";
        send_response(context, 500, nullptr, "text/plain; charset=utf-8", kFallback,
                      sizeof(kFallback) - 1);
        return;
    }
    archway::Utf8Builder body(text, capacity);
    body.utf16(message, length);
    send_response(context, 500, nullptr, "text/plain; charset=utf-8", body.c_str(),
                  static_cast<uint32_t>(body.size()));
    archway::heap_free(text);
}

void append_win32_error(archway::WideBuilder& message, DWORD error) {
    message.ascii(": Win32 error ").u32(error).ascii(" (").hex(error, 1).ascii(")");
}

bool valid_handler_name(const wchar_t* name, size_t length) {
    if (length < 1 || length > kHandlerNameMax) return false;
    for (size_t i = 0; i < length; ++i) {
        const wchar_t c = name[i];
        if (!((c >= L'a' && c <= L'z') || (c >= L'0' && c <= L'9') || c == L'_')) return false;
    }
    return true;
}

// Loads and opens the handler. Called with g.lock held exclusively and g.handler_ready false.
// On failure, `message` says why (and the caller answers 500).
bool load_handler_locked(archway::WideBuilder& message) {
    // 1. The handler's name.
    wchar_t name[kEnvCapacity];
    DWORD name_length = GetEnvironmentVariableW(L"ARCHWAY_HANDLER", name, kEnvCapacity);
    if (name_length >= kEnvCapacity) {
        message.ascii("archway: invalid ARCHWAY_HANDLER value (")
            .u32(name_length - 1)
            .ascii(" characters): expected 1-32 characters from [a-z0-9_]");
        return false;
    }
    if (name_length == 0) {  // not set (or set to nothing): the default
        static const wchar_t kDefault[] = L"diagnostics";
        for (name_length = 0; kDefault[name_length]; ++name_length)
            name[name_length] = kDefault[name_length];
        name[name_length] = 0;
    }
    if (!valid_handler_name(name, name_length)) {
        message.ascii("archway: invalid ARCHWAY_HANDLER value \"")
            .wide(name, name_length)
            .ascii("\": expected 1-32 characters from [a-z0-9_]");
        return false;
    }

    // 2. Its full path: <shim folder>archway_<name>[_<suffix>].dll (handler_abi.h "Loading").
    archway::WideBuilder path(g.handler_path, kPathCapacity);
    path.wide(g.shim_path, g.folder_length).wide(L"archway_").wide(name, name_length);
    if (g.suffix[0]) path.ch(L'_').wide(g.suffix);
    path.wide(L".dll");
    if (path.overflow()) {
        message.ascii("archway: handler path too long: ").wide(path.c_str());
        return false;
    }

    // 3. Load it.
    HMODULE module = LoadLibraryExW(
        path.c_str(), nullptr, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    if (!module) {
        const DWORD error = GetLastError();
        message.ascii("archway: cannot load handler ").wide(path.c_str());
        append_win32_error(message, error);
        return false;
    }

    // 4. The handshake.
    FARPROC proc = GetProcAddress(module, ARCHWAY_HANDLER_OPEN_EXPORT);
    if (!proc) {
        const DWORD error = GetLastError();
        message.ascii("archway: handler ")
            .wide(path.c_str())
            .ascii(" does not export " ARCHWAY_HANDLER_OPEN_EXPORT);
        append_win32_error(message, error);
        FreeLibrary(module);
        return false;
    }
    ArchwayHandlerOpenFn open = archway::proc_cast<ArchwayHandlerOpenFn>(proc);

    g.host.handler_path = g.handler_path;
    ArchwayHandler handler = {};
    handler.struct_size = static_cast<uint32_t>(sizeof(ArchwayHandler));  // in: our buffer size
    const HRESULT hr = open(&g.host, &handler);
    if (FAILED(hr)) {
        message.ascii("archway: handler ")
            .wide(path.c_str())
            .ascii(" refused the handshake: HRESULT ")
            .hex(static_cast<uint32_t>(hr), 8);
        FreeLibrary(module);
        return false;
    }
    const uint32_t needed =
        static_cast<uint32_t>(ARCHWAY_OFFSETOF(ArchwayHandler, close) + sizeof(handler.close));
    if (handler.abi_version != ARCHWAY_HANDLER_ABI_VERSION || handler.struct_size < needed ||
        handler.struct_size > sizeof(ArchwayHandler) || !handler.execute) {
        message.ascii("archway: handler ")
            .wide(path.c_str())
            .ascii(" returned an unusable description (abi_version ")
            .u32(handler.abi_version)
            .ascii(", struct_size ")
            .u32(handler.struct_size)
            .ascii("); this shim speaks ABI version ")
            .u32(ARCHWAY_HANDLER_ABI_VERSION);
        if (handler.close && handler.struct_size >= needed) handler.close(handler.state);
        FreeLibrary(module);
        return false;
    }

    g.handler = handler;
    g.handler_module = module;
    g.handler_ready = true;
    return true;
}

// A copy of the handler description, loading the handler first if needed.
bool acquire_handler(ArchwayHandler* out, archway::WideBuilder& message) {
    AcquireSRWLockShared(&g.lock);
    bool ready = g.handler_ready;
    if (ready) *out = g.handler;
    ReleaseSRWLockShared(&g.lock);
    if (ready) return true;

    AcquireSRWLockExclusive(&g.lock);
    ready = g.handler_ready || load_handler_locked(message);
    if (ready) *out = g.handler;
    ReleaseSRWLockExclusive(&g.lock);
    return ready;
}

void close_handler() {
    AcquireSRWLockExclusive(&g.lock);
    if (g.handler_ready) {
        g.handler_ready = false;
        if (g.handler.close) g.handler.close(g.handler.state);
        FreeLibrary(g.handler_module);
        g.handler_module = nullptr;
    }
    ReleaseSRWLockExclusive(&g.lock);
}

// ---------------------------------------------------------------------------------------------
// ArchwayRequest on top of IHttpContext.

struct ShimRequest {
    ArchwayRequest request;  // what the handler sees; request.context points back here
    IHttpContext* context;
    bool responded;
};

HRESULT ARCHWAY_CALL shim_get_server_variable(ArchwayRequest* request, const char* name,
                                              const char** value, uint32_t* length) {
    if (!request || !name || !value || !length) return E_POINTER;
    *value = nullptr;
    *length = 0;
    ShimRequest* self = static_cast<ShimRequest*>(request->context);
    PCSTR text = nullptr;
    DWORD count = 0;
    // The ANSI-value overload: IHttpContext slot 15 (iis.md §4.2, §4.4).
    // [UNCERTAIN] For non-ASCII values (e.g. a percent-decoded URL) whether IIS returns UTF-8
    // or the system code page here is not confirmed; the handler ABI promises UTF-8.
    const HRESULT hr = self->context->GetServerVariable(name, &text, &count);
    if (FAILED(hr)) return hr;
    if (!text) {
        text = "";
        count = 0;
    }
    // [UNCERTAIN] whether the count includes the terminating NUL; drop trailing NULs either way.
    while (count > 0 && text[count - 1] == 0) --count;
    *value = text;
    *length = count;
    return S_OK;
}

HRESULT ARCHWAY_CALL shim_respond(ArchwayRequest* request, uint16_t status, const char* reason,
                                  const char* content_type, const void* body,
                                  uint32_t body_length) {
    if (!request) return E_POINTER;
    ShimRequest* self = static_cast<ShimRequest*>(request->context);
    if (self->responded) return E_UNEXPECTED;  // "Call at most once"
    self->responded = true;
    return send_response(self->context, status, reason, content_type, body, body_length);
}

// ---------------------------------------------------------------------------------------------
// The module and its factory.

class ShimModule final : public CHttpModule {
public:
    REQUEST_NOTIFICATION_STATUS OnExecuteRequestHandler(IHttpContext* context,
                                                        IHttpEventProvider* provider) override {
        (void)provider;
        wchar_t* buffer =
            static_cast<wchar_t*>(archway::heap_alloc(kMessageCapacity * sizeof(wchar_t)));
        if (!buffer) {
            static const char kText[] = "archway: out of memory";
            send_response(context, 500, nullptr, "text/plain; charset=utf-8", kText,
                          sizeof(kText) - 1);
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
        archway::WideBuilder message(buffer, kMessageCapacity);

        ArchwayHandler handler;
        if (!acquire_handler(&handler, message)) {
            log_message(message);
            send_error(context, message.c_str(), message.size());
            archway::heap_free(buffer);
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }

        ShimRequest shim_request = {};
        shim_request.request.struct_size = static_cast<uint32_t>(sizeof(ArchwayRequest));
        shim_request.request.context = &shim_request;
        shim_request.request.get_server_variable = shim_get_server_variable;
        shim_request.request.respond = shim_respond;
        shim_request.context = context;
        shim_request.responded = false;

        const HRESULT hr = handler.execute(handler.state, &shim_request.request);
        if (FAILED(hr) || !shim_request.responded) {
            message.ascii("archway: handler ").ascii(handler.name ? handler.name : "(unnamed)");
            if (FAILED(hr)) {
                message.ascii(" failed: HRESULT ").hex(static_cast<uint32_t>(hr), 8);
            } else {
                message.ascii(" produced no response");
            }
            log_message(message);
            if (!shim_request.responded) send_error(context, message.c_str(), message.size());
        }
        archway::heap_free(buffer);
        return RQ_NOTIFICATION_FINISH_REQUEST;
    }
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
        close_handler();
        delete this;
    }
};

// "x64" from "...\archway_x64.dll", "" from "...\archway.dll" (or any other name).
void compute_suffix() {
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

// ---------------------------------------------------------------------------------------------
// Exports. RegisterModule is exported undecorated through module/archway.def, never with
// dllexport (toolchains.md §4.3: on x86 dllexport would export _RegisterModule@12).

extern "C" HRESULT WINAPI RegisterModule(DWORD server_version,
                                         IHttpModuleRegistrationInfo* module_info,
                                         IHttpServer* server) {
    (void)server_version;  // the IIS major version; nothing depends on it
    if (!module_info) return E_POINTER;

    const DWORD n = GetModuleFileNameW(g.self, g.shim_path, kPathCapacity);
    if (n == 0 || n >= kPathCapacity) {
        const DWORD error = n == 0 ? GetLastError() : static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER);
        OutputDebugStringW(L"archway: RegisterModule cannot determine its own path\n");
        return HRESULT_FROM_WIN32(error);
    }
    g.shim_path_length = n;
    g.folder_length = archway::folder_length(g.shim_path, n);
    compute_suffix();

    g.server = server;
    g.module_id = module_info->GetId();

    g.host.struct_size = static_cast<uint32_t>(sizeof(ArchwayHost));
    g.host.abi_version = ARCHWAY_HANDLER_ABI_VERSION;
    g.host.shim_path = g.shim_path;
    g.host.shim_machine = ARCHWAY_ARCH_MACHINE;  // 0xA641 for ARM64EC code
    g.host.reserved = 0;
    g.host.product_version = ARCHWAY_VERSION_STRING;
    g.host.handler_path = g.handler_path;

    ShimFactory* factory = new (archway::nothrow) ShimFactory();
    if (!factory) return E_OUTOFMEMORY;
    const HRESULT hr = module_info->SetRequestNotifications(factory, RQ_EXECUTE_REQUEST_HANDLER, 0);
    if (FAILED(hr)) {
        delete factory;
        return hr;
    }
    return S_OK;
}

extern "C" BOOL WINAPI DllMain(HMODULE module, DWORD reason, void* reserved) {
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        g.self = module;
        DisableThreadLibraryCalls(module);
    }
    return TRUE;
}
