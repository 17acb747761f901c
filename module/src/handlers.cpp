// module/src/handlers.cpp: the handler table: several handler DLLs loaded at once, by name.
//
// The handler file sits next to this DLL and carries the same architecture suffix:
// archway_x64.dll loads archway_<name>_x64.dll, plain archway.dll loads archway_<name>.dll
// (archway/handler_abi.h "Loading"). It is loaded once, by full path, with
// LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS so that Arm64X forwarders
// in that folder resolve (docs/iis.md §5, aspnetcore PR 63773). A failure is remembered per
// handler: requests within the back-off (1 s, doubling to 60 s) get the same answer without
// touching the loader; the first one after it retries.
//
// In-flight count: a request (pending ones included, which end on another thread, so no lock can
// be held for them) counts itself in under the entry's shared lock and out with an interlocked
// decrement. close_all_handlers marks the entry closing under the exclusive lock (so no request
// enters afterwards), then waits until the count is zero before calling the handler's close and
// FreeLibrary. If requests are still inside after kCloseWaitMs, the handler is left loaded:
// unloading code that still runs would crash the worker, leaking it cannot.
// A pending request counts out on the IIS thread that ends it, after the handler's complete;
// the handler's own thread may still be returning through the handler's code then, so a
// handler's close must not return while its own threads can still run (it joins them).
#include "shim.h"

#include "archway_version.h"

namespace shim {

struct HandlerEntry {
    char name[kHandlerNameMax + 1];
    SRWLOCK lock;               // guards the fields below; shared while a request counts itself in
    bool ready;
    bool closing;               // Terminate ran: no request enters, nothing is loaded again
    ULONGLONG retry_at;         // GetTickCount64 time of the next load attempt after a failure
    DWORD retry_delay_ms;       // the back-off after the last failure (0: no failure yet)
    wchar_t failure[kMessageCapacity];  // why the last load failed (log text, detailed body)
    size_t failure_length;
    HMODULE module;
    ArchwayHandler handler;
    ArchwayHost host;           // per handler: host.handler_path is this handler's file
    wchar_t path[kPathCapacity];
    volatile long in_flight;    // requests inside the handler (pending ones included)
    HANDLE idle;                // manual-reset; set when in_flight drops to 0 while closing
};

namespace {

constexpr size_t kMaxHandlers = 16;
constexpr DWORD kFirstRetryMs = 1000;
constexpr DWORD kLongestRetryMs = 60000;
constexpr DWORD kCloseWaitMs = 30000;

SRWLOCK g_table_lock;  // guards g_entries/g_count (entries themselves are never removed)
HandlerEntry* g_entries[kMaxHandlers];
size_t g_count;

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

void append_win32_error(archway::WideBuilder& message, DWORD error) {
    message.ascii(": Win32 error ").u32(error).ascii(" (").hex(error, 1).ascii(")");
}

// Loads and opens the handler. Called with entry->lock held exclusively and ready false.
bool load_locked(HandlerEntry* e, archway::WideBuilder& message) {
    archway::WideBuilder path(e->path, kPathCapacity);
    path.wide(g_process.shim_path, g_process.folder_length).wide(L"archway_").ascii(e->name);
    if (g_process.suffix[0]) path.ch(L'_').wide(g_process.suffix);
    path.wide(L".dll");
    if (path.overflow()) {
        message.ascii("archway: handler path too long: ").wide(path.c_str());
        return false;
    }
    HMODULE module = LoadLibraryExW(
        path.c_str(), nullptr, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    if (!module) {
        const DWORD error = GetLastError();
        message.ascii("archway: cannot load handler ").wide(path.c_str());
        append_win32_error(message, error);
        return false;
    }
    LibraryGuard library(module);  // freed on every failure below

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

    e->host.struct_size = static_cast<uint32_t>(sizeof(ArchwayHost));
    e->host.abi_version = ARCHWAY_HANDLER_ABI_VERSION;
    e->host.shim_path = g_process.shim_path;
    e->host.shim_machine = ARCHWAY_ARCH_MACHINE;  // 0xA641 for ARM64EC code
    e->host.reserved = 0;
    e->host.product_version = ARCHWAY_VERSION_STRING;
    e->host.handler_path = e->path;
    ArchwayHandler handler = {};
    handler.struct_size = static_cast<uint32_t>(sizeof(ArchwayHandler));  // in: our buffer size
    const HRESULT hr = open(&e->host, &handler);
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
    e->handler = handler;
    e->module = library.keep();
    e->ready = true;
    return true;
}

void remember_failure_locked(HandlerEntry* e, const archway::WideBuilder& message) {
    const size_t n = message.size() < kMessageCapacity - 1 ? message.size() : kMessageCapacity - 1;
    memcpy(e->failure, message.c_str(), n * sizeof(wchar_t));
    e->failure[n] = 0;
    e->failure_length = n;
    e->retry_delay_ms = e->retry_delay_ms == 0 ? kFirstRetryMs
                        : e->retry_delay_ms >= kLongestRetryMs / 2 ? kLongestRetryMs
                                                                   : e->retry_delay_ms * 2;
    e->retry_at = GetTickCount64() + e->retry_delay_ms;
}

// Counts a request in when the handler is ready. Called with e->lock held (either mode).
bool try_count_in(HandlerEntry* e) {
    if (!e->ready || e->closing) return false;
    _InterlockedIncrement(&e->in_flight);
    return true;
}

}  // namespace

HandlerEntry* handler_entry(const char* name, archway::WideBuilder& message) {
    const size_t n = archway::length(name);
    {
        AcquireSRWLockShared(&g_table_lock);
        HandlerEntry* found = nullptr;
        for (size_t i = 0; i < g_count && !found; ++i)
            if (archway::equal(g_entries[i]->name, archway::length(g_entries[i]->name), name, n))
                found = g_entries[i];
        ReleaseSRWLockShared(&g_table_lock);
        if (found) return found;
    }
    AcquireSRWLockExclusive(&g_table_lock);
    HandlerEntry* found = nullptr;
    for (size_t i = 0; i < g_count && !found; ++i)
        if (archway::equal(g_entries[i]->name, archway::length(g_entries[i]->name), name, n))
            found = g_entries[i];
    if (!found && g_count < kMaxHandlers && n <= kHandlerNameMax) {
        HandlerEntry* e = static_cast<HandlerEntry*>(archway::heap_alloc_zeroed(sizeof(HandlerEntry)));
        HANDLE idle = e ? CreateEventW(nullptr, TRUE, FALSE, nullptr) : nullptr;
        if (e && idle) {
            memcpy(e->name, name, n + 1);
            e->idle = idle;
            g_entries[g_count++] = e;
            found = e;
        } else {
            archway::heap_free(e);
        }
    }
    ReleaseSRWLockExclusive(&g_table_lock);
    if (!found) {
        message.ascii("archway: cannot keep handler \"").ascii(name).ascii("\": ")
            .ascii(g_count >= kMaxHandlers ? "more than 16 handlers are in use" : "out of memory");
    }
    return found;
}

bool handler_enter(HandlerEntry* e, archway::WideBuilder& message) {
    AcquireSRWLockShared(&e->lock);
    bool in = try_count_in(e);
    bool backing_off = !in && !e->closing && e->retry_delay_ms != 0 && GetTickCount64() < e->retry_at;
    if (backing_off) message.wide(e->failure, e->failure_length);  // no new attempt yet
    ReleaseSRWLockShared(&e->lock);
    if (in) return true;
    if (backing_off) return false;

    AcquireSRWLockExclusive(&e->lock);
    in = try_count_in(e);
    if (!in) {
        if (e->closing) {
            message.ascii("archway: the module is shutting down");
        } else if (e->retry_delay_ms != 0 && GetTickCount64() < e->retry_at) {
            message.wide(e->failure, e->failure_length);  // another request just tried
        } else if (load_locked(e, message)) {
            e->retry_delay_ms = 0;
            in = try_count_in(e);
        } else {
            remember_failure_locked(e, message);
        }
    }
    ReleaseSRWLockExclusive(&e->lock);
    return in;
}

void handler_leave(HandlerEntry* e) {
    // Read `closing` after the decrement (a full barrier): either close_all_handlers sees the
    // count at 0, or this sees closing and wakes it.
    if (_InterlockedDecrement(&e->in_flight) == 0 && e->closing) SetEvent(e->idle);
}

const ArchwayHandler& handler_of(const HandlerEntry* e) { return e->handler; }

void close_all_handlers() {
    AcquireSRWLockShared(&g_table_lock);
    const size_t count = g_count;
    ReleaseSRWLockShared(&g_table_lock);
    for (size_t i = 0; i < count; ++i) {
        HandlerEntry* e = g_entries[i];
        AcquireSRWLockExclusive(&e->lock);
        e->closing = true;
        _InterlockedExchange(&e->in_flight, e->in_flight);  // a full barrier after `closing`
        ReleaseSRWLockExclusive(&e->lock);
        if (!e->ready) continue;
        if (_InterlockedCompareExchange(&e->in_flight, 0, 0) != 0 &&
            WaitForSingleObject(e->idle, kCloseWaitMs) != WAIT_OBJECT_0) {
            wchar_t buffer[256];
            archway::WideBuilder m(buffer, 256);
            m.ascii("archway: handler ").ascii(e->name)
                .ascii(" still has requests inside after 30 s; it stays loaded");
            log_message(m);
            continue;
        }
        e->ready = false;
        if (e->handler.close) e->handler.close(e->handler.state);
        FreeLibrary(e->module);
        e->module = nullptr;
    }
}

void stop_application_all(const char* app_config_path) {
    AcquireSRWLockShared(&g_table_lock);
    const size_t count = g_count;
    ReleaseSRWLockShared(&g_table_lock);
    for (size_t i = 0; i < count; ++i) {
        HandlerEntry* e = g_entries[i];
        AcquireSRWLockShared(&e->lock);
        const bool in = try_count_in(e);  // keeps it loaded during the call
        ReleaseSRWLockShared(&e->lock);
        if (!in) continue;
        const ArchwayHandler& h = e->handler;
        if (ARCHWAY_HAS(&h, stop_application) && h.stop_application)
            h.stop_application(h.state, app_config_path);
        handler_leave(e);
    }
}

}  // namespace shim
