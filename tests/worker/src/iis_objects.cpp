// tests/worker/src/iis_objects.cpp: the IIS side: module loading, the server objects modules see
// (IHttpServer, IHttpModuleRegistrationInfo, IHttpContext, IHttpRequest, IHttpResponse,
// IHttpSite, IHttpApplication, IHttpConnection) and the request pipeline that drives CHttpModule
// notifications. A notification that returns PENDING parks the connection's thread in
// wait_pending; the module may then call ReadEntityBody, WriteEntityChunks, Flush and
// IndicateCompletion/PostCompletion from any thread (also before the notification returned).
//
// Vtable order comes from archway/httpserv.h (docs/iis.md §4.2 overload rule); the classes here only
// override. What is not implemented says so: E_NOTIMPL or null, never a fake success.
#include "admin.h"
#include "request.h"
#include "websocket.h"

namespace worker {

Process g_process;

// ---------------------------------------------------------------------------------------------
// Modules.

struct ModuleRecord final : public IHttpModuleRegistrationInfo {
    const char* name = nullptr;
    const wchar_t* name_w = nullptr;
    IHttpModuleFactory* factory = nullptr;
    DWORD notifications = 0;
    DWORD post_notifications = 0;
    CGlobalModule* global = nullptr;
    DWORD global_notifications = 0;

    PCWSTR GetName() const override { return name_w; }
    HTTP_MODULE_ID GetId() const override { return const_cast<ModuleRecord*>(this); }
    HRESULT SetRequestNotifications(IHttpModuleFactory* f, DWORD n, DWORD post) override {
        if (!f) return E_INVALIDARG;
        factory = f;
        notifications = n;
        post_notifications = post;
        return S_OK;
    }
    // Stored so that Terminate(), GL_STOP_LISTENING and GL_APPLICATION_STOP (at shutdown) reach
    // the module; no other global notification is ever raised by this stand-in.
    HRESULT SetGlobalNotifications(CGlobalModule* m, DWORD n) override {
        if (!m) return E_INVALIDARG;
        global = m;
        global_notifications = n;
        return S_OK;
    }
    // Accepted, but this stand-in calls modules in registration order whatever the priority.
    HRESULT SetPriorityForRequestNotification(DWORD, PCWSTR) override { return S_OK; }
    HRESULT SetPriorityForGlobalNotification(DWORD, PCWSTR) override { return S_OK; }
};

namespace {

constexpr size_t kMaxModules = 64;
ModuleRecord* g_modules[kMaxModules];
size_t g_module_count;

class Server final : public IHttpServer2 {  // IHttpServer2: websocket.h
public:
    // w3wp is started by WAS, not from a command line (IIS Express answers TRUE).
    BOOL IsCommandLineLaunch() const override { return FALSE; }
    PCWSTR GetAppPoolName() const override { return g_process.pool_w; }
    HRESULT AssociateWithThreadPool(HANDLE, LPOVERLAPPED_COMPLETION_ROUTINE) override {
        return E_NOTIMPL;
    }
    void IncrementThreadCount() override {}  // a hint to IIS's thread pool; there is none here
    void DecrementThreadCount() override {}
    void ReportUnhealthy(PCWSTR reason, HRESULT hr) override {
        char buffer[1024];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("a module reported the process unhealthy: ").utf16(reason ? reason : L"");
        m.raw(" (HRESULT ").hex(static_cast<uint32_t>(hr), 8).raw(")");
        err_line(m);
    }
    void RecycleProcess(PCWSTR reason) override {
        char buffer[1024];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("a module asked for a recycle (not done by this stand-in): ").utf16(reason ? reason : L"");
        err_line(m);
    }
    // The configuration API over the stand-in's files (admin.cpp).
    IAppHostAdminManager* GetAdminManager() const override { return admin_manager(); }
    HRESULT GetFileInfo(PCWSTR, HANDLE, PSID, PCWSTR, HANDLE, BOOL, IHttpFileInfo** out,
                        IHttpTraceContext*) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT FlushKernelCache(PCWSTR) override { return E_NOTIMPL; }
    HRESULT DoCacheOperation(CACHE_OPERATION, IHttpCacheKey*, IHttpCacheSpecificData** out,
                             IHttpTraceContext*) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    GLOBAL_NOTIFICATION_STATUS NotifyCustomNotification(ICustomNotificationProvider*) override {
        return GL_NOTIFICATION_CONTINUE;
    }
    IHttpPerfCounterInfo* GetPerfCounterInfo() override { return nullptr; }
    void RecycleApplication(PCWSTR) override {}
    void NotifyConfigurationChange(PCWSTR) override {}
    void NotifyFileChange(PCWSTR) override {}
    IDispensedHttpModuleContextContainer* DispenseContainer() override { return nullptr; }
    HRESULT AddFragmentToCache(HTTP_DATA_CHUNK*, PCWSTR) override { return E_NOTIMPL; }
    HRESULT ReadFragmentFromCache(PCWSTR, BYTE*, DWORD, DWORD* copied) override {
        if (copied) *copied = 0;
        return E_NOTIMPL;
    }
    HRESULT RemoveFragmentFromCache(PCWSTR) override { return E_NOTIMPL; }
    HRESULT GetWorkerProcessSettings(IWpfSettings** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT GetProtocolManagerCustomInterface(PCWSTR, PCWSTR, DWORD, void** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    // bitness32/bitness64/integratedMode are known (docs/iis.md §2.1); anything else is unknown.
    BOOL SatisfiesPrecondition(PCWSTR precondition, BOOL* unknown) const override {
        if (unknown) *unknown = FALSE;
        if (!precondition) return TRUE;
        const bool is64 = sizeof(void*) == 8;
        if (archway::equal_nocase(precondition, L"bitness32")) return !is64;
        if (archway::equal_nocase(precondition, L"bitness64")) return is64;
        if (archway::equal_nocase(precondition, L"integratedMode")) return TRUE;
        if (unknown) *unknown = TRUE;
        return FALSE;
    }
    IHttpTraceContext* GetTraceContext() const override { return nullptr; }
    HRESULT RegisterFileChangeMonitor(PCWSTR, HANDLE, IHttpFileMonitor** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    // HTTP_SERVER_INTERFACE_V2 is this object (IHttpServer2, for HttpGetExtendedInterface).
    HRESULT GetExtendedInterface(HTTP_SERVER_INTERFACE_VERSION version, void** out) override {
        if (!out) return E_INVALIDARG;
        *out = version == HTTP_SERVER_INTERFACE_V2 ? static_cast<IHttpServer2*>(this) : nullptr;
        return *out ? S_OK : E_NOTIMPL;
    }
    HRESULT GetToken(PCWSTR, PCWSTR, DWORD, IHttpTokenEntry** out, PCWSTR, PSOCKADDR, IHttpTraceContext*) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    PCWSTR GetAppPoolConfigFile(DWORD* length) const override {
        if (length) *length = 0;
        return nullptr;
    }
    HRESULT GetExtendedInterface(const GUID& from, void* input, const GUID& to, void** output) override {
        return websocket_extended_interface(from, input, to, output);
    }
    HRESULT GetMetadata(PCWSTR, PCWSTR, IReferencedMetadataInfo** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT GetWorkerProcessFramework(IWorkerProcessFramework** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
};

Server* g_server;

// Whether `precondition` (comma-separated, docs/iis.md §2.1) lets the module load in this process.
bool precondition_allows(const char* precondition) {
    const bool is64 = sizeof(void*) == 8;
    const char* p = precondition;
    while (*p) {
        while (*p == ' ' || *p == ',') ++p;
        const char* start = p;
        while (*p && *p != ',') ++p;
        const char* end = p;
        while (end > start && end[-1] == ' ') --end;
        const size_t n = static_cast<size_t>(end - start);
        if (archway::equal_nocase(start, n, "bitness32", 9) && is64) return false;
        if (archway::equal_nocase(start, n, "bitness64", 9) && !is64) return false;
    }
    return true;
}

void event_line(uint32_t id, archway::Utf8Builder& text) {
    char buffer[3072];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    m.raw("event ").u32(id).raw(": ").raw(text.c_str(), text.size());
    err_line(m);
}

}  // namespace

void load_modules() {
    g_server = new Server();
    const Config& config = g_process.config;
    for (size_t i = 0; i < config.module_count; ++i) {
        const GlobalModuleEntry& entry = config.modules[i];
        char buffer[2048];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        if (!precondition_allows(entry.precondition)) {
            m.raw("module ").raw(entry.name).raw(" skipped: preCondition \"").raw(entry.precondition);
            m.raw("\" does not hold in a ").raw(sizeof(void*) == 8 ? "64" : "32").raw("-bit process");
            err_line(m);
            continue;
        }
        // Expanded in this process, so %ProgramFiles% follows this process's bitness exactly as
        // the OS (or Wine's WOW64) defines it (docs/iis.md §1.3, §2.1).
        wchar_t image[2048];
        wchar_t path[2048];
        if (!widen_into(entry.image, archway::length(entry.image), image, 2048)) {
            m.raw("module ").raw(entry.name).raw(": image path too long");
            err_line(m);
            g_process.module_failed = true;
            continue;
        }
        const DWORD expanded = ExpandEnvironmentStringsW(image, path, 2048);
        if (expanded == 0 || expanded > 2048) {
            const DWORD error = expanded == 0 ? GetLastError() : static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER);
            m.raw("The Module DLL ").raw(entry.image).raw(" failed to load. The data is the error: ");
            append_win32_error(m, error);
            event_line(2280, m);
            g_process.module_failed = true;
            continue;
        }
        char path_utf8[6144];
        archway::Utf8Builder shown(path_utf8, sizeof(path_utf8));
        shown.utf16(path);

        // Full path, the DLL's own folder searched for its dependencies (docs/iis.md §5).
        HMODULE module = LoadLibraryExW(path, nullptr,
                                        LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
        if (!module) {
            const DWORD error = GetLastError();
            m.raw("The Module DLL ").raw(shown.c_str()).raw(" failed to load. The data is the error: ");
            append_win32_error(m, error);
            event_line(2280, m);
            g_process.module_failed = true;
            continue;
        }
        PFN_REGISTERMODULE register_module =
            archway::proc_cast<PFN_REGISTERMODULE>(GetProcAddress(module, MODULE_REGISTERMODULE));
        if (!register_module) {
            const DWORD error = GetLastError();
            m.raw("Failed to find the RegisterModule entrypoint in the module DLL ").raw(shown.c_str());
            m.raw(". The data is the error: ");
            append_win32_error(m, error);
            event_line(2295, m);
            g_process.module_failed = true;
            continue;
        }
        if (g_module_count == kMaxModules) {
            m.raw("more than 64 global modules");
            err_line(m);
            g_process.module_failed = true;
            continue;
        }
        ModuleRecord* record = new ModuleRecord();
        record->name = entry.name;
        static Arena* names = nullptr;  // module names, kept as long as the process
        if (!names) names = new Arena();
        record->name_w = names->widen(entry.name, archway::length(entry.name));
        if (!record->name_w) record->name_w = L"";
        const HRESULT hr = register_module(10, record, g_server);  // "IIS 10" (docs/iis.md §4.1)
        if (FAILED(hr)) {
            m.raw("The Module name ").raw(entry.name).raw(" path ").raw(shown.c_str());
            m.raw(" returned an error from registration. The data is the error: ");
            m.hex(static_cast<uint32_t>(hr), 8);
            event_line(2293, m);
            g_process.module_failed = true;
            continue;
        }
        g_modules[g_module_count++] = record;
        m.raw("module ").raw(entry.name).raw(" loaded from ").raw(shown.c_str());
        out_line(m);
    }
}

void notify_stop_listening() {
    class StopProvider final : public IGlobalStopListeningProvider {
    public:
        void SetErrorStatus(HRESULT) override {}
    } provider;
    for (size_t i = 0; i < g_module_count; ++i) {
        ModuleRecord* r = g_modules[i];
        if (r->global && (r->global_notifications & GL_STOP_LISTENING)) {
            r->global->OnGlobalStopListening(&provider);
        }
    }
}

void terminate_modules() {
    for (size_t i = 0; i < g_module_count; ++i) {
        ModuleRecord* r = g_modules[i];
        if (r->factory) r->factory->Terminate();
        if (r->global) r->global->Terminate();
        r->factory = nullptr;
        r->global = nullptr;
    }
}

// ---------------------------------------------------------------------------------------------
// Per-request objects.

namespace {

// http.h HTTP_HEADER_ID names (docs/iis.md §4.5): 0-19 shared, then request-only or response-only.
const char* const kKnownHeaders[20] = {
    "Cache-Control", "Connection", "Date", "Keep-Alive", "Pragma", "Trailer",
    "Transfer-Encoding", "Upgrade", "Via", "Warning", "Allow", "Content-Length",
    "Content-Type", "Content-Encoding", "Content-Language", "Content-Location", "Content-MD5",
    "Content-Range", "Expires", "Last-Modified",
};
const char* const kRequestHeaders[21] = {
    "Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
    "Cookie", "Expect", "From", "Host", "If-Match", "If-Modified-Since", "If-None-Match",
    "If-Range", "If-Unmodified-Since", "Max-Forwards", "Proxy-Authorization", "Referer",
    "Range", "TE", "Translate", "User-Agent",
};
const char* const kResponseHeaders[10] = {
    "Accept-Ranges", "Age", "ETag", "Location", "Proxy-Authenticate", "Retry-After",
    "Server", "Set-Cookie", "Vary", "WWW-Authenticate",
};

const char* request_header_name(HTTP_HEADER_ID id) {
    const int i = static_cast<int>(id);
    if (i >= 0 && i < 20) return kKnownHeaders[i];
    if (i >= 20 && i < 41) return kRequestHeaders[i - 20];
    return nullptr;
}

const char* response_header_name(HTTP_HEADER_ID id) {
    const int i = static_cast<int>(id);
    if (i >= 0 && i < 20) return kKnownHeaders[i];
    if (i >= 20 && i < 30) return kResponseHeaders[i - 20];
    return nullptr;
}

bool valid_header_name(const char* s) {
    if (!s || !*s) return false;
    for (; *s; ++s) {
        const uint8_t c = static_cast<uint8_t>(*s);
        if (c <= 0x20 || c >= 0x7F || c == ':') return false;
    }
    return true;
}

bool valid_header_value(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == 0) return false;
    return true;
}

Header* find(Vec<Header>& list, const char* name) {
    const size_t n = archway::length(name);
    for (size_t i = 0; i < list.size(); ++i) {
        Header& h = list[i];
        if (!h.deleted && archway::equal_nocase(h.name, h.name_length, name, n)) return &h;
    }
    return nullptr;
}

// SetHeader semantics shared by request and response: replace, or append to the existing value
// with ", " (or add a new one when there is none).
HRESULT set_header(Request* r, Vec<Header>& list, const char* name, const char* value,
                   USHORT cch, BOOL replace) {
    if (!valid_header_name(name) || (!value && cch)) return HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
    if (!value) value = "";
    const size_t n = cch ? cch : archway::length(value);
    if (!valid_header_value(value, n)) return HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
    Header* existing = find(list, name);
    if (existing && !replace) {
        char* joined = static_cast<char*>(r->arena.alloc(existing->value_length + 2 + n + 1));
        if (!joined) return E_OUTOFMEMORY;
        memcpy(joined, existing->value, existing->value_length);
        memcpy(joined + existing->value_length, ", ", 2);
        memcpy(joined + existing->value_length + 2, value, n);
        existing->value = joined;
        existing->value_length += 2 + n;
        return S_OK;
    }
    char* v = r->arena.copy(value, n);
    if (!v) return E_OUTOFMEMORY;
    if (existing) {
        existing->value = v;
        existing->value_length = n;
        return S_OK;
    }
    const size_t nn = archway::length(name);
    char* nm = r->arena.copy(name, nn);
    if (!nm) return E_OUTOFMEMORY;
    Header h = {nm, nn, v, n, false};
    return list.push(h) ? S_OK : E_OUTOFMEMORY;
}

HRESULT delete_header(Vec<Header>& list, const char* name) {
    if (!name) return E_INVALIDARG;
    for (Header* h = find(list, name); h; h = find(list, name)) h->deleted = true;
    return S_OK;
}

PCSTR get_header(const Vec<Header>& list, const char* name, USHORT* length) {
    if (length) *length = 0;
    if (!name) return nullptr;
    const Header* h = find(const_cast<Vec<Header>&>(list), name);
    if (!h) return nullptr;
    if (length) *length = static_cast<USHORT>(h->value_length > 0xFFFF ? 0xFFFF : h->value_length);
    return h->value;
}

class WorkerRequest final : public IHttpRequest {
public:
    explicit WorkerRequest(Request* r) : r_(r) {}

    HTTP_REQUEST* GetRawHttpRequest() override { return nullptr; }  // no http.sys structure
    const HTTP_REQUEST* GetRawHttpRequest() const override { return nullptr; }
    PCSTR GetHeader(PCSTR name, USHORT* length) const override {
        return get_header(r_->headers, name, length);
    }
    PCSTR GetHeader(HTTP_HEADER_ID id, USHORT* length) const override {
        const char* name = request_header_name(id);
        if (!name) {
            if (length) *length = 0;
            return nullptr;
        }
        return get_header(r_->headers, name, length);
    }
    HRESULT SetHeader(PCSTR name, PCSTR value, USHORT cch, BOOL replace) override {
        return set_header(r_, r_->headers, name, value, cch, replace);
    }
    HRESULT SetHeader(HTTP_HEADER_ID id, PCSTR value, USHORT cch, BOOL replace) override {
        const char* name = request_header_name(id);
        return name ? set_header(r_, r_->headers, name, value, cch, replace) : E_INVALIDARG;
    }
    HRESULT DeleteHeader(PCSTR name) override { return delete_header(r_->headers, name); }
    HRESULT DeleteHeader(HTTP_HEADER_ID id) override {
        const char* name = request_header_name(id);
        return name ? delete_header(r_->headers, name) : E_INVALIDARG;
    }
    PCSTR GetHttpMethod() const override { return r_->method; }
    HRESULT SetHttpMethod(PCSTR method) override {
        if (!method || !*method) return E_INVALIDARG;
        const size_t n = archway::length(method);
        char* copy = r_->arena.copy(method, n);
        if (!copy) return E_OUTOFMEMORY;
        r_->method = copy;
        r_->method_length = n;
        return S_OK;
    }
    HRESULT SetUrl(PCWSTR url, DWORD cch, BOOL reset_query) override {
        if (!url) return E_INVALIDARG;
        size_t n = 0;
        char* narrow = r_->arena.narrow(url, cch ? cch : archway::length(url), &n);
        return narrow ? SetUrl(narrow, static_cast<DWORD>(n), reset_query) : E_OUTOFMEMORY;
    }
    HRESULT SetUrl(PCSTR url, DWORD cch, BOOL reset_query) override {
        if (!url) return E_INVALIDARG;
        const size_t n = cch ? cch : archway::length(url);
        if (n == 0 || url[0] != '/') return E_INVALIDARG;
        size_t q = 0;
        while (q < n && url[q] != '?') ++q;
        char* path = r_->arena.copy(url, q);
        if (!path) return E_OUTOFMEMORY;
        r_->path = path;
        r_->path_length = q;
        if (q < n) {
            char* query = r_->arena.copy(url + q + 1, n - q - 1);
            if (!query) return E_OUTOFMEMORY;
            r_->query = query;
            r_->query_length = n - q - 1;
        } else if (reset_query) {
            r_->query = "";
            r_->query_length = 0;
        }
        r_->url_changed = true;
        return S_OK;
    }
    BOOL GetUrlChanged() const override { return r_->url_changed; }
    PCWSTR GetForwardedUrl() const override { return nullptr; }
    PSOCKADDR GetLocalAddress() const override {
        return reinterpret_cast<PSOCKADDR>(&r_->conn->local);
    }
    PSOCKADDR GetRemoteAddress() const override {
        return reinterpret_cast<PSOCKADDR>(&r_->conn->remote);
    }
    // Synchronous even when fAsync is TRUE: *pfCompletionPending is then FALSE, which IIS
    // allows (the data is there when the call returns). At the end: ERROR_HANDLE_EOF, as IIS.
    HRESULT ReadEntityBody(void* buffer, DWORD size, BOOL, DWORD* received, BOOL* pending) override {
        if (received) *received = 0;
        if (pending) *pending = FALSE;
        if (!buffer && size) return E_INVALIDARG;
        DWORD n = 0;
        if (!body_read(r_, buffer, size, &n)) {
            return HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
        }
        if (received) *received = n;
        if (n == 0 && size) return HRESULT_FROM_WIN32(ERROR_HANDLE_EOF);
        return S_OK;
    }
    HRESULT InsertEntityBody(void*, DWORD) override { return E_NOTIMPL; }
    DWORD GetRemainingEntityBytes() override { return body_remaining(r_); }
    void GetHttpVersion(USHORT* major, USHORT* minor) const override {
        if (major) *major = r_->major;
        if (minor) *minor = r_->minor;
    }
    HRESULT GetClientCertificate(HTTP_SSL_CLIENT_CERT_INFO** info, BOOL* negotiated) override {
        if (info) *info = nullptr;
        if (negotiated) *negotiated = FALSE;
        return E_NOTIMPL;  // plain HTTP only
    }
    HRESULT NegotiateClientCertificate(BOOL, BOOL* pending) override {
        if (pending) *pending = FALSE;
        return E_NOTIMPL;
    }
    DWORD GetSiteId() const override { return r_->conn->site->id; }
    HRESULT GetHeaderChanges(DWORD, DWORD*, PCSTR*, DWORD*, PCSTR**, PCSTR**, DWORD*, DWORD*,
                             DWORD**) override {
        return E_NOTIMPL;
    }

private:
    Request* r_;
};

class WorkerResponse final : public IHttpResponse {
public:
    explicit WorkerResponse(Request* r) : r_(r) {}

    HTTP_RESPONSE* GetRawHttpResponse() override { return nullptr; }
    const HTTP_RESPONSE* GetRawHttpResponse() const override { return nullptr; }
    IHttpCachePolicy* GetCachePolicy() override { return nullptr; }
    HRESULT SetStatus(USHORT status, PCSTR reason, USHORT sub_status, HRESULT hr,
                      IAppHostConfigException*, BOOL) override {
        if (r_->head_sent) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
        if (status < 100 || status > 999) return E_INVALIDARG;
        r_->status = status;
        r_->sub_status = sub_status;
        r_->error_status = hr;
        r_->reason = nullptr;
        if (reason && *reason) {
            const size_t n = archway::length(reason);
            if (!valid_header_value(reason, n)) return E_INVALIDARG;
            r_->reason = r_->arena.copy(reason, n);
        }
        r_->touched = true;
        return S_OK;
    }
    HRESULT SetHeader(PCSTR name, PCSTR value, USHORT cch, BOOL replace) override {
        if (r_->head_sent) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
        r_->touched = true;
        return set_header(r_, r_->response_headers, name, value, cch, replace);
    }
    HRESULT SetHeader(HTTP_HEADER_ID id, PCSTR value, USHORT cch, BOOL replace) override {
        const char* name = response_header_name(id);
        return name ? SetHeader(name, value, cch, replace) : E_INVALIDARG;
    }
    HRESULT DeleteHeader(PCSTR name) override {
        if (r_->head_sent) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
        return delete_header(r_->response_headers, name);
    }
    HRESULT DeleteHeader(HTTP_HEADER_ID id) override {
        const char* name = response_header_name(id);
        return name ? DeleteHeader(name) : E_INVALIDARG;
    }
    PCSTR GetHeader(PCSTR name, USHORT* length) const override {
        return get_header(r_->response_headers, name, length);
    }
    PCSTR GetHeader(HTTP_HEADER_ID id, USHORT* length) const override {
        const char* name = response_header_name(id);
        if (!name) {
            if (length) *length = 0;
            return nullptr;
        }
        return get_header(r_->response_headers, name, length);
    }
    void Clear() override { r_->response_body.clear(); }  // the entity body (headers stay)
    void ClearHeaders() override {
        if (!r_->head_sent) r_->response_headers.clear();
    }
    void SetNeedDisconnect() override { r_->need_disconnect = true; }
    void ResetConnection() override { r_->reset = true; }
    void DisableKernelCache(ULONG) override {}  // there is no kernel cache here
    BOOL GetKernelCacheEnabled() const override { return FALSE; }
    void SuppressHeaders() override { r_->headers_suppressed = true; }
    BOOL GetHeadersSuppressed() const override { return r_->headers_suppressed; }
    // docs/iis.md §4.4: the first Flush sends status and headers (chunked unless the module set
    // Content-Length), later ones send what was written since. Always synchronous.
    HRESULT Flush(BOOL, BOOL, DWORD* sent, BOOL* completion_expected) override {
        if (completion_expected) *completion_expected = FALSE;
        const uint64_t before = r_->body_bytes_sent;
        r_->touched = true;
        const bool ok = response_flush(r_);
        if (sent) *sent = static_cast<DWORD>(r_->body_bytes_sent - before);
        return ok ? S_OK : HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
    }
    HRESULT Redirect(PCSTR url, BOOL reset_status, BOOL include_parameters) override {
        if (!url || r_->head_sent) return E_INVALIDARG;
        (void)reset_status;
        Vec<char> location;
        location.append(url, archway::length(url));
        if (include_parameters && r_->query_length) {
            location.push('?');
            location.append(r_->query, r_->query_length);
        }
        r_->response_body.clear();
        r_->status = 302;
        r_->reason = nullptr;
        r_->touched = true;
        return set_header(r_, r_->response_headers, "Location", location.data(),
                          static_cast<USHORT>(location.size()), TRUE);
    }
    HRESULT WriteEntityChunkByReference(HTTP_DATA_CHUNK* chunk, LONG position) override {
        if (position != -1 && position != 0) return E_INVALIDARG;
        return write(chunk, 1, position == 0);
    }
    // Async writes complete synchronously (*pfCompletionExpected = FALSE), as IIS allows.
    HRESULT WriteEntityChunks(HTTP_DATA_CHUNK* chunks, DWORD count, BOOL, BOOL, DWORD* sent,
                              BOOL* completion_expected) override {
        if (completion_expected) *completion_expected = FALSE;
        const size_t before = r_->response_body.size();
        const uint64_t sent_before = r_->body_bytes_sent;
        const HRESULT hr = write(chunks, count, false);
        if (sent) {
            *sent = static_cast<DWORD>(r_->response_body.size() - before +
                                       (r_->body_bytes_sent - sent_before));
        }
        return hr;
    }
    void DisableBuffering() override { r_->buffering_disabled = true; }
    void GetStatus(USHORT* status, USHORT* sub_status, PCSTR* reason, USHORT* reason_length,
                   HRESULT* hr, PCWSTR* module, DWORD* notification,
                   IAppHostConfigException** exception, BOOL* skip_custom_errors) override {
        const char* text = r_->reason ? r_->reason : default_reason(r_->status);
        if (status) *status = r_->status;
        if (sub_status) *sub_status = r_->sub_status;
        if (reason) *reason = text;
        if (reason_length) *reason_length = static_cast<USHORT>(archway::length(text));
        if (hr) *hr = r_->error_status;
        if (module) *module = nullptr;
        if (notification) *notification = 0;
        if (exception) *exception = nullptr;
        if (skip_custom_errors) *skip_custom_errors = TRUE;
    }
    HRESULT SetErrorDescription(PCWSTR text, DWORD cch, BOOL) override {
        if (!text) return E_INVALIDARG;
        r_->error_description = r_->arena.copy(text, cch ? cch : archway::length(text));
        r_->error_description_length = cch ? cch : static_cast<DWORD>(archway::length(text));
        return r_->error_description ? S_OK : E_OUTOFMEMORY;
    }
    PCWSTR GetErrorDescription(DWORD* length) override {
        if (length) *length = r_->error_description ? r_->error_description_length : 0;
        return r_->error_description;
    }
    HRESULT GetHeaderChanges(DWORD, DWORD*, PCSTR*, DWORD*, PCSTR**, PCSTR**, DWORD*, DWORD*,
                             DWORD**) override {
        return E_NOTIMPL;
    }
    void CloseConnection() override { r_->reset = true; }

private:
    HRESULT write(HTTP_DATA_CHUNK* chunks, DWORD count, bool front) {
        if (count && !chunks) return E_INVALIDARG;
        for (DWORD i = 0; i < count; ++i) {
            if (chunks[i].DataChunkType != HttpDataChunkFromMemory) return E_NOTIMPL;
            if (chunks[i].FromMemory.BufferLength && !chunks[i].FromMemory.pBuffer) return E_INVALIDARG;
        }
        r_->touched = true;
        for (DWORD i = 0; i < count; ++i) {
            const char* data = static_cast<const char*>(chunks[i].FromMemory.pBuffer);
            const size_t n = chunks[i].FromMemory.BufferLength;
            const bool ok = front ? r_->response_body.insert_front(data, n)
                                  : r_->response_body.append(data, n);
            if (!ok) return E_OUTOFMEMORY;
        }
        if (r_->buffering_disabled && !response_flush(r_)) {
            return HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
        }
        return S_OK;
    }

    Request* r_;
};

class WorkerSite final : public IHttpSite {
public:
    explicit WorkerSite(const Site* s) : s_(s) {}
    DWORD GetSiteId() const override { return s_->id; }
    PCWSTR GetSiteName() const override { return s_->name_w; }
    IHttpModuleContextContainer* GetModuleContextContainer() override { return nullptr; }
    IHttpPerfCounterInfo* GetPerfCounterInfo() override { return nullptr; }

private:
    const Site* s_;
};

class WorkerApplication final : public IHttpApplication {
public:
    explicit WorkerApplication(const App* a) : a_(a) {}
    PCWSTR GetApplicationPhysicalPath() const override { return a_->physical_path_w; }
    // IIS's application id is the metabase path, /LM/W3SVC/<id>/ROOT[/app].
    PCWSTR GetApplicationId() const override { return id_; }
    PCWSTR GetAppConfigPath() const override { return a_->config_path_w; }
    IHttpModuleContextContainer* GetModuleContextContainer() override { return nullptr; }
    void set_id(const wchar_t* id) { id_ = id; }

private:
    const App* a_;
    const wchar_t* id_ = L"";
};

// IHttpConnection: IsConnected peeks at the socket without consuming anything, so a module can
// poll it from any thread while its notification is pending (the connection's own thread is
// parked in wait_pending then). An orderly close or a reset by the client reads as FALSE.
class WorkerConnection final : public IHttpConnection {
public:
    explicit WorkerConnection(Request* r) : r_(r) {}
    BOOL IsConnected() const override {
        Connection* c = r_->conn;
        if (c->broken) return FALSE;
        fd_set set;
        set.fd_count = 1;
        set.fd_array[0] = c->socket;
        timeval zero = {0, 0};
        const int ready = select(0, &set, nullptr, nullptr, &zero);
        if (ready == 0) return TRUE;  // nothing to read: still there
        if (ready < 0) return FALSE;
        char b;
        const int n = recv(c->socket, &b, 1, MSG_PEEK);
        return n > 0 ? TRUE : FALSE;  // data (a pipelined request) or end of stream / error
    }
    void* AllocateMemory(DWORD bytes) override { return r_->arena.alloc(bytes); }
    IHttpModuleContextContainer* GetModuleContextContainer() override { return nullptr; }

private:
    Request* r_;
};

class Provider final : public IHttpEventProvider {
public:
    explicit Provider(Request* r) : r_(r) {}
    void SetErrorStatus(HRESULT hr) override { r_->error_status = hr; }

private:
    Request* r_;
};

// The providers IIS passes to OnAuthenticateRequest and OnMapRequestHandler are derived
// interfaces; only their slot 0 (SetErrorStatus) exists here, so a module calling their own
// methods is not supported by this stand-in.
class AuthProvider final : public IAuthenticationProvider {
public:
    explicit AuthProvider(Request* r) : r_(r) {}
    void SetErrorStatus(HRESULT hr) override { r_->error_status = hr; }

private:
    Request* r_;
};

class MapProvider final : public IMapHandlerProvider {
public:
    explicit MapProvider(Request* r) : r_(r) {}
    void SetErrorStatus(HRESULT hr) override { r_->error_status = hr; }

private:
    Request* r_;
};

class Allocator final : public IModuleAllocator {
public:
    explicit Allocator(Request* r) : r_(r) {}
    void* AllocateMemory(DWORD bytes) override { return r_->arena.alloc(bytes); }

private:
    Request* r_;
};

class CompletionInfo final : public IHttpCompletionInfo {
public:
    DWORD bytes = 0;
    HRESULT status = S_OK;
    DWORD GetCompletionBytes() const override { return bytes; }
    HRESULT GetCompletionStatus() const override { return status; }
};

// ---------------------------------------------------------------------------------------------
// Server variables.

bool header_matches_variable(const Header& h, const char* rest, size_t n) {
    if (h.name_length != n) return false;
    for (size_t i = 0; i < n; ++i) {
        char c = h.name[i];
        if (c == '-') c = '_';
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        char v = rest[i];
        if (v >= 'a' && v <= 'z') v = static_cast<char>(v - 'a' + 'A');
        if (c != v) return false;
    }
    return true;
}

void ipv4(const sockaddr_in& a, archway::Utf8Builder& out) {
    const uint32_t ip = a.sin_addr.s_addr;
    out.u32(ip & 0xFF).ch('.').u32((ip >> 8) & 0xFF).ch('.').u32((ip >> 16) & 0xFF).ch('.').u32(ip >> 24);
}

// The value of variable `name` for `r` (UTF-8, in the arena); false when unknown.
bool compute_variable(Request* r, const char* name, const char** value, size_t* length) {
    const size_t n = archway::length(name);
    auto is = [&](const char* v) { return archway::equal_nocase(name, n, v, archway::length(v)); };
    const Site* site = r->conn->site;
    char buffer[256];
    archway::Utf8Builder b(buffer, sizeof(buffer));
    const char* text = nullptr;
    size_t text_length = 0;
    bool use_buffer = false;
    if (is("APP_POOL_ID")) text = g_process.pool;
    else if (is("REQUEST_METHOD")) { text = r->method; text_length = r->method_length; }
    else if (is("URL") || is("PATH_INFO") || is("SCRIPT_NAME")) { text = r->path; text_length = r->path_length; }
    else if (is("QUERY_STRING")) { text = r->query; text_length = r->query_length; }
    else if (is("UNENCODED_URL") || is("HTTP_URL")) text = r->raw_url;
    else if (is("SERVER_PROTOCOL") || is("HTTP_VERSION")) {
        b.raw("HTTP/").u32(r->major).ch('.').u32(r->minor);
        use_buffer = true;
    } else if (is("SERVER_PORT")) {
        b.u32(archway_ntohs(r->conn->local.sin_port));
        use_buffer = true;
    } else if (is("SERVER_NAME")) {
        const Header* host = find(r->headers, "Host");
        if (host && host->value_length) {
            size_t hn = host->value_length;
            size_t colon = hn;
            while (colon > 0 && host->value[colon - 1] != ':' && host->value[colon - 1] != ']') --colon;
            if (colon > 0 && host->value[colon - 1] == ':') hn = colon - 1;
            text = host->value;
            text_length = hn;
        } else {
            ipv4(r->conn->local, b);
            use_buffer = true;
        }
    } else if (is("REMOTE_ADDR") || is("REMOTE_HOST")) {
        ipv4(r->conn->remote, b);
        use_buffer = true;
    } else if (is("REMOTE_PORT")) {
        b.u32(archway_ntohs(r->conn->remote.sin_port));
        use_buffer = true;
    } else if (is("LOCAL_ADDR")) {
        ipv4(r->conn->local, b);
        use_buffer = true;
    } else if (is("CONTENT_LENGTH")) {
        const Header* h = find(r->headers, "Content-Length");
        text = h ? h->value : "0";
        text_length = h ? h->value_length : 1;
    } else if (is("CONTENT_TYPE")) {
        const Header* h = find(r->headers, "Content-Type");
        text = h ? h->value : "";
        text_length = h ? h->value_length : 0;
    } else if (is("ALL_RAW")) {
        text = r->raw_headers;
        text_length = r->raw_headers_length;
        // Without the blank line that ends the head.
        while (text_length > 0 && (text[text_length - 1] == '\n' || text[text_length - 1] == '\r')) --text_length;
        if (text_length) text_length += (r->raw_headers[text_length] == '\r') ? 2 : 1;
    } else if (is("ALL_HTTP")) {
        Vec<char> all;
        for (size_t i = 0; i < r->headers.size(); ++i) {
            const Header& h = r->headers[i];
            if (h.deleted) continue;
            all.append("HTTP_", 5);
            for (size_t k = 0; k < h.name_length; ++k) {
                char c = h.name[k];
                if (c == '-') c = '_';
                if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
                all.push(c);
            }
            all.push(':');
            all.append(h.value, h.value_length);
            all.push('\n');
        }
        char* copy = r->arena.copy(all.data() ? all.data() : "", all.size());
        if (!copy) return false;
        *value = copy;
        *length = all.size();
        return true;
    } else if (is("INSTANCE_ID")) {
        b.u32(site->id);
        use_buffer = true;
    } else if (is("INSTANCE_NAME")) {
        text = site->name;
    } else if (is("APPL_PHYSICAL_PATH")) {
        size_t k = 0;
        char* p = r->arena.narrow(r->app->physical_path_w, archway::length(r->app->physical_path_w), &k);
        if (!p) return false;
        *value = p;
        *length = k;
        return true;
    } else if (is("APPL_MD_PATH")) {
        text = r->app->md_path;
    } else if (is("HTTPS")) {
        text = "off";
    } else if (is("SERVER_PORT_SECURE")) {
        text = "0";
    } else if (is("SERVER_SOFTWARE")) {
        text = "archway-worker";
    } else if (is("GATEWAY_INTERFACE")) {
        text = "CGI/1.1";
    } else if (n > 5 && archway::equal_nocase(name, 5, "HTTP_", 5)) {
        for (size_t i = 0; i < r->headers.size(); ++i) {
            const Header& h = r->headers[i];
            if (!h.deleted && header_matches_variable(h, name + 5, n - 5)) {
                text = h.value;
                text_length = h.value_length;
                break;
            }
        }
        if (!text) return false;
    } else {
        return false;
    }
    if (use_buffer) {
        text = b.c_str();
        text_length = b.size();
    } else if (text && !text_length) {
        text_length = archway::length(text);
    }
    char* copy = r->arena.copy(text, text_length);
    if (!copy) return false;
    *value = copy;
    *length = text_length;
    return true;
}

Request::Variable* variable(Request* r, const char* name) {
    if (!name || !*name) return nullptr;
    const size_t n = archway::length(name);
    for (Request::Variable* v = r->variables; v; v = v->next) {
        if (archway::equal_nocase(v->name, archway::length(v->name), name, n)) return v;
    }
    const char* value = nullptr;
    size_t length = 0;
    if (!compute_variable(r, name, &value, &length)) return nullptr;
    Request::Variable* v = static_cast<Request::Variable*>(r->arena.alloc(sizeof(Request::Variable)));
    if (!v) return nullptr;
    v->name = r->arena.copy(name, n);
    v->value = value;
    v->length = length;
    v->wide = r->arena.widen(value, length, &v->wide_length);
    if (!v->name || !v->wide) return nullptr;
    v->next = r->variables;
    r->variables = v;
    return v;
}

// ---------------------------------------------------------------------------------------------
// Test-only authentication (docs/httpplatform.md §7). The stand-in has no Windows
// authentication; when its environment sets ARCHWAY_WORKER_TEST_AUTH=1, a request carrying
// "X-Archway-Test-Auth: <scheme>" is treated as authenticated with that scheme (e.g.
// "Negotiate"): IHttpContext::GetUser returns a user whose primary token is the worker's own
// process token (a real token, so a handler can duplicate it into another process). Without
// the variable the header is an ordinary header and every request is anonymous (GetUser null).

extern "C" __declspec(dllimport) BOOL WINAPI OpenProcessToken(HANDLE process, DWORD access,
                                                              HANDLE* token);  // advapi32 @12
constexpr DWORD kTokenQuery = 0x0008, kTokenDuplicate = 0x0002, kTokenImpersonate = 0x0004;

bool test_auth_enabled() {
    static volatile long state = 0;  // 0 unknown, 1 off, 2 on
    if (state == 0) {
        wchar_t value[8];
        const DWORD n = GetEnvironmentVariableW(L"ARCHWAY_WORKER_TEST_AUTH", value, 8);
        _InterlockedExchange(&state, n == 1 && value[0] == L'1' ? 2 : 1);
    }
    return state == 2;
}

// The worker's own token, opened once and kept for the process's life (IIS keeps a user's token
// for the request; the stand-in's user is always the same).
HANDLE worker_token() {
    static HANDLE token = nullptr;
    static SRWLOCK lock = SRWLOCK_INIT;
    AcquireSRWLockExclusive(&lock);
    if (!token) {
        HANDLE t = nullptr;
        if (OpenProcessToken(GetCurrentProcess(), kTokenQuery | kTokenDuplicate | kTokenImpersonate, &t))
            token = t;
    }
    const HANDLE result = token;
    ReleaseSRWLockExclusive(&lock);
    return result;
}

class WorkerUser final : public IHttpUser {
public:
    // `scheme`: the header's value, widened into the request arena.
    void set(const wchar_t* scheme, HANDLE token) {
        scheme_ = scheme;
        token_ = token;
    }
    PCWSTR GetRemoteUserName() override { return L"archway-test"; }
    PCWSTR GetUserName() override { return L"archway-test"; }
    PCWSTR GetAuthenticationType() override { return scheme_; }
    PCWSTR GetPassword() override { return L""; }
    HANDLE GetImpersonationToken() override { return token_; }
    HANDLE GetPrimaryToken() override { return token_; }
    void ReferenceUser() override {}    // lives as long as the request
    void DereferenceUser() override {}
    BOOL SupportsIsInRole() override { return FALSE; }
    HRESULT IsInRole(PCWSTR, BOOL* in_role) override {
        if (in_role) *in_role = FALSE;
        return E_NOTIMPL;
    }
    PVOID GetUserVariable(PCSTR) override { return nullptr; }

private:
    const wchar_t* scheme_ = L"";
    HANDLE token_ = nullptr;
};

// The request's test user (`storage`, filled), or null (anonymous).
IHttpUser* test_user(Request* r, WorkerUser* storage) {
    if (!test_auth_enabled()) return nullptr;
    USHORT n = 0;
    const char* scheme = get_header(r->headers, "X-Archway-Test-Auth", &n);
    if (!scheme || n == 0) return nullptr;
    const HANDLE token = worker_token();
    size_t wide_length = 0;
    const wchar_t* wide = r->arena.widen(scheme, n, &wide_length);
    if (!token || !wide) {
        static const char kText[] = "test authentication: the worker's own process token could not be opened";
        err_line(kText, sizeof(kText) - 1);
        return nullptr;
    }
    storage->set(wide, token);
    return storage;
}

// ---------------------------------------------------------------------------------------------
// The context and the pipeline.

class WorkerContext final : public IHttpContext3 {  // IHttpContext3: websocket.h
public:
    WorkerContext(Request* r, WorkerRequest* request, WorkerResponse* response, WorkerSite* site,
                  WorkerApplication* application, WorkerConnection* connection)
        : r_(r), request_(request), response_(response), site_(site), application_(application),
          connection_(connection), event_(r->conn->event), user_(test_user(r, &user_storage_)) {}

    IHttpSite* GetSite() override { return site_; }
    IHttpApplication* GetApplication() override { return application_; }
    IHttpConnection* GetConnection() override { return connection_; }
    IHttpRequest* GetRequest() override { return request_; }
    IHttpResponse* GetResponse() override { return response_; }
    BOOL GetResponseHeadersSent() const override { return r_->head_sent; }
    // Anonymous (null) unless test authentication made a user (test_user above).
    IHttpUser* GetUser() const override { return user_; }
    IHttpModuleContextContainer* GetModuleContextContainer() override { return nullptr; }
    // RQ_NOTIFICATION_PENDING (docs/iis.md §4.4): the module ends the pending notification with
    // IndicateCompletion, or asks for OnAsyncCompletion with PostCompletion.
    // From any thread, also before the notification has returned PENDING (wait_pending then
    // finds the flag set at once). The event is set while the lock is held: the connection
    // thread sees the flag only under the lock, and once it has, it may end the request, this
    // object and, when the client has gone, the connection and its event (CloseHandle); a
    // SetEvent after the release could reach a closed handle, or a reused handle value that
    // names another object's event. Nothing of this object is touched after the release.
    // Each PostCompletion is one OnAsyncCompletion, as on IIS's completion port: they are
    // counted, never merged into one flag (a module that posts again before wait_pending has
    // taken the first would otherwise lose the second).
    void IndicateCompletion(REQUEST_NOTIFICATION_STATUS status) override {
        AcquireSRWLockExclusive(&lock_);
        indicated_ = true;
        indicated_status_ = status;
        SetEvent(event_);
        ReleaseSRWLockExclusive(&lock_);
    }
    HRESULT PostCompletion(DWORD bytes) override {
        AcquireSRWLockExclusive(&lock_);
        ++posted_;
        posted_bytes_ = bytes;
        SetEvent(event_);
        ReleaseSRWLockExclusive(&lock_);
        return S_OK;
    }
    void DisableNotifications(DWORD notifications, DWORD post) override {
        disabled_ |= notifications;
        disabled_post_ |= post;
    }
    BOOL GetNextNotification(REQUEST_NOTIFICATION_STATUS, DWORD* n, BOOL* post, CHttpModule** m,
                             IHttpEventProvider** p) override {
        if (n) *n = 0;
        if (post) *post = FALSE;
        if (m) *m = nullptr;
        if (p) *p = nullptr;
        return FALSE;  // not implemented: never hands out the next notification
    }
    BOOL GetIsLastNotification(REQUEST_NOTIFICATION_STATUS) override { return FALSE; }
    HRESULT ExecuteRequest(BOOL, IHttpContext*, DWORD, IHttpUser*, BOOL* pending) override {
        if (pending) *pending = FALSE;
        return E_NOTIMPL;
    }
    DWORD GetExecuteFlags() const override { return 0; }
    HRESULT GetServerVariable(PCSTR name, PCWSTR* value, DWORD* length) override {
        if (value) *value = nullptr;
        if (length) *length = 0;
        Request::Variable* v = variable(r_, name);
        if (!v) return HRESULT_FROM_WIN32(ERROR_INVALID_INDEX);
        if (value) *value = v->wide;
        if (length) *length = static_cast<DWORD>(v->wide_length);
        return S_OK;
    }
    HRESULT GetServerVariable(PCSTR name, PCSTR* value, DWORD* length) override {
        if (value) *value = nullptr;
        if (length) *length = 0;
        Request::Variable* v = variable(r_, name);
        if (!v) return HRESULT_FROM_WIN32(ERROR_INVALID_INDEX);
        if (value) *value = v->value;
        if (length) *length = static_cast<DWORD>(v->length);
        return S_OK;
    }
    HRESULT SetServerVariable(PCSTR name, PCWSTR value) override {
        if (!name || !*name || !value) return E_INVALIDARG;
        Request::Variable* v = variable(r_, name);
        if (!v) {
            v = static_cast<Request::Variable*>(r_->arena.alloc(sizeof(Request::Variable)));
            if (!v) return E_OUTOFMEMORY;
            v->name = r_->arena.copy(name, archway::length(name));
            if (!v->name) return E_OUTOFMEMORY;
            v->next = r_->variables;
            r_->variables = v;
        }
        size_t length = 0;
        const size_t wide_length = archway::length(value);
        char* narrow = r_->arena.narrow(value, wide_length, &length);
        wchar_t* wide = r_->arena.copy(value, wide_length);
        if (!narrow || !wide) return E_OUTOFMEMORY;
        v->value = narrow;
        v->length = length;
        v->wide = wide;
        v->wide_length = wide_length;
        return S_OK;
    }
    void* AllocateRequestMemory(DWORD bytes) override { return r_->arena.alloc(bytes); }
    IHttpUrlInfo* GetUrlInfo() override { return nullptr; }
    IMetadataInfo* GetMetadata() override { return nullptr; }
    // The URL mapped under the application's physical path ('/' → '\').
    PCWSTR GetPhysicalPath(DWORD* length) override {
        const wchar_t* root = r_->app->physical_path_w;
        size_t url_length = 0;
        const size_t app_length = r_->app->path[1] ? archway::length(r_->app->path) : 0;
        const size_t skip = app_length <= r_->path_length ? app_length : 0;
        wchar_t* url = r_->arena.widen(r_->path + skip, r_->path_length - skip, &url_length);
        const size_t root_length = archway::length(root);
        wchar_t* out = static_cast<wchar_t*>(r_->arena.alloc((root_length + url_length + 1) * sizeof(wchar_t)));
        if (!url || !out) {
            if (length) *length = 0;
            return nullptr;
        }
        size_t k = 0;
        for (size_t i = 0; i < root_length; ++i) out[k++] = root[i];
        size_t i = 0;
        while (i < url_length && url[i] == L'/') ++i;  // root ends with '\'
        for (; i < url_length; ++i) out[k++] = url[i] == L'/' ? L'\\' : url[i];
        out[k] = 0;
        if (length) *length = static_cast<DWORD>(k);
        return out;
    }
    PCWSTR GetScriptName(DWORD* length) const override {
        size_t n = 0;
        wchar_t* w = r_->arena.widen(r_->path, r_->path_length, &n);
        if (length) *length = w ? static_cast<DWORD>(n) : 0;
        return w;
    }
    PCWSTR GetScriptTranslated(DWORD* length) override { return GetPhysicalPath(length); }
    IScriptMapInfo* GetScriptMap() const override { return nullptr; }
    void SetRequestHandled() override { r_->touched = true; }
    IHttpFileInfo* GetFileInfo() const override { return nullptr; }
    HRESULT MapPath(PCWSTR, PWSTR, DWORD*) override { return E_NOTIMPL; }
    HRESULT NotifyCustomNotification(ICustomNotificationProvider*, BOOL* pending) override {
        if (pending) *pending = FALSE;
        return E_NOTIMPL;
    }
    IHttpContext* GetParentContext() const override { return nullptr; }
    IHttpContext* GetRootContext() const override { return const_cast<WorkerContext*>(this); }
    HRESULT CloneContext(DWORD, IHttpContext** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT ReleaseClonedContext() override { return E_NOTIMPL; }
    HRESULT GetCurrentExecutionStats(DWORD*, DWORD*, PCWSTR*, DWORD*, DWORD*, DWORD*) const override {
        return E_NOTIMPL;
    }
    IHttpTraceContext* GetTraceContext() const override { return nullptr; }
    HRESULT GetServerVarChanges(DWORD, DWORD*, DWORD*, PCSTR**, PCWSTR**, DWORD*, DWORD**) override {
        return E_NOTIMPL;
    }
    HRESULT CancelIo() override { return E_NOTIMPL; }
    HRESULT MapHandler(DWORD, PCWSTR, PCWSTR, PCSTR, IScriptMapInfo**, BOOL) override {
        return E_NOTIMPL;
    }
    HRESULT GetExtendedInterface(HTTP_CONTEXT_INTERFACE_VERSION, void** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    // IHttpContext2/3 (archway/iis_websocket.h): the named contexts hold IIS's WebSocket module's
    // "websockets" context once a 101 went out (websocket.cpp).
    IHttpUser* GetOriginalUser() override { return user_; }
    INamedContextContainer* GetNamedContextContainer() override { return websocket_container(r_); }
    void EnableFullDuplex() override {}  // reads and writes never wait for each other here
    HRESULT InheritServerVariable(PCSTR, BOOL) override { return E_NOTIMPL; }

    bool disabled(DWORD bit, bool post) const { return ((post ? disabled_post_ : disabled_) & bit) != 0; }

    // After a notification returned RQ_NOTIFICATION_PENDING: waits for IndicateCompletion or
    // PostCompletion (then calls OnAsyncCompletion), as often as the module stays pending.
    REQUEST_NOTIFICATION_STATUS wait_pending(CHttpModule* module, DWORD notification, bool post,
                                             IHttpEventProvider* provider) {
        const ULONGLONG deadline = GetTickCount64() + 120000;
        while (true) {
            // One PostCompletion taken per round; an IndicateCompletion ends the wait.
            AcquireSRWLockExclusive(&lock_);
            const bool indicated = indicated_, posted = posted_ > 0;
            const REQUEST_NOTIFICATION_STATUS status = indicated_status_;
            const DWORD bytes = posted_bytes_;
            indicated_ = false;
            if (posted) --posted_;
            ReleaseSRWLockExclusive(&lock_);
            if (indicated) return status;
            if (posted) {
                CompletionInfo info;
                info.bytes = bytes;
                const REQUEST_NOTIFICATION_STATUS next =
                    module->OnAsyncCompletion(this, notification, post ? TRUE : FALSE, provider, &info);
                if (next != RQ_NOTIFICATION_PENDING) return next;
                continue;
            }
            const ULONGLONG now = GetTickCount64();
            if (now >= deadline) {
                static const char kText[] = "a pending notification was never completed in 120 s";
                err_line(kText, sizeof(kText) - 1);
                if (!r_->head_sent) {
                    r_->status = 500;
                    r_->reason = nullptr;
                    r_->touched = true;
                }
                return RQ_NOTIFICATION_FINISH_REQUEST;
            }
            WaitForSingleObject(r_->conn->event, 250);
        }
    }

private:
    Request* r_;
    WorkerRequest* request_;
    WorkerResponse* response_;
    WorkerSite* site_;
    WorkerApplication* application_;
    WorkerConnection* connection_;
    HANDLE event_;
    WorkerUser user_storage_;  // declared before user_: initialised first
    IHttpUser* user_;
    SRWLOCK lock_ = SRWLOCK_INIT;
    bool indicated_ = false;
    uint32_t posted_ = 0;  // PostCompletion calls not yet turned into OnAsyncCompletion
    REQUEST_NOTIFICATION_STATUS indicated_status_ = RQ_NOTIFICATION_CONTINUE;
    DWORD posted_bytes_ = 0;
    DWORD disabled_ = 0;
    DWORD disabled_post_ = 0;
};

// One stage of the integrated pipeline (docs/iis.md §4.3: CHttpModule slots 0-23 are these twelve
// notifications and their post-notifications, in this order).
REQUEST_NOTIFICATION_STATUS call_stage(CHttpModule* m, int stage, bool post, IHttpContext* c,
                                       Provider* p, AuthProvider* auth, MapProvider* map) {
    switch (stage * 2 + (post ? 1 : 0)) {
    case 0: return m->OnBeginRequest(c, p);
    case 1: return m->OnPostBeginRequest(c, p);
    case 2: return m->OnAuthenticateRequest(c, auth);
    case 3: return m->OnPostAuthenticateRequest(c, p);
    case 4: return m->OnAuthorizeRequest(c, p);
    case 5: return m->OnPostAuthorizeRequest(c, p);
    case 6: return m->OnResolveRequestCache(c, p);
    case 7: return m->OnPostResolveRequestCache(c, p);
    case 8: return m->OnMapRequestHandler(c, map);
    case 9: return m->OnPostMapRequestHandler(c, p);
    case 10: return m->OnAcquireRequestState(c, p);
    case 11: return m->OnPostAcquireRequestState(c, p);
    case 12: return m->OnPreExecuteRequestHandler(c, p);
    case 13: return m->OnPostPreExecuteRequestHandler(c, p);
    case 14: return m->OnExecuteRequestHandler(c, p);
    case 15: return m->OnPostExecuteRequestHandler(c, p);
    case 16: return m->OnReleaseRequestState(c, p);
    case 17: return m->OnPostReleaseRequestState(c, p);
    case 18: return m->OnUpdateRequestCache(c, p);
    case 19: return m->OnPostUpdateRequestCache(c, p);
    case 20: return m->OnLogRequest(c, p);
    case 21: return m->OnPostLogRequest(c, p);
    case 22: return m->OnEndRequest(c, p);
    default: return m->OnPostEndRequest(c, p);
    }
}

void respond_text(Request* r, USHORT status, const char* text) {
    r->status = status;
    r->reason = nullptr;
    r->touched = true;
    r->response_body.clear();
    const char* type = "text/plain";
    set_header(r, r->response_headers, "Content-Type", type, static_cast<USHORT>(archway::length(type)), TRUE);
    r->response_body.append(text, archway::length(text));
}

}  // namespace

void process_request(Request* r) {
    if (g_process.module_failed) {
        // docs/iis.md §5: a global module that fails to load leaves the pool answering 503.
        respond_text(r, 503, "HTTP Error 503. The service is unavailable.\r\n");
        return;
    }
    r->app = app_for_path(r->conn->site, r->path, r->path_length);
    {
        // IIS reads the configuration before any module runs: a web.config that is not
        // well-formed XML answers 500.19 naming the file and line (docs/iis.md §5).
        WebConfigError* error = static_cast<WebConfigError*>(r->arena.alloc(sizeof(WebConfigError)));
        if (error && !check_web_configs(r->conn->site, r->app, error)) {
            char line[3072];
            archway::Utf8Builder m(line, sizeof(line));
            m.raw("500.19: ").raw(error->file).ch('(').u32(error->line).ch(',').u32(error->column)
                .raw("): ").raw(error->message);
            err_line(m);
            Vec<char> body;
            char text[3072];
            archway::Utf8Builder b(text, sizeof(text));
            b.raw("HTTP Error 500.19 - Internal Server Error\r\n"
                  "The requested page cannot be accessed because the related configuration data "
                  "for the page is invalid.\r\nConfig File: ")
                .raw(error->file).raw("\r\nConfig Source: line ").u32(error->line).raw(", column ")
                .u32(error->column).raw("\r\nError: ").raw(error->message).raw("\r\n");
            respond_text(r, 500, b.c_str());
            r->sub_status = 19;
            return;
        }
    }
    WorkerRequest request(r);
    WorkerResponse response(r);
    WorkerSite site(r->conn->site);
    WorkerApplication application(r->app);
    application.set_id(r->arena.widen(r->app->md_path, archway::length(r->app->md_path)));
    WorkerConnection connection(r);
    WorkerContext context(r, &request, &response, &site, &application, &connection);
    Provider provider(r);
    AuthProvider auth(r);
    MapProvider map(r);
    Allocator allocator(r);

    CHttpModule* modules[kMaxModules] = {};
    bool failed = false;
    for (size_t i = 0; i < g_module_count; ++i) {
        ModuleRecord* record = g_modules[i];
        if (!record->factory) continue;
        const HRESULT hr = record->factory->GetHttpModule(&modules[i], &allocator);
        if (FAILED(hr) || !modules[i]) {
            modules[i] = nullptr;
            failed = true;
            char buffer[256];
            archway::Utf8Builder m(buffer, sizeof(buffer));
            m.raw("module ").raw(record->name).raw(": GetHttpModule returned ").hex(static_cast<uint32_t>(hr), 8);
            err_line(m);
        }
    }

    // Twelve stages; FINISH_REQUEST skips to the end-of-request stages (log, end), which IIS
    // always runs. [UNCERTAIN] the exact skipping rules of IIS beyond that.
    constexpr int kLogStage = 10;
    bool finish = failed;
    for (int stage = 0; stage < 12; ++stage) {
        if (finish && stage < kLogStage) continue;
        const DWORD bit = 1u << stage;  // RQ_BEGIN_REQUEST 0x1 ... RQ_END_REQUEST 0x800
        for (int post = 0; post < 2; ++post) {
            bool stop = false;
            for (size_t i = 0; i < g_module_count && !stop; ++i) {
                ModuleRecord* record = g_modules[i];
                CHttpModule* m = modules[i];
                if (!m) continue;
                const DWORD mask = post ? record->post_notifications : record->notifications;
                if (!(mask & bit) || context.disabled(bit, post != 0)) continue;
                REQUEST_NOTIFICATION_STATUS status =
                    call_stage(m, stage, post != 0, &context, &provider, &auth, &map);
                if (status == RQ_NOTIFICATION_PENDING) {
                    IHttpEventProvider* p = (stage == 1 && !post) ? static_cast<IHttpEventProvider*>(&auth)
                                            : (stage == 4 && !post) ? static_cast<IHttpEventProvider*>(&map)
                                                                    : &provider;
                    status = context.wait_pending(m, bit, post != 0, p);
                }
                if (status == RQ_NOTIFICATION_FINISH_REQUEST) {
                    finish = true;
                    stop = true;
                }
                if (r->reset) stop = true;
            }
            if (stop && stage < kLogStage) break;
        }
    }
    for (size_t i = 0; i < g_module_count; ++i) {
        if (modules[i]) modules[i]->Dispose();
    }
    websocket_end(r);

    if (failed && !r->touched) {
        respond_text(r, 500, "HTTP Error 500. The module could not be created.\r\n");
    } else if (!r->touched) {
        // Nothing handled the request: IIS's static file handler would find no file.
        respond_text(r, 404, "HTTP Error 404. The requested resource is not found.\r\n");
    } else if (!r->head_sent && r->status >= 400 && r->response_body.size() == 0 && FAILED(r->error_status)) {
        char text[128];
        archway::Utf8Builder b(text, sizeof(text));
        b.raw("HTTP Error ").u32(r->status).raw(". HRESULT ").hex(static_cast<uint32_t>(r->error_status), 8).raw("\r\n");
        r->response_body.append(b.c_str(), b.size());
    }
}

void notify_application_stop() {
    // GL_APPLICATION_STOP (docs/iis.md §4.3 slot 9, §4.5) for every application of this pool,
    // to the global modules that registered for it.
    class StopProvider final : public IHttpApplicationStopProvider {
    public:
        explicit StopProvider(IHttpApplication* a) : a_(a) {}
        void SetErrorStatus(HRESULT) override {}
        IHttpApplication* GetApplication() override { return a_; }

    private:
        IHttpApplication* a_;
    };
    const Config& config = g_process.config;
    for (size_t s = 0; s < config.site_count; ++s) {
        for (size_t a = 0; a < config.sites[s].app_count; ++a) {
            const App* app = &config.sites[s].apps[a];
            WorkerApplication application(app);
            Arena names;
            application.set_id(names.widen(app->md_path, archway::length(app->md_path)));
            StopProvider provider(&application);
            for (size_t i = 0; i < g_module_count; ++i) {
                ModuleRecord* r = g_modules[i];
                if (r->global && (r->global_notifications & GL_APPLICATION_STOP))
                    r->global->OnGlobalApplicationStop(&provider);
            }
        }
    }
}

}  // namespace worker
