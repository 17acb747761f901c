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
// in that folder resolve (iis.md §5, aspnetcore PR 63773). Success is cached. A failure answers
// 500 and is remembered: requests within the back-off (1 s, doubling to 60 s) get the same
// answer without touching the loader or the exclusive lock; the first one after it retries.
//
// Error detail: a 500 body names no path and no Win32 error unless the worker's environment
// has ARCHWAY_DETAILED_ERRORS=1 (or "true"), modelled on ANCM's ASPNETCORE_DETAILEDERRORS,
// which gates its detailed startup-failure page the same way; the detail always goes to the
// debug log (OutputDebugStringW).
//
// Unload: a request holds g.lock shared for as long as it is inside the handler, so
// close_handler's exclusive acquisition waits for every request in flight, and requests that
// arrive meanwhile wait behind it (an SRW lock grants a waiting exclusive request before new
// shared ones) and then find no handler. The SRW lock thus is the in-flight count; no request
// re-enters the lock while it holds it (shim_respond and shim_get_server_variable take none).
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

    bool detailed_errors;       // ARCHWAY_DETAILED_ERRORS, read once in RegisterModule

    SRWLOCK lock;               // guards everything below; held shared while a request runs
    bool handler_ready;
    bool closed;                // Terminate ran: no handler is loaded again
    ULONGLONG retry_at;         // GetTickCount64 time of the next load attempt after a failure
    DWORD retry_delay_ms;       // the back-off after the last failure (0: no failure yet)
    wchar_t failure[kMessageCapacity];  // why the last load failed (log text, detailed body)
    size_t failure_length;
    HMODULE handler_module;
    ArchwayHandler handler;
    wchar_t handler_path[kPathCapacity];  // host.handler_path points here
};
ShimState g;

constexpr DWORD kFirstRetryMs = 1000;
constexpr DWORD kLongestRetryMs = 60000;

// Guards, so each release is written once.
class SharedLock {
public:
    explicit SharedLock(SRWLOCK* lock) : lock_(lock) { AcquireSRWLockShared(lock_); }
    ~SharedLock() { ReleaseSRWLockShared(lock_); }
    SharedLock(const SharedLock&) = delete;
    SharedLock& operator=(const SharedLock&) = delete;

private:
    SRWLOCK* lock_;
};

class ExclusiveLock {
public:
    explicit ExclusiveLock(SRWLOCK* lock) : lock_(lock) { AcquireSRWLockExclusive(lock_); }
    ~ExclusiveLock() { ReleaseSRWLockExclusive(lock_); }
    ExclusiveLock(const ExclusiveLock&) = delete;
    ExclusiveLock& operator=(const ExclusiveLock&) = delete;

private:
    SRWLOCK* lock_;
};

// A loaded library freed on scope exit unless kept.
class LibraryGuard {
public:
    explicit LibraryGuard(HMODULE module) : module_(module) {}
    ~LibraryGuard() {
        if (module_) FreeLibrary(module_);
    }
    HMODULE keep() {
        HMODULE m = module_;
        module_ = nullptr;
        return m;
    }
    LibraryGuard(const LibraryGuard&) = delete;
    LibraryGuard& operator=(const LibraryGuard&) = delete;

private:
    HMODULE module_;
};

// Process-heap memory freed on scope exit.
template <typename T> class HeapBuffer {
public:
    explicit HeapBuffer(size_t count) : p_(static_cast<T*>(archway::heap_alloc(count * sizeof(T)))) {}
    ~HeapBuffer() { archway::heap_free(p_); }
    T* get() const { return p_; }
    HeapBuffer(const HeapBuffer&) = delete;
    HeapBuffer& operator=(const HeapBuffer&) = delete;

private:
    T* p_;
};

// "1" or "true" (any case), as ANCM reads ASPNETCORE_DETAILEDERRORS.
bool env_flag(const wchar_t* name) {
    wchar_t value[8];
    const DWORD n = GetEnvironmentVariableW(name, value, 8);
    if (n == 0 || n >= 8) return false;
    return archway::equal_nocase(value, n, L"1", 1) || archway::equal_nocase(value, n, L"true", 4);
}

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

// A 500 with a short text/plain body. Clients see the message (paths, Win32 errors) only when
// ARCHWAY_DETAILED_ERRORS is set; otherwise a generic text, and the detail is in the log.
void send_error(IHttpContext* context, const wchar_t* message, size_t length) {
    static const char kGeneric[] =
        "archway: the server could not process this request. The details are in the server's "
        "debug log.";
    if (!g.detailed_errors) {
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
    LibraryGuard library(module);  // freed on every failure below

    // 4. The handshake.
    FARPROC proc = GetProcAddress(module, ARCHWAY_HANDLER_OPEN_EXPORT);
    if (!proc) {
        const DWORD error = GetLastError();
        message.ascii("archway: handler ")
            .wide(path.c_str())
            .ascii(" does not export " ARCHWAY_HANDLER_OPEN_EXPORT);
        append_win32_error(message, error);
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
        return false;
    }

    g.handler = handler;
    g.handler_module = library.keep();
    g.handler_ready = true;
    return true;
}

// Remembers a failed load (g.lock held exclusively): its message, and when to try again.
void remember_failure_locked(const archway::WideBuilder& message) {
    const size_t n = message.size() < kMessageCapacity - 1 ? message.size() : kMessageCapacity - 1;
    memcpy(g.failure, message.c_str(), n * sizeof(wchar_t));
    g.failure[n] = 0;
    g.failure_length = n;
    g.retry_delay_ms = g.retry_delay_ms == 0 ? kFirstRetryMs
                       : g.retry_delay_ms >= kLongestRetryMs / 2 ? kLongestRetryMs
                                                                 : g.retry_delay_ms * 2;
    g.retry_at = GetTickCount64() + g.retry_delay_ms;
}

// Makes sure the handler is loaded (or that a recent failure is remembered). Returns false with
// `message` saying why when it cannot be used; true means it was ready a moment ago, and the
// caller re-checks under the shared lock it holds while running the handler.
bool ensure_handler(archway::WideBuilder& message) {
    {
        SharedLock shared(&g.lock);
        if (g.handler_ready) return true;
        if (g.retry_delay_ms != 0 && GetTickCount64() < g.retry_at) {
            message.wide(g.failure, g.failure_length);  // within the back-off: no new attempt
            return false;
        }
    }
    ExclusiveLock exclusive(&g.lock);
    if (g.handler_ready) return true;
    if (g.closed) {
        message.ascii("archway: the module is shutting down");
        return false;
    }
    if (g.retry_delay_ms != 0 && GetTickCount64() < g.retry_at) {  // another request just tried
        message.wide(g.failure, g.failure_length);
        return false;
    }
    if (load_handler_locked(message)) {
        g.retry_delay_ms = 0;
        return true;
    }
    remember_failure_locked(message);
    return false;
}

// Unloads the handler once every request inside it has left (see the top of this file).
void close_handler() {
    ExclusiveLock exclusive(&g.lock);
    g.closed = true;
    if (g.handler_ready) {
        g.handler_ready = false;
        if (g.handler.close) g.handler.close(g.handler.state);
        FreeLibrary(g.handler_module);
        g.handler_module = nullptr;
    }
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
        HeapBuffer<wchar_t> buffer(kMessageCapacity);
        if (!buffer.get()) {
            static const char kText[] = "archway: out of memory";
            send_response(context, 500, nullptr, "text/plain; charset=utf-8", kText,
                          sizeof(kText) - 1);
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
        archway::WideBuilder message(buffer.get(), kMessageCapacity);
        for (;;) {
            if (!ensure_handler(message)) {
                log_message(message);
                send_error(context, message.c_str(), message.size());
                return RQ_NOTIFICATION_FINISH_REQUEST;
            }
            // Held until the handler returns: close_handler cannot unload it under us.
            SharedLock in_flight(&g.lock);
            if (!g.handler_ready) continue;  // unloaded between ensure_handler and here
            run_handler(context, g.handler, message);
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
    }

private:
    static void run_handler(IHttpContext* context, const ArchwayHandler& handler,
                            archway::WideBuilder& message) {
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
    g.detailed_errors = env_flag(L"ARCHWAY_DETAILED_ERRORS");

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
