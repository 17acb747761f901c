// tests/loadtest/src/loadtest.cpp: a console stand-in for IIS: load the shim, run one request.
//
// Usage: archway_loadtest_<arch>.exe [shim.dll]
//   Without an argument it loads archway_<arch>.dll from its own folder (<arch> = what this
//   program was compiled for). It calls RegisterModule with fake IIS objects, asks the factory
//   for a module, runs OnExecuteRequestHandler once (REQUEST_METHOD=GET, URL=/loadtest,
//   APP_POOL_ID=loadtest), then Dispose and Terminate, and prints one line of JSON:
//   {"register_hr":"0x00000000","notifications":128,"status":200,
//    "content_type":"application/json","body":<the body: verbatim if it is JSON, else a string>}
// Exit code: 0 when RegisterModule succeeded and a response was produced (whatever its
// status); otherwise non-zero with a message on stderr:
//   2 the shim cannot be loaded, 3 no RegisterModule export, 4 RegisterModule failed or
//   registered no factory, 5 no module or no response, 1 anything else.
#include "archway/httpserv.h"
#include "archway/memory.h"
#include "archway/text.h"

extern "C" void* __cdecl memcpy(void* dest, const void* src, size_t count);

namespace {

// ---------------------------------------------------------------------------------------------
// Output.

void write_handle(DWORD which, const char* data, size_t length) {
    HANDLE handle = GetStdHandle(which);
    if (!handle || handle == INVALID_HANDLE_VALUE) return;
    while (length > 0) {
        DWORD written = 0;
        const DWORD chunk = length > 0x10000000 ? 0x10000000 : static_cast<DWORD>(length);
        if (!WriteFile(handle, data, chunk, &written, nullptr) || written == 0) return;
        data += written;
        length -= written;
    }
}

// Prints "archway_loadtest: <message>\n" on stderr and returns `code`.
int fail(int code, const wchar_t* message) {
    char buffer[4096];
    archway::Utf8Builder text(buffer, sizeof(buffer));
    text.raw("archway_loadtest: ").utf16(message).ch('\n');
    write_handle(STD_ERROR_HANDLE, text.c_str(), text.size());
    return code;
}

// ---------------------------------------------------------------------------------------------
// JSON check: copies `s` to `out` without insignificant whitespace if it is one valid JSON
// value (so it can be embedded verbatim in our one-line output); returns false otherwise.
class JsonCopier {
public:
    JsonCopier(const char* s, size_t n, archway::Utf8Builder& out) : s_(s), n_(n), out_(out) {}

    bool document() {
        if (!value(0)) return false;
        space();
        return i_ == n_ && !out_.overflow();
    }

private:
    void space() {
        while (i_ < n_ && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            ++i_;
    }
    bool literal(const char* word) {
        const size_t n = archway::length(word);
        if (n_ - i_ < n || !archway::equal(s_ + i_, n, word, n)) return false;
        out_.raw(word);
        i_ += n;
        return true;
    }
    static bool digit(char c) { return c >= '0' && c <= '9'; }
    bool digits() {
        if (i_ >= n_ || !digit(s_[i_])) return false;
        while (i_ < n_ && digit(s_[i_])) out_.ch(s_[i_++]);
        return true;
    }
    bool number() {
        if (i_ < n_ && s_[i_] == '-') out_.ch(s_[i_++]);
        if (i_ < n_ && s_[i_] == '0') {
            out_.ch(s_[i_++]);
        } else if (!digits()) {
            return false;
        }
        if (i_ < n_ && s_[i_] == '.') {
            out_.ch(s_[i_++]);
            if (!digits()) return false;
        }
        if (i_ < n_ && (s_[i_] == 'e' || s_[i_] == 'E')) {
            out_.ch(s_[i_++]);
            if (i_ < n_ && (s_[i_] == '+' || s_[i_] == '-')) out_.ch(s_[i_++]);
            if (!digits()) return false;
        }
        return true;
    }
    static bool hex_digit(char c) {
        return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    bool string() {
        out_.ch(s_[i_++]);  // the opening quote
        while (i_ < n_) {
            const uint8_t c = static_cast<uint8_t>(s_[i_]);
            if (c == '"') {
                out_.ch(s_[i_++]);
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                if (n_ - i_ < 2) return false;
                const char e = s_[i_ + 1];
                size_t length = 2;
                if (e == 'u') {
                    if (n_ - i_ < 6) return false;
                    for (size_t k = 2; k < 6; ++k)
                        if (!hex_digit(s_[i_ + k])) return false;
                    length = 6;
                } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' &&
                           e != 'n' && e != 'r' && e != 't') {
                    return false;
                }
                out_.raw(s_ + i_, length);
                i_ += length;
                continue;
            }
            // Must be well-formed UTF-8 (a literal U+FFFD is EF BF BD).
            const size_t start = i_;
            const uint32_t cp = archway::Utf8Builder::next_utf8(s_, n_, &i_);
            if (cp == 0xFFFD &&
                !(i_ - start == 3 && static_cast<uint8_t>(s_[start]) == 0xEF &&
                  static_cast<uint8_t>(s_[start + 1]) == 0xBF &&
                  static_cast<uint8_t>(s_[start + 2]) == 0xBD)) {
                return false;
            }
            out_.raw(s_ + start, i_ - start);
        }
        return false;
    }
    bool value(int depth) {
        if (depth > 128) return false;
        space();
        if (i_ >= n_) return false;
        const char c = s_[i_];
        if (c == '"') return string();
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        if (c == '{' || c == '[') {
            const char close = c == '{' ? '}' : ']';
            out_.ch(s_[i_++]);
            space();
            if (i_ < n_ && s_[i_] == close) {
                out_.ch(s_[i_++]);
                return true;
            }
            for (;;) {
                if (c == '{') {
                    space();
                    if (i_ >= n_ || s_[i_] != '"' || !string()) return false;
                    space();
                    if (i_ >= n_ || s_[i_] != ':') return false;
                    out_.ch(s_[i_++]);
                }
                if (!value(depth + 1)) return false;
                space();
                if (i_ >= n_) return false;
                if (s_[i_] == ',') {
                    out_.ch(s_[i_++]);
                    continue;
                }
                if (s_[i_] == close) {
                    out_.ch(s_[i_++]);
                    return true;
                }
                return false;
            }
        }
        return number();
    }

    const char* s_;
    size_t n_;
    size_t i_ = 0;
    archway::Utf8Builder& out_;
};

// ---------------------------------------------------------------------------------------------
// Fake IIS objects. Only what the shim uses does something; the rest fails or returns null.

class FakeResponse final : public IHttpResponse {
public:
    ~FakeResponse() { archway::heap_free(body_); }

    USHORT status() const { return status_; }
    bool has_content_type() const { return has_content_type_; }
    const char* content_type() const { return content_type_; }
    const char* body() const { return body_; }
    size_t body_length() const { return body_length_; }
    bool responded() const { return status_ != 0 || body_length_ != 0; }

    HTTP_RESPONSE* GetRawHttpResponse() override { return nullptr; }
    const HTTP_RESPONSE* GetRawHttpResponse() const override { return nullptr; }
    IHttpCachePolicy* GetCachePolicy() override { return nullptr; }
    HRESULT SetStatus(USHORT statusCode, PCSTR, USHORT, HRESULT, IAppHostConfigException*,
                      BOOL) override {
        status_ = statusCode;
        return S_OK;
    }
    HRESULT SetHeader(PCSTR name, PCSTR value, USHORT length, BOOL) override {
        if (!name || !value) return E_INVALIDARG;
        if (archway::equal_nocase(name, "Content-Type")) set_content_type(value, length);
        return S_OK;
    }
    HRESULT SetHeader(HTTP_HEADER_ID id, PCSTR value, USHORT length, BOOL) override {
        if (!value) return E_INVALIDARG;
        if (id == HttpHeaderContentType) set_content_type(value, length);
        return S_OK;
    }
    HRESULT DeleteHeader(PCSTR) override { return E_NOTIMPL; }
    HRESULT DeleteHeader(HTTP_HEADER_ID) override { return E_NOTIMPL; }
    PCSTR GetHeader(PCSTR name, USHORT* length) const override {
        if (name && archway::equal_nocase(name, "Content-Type") && has_content_type_) {
            if (length) *length = static_cast<USHORT>(archway::length(content_type_));
            return content_type_;
        }
        if (length) *length = 0;
        return nullptr;
    }
    PCSTR GetHeader(HTTP_HEADER_ID, USHORT* length) const override {
        if (length) *length = 0;
        return nullptr;
    }
    void Clear() override { body_length_ = 0; }  // IIS: clears the entity body
    void ClearHeaders() override { has_content_type_ = false; }
    void SetNeedDisconnect() override {}
    void ResetConnection() override {}
    void DisableKernelCache(ULONG) override {}
    BOOL GetKernelCacheEnabled() const override { return FALSE; }
    void SuppressHeaders() override {}
    BOOL GetHeadersSuppressed() const override { return FALSE; }
    HRESULT Flush(BOOL, BOOL, DWORD*, BOOL*) override { return E_NOTIMPL; }
    HRESULT Redirect(PCSTR, BOOL, BOOL) override { return E_NOTIMPL; }
    HRESULT WriteEntityChunkByReference(HTTP_DATA_CHUNK*, LONG) override { return E_NOTIMPL; }
    HRESULT WriteEntityChunks(HTTP_DATA_CHUNK* chunks, DWORD count, BOOL async, BOOL,
                              DWORD* sent, BOOL* completion_expected) override {
        if (sent) *sent = 0;
        if (completion_expected) *completion_expected = FALSE;
        if (async) return E_NOTIMPL;
        if (!chunks && count) return E_INVALIDARG;
        DWORD total = 0;
        for (DWORD i = 0; i < count; ++i) {
            if (chunks[i].DataChunkType != HttpDataChunkFromMemory) return E_NOTIMPL;
            const ULONG n = chunks[i].FromMemory.BufferLength;
            if (n && !chunks[i].FromMemory.pBuffer) return E_INVALIDARG;
            if (!append(static_cast<const char*>(chunks[i].FromMemory.pBuffer), n))
                return E_OUTOFMEMORY;
            total += n;
        }
        if (sent) *sent = total;
        return S_OK;
    }
    void DisableBuffering() override {}
    void GetStatus(USHORT* status, USHORT* sub_status, PCSTR* reason, USHORT* reason_length,
                   HRESULT* error, PCWSTR* module, DWORD* notification,
                   IAppHostConfigException** exception, BOOL* skip) override {
        if (status) *status = status_;
        if (sub_status) *sub_status = 0;
        if (reason) *reason = nullptr;
        if (reason_length) *reason_length = 0;
        if (error) *error = S_OK;
        if (module) *module = nullptr;
        if (notification) *notification = 0;
        if (exception) *exception = nullptr;
        if (skip) *skip = FALSE;
    }
    HRESULT SetErrorDescription(PCWSTR, DWORD, BOOL) override { return E_NOTIMPL; }
    PCWSTR GetErrorDescription(DWORD* length) override {
        if (length) *length = 0;
        return nullptr;
    }
    HRESULT GetHeaderChanges(DWORD, DWORD*, PCSTR*, DWORD*, PCSTR**, PCSTR**, DWORD*, DWORD*,
                             DWORD**) override {
        return E_NOTIMPL;
    }
    void CloseConnection() override {}

private:
    void set_content_type(PCSTR value, USHORT length) {
        size_t n = length ? length : archway::length(value);
        if (n >= sizeof(content_type_)) n = sizeof(content_type_) - 1;
        for (size_t i = 0; i < n; ++i) content_type_[i] = value[i];
        content_type_[n] = 0;
        has_content_type_ = true;
    }
    bool append(const char* data, size_t n) {
        if (body_length_ + n > body_capacity_) {
            size_t capacity = body_capacity_ ? body_capacity_ * 2 : 4096;
            while (capacity < body_length_ + n) capacity *= 2;
            char* bigger = static_cast<char*>(archway::heap_alloc(capacity));
            if (!bigger) return false;
            if (body_length_) memcpy(bigger, body_, body_length_);
            archway::heap_free(body_);
            body_ = bigger;
            body_capacity_ = capacity;
        }
        if (n) memcpy(body_ + body_length_, data, n);
        body_length_ += n;
        return true;
    }

    USHORT status_ = 0;
    bool has_content_type_ = false;
    char content_type_[256] = {};
    char* body_ = nullptr;
    size_t body_length_ = 0;
    size_t body_capacity_ = 0;
};

class FakeRequest final : public IHttpRequest {
public:
    HTTP_REQUEST* GetRawHttpRequest() override { return nullptr; }
    const HTTP_REQUEST* GetRawHttpRequest() const override { return nullptr; }
    PCSTR GetHeader(PCSTR, USHORT* length) const override {
        if (length) *length = 0;
        return nullptr;
    }
    PCSTR GetHeader(HTTP_HEADER_ID, USHORT* length) const override {
        if (length) *length = 0;
        return nullptr;
    }
    HRESULT SetHeader(PCSTR, PCSTR, USHORT, BOOL) override { return E_NOTIMPL; }
    HRESULT SetHeader(HTTP_HEADER_ID, PCSTR, USHORT, BOOL) override { return E_NOTIMPL; }
    HRESULT DeleteHeader(PCSTR) override { return E_NOTIMPL; }
    HRESULT DeleteHeader(HTTP_HEADER_ID) override { return E_NOTIMPL; }
    PCSTR GetHttpMethod() const override { return "GET"; }
    HRESULT SetHttpMethod(PCSTR) override { return E_NOTIMPL; }
    HRESULT SetUrl(PCWSTR, DWORD, BOOL) override { return E_NOTIMPL; }
    HRESULT SetUrl(PCSTR, DWORD, BOOL) override { return E_NOTIMPL; }
    BOOL GetUrlChanged() const override { return FALSE; }
    PCWSTR GetForwardedUrl() const override { return nullptr; }
    PSOCKADDR GetLocalAddress() const override { return nullptr; }
    PSOCKADDR GetRemoteAddress() const override { return nullptr; }
    HRESULT ReadEntityBody(void*, DWORD, BOOL, DWORD* received, BOOL* pending) override {
        if (received) *received = 0;
        if (pending) *pending = FALSE;
        return HRESULT_FROM_WIN32(38L);  // ERROR_HANDLE_EOF: no body
    }
    HRESULT InsertEntityBody(void*, DWORD) override { return E_NOTIMPL; }
    DWORD GetRemainingEntityBytes() override { return 0; }
    void GetHttpVersion(USHORT* major, USHORT* minor) const override {
        if (major) *major = 1;
        if (minor) *minor = 1;
    }
    HRESULT GetClientCertificate(HTTP_SSL_CLIENT_CERT_INFO** info, BOOL* negotiated) override {
        if (info) *info = nullptr;
        if (negotiated) *negotiated = FALSE;
        return E_NOTIMPL;
    }
    HRESULT NegotiateClientCertificate(BOOL, BOOL*) override { return E_NOTIMPL; }
    DWORD GetSiteId() const override { return 1; }
    HRESULT GetHeaderChanges(DWORD, DWORD*, PCSTR*, DWORD*, PCSTR**, PCSTR**, DWORD*, DWORD*,
                             DWORD**) override {
        return E_NOTIMPL;
    }
};

struct ServerVariable {
    const char* name;
    const char* value;
    const wchar_t* wide_value;
};
const ServerVariable kServerVariables[] = {
    {"REQUEST_METHOD", "GET", L"GET"},
    {"URL", "/loadtest", L"/loadtest"},
    {"APP_POOL_ID", "loadtest", L"loadtest"},
};

const ServerVariable* find_server_variable(PCSTR name) {
    if (!name) return nullptr;
    for (const ServerVariable& v : kServerVariables) {
        if (archway::equal_nocase(name, v.name)) return &v;
    }
    return nullptr;
}

class FakeContext final : public IHttpContext {
public:
    FakeContext(FakeRequest* request, FakeResponse* response)
        : request_(request), response_(response) {}
    ~FakeContext() {
        for (size_t i = 0; i < allocation_count_; ++i) archway::heap_free(allocations_[i]);
    }

    IHttpSite* GetSite() override { return nullptr; }
    IHttpApplication* GetApplication() override { return nullptr; }
    IHttpConnection* GetConnection() override { return nullptr; }
    IHttpRequest* GetRequest() override { return request_; }
    IHttpResponse* GetResponse() override { return response_; }
    BOOL GetResponseHeadersSent() const override { return FALSE; }
    IHttpUser* GetUser() const override { return nullptr; }
    IHttpModuleContextContainer* GetModuleContextContainer() override { return nullptr; }
    void IndicateCompletion(REQUEST_NOTIFICATION_STATUS) override {}
    HRESULT PostCompletion(DWORD) override { return E_NOTIMPL; }
    void DisableNotifications(DWORD, DWORD) override {}
    BOOL GetNextNotification(REQUEST_NOTIFICATION_STATUS, DWORD*, BOOL*, CHttpModule**,
                             IHttpEventProvider**) override {
        return FALSE;
    }
    BOOL GetIsLastNotification(REQUEST_NOTIFICATION_STATUS) override { return TRUE; }
    HRESULT ExecuteRequest(BOOL, IHttpContext*, DWORD, IHttpUser*, BOOL*) override {
        return E_NOTIMPL;
    }
    DWORD GetExecuteFlags() const override { return 0; }
    HRESULT GetServerVariable(PCSTR name, PCWSTR* value, DWORD* length) override {
        const ServerVariable* v = find_server_variable(name);
        if (value) *value = v ? v->wide_value : nullptr;
        if (length) *length = v ? static_cast<DWORD>(archway::length(v->wide_value)) : 0;
        return v ? S_OK : HRESULT_FROM_WIN32(ERROR_INVALID_INDEX);
    }
    HRESULT GetServerVariable(PCSTR name, PCSTR* value, DWORD* length) override {
        const ServerVariable* v = find_server_variable(name);
        if (value) *value = v ? v->value : nullptr;
        if (length) *length = v ? static_cast<DWORD>(archway::length(v->value)) : 0;
        return v ? S_OK : HRESULT_FROM_WIN32(ERROR_INVALID_INDEX);
    }
    HRESULT SetServerVariable(PCSTR, PCWSTR) override { return E_NOTIMPL; }
    void* AllocateRequestMemory(DWORD bytes) override {
        if (allocation_count_ == kMaxAllocations) return nullptr;
        void* p = archway::heap_alloc(bytes);
        if (p) allocations_[allocation_count_++] = p;
        return p;
    }
    IHttpUrlInfo* GetUrlInfo() override { return nullptr; }
    IMetadataInfo* GetMetadata() override { return nullptr; }
    PCWSTR GetPhysicalPath(DWORD* length) override {
        if (length) *length = 0;
        return nullptr;
    }
    PCWSTR GetScriptName(DWORD* length) const override {
        if (length) *length = 0;
        return nullptr;
    }
    PCWSTR GetScriptTranslated(DWORD* length) override {
        if (length) *length = 0;
        return nullptr;
    }
    IScriptMapInfo* GetScriptMap() const override { return nullptr; }
    void SetRequestHandled() override {}
    IHttpFileInfo* GetFileInfo() const override { return nullptr; }
    HRESULT MapPath(PCWSTR, PWSTR, DWORD*) override { return E_NOTIMPL; }
    HRESULT NotifyCustomNotification(ICustomNotificationProvider*, BOOL*) override {
        return E_NOTIMPL;
    }
    IHttpContext* GetParentContext() const override { return nullptr; }
    IHttpContext* GetRootContext() const override { return nullptr; }
    HRESULT CloneContext(DWORD, IHttpContext** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT ReleaseClonedContext() override { return E_NOTIMPL; }
    HRESULT GetCurrentExecutionStats(DWORD*, DWORD*, PCWSTR*, DWORD*, DWORD*,
                                     DWORD*) const override {
        return E_NOTIMPL;
    }
    IHttpTraceContext* GetTraceContext() const override { return nullptr; }
    HRESULT GetServerVarChanges(DWORD, DWORD*, DWORD*, PCSTR**, PCWSTR**, DWORD*,
                                DWORD**) override {
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

private:
    static constexpr size_t kMaxAllocations = 64;
    FakeRequest* request_;
    FakeResponse* response_;
    void* allocations_[kMaxAllocations] = {};
    size_t allocation_count_ = 0;
};

class FakeEventProvider final : public IHttpEventProvider {
public:
    void SetErrorStatus(HRESULT hr) override { error_ = hr; }
    HRESULT error() const { return error_; }

private:
    HRESULT error_ = S_OK;
};

class FakeAllocator final : public IModuleAllocator {
public:
    ~FakeAllocator() {
        for (size_t i = 0; i < count_; ++i) archway::heap_free(blocks_[i]);
    }
    void* AllocateMemory(DWORD bytes) override {
        if (count_ == kMax) return nullptr;
        void* p = archway::heap_alloc(bytes);
        if (p) blocks_[count_++] = p;
        return p;
    }

private:
    static constexpr size_t kMax = 16;
    void* blocks_[kMax] = {};
    size_t count_ = 0;
};

class FakeRegistrationInfo final : public IHttpModuleRegistrationInfo {
public:
    IHttpModuleFactory* factory() const { return factory_; }
    DWORD notifications() const { return notifications_; }
    DWORD post_notifications() const { return post_notifications_; }

    PCWSTR GetName() const override { return L"archway"; }
    HTTP_MODULE_ID GetId() const override {
        return const_cast<FakeRegistrationInfo*>(this);  // any stable, non-null value
    }
    HRESULT SetRequestNotifications(IHttpModuleFactory* factory, DWORD notifications,
                                    DWORD post_notifications) override {
        if (!factory) return E_INVALIDARG;
        factory_ = factory;
        notifications_ = notifications;
        post_notifications_ = post_notifications;
        return S_OK;
    }
    HRESULT SetGlobalNotifications(CGlobalModule*, DWORD) override { return E_NOTIMPL; }
    HRESULT SetPriorityForRequestNotification(DWORD, PCWSTR) override { return E_NOTIMPL; }
    HRESULT SetPriorityForGlobalNotification(DWORD, PCWSTR) override { return E_NOTIMPL; }

private:
    IHttpModuleFactory* factory_ = nullptr;
    DWORD notifications_ = 0;
    DWORD post_notifications_ = 0;
};

class FakeServer final : public IHttpServer {
public:
    BOOL IsCommandLineLaunch() const override { return TRUE; }
    PCWSTR GetAppPoolName() const override { return L"loadtest"; }
    HRESULT AssociateWithThreadPool(HANDLE, LPOVERLAPPED_COMPLETION_ROUTINE) override {
        return E_NOTIMPL;
    }
    void IncrementThreadCount() override {}
    void DecrementThreadCount() override {}
    void ReportUnhealthy(PCWSTR, HRESULT) override {}
    void RecycleProcess(PCWSTR) override {}
    IAppHostAdminManager* GetAdminManager() const override { return nullptr; }
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
    BOOL SatisfiesPrecondition(PCWSTR, BOOL* unknown) const override {
        if (unknown) *unknown = TRUE;
        return FALSE;
    }
    IHttpTraceContext* GetTraceContext() const override { return nullptr; }
    HRESULT RegisterFileChangeMonitor(PCWSTR, HANDLE, IHttpFileMonitor** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT GetExtendedInterface(HTTP_SERVER_INTERFACE_VERSION, void** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
};

// ---------------------------------------------------------------------------------------------

// The first argument of a Windows command line (after the program name); simple quoting rules
// (a quoted argument ends at the next quote). Returns false if there is none.
bool first_argument(const wchar_t* line, const wchar_t** begin, size_t* length) {
    const wchar_t* p = line;
    if (*p == L'"') {  // program name, quoted
        ++p;
        while (*p && *p != L'"') ++p;
        if (*p) ++p;
    } else {
        while (*p && *p != L' ' && *p != L'\t') ++p;
    }
    while (*p == L' ' || *p == L'\t') ++p;
    if (!*p) return false;
    if (*p == L'"') {
        *begin = ++p;
        while (*p && *p != L'"') ++p;
    } else {
        *begin = p;
        while (*p && *p != L' ' && *p != L'\t') ++p;
    }
    *length = static_cast<size_t>(p - *begin);
    return *length > 0;
}

int run() {
    // A deliberately large frame (> 4 KiB): makes the compiler call __chkstk here, so every
    // run also exercises the runtime's stack probe.
    wchar_t shim_path[4096];
    const DWORD shim_capacity = static_cast<DWORD>(sizeof(shim_path) / sizeof(shim_path[0]));

    wchar_t message_buffer[1024];
    archway::WideBuilder message(message_buffer,
                                 sizeof(message_buffer) / sizeof(message_buffer[0]));

    const wchar_t* argument = nullptr;
    size_t argument_length = 0;
    if (first_argument(GetCommandLineW(), &argument, &argument_length)) {
        // LoadLibraryExW with LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR wants a fully qualified path
        // (ERROR_INVALID_PARAMETER otherwise), so resolve a relative argument first.
        wchar_t given[2048];
        archway::WideBuilder given_path(given, sizeof(given) / sizeof(given[0]));
        given_path.wide(argument, argument_length);
        if (given_path.overflow()) return fail(1, L"shim path too long");
        const DWORD n = GetFullPathNameW(given, shim_capacity, shim_path, nullptr);
        if (n == 0 || n >= shim_capacity) {
            const DWORD error =
                n == 0 ? GetLastError() : static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER);
            message.wide(L"cannot resolve the path ").wide(given);
            message.wide(L": Win32 error ").u32(error);
            return fail(1, message.c_str());
        }
    } else {
        wchar_t self[2048];
        const DWORD self_capacity = static_cast<DWORD>(sizeof(self) / sizeof(self[0]));
        const DWORD n = GetModuleFileNameW(nullptr, self, self_capacity);
        if (n == 0 || n >= self_capacity) {
            return fail(1, L"cannot determine the program's own path");
        }
        archway::WideBuilder path(shim_path, shim_capacity);
        path.wide(self, archway::folder_length(self, n));
        path.wide(L"archway_" ARCHWAY_ARCH_NAME_W L".dll");
        if (path.overflow()) return fail(1, L"shim path too long");
    }

    // As IIS would be advised to (iis.md §5): full path, the DLL's folder searched for its
    // own dependencies (LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR needs a fully qualified path).
    HMODULE shim = LoadLibraryExW(shim_path, nullptr,
                                  LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR |
                                      LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    if (!shim) {
        const DWORD error = GetLastError();
        message.wide(L"cannot load the shim ").wide(shim_path).wide(L": Win32 error ").u32(error);
        message.wide(L" (").hex(error, 1).wide(L")");
        return fail(2, message.c_str());
    }
    PFN_REGISTERMODULE register_module =
        archway::proc_cast<PFN_REGISTERMODULE>(GetProcAddress(shim, MODULE_REGISTERMODULE));
    if (!register_module) {
        const DWORD error = GetLastError();
        message.wide(L"the shim ").wide(shim_path);
        message.wide(L" does not export RegisterModule: Win32 error ");
        message.u32(error).wide(L" (").hex(error, 1).wide(L")");
        return fail(3, message.c_str());
    }

    FakeRegistrationInfo registration;
    FakeServer server;
    const HRESULT register_hr = register_module(10, &registration, &server);  // "IIS 10"

    FakeRequest request;
    FakeResponse response;
    int exit_code = 0;
    {
        FakeContext context(&request, &response);
        FakeEventProvider provider;
        FakeAllocator allocator;
        IHttpModuleFactory* factory = registration.factory();
        if (FAILED(register_hr) || !factory) {
            message.wide(L"RegisterModule returned ").hex(static_cast<uint32_t>(register_hr), 8);
            if (!factory) message.wide(L" and registered no module factory");
            exit_code = fail(4, message.c_str());
        } else {
            CHttpModule* module = nullptr;
            const HRESULT hr = factory->GetHttpModule(&module, &allocator);
            if (FAILED(hr) || !module) {
                message.wide(L"GetHttpModule returned ").hex(static_cast<uint32_t>(hr), 8);
                exit_code = fail(5, message.c_str());
            } else {
                module->OnExecuteRequestHandler(&context, &provider);
                module->Dispose();
                if (!response.responded()) exit_code = fail(5, L"the module produced no response");
            }
            factory->Terminate();
        }
    }

    // The one line of JSON.
    const size_t body_length = response.body_length();
    const size_t capacity = body_length * 6 + 1024;  // worst case: every byte as \u00XX
    char* line = static_cast<char*>(archway::heap_alloc(capacity));
    char* minified = static_cast<char*>(archway::heap_alloc(body_length + 1));
    if (!line || !minified) return fail(1, L"out of memory");
    archway::Utf8Builder out(line, capacity);
    out.raw("{\"register_hr\":\"").hex(static_cast<uint32_t>(register_hr), 8);
    out.raw("\",\"notifications\":").u32(registration.notifications());
    out.raw(",\"status\":").u32(response.status());
    out.raw(",\"content_type\":");
    if (response.has_content_type()) {
        out.json_string(response.content_type());
    } else {
        out.json_null();
    }
    out.raw(",\"body\":");
    if (!response.responded()) {
        out.json_null();
    } else {
        archway::Utf8Builder copy(minified, body_length + 1);
        JsonCopier json(response.body(), body_length, copy);
        if (body_length > 0 && json.document()) {
            out.raw(copy.c_str(), copy.size());
        } else {
            out.json_string(response.body(), body_length);
        }
    }
    out.raw("}\n");
    write_handle(STD_OUTPUT_HANDLE, out.c_str(), out.size());
    archway::heap_free(minified);
    archway::heap_free(line);
    return exit_code;
}

}  // namespace

// Entry point (linked with /subsystem:console /entry:ArchwayLoadTestMain): no CRT, so no argc/
// argv and no return to a CRT; the process ends through ExitProcess.
extern "C" void __cdecl ArchwayLoadTestMain(void) {
    ExitProcess(static_cast<UINT>(run()));
}
