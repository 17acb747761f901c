// module/src/request.cpp: ArchwayRequest (archway/handler_abi.h, ABI 1.2) on top of IHttpContext.
//
// One heap ShimRequest per request. Completion of a pending request (execute returned
// ARCHWAY_S_PENDING; complete may come from any thread, even before execute has returned):
// two references, one held by the execute path and one by the handler until complete. Whoever
// drops the last one ends the request:
//   * execute's path (complete ran during execute): the notification returns FINISH_REQUEST at
//     once, no IIS completion involved;
//   * complete (execute already returned PENDING): IHttpContext::PostCompletion(0), and IIS calls
//     OnAsyncCompletion on one of its own threads, which ends the request.
// PostCompletion rather than IndicateCompletion, as the ASP.NET Core Module's out-of-process
// forwarding handler does when a WinHTTP callback finishes a request: IndicateCompletion resumes
// the IIS pipeline on the calling thread (the handler's, e.g. a WinHTTP callback), and must not
// race the notification's own return; PostCompletion queues the continuation on IIS's completion
// port, so the rest of the pipeline runs on an IIS thread and the handler's thread returns at once.
// [UNCERTAIN] that IIS accepts PostCompletion in the instant between our decision to return
// PENDING and the return itself (ANCM relies on the same); the windows jobs' IIS pool steps
// (pools --host iis) run pending requests through real IIS.
//
// Synchronous ReadEntityBody, WriteEntityChunks and Flush from the handler's own thread while the
// request is pending: [UNCERTAIN] documented for IIS threads only; ANCM's in-process handler
// does them from managed threads. Checked by the same IIS steps (streamed platform responses).
// [UNCERTAIN] likewise IAppHostAdminManager (read_config) from a handler's thread: IIS's admin
// manager is used from IIS threads in every module seen; the platform handler reads its section
// in execute, on the IIS thread, which is the safe use.
#include "shim.h"

namespace shim {

struct ShimRequest {
    ArchwayRequest request;     // what the handler sees; request.context points back here
    IHttpContext* context;
    HandlerEntry* entry;        // its in-flight count is held until the request ends
    volatile long references;   // 2 while execute runs; see the top of this file
    volatile long completed;    // complete was called (exactly once is honoured)
    HRESULT result;             // what complete reported
    bool pending;               // execute returned ARCHWAY_S_PENDING
    bool responded;             // respond was called
    bool streaming;             // send_head was called
    char* detail;               // read_config's detail text (heap), freed with the request
    Duplex* duplex;             // WebSocket state after websocket_accept (duplex.cpp)
    char* auth_type;            // user_token's authentication type (heap), freed likewise
};

namespace {

// ASCII → UTF-16 (configuration section names are ASCII); false for other bytes or overflow.
bool widen_ascii(const char* s, wchar_t* out, size_t capacity) {
    size_t i = 0;
    for (; s[i]; ++i) {
        if (i + 1 >= capacity || static_cast<uint8_t>(s[i]) >= 0x80) return false;
        out[i] = static_cast<wchar_t>(s[i]);
    }
    out[i] = 0;
    return true;
}

// UTF-16 → UTF-8 in a heap buffer (caller frees); null when out of memory.
char* narrow(const wchar_t* s, size_t n) {
    const size_t capacity = n * 3 + 1;
    char* out = static_cast<char*>(archway::heap_alloc(capacity));
    if (!out) return nullptr;
    archway::Utf8Builder b(out, capacity);
    b.utf16(s ? s : L"", n);
    return out;
}

ShimRequest* self_of(ArchwayRequest* request) { return static_cast<ShimRequest*>(request->context); }

void set_detail(ShimRequest* self, const char* what, const wchar_t* section, const wchar_t* path,
                HRESULT hr) {
    archway::heap_free(self->detail);
    const size_t capacity = 256 + 3 * (archway::length(section) + archway::length(path));
    self->detail = static_cast<char*>(archway::heap_alloc(capacity));
    if (!self->detail) return;
    archway::Utf8Builder b(self->detail, capacity);
    b.raw(what).raw(" (section ").utf16(section).raw(", path ").utf16(path).raw("): HRESULT ")
        .hex(static_cast<uint32_t>(hr), 8);
}

// The attributes of `element`, one visit each (element name `name`, `item`).
HRESULT visit_properties(IAppHostElement* element, const char* name, uint32_t item,
                         ArchwayConfigVisitor visit, void* user) {
    archway::ComPtr<IAppHostPropertyCollection> properties;
    HRESULT hr = element->get_Properties(properties.out());
    if (FAILED(hr) || !properties) return FAILED(hr) ? hr : S_OK;
    DWORD count = 0;
    hr = properties->get_Count(&count);
    if (FAILED(hr)) return hr;
    for (DWORD i = 0; i < count; ++i) {
        archway::ComPtr<IAppHostProperty> property;
        hr = properties->get_Item(archway::index_variant(i), property.out());
        if (FAILED(hr) || !property) return FAILED(hr) ? hr : E_UNEXPECTED;
        archway::Bstr attribute, value;
        hr = property->get_Name(attribute.out());
        if (SUCCEEDED(hr)) hr = property->get_StringValue(value.out());
        if (FAILED(hr)) return hr;
        char* a = narrow(attribute.get(), attribute.size());
        char* v = narrow(value.get(), value.size());
        if (a && v) visit(user, name, item, a, v);
        archway::heap_free(a);
        archway::heap_free(v);
        if (!a || !v) return E_OUTOFMEMORY;
    }
    return S_OK;
}

// The entries of `element`'s collection, if it has one: element name `name`, item = index.
HRESULT visit_collection(IAppHostElement* element, const char* name, ArchwayConfigVisitor visit,
                         void* user) {
    archway::ComPtr<IAppHostElementCollection> collection;
    HRESULT hr = element->get_Collection(collection.out());
    if (FAILED(hr) || !collection) return S_OK;  // not a collection
    DWORD count = 0;
    hr = collection->get_Count(&count);
    if (FAILED(hr)) return hr;
    for (DWORD i = 0; i < count; ++i) {
        archway::ComPtr<IAppHostElement> entry;
        hr = collection->get_Item(archway::index_variant(i), entry.out());
        if (FAILED(hr) || !entry) return FAILED(hr) ? hr : E_UNEXPECTED;
        hr = visit_properties(entry.get(), name, i, visit, user);
        if (FAILED(hr)) return hr;
    }
    return S_OK;
}

HRESULT walk_section(IAppHostElement* section, ArchwayConfigVisitor visit, void* user) {
    HRESULT hr = visit_properties(section, "", ARCHWAY_CONFIG_NO_ITEM, visit, user);
    if (SUCCEEDED(hr)) hr = visit_collection(section, "", visit, user);
    if (FAILED(hr)) return hr;
    archway::ComPtr<IAppHostChildElementCollection> children;
    hr = section->get_ChildElements(children.out());
    if (FAILED(hr) || !children) return FAILED(hr) ? hr : S_OK;
    DWORD count = 0;
    hr = children->get_Count(&count);
    if (FAILED(hr)) return hr;
    for (DWORD i = 0; i < count; ++i) {
        archway::ComPtr<IAppHostElement> child;
        hr = children->get_Item(archway::index_variant(i), child.out());
        if (FAILED(hr) || !child) return FAILED(hr) ? hr : E_UNEXPECTED;
        archway::Bstr child_name;
        hr = child->get_Name(child_name.out());
        if (FAILED(hr)) return hr;
        char* n = narrow(child_name.get(), child_name.size());
        if (!n) return E_OUTOFMEMORY;
        hr = visit_properties(child.get(), n, ARCHWAY_CONFIG_NO_ITEM, visit, user);
        if (SUCCEEDED(hr)) hr = visit_collection(child.get(), n, visit, user);
        archway::heap_free(n);
        if (FAILED(hr)) return hr;
    }
    return S_OK;
}

// ---- the callbacks ----

HRESULT ARCHWAY_CALL get_server_variable(ArchwayRequest* request, const char* name,
                                         const char** value, uint32_t* length) {
    if (!request || !name || !value || !length) return E_POINTER;
    *value = nullptr;
    *length = 0;
    PCSTR text = nullptr;
    DWORD count = 0;
    // The ANSI-value overload: IHttpContext slot 15 (docs/iis.md §4.2, §4.4).
    // [UNCERTAIN] For non-ASCII values (e.g. a percent-decoded URL) whether IIS returns UTF-8
    // or the system code page here is not confirmed; the handler ABI promises UTF-8.
    const HRESULT hr = self_of(request)->context->GetServerVariable(name, &text, &count);
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

HRESULT ARCHWAY_CALL respond(ArchwayRequest* request, uint16_t status, const char* reason,
                             const char* content_type, const void* body, uint32_t body_length) {
    if (!request) return E_POINTER;
    ShimRequest* self = self_of(request);
    if (self->responded || self->streaming) return E_UNEXPECTED;  // once; not after send_head
    self->responded = true;
    return send_response(self->context, status, reason, content_type, body, body_length);
}

HRESULT ARCHWAY_CALL read_config(ArchwayRequest* request, const char* section,
                                 ArchwayConfigVisitor visit, void* user, const char** detail) {
    if (detail) *detail = nullptr;
    if (!request || !section || !visit) return E_POINTER;
    ShimRequest* self = self_of(request);
    wchar_t section_w[256];
    if (!widen_ascii(section, section_w, 256)) return E_INVALIDARG;
    IHttpApplication* application = self->context->GetApplication();
    const wchar_t* path = application ? application->GetAppConfigPath() : nullptr;
    IAppHostAdminManager* admin = g_process.server->GetAdminManager();
    if (!path || !admin) {
        set_detail(self, "IIS gave no configuration API or no application config path",
                   section_w, path ? path : L"", E_UNEXPECTED);
        if (detail) *detail = self->detail;
        return E_UNEXPECTED;
    }
    archway::Bstr section_b(section_w), path_b(path);
    if (!section_b.get() || !path_b.get()) return E_OUTOFMEMORY;
    archway::ComPtr<IAppHostElement> element;
    HRESULT hr = admin->GetAdminSection(section_b.get(), path_b.get(), element.out());
    // [UNCERTAIN] which HRESULT IIS gives for a section no schema declares: 0x80070490
    // (ERROR_NOT_FOUND, what the worker stand-in returns) or 0x8007000D (ERROR_INVALID_DATA,
    // "missing a section declaration"); both mean "no such section" here. The windows jobs' IIS
    // pool steps read sections with and without the archway schema installed.
    if (hr == HRESULT_FROM_WIN32(ERROR_NOT_FOUND) || hr == HRESULT_FROM_WIN32(ERROR_INVALID_DATA))
        return ARCHWAY_E_NO_SECTION;
    if (SUCCEEDED(hr) && !element) hr = E_UNEXPECTED;
    if (SUCCEEDED(hr)) hr = walk_section(element.get(), visit, user);
    if (FAILED(hr)) {
        set_detail(self, "IAppHostAdminManager::GetAdminSection failed", section_w, path, hr);
        if (detail) *detail = self->detail;
    }
    return hr;
}

HRESULT ARCHWAY_CALL read_body(ArchwayRequest* request, void* buffer, uint32_t capacity,
                               uint32_t* received) {
    if (!request || !received || (!buffer && capacity)) return E_POINTER;
    *received = 0;
    if (capacity == 0) return S_OK;
    IHttpRequest* http = self_of(request)->context->GetRequest();
    DWORD n = 0;
    BOOL completion_pending = FALSE;
    // Synchronous (fAsync FALSE): slot 16 (docs/iis.md §4.4). IIS ends the body with
    // ERROR_HANDLE_EOF.
    const HRESULT hr = http->ReadEntityBody(buffer, capacity, FALSE, &n, &completion_pending);
    if (hr == HRESULT_FROM_WIN32(ERROR_HANDLE_EOF)) return S_OK;
    if (FAILED(hr)) return hr;
    *received = n;
    return S_OK;
}

// Sets one "Name: value" header; replaces an earlier value unless the name came before in this
// head (then appends, as IIS's fReplace=FALSE does).
HRESULT set_one_header(IHttpResponse* response, const char* line, size_t n, const char* all,
                       size_t before) {
    size_t colon = 0;
    while (colon < n && line[colon] != ':') ++colon;
    if (colon == 0 || colon >= n || colon > 255) return E_INVALIDARG;
    char name[256];
    memcpy(name, line, colon);
    name[colon] = 0;
    size_t v = colon + 1;
    while (v < n && (line[v] == ' ' || line[v] == '\t')) ++v;
    size_t end = n;
    while (end > v && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
    if (end - v > 0xFFFF) return E_INVALIDARG;
    bool repeated = false;  // the same name earlier in this head
    for (size_t i = 0; i < before && !repeated;) {
        size_t j = i;
        while (j < before && all[j] != '\n') ++j;
        size_t c = i;
        while (c < j && all[c] != ':') ++c;
        repeated = archway::equal_nocase(all + i, c - i, name, colon);
        i = j + 1;
    }
    char* value = static_cast<char*>(archway::heap_alloc(end - v + 1));
    if (!value) return E_OUTOFMEMORY;
    memcpy(value, line + v, end - v);
    value[end - v] = 0;
    const HRESULT hr = response->SetHeader(name, value, static_cast<USHORT>(end - v),
                                           repeated ? FALSE : TRUE);
    archway::heap_free(value);
    return hr;
}

HRESULT ARCHWAY_CALL send_head(ArchwayRequest* request, uint16_t status, uint16_t substatus,
                               const char* reason, const char* headers, uint32_t headers_length) {
    if (!request || (!headers && headers_length)) return E_POINTER;
    ShimRequest* self = self_of(request);
    if (self->responded || self->streaming) return E_UNEXPECTED;
    self->streaming = true;
    IHttpResponse* response = self->context->GetResponse();
    response->Clear();
    HRESULT hr = response->SetStatus(status, reason ? reason : default_reason(status), substatus,
                                     S_OK, nullptr, TRUE);
    if (FAILED(hr)) return hr;
    size_t i = 0;
    while (i < headers_length) {
        size_t j = i;
        while (j < headers_length && headers[j] != '\n') ++j;
        size_t end = j;
        if (end > i && headers[end - 1] == '\r') --end;
        if (end > i) {
            hr = set_one_header(response, headers + i, end - i, headers, i);
            if (FAILED(hr)) return hr;
        }
        i = j + 1;
    }
    // Streamed: every write goes out as it is made (docs/iis.md §4.4 buffering semantics).
    response->DisableBuffering();
    return S_OK;
}

HRESULT ARCHWAY_CALL write_body(ArchwayRequest* request, const void* data, uint32_t length,
                                uint32_t flags) {
    if (!request || (!data && length)) return E_POINTER;
    ShimRequest* self = self_of(request);
    if (!self->streaming) return E_UNEXPECTED;  // send_head first
    IHttpResponse* response = self->context->GetResponse();
    DWORD sent = 0;
    BOOL completion_expected = FALSE;
    if (length) {
        HTTP_DATA_CHUNK chunk;
        chunk.DataChunkType = HttpDataChunkFromMemory;
        chunk.FromMemory.pBuffer = const_cast<void*>(data);
        chunk.FromMemory.BufferLength = length;
        // Synchronous (fAsync FALSE), more data to come: the caller's bytes are done with when
        // it returns (slot 21, docs/iis.md §4.4).
        const HRESULT hr = response->WriteEntityChunks(&chunk, 1, FALSE, TRUE, &sent,
                                                       &completion_expected);
        if (FAILED(hr)) return hr;
    }
    if (flags & ARCHWAY_WRITE_FLUSH) {
        const HRESULT hr = response->Flush(FALSE, TRUE, &sent, &completion_expected);  // slot 18
        if (FAILED(hr)) return hr;
    }
    return S_OK;
}

void ARCHWAY_CALL complete(ArchwayRequest* request, HRESULT result) {
    if (!request) return;
    ShimRequest* self = self_of(request);
    if (_InterlockedExchange(&self->completed, 1) != 0) return;  // "exactly once"
    self->result = result;
    if (_InterlockedDecrement(&self->references) == 0) {
        // execute has returned PENDING: IIS continues in OnAsyncCompletion.
        IHttpContext* context = self->context;
        const HRESULT hr = context->PostCompletion(0);
        if (FAILED(hr)) {
            wchar_t buffer[128];
            archway::WideBuilder m(buffer, 128);
            m.ascii("archway: IHttpContext::PostCompletion failed: HRESULT ")
                .hex(static_cast<uint32_t>(hr), 8);
            log_message(m);
        }
    }
}

BOOL ARCHWAY_CALL client_connected(ArchwayRequest* request) {
    if (!request) return FALSE;
    IHttpConnection* connection = self_of(request)->context->GetConnection();
    return connection && connection->IsConnected() ? TRUE : FALSE;
}

// ABI 1.2 (archway/handler_abi.h): IHttpUser slots 2 and 5 (archway/httpserv.h). An anonymous
// request (no user, or an empty authentication type: IIS's anonymous authentication gives a
// user whose token is the anonymous account's) reports "" and NULL.
HRESULT ARCHWAY_CALL user_token(ArchwayRequest* request, const char** auth_type, HANDLE* token) {
    if (auth_type) *auth_type = "";
    if (token) *token = nullptr;
    if (!request || !auth_type || !token) return E_POINTER;
    ShimRequest* self = self_of(request);
    IHttpUser* user = self->context->GetUser();
    const wchar_t* type = user ? user->GetAuthenticationType() : nullptr;
    if (!type || !*type) return S_OK;
    if (!self->auth_type) {
        self->auth_type = narrow(type, archway::length(type));
        if (!self->auth_type) return E_OUTOFMEMORY;
    }
    *auth_type = self->auth_type;
    const HANDLE primary = user->GetPrimaryToken();
    *token = primary == INVALID_HANDLE_VALUE ? nullptr : primary;
    return S_OK;
}

void release(ShimRequest* self) {
    handler_leave(self->entry);
    duplex_free(self->duplex);
    archway::heap_free(self->auth_type);
    archway::heap_free(self->detail);
    archway::heap_free(self);
}

// The request ends: answers what the handler left unanswered; a failure after part of the
// response went out resets the connection (a pending request's failed completion, or a stream:
// a truncated body must not look complete). A synchronous failure after `respond` keeps the
// response, as ABI 1.0 did.
REQUEST_NOTIFICATION_STATUS finish(ShimRequest* self, HRESULT hr) {
    const ArchwayHandler& handler = handler_of(self->entry);
    const bool answered = self->responded || self->streaming;
    if (FAILED(hr) || !answered) {
        HeapBuffer<wchar_t> buffer(kMessageCapacity);
        wchar_t fallback[64];
        archway::WideBuilder m(buffer.get() ? buffer.get() : fallback,
                               buffer.get() ? kMessageCapacity : 64);
        m.ascii("archway: handler ").ascii(handler.name ? handler.name : "(unnamed)");
        if (FAILED(hr)) {
            m.ascii(" failed: HRESULT ").hex(static_cast<uint32_t>(hr), 8);
        } else {
            m.ascii(" produced no response");
        }
        log_message(m);
        if (!answered) {
            send_error(self->context, m.c_str(), m.size());
        } else if (self->streaming || self->pending) {
            self->context->GetResponse()->ResetConnection();
        }
    }
    release(self);
    return RQ_NOTIFICATION_FINISH_REQUEST;
}

}  // namespace

ShimRequest* request_create(IHttpContext* context, HandlerEntry* entry) {
    ShimRequest* self = static_cast<ShimRequest*>(archway::heap_alloc_zeroed(sizeof(ShimRequest)));
    if (!self) return nullptr;
    ArchwayRequest& r = self->request;
    r.struct_size = static_cast<uint32_t>(sizeof(ArchwayRequest));
    r.context = self;
    r.get_server_variable = get_server_variable;
    r.respond = respond;
    r.read_config = read_config;
    r.read_body = read_body;
    r.send_head = send_head;
    r.write_body = write_body;
    r.complete = complete;
    r.client_connected = client_connected;
    r.user_token = user_token;
    duplex_install(&r);
    self->context = context;
    self->entry = entry;
    self->references = 2;
    return self;
}

ArchwayRequest* request_abi(ShimRequest* self) { return &self->request; }
IHttpContext* request_http_context(ArchwayRequest* request) { return self_of(request)->context; }
Duplex*& request_duplex(ArchwayRequest* request) { return self_of(request)->duplex; }

REQUEST_NOTIFICATION_STATUS request_after_execute(ShimRequest* self, HRESULT hr) {
    if (hr == ARCHWAY_S_PENDING) {
        self->pending = true;
        if (_InterlockedDecrement(&self->references) != 0) return RQ_NOTIFICATION_PENDING;
        return finish(self, self->result);  // complete ran before execute returned
    }
    return finish(self, hr);
}

REQUEST_NOTIFICATION_STATUS request_after_completion(ShimRequest* self) {
    return finish(self, self->result);
}

}  // namespace shim
