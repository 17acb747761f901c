// handlers/platform/src/forward.cpp: the asynchronous WinHTTP proxy (forward.h).
//
// Lifetime: `refs_` counts the creator (the work item), each thread inside drive(), and the
// WinHTTP request handle (released at WINHTTP_CALLBACK_STATUS_HANDLE_CLOSING). The request
// ends (finish: page if needed, complete, leave the application) when the last one goes, so
// nothing touches the request after complete.
// Re-entrancy: WinHTTP may call the completion callback on the calling thread before the call
// returns (e.g. WinHttpReadData with data already buffered); issue() records such a completion
// and the caller's loop handles it, so a fast stream does not recurse.
// Headers sent to the server follow HttpPlatformHandler v2 (docs/httpplatform.md §3): hop-by-hop
// and MS-ASPNETCORE* removed, Host kept, MS-ASPNETCORE-TOKEN added, X-Forwarded-For and
// X-Forwarded-Proto appended to.
#include "forward.h"

#include "archway/process.h"
#include "page.h"
#include "websocket.h"

namespace platform {
namespace {

constexpr size_t kBuffer = 64 * 1024;
constexpr size_t kChunkPrefix = 10;  // room for "<8 hex digits>\r\n" before the data
const char kLastChunk[] = "0\r\n\r\n";

bool read_variable(ArchwayRequest* r, const char* name, Str* out) {
    const char* v = nullptr;
    uint32_t n = 0;
    if (FAILED(r->get_server_variable(r, name, &v, &n)) || !v) return false;
    out->add(v, n);
    return !out->failed();
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and what the proxy sets itself.
bool hop_by_hop(const char* name, size_t n) {
    return is(name, n, "Connection") || is(name, n, "Keep-Alive") || is(name, n, "TE") ||
           is(name, n, "Trailer") || is(name, n, "Transfer-Encoding") || is(name, n, "Upgrade") ||
           starts_with_nocase(name, n, "Proxy-");
}

// Walks "Name: value" lines (CRLF or LF); continuation lines are folded into the previous.
template <typename F> void each_header(const char* s, size_t n, F visit) {
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && s[end] != '\n') ++end;
        size_t line_end = end;
        if (line_end > i && s[line_end - 1] == '\r') --line_end;
        size_t colon = i;
        while (colon < line_end && s[colon] != ':') ++colon;
        if (colon < line_end && colon > i && s[i] != ' ' && s[i] != '\t') {
            size_t v = colon + 1;
            while (v < line_end && (s[v] == ' ' || s[v] == '\t')) ++v;
            size_t ve = line_end;
            while (ve > v && (s[ve - 1] == ' ' || s[ve - 1] == '\t')) --ve;
            visit(s + i, colon - i, s + v, ve - v);
        }
        i = end + 1;
    }
}

// Transfer buffers are reused: a fresh 64 KiB block per request is committed and decommitted by
// the heap each time (two system calls and page faults under Wine, docs/httpplatform.md §10).
constexpr int kCachedBuffers = 16;
SRWLOCK g_buffers_lock = SRWLOCK_INIT;
char* g_buffers[kCachedBuffers];
int g_buffer_count = 0;

char* take_buffer() {
    {
        Exclusive l(&g_buffers_lock);
        if (g_buffer_count) return g_buffers[--g_buffer_count];
    }
    return static_cast<char*>(archway::heap_alloc(kBuffer));
}

void give_buffer(char* buffer) {
    if (!buffer) return;
    {
        Exclusive l(&g_buffers_lock);
        if (g_buffer_count < kCachedBuffers) {
            g_buffers[g_buffer_count++] = buffer;
            return;
        }
    }
    archway::heap_free(buffer);
}

// UTF-16 from WinHTTP to bytes, one code unit each (header text is ISO-8859-1 on the wire).
void narrow(const wchar_t* s, size_t n, Str* out) {
    for (size_t i = 0; i < n; ++i)
        out->push(s[i] <= 0xFF ? static_cast<char>(s[i]) : '?');
}

}  // namespace

void Forward::free_cached_buffers() {
    Exclusive l(&g_buffers_lock);
    while (g_buffer_count) archway::heap_free(g_buffers[--g_buffer_count]);
}

Forward* Forward::create(App* app, ArchwayRequest* request, Str* error) {
    Forward* f = new (archway::nothrow) Forward();
    if (!f) {
        error->add("out of memory");
        return nullptr;
    }
    f->app_ = app;
    app->add_ref();
    f->request_ = request;
    bool ok = read_variable(request, "REQUEST_METHOD", &f->method_);
    if (!read_variable(request, "HTTP_URL", &f->url_) || f->url_.empty()) {
        f->url_.clear();
        ok = ok && read_variable(request, "UNENCODED_URL", &f->url_);
    }
    read_variable(request, "ALL_RAW", &f->raw_headers_);
    read_variable(request, "REMOTE_ADDR", &f->remote_addr_);
    read_variable(request, "REMOTE_PORT", &f->remote_port_);
    Str https;
    f->https_ = read_variable(request, "HTTPS", &https) && is(https.data(), https.size(), "on");
    f->buffer_ = take_buffer();
    if (!ok || f->method_.empty() || f->url_.empty() || !f->buffer_ ||
        f->raw_headers_.failed()) {
        error->add("the request's method, URL or headers could not be read");
        f->release();
        return nullptr;
    }
    each_header(f->raw_headers_.c_str(), f->raw_headers_.size(),
                [&](const char* name, size_t nn, const char* value, size_t vn) {
                    if (is(name, nn, "Content-Length")) {
                        uint64_t length = 0;
                        if (parse_u64(value, vn, ~0ull, &length)) {
                            f->content_length_ = length;
                            f->has_body_ = length > 0;
                        }
                    } else if (is(name, nn, "Transfer-Encoding")) {
                        f->has_body_ = true;
                        f->chunked_ = true;
                    }
                });
    f->user_token_ = app->capture_user_token(request);  // forwardWindowsAuthToken (app.cpp)
    // WinHttpSendRequest takes a 32-bit total: larger bodies go up chunked.
    if (f->content_length_ > 0xFFFFFFFFull) f->chunked_ = true;
    return f;
}

Forward::~Forward() {
    if (user_token_) CloseHandle(user_token_);
    give_buffer(buffer_);
    if (server_) server_->release();
    if (app_) app_->release();
}

bool Forward::try_add_ref() {
    for (long refs = refs_; refs > 0; refs = refs_) {
        if (_InterlockedCompareExchange(&refs_, refs + 1, refs) == refs) return true;
    }
    return false;
}

// The last reference ends the request: finish (page, complete), then leave the App's list, then
// delete. Between the decrement to 0 and leave, the request is still on the App's list. The
// watchdog (App::sweep_all, every second) and App::stop walk that list under the App's lock and
// once took a plain add_ref: 0 -> 1 brought a finishing request back, and their release then ran
// finish a second time (complete on a ShimRequest the shim had freed, possibly reused by the
// next request on the heap, which then lost its own complete: a request that never ended), then
// deleted it twice (heap corruption). Found by xtask/tests/stress.rs (about one request in
// several thousand under Wine). They take try_add_ref now, which never counts up from 0; leave
// needs the lock they hold, so the memory stays valid while they look.
void Forward::release() {
    if (_InterlockedDecrement(&refs_) != 0) return;
    if (in_app_) {
        finish();
        app_->leave(this);
    }
    delete this;
}

void Forward::finish() {
    HRESULT result = result_;
    if (!head_sent_) {
        PageDetail d;
        d.what = fail_what_.empty() ? "the request ended before a response began"
                                    : fail_what_.c_str();
        d.attribute = fail_attribute_.c_str();
        d.log_path = fail_log_.c_str();
        const uint16_t status = fail_status_ ? fail_status_ : 502;
        const uint16_t sub = fail_status_ ? fail_substatus_ : 3;
        const HRESULT page = send_page(request_, status, sub, d);
        result = SUCCEEDED(page) ? S_OK : page;
    }
    request_->complete(request_, result);
}

void Forward::record(uint16_t status, uint16_t substatus, const char* what,
                     const char* attribute, const char* log_path, HRESULT result) {
    Exclusive l(&info_lock_);
    if (fail_status_ || head_sent_) {
        if (head_sent_ && SUCCEEDED(result_)) result_ = result;
        return;
    }
    fail_status_ = status;
    fail_substatus_ = substatus;
    fail_what_.add(what ? what : "");
    fail_attribute_.add(attribute ? attribute : "");
    fail_log_.add(log_path ? log_path : "");
}

Forward::Next Forward::fail(uint16_t status, uint16_t substatus, const char* what,
                            const char* attribute, HRESULT result) {
    record(status, substatus, what, attribute, nullptr, FAILED(result) ? result : E_FAIL);
    close_handle();
    return Next::kEnd;
}

Forward::Next Forward::end(HRESULT result) {
    {
        Exclusive l(&info_lock_);
        if (SUCCEEDED(result_)) result_ = result;
        if (!head_sent_ && !fail_status_) {
            fail_status_ = 400;  // the client went away before the response began (v2)
            fail_what_.add("the client disconnected");
        }
    }
    close_handle();
    return Next::kEnd;
}

void Forward::close_handle() {
    HINTERNET h;
    {
        Exclusive l(&lock_);
        h = handle_;
        handle_ = nullptr;
    }
    if (h) WinHttpCloseHandle(h);
}

void Forward::cancel() {
    _InterlockedExchange(&cancelled_, 1);
    record(503, 0, "the application is stopping", nullptr, nullptr,
           HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED));
    // Never wait for a thread inside a WinHTTP call (Wine 8 may block there until the server
    // sends more): App::stop ends the servers next, which ends such a call.
    if (!TryAcquireSRWLockExclusive(&lock_)) return;
    HINTERNET h = handle_;
    handle_ = nullptr;
    ReleaseSRWLockExclusive(&lock_);
    if (h) WinHttpCloseHandle(h);
}

DWORD WINAPI Forward::start(void* self) {
    Forward* f = static_cast<Forward*>(self);
    StartFailure why;
    uint16_t status = 502, substatus = 5;
    if (f->request_->client_connected && !f->request_->client_connected(f->request_)) {
        f->end(HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED));
    } else if (f->cancelled_) {
        // cancel recorded the 503
    } else if (!(f->server_ = f->app_->acquire(&why, &status, &substatus))) {
        f->record(status, substatus, why.what.c_str(), why.attribute.c_str(),
                  why.log_path.c_str(), E_FAIL);
    } else {
        Event next;
        if (f->open_and_send(&next) == Next::kContinue) f->drive(next);
    }
    f->release();  // the creator's
    return 0;
}

bool Forward::build_headers(WStr* out) {
    Str forwarded_for, forwarded_proto;
    const bool ws = websocket_wanted(request_, raw_headers_.c_str(), raw_headers_.size());  // websocket.h
    each_header(raw_headers_.c_str(), raw_headers_.size(),
                [&](const char* name, size_t nn, const char* value, size_t vn) {
                    if (is(name, nn, "X-Forwarded-For")) {
                        if (!forwarded_for.empty()) forwarded_for.add(", ");
                        forwarded_for.add(value, vn);
                        return;
                    }
                    if (is(name, nn, "X-Forwarded-Proto")) {
                        if (!forwarded_proto.empty()) forwarded_proto.add(", ");
                        forwarded_proto.add(value, vn);
                        return;
                    }
                    if (hop_by_hop(name, nn) || starts_with_nocase(name, nn, "MS-ASPNETCORE") ||
                        is(name, nn, "Content-Length") || is(name, nn, "Expect") ||
                        is(name, nn, kTokenHeader) ||  // only the handler sends it (app.cpp)
                        (ws && websocket_header_dropped(name, nn)))
                        return;
                    out->latin1(name, nn).add(L": ").latin1(value, vn).add(L"\r\n");
                });
    // Transfer-Encoding: chunked is added to the request handle before WinHttpSendRequest (see
    // open_and_send), not passed with these headers.
    out->add(L"MS-ASPNETCORE-TOKEN: ").utf8(server_->token()).add(L"\r\n");
    if (!forwarded_for.empty()) forwarded_for.add(", ");
    // IPv6 addresses in brackets, then ":port" (v2).
    bool v6 = false;
    for (size_t i = 0; i < remote_addr_.size(); ++i) v6 = v6 || remote_addr_[i] == ':';
    if (v6) forwarded_for.push('[');
    forwarded_for.add(remote_addr_.c_str(), remote_addr_.size());
    if (v6) forwarded_for.push(']');
    if (!remote_port_.empty()) forwarded_for.push(':').add(remote_port_.c_str(), remote_port_.size());
    out->add(L"X-Forwarded-For: ").latin1(forwarded_for.c_str(), forwarded_for.size()).add(L"\r\n");
    if (!forwarded_proto.empty()) forwarded_proto.add(", ");
    forwarded_proto.add(https_ ? "https" : "http");
    out->add(L"X-Forwarded-Proto: ").latin1(forwarded_proto.c_str(), forwarded_proto.size()).add(L"\r\n");
    return !out->failed() && !forwarded_for.failed() && !forwarded_proto.failed();
}

Forward::Next Forward::open_and_send(Event* next) {
    WStr verb, object, headers;
    verb.latin1(method_.c_str(), method_.size());
    object.utf8(url_.c_str(), url_.size());
    if (verb.failed() || object.failed() || !build_headers(&headers))
        return fail(500, 0, "out of memory building the proxied request", nullptr, E_OUTOFMEMORY);
    Str token_error;  // forwardWindowsAuthToken: the token duplicated into this server (app.cpp)
    if (user_token_ && !App::add_token_header(server_, user_token_, &headers, &token_error))
        return fail(502, 3, token_error.c_str(), "forwardWindowsAuthToken", E_FAIL);
    HINTERNET h = WinHttpOpenRequest(server_->connection(), verb.c_str(), object.c_str(), nullptr,
                                     nullptr, nullptr,
                                     WINHTTP_FLAG_ESCAPE_DISABLE | WINHTTP_FLAG_ESCAPE_DISABLE_QUERY);
    if (!h) {
        Str what;
        what.add("WinHttpOpenRequest failed (Win32 error ").num(GetLastError()).add(")");
        return fail(502, 3, what.c_str(), nullptr, E_FAIL);
    }
    DWORD_PTR context = reinterpret_cast<DWORD_PTR>(this);
    DWORD features = WINHTTP_DISABLE_COOKIES | WINHTTP_DISABLE_REDIRECTS |
                     WINHTTP_DISABLE_AUTHENTICATION;
    const uint32_t ms = app_->config().request_timeout_ms;
    // WinHTTP takes int milliseconds (30 days do not fit: capped at 24.8 days); 0 is no limit
    // for WinHTTP as for the schema's range 0-30 days. [UNCERTAIN] what v1.2 did with 0; the
    // schema allows it.
    const int timeout = ms > 0x7FFFFFFFu ? 0x7FFFFFFF : static_cast<int>(ms);
    add_ref();  // the handle's, released by HANDLE_CLOSING once the context is set
    const bool has_context =
        WinHttpSetOption(h, WINHTTP_OPTION_CONTEXT_VALUE, &context, sizeof(context)) != FALSE;
    if (!has_context ||
        !WinHttpSetOption(h, WINHTTP_OPTION_DISABLE_FEATURE, &features, sizeof(features)) ||
        !WinHttpSetTimeouts(h, timeout, timeout, timeout, timeout) ||
        // An upgrade request asks WinHTTP for the WebSocket handshake (docs/httpplatform.md §9).
        (websocket_wanted(request_, raw_headers_.c_str(), raw_headers_.size()) &&
         !WinHttpSetOption(h, WINHTTP_OPTION_UPGRADE_TO_WEB_SOCKET, nullptr, 0))) {
        Str what;
        what.add("setting up the WinHTTP request failed (Win32 error ").num(GetLastError()).add(")");
        WinHttpCloseHandle(h);
        if (!has_context) release();  // no HANDLE_CLOSING will name this request
        return fail(502, 3, what.c_str(), nullptr, E_FAIL);
    }
    // A body of unknown length goes up chunked. The header is put on the handle before
    // WinHttpSendRequest, so an implementation that looks at the request's own headers when it
    // decides whether to add "Content-Length" sees it (later Wine releases' send_request,
    // dlls/winhttp/request.c). Wine 8.0 adds "Content-Length: 0" to every POST and PUT of
    // unknown length regardless, and a server must refuse the pair (RFC 9112 §6.3): chunked
    // uploads fail under Wine 8 (xtask/tests/platform.rs asserts it). Windows: either way works.
    if (chunked_ &&
        !WinHttpAddRequestHeaders(h, L"Transfer-Encoding: chunked", static_cast<DWORD>(-1),
                                  WINHTTP_ADDREQ_FLAG_ADD | WINHTTP_ADDREQ_FLAG_REPLACE)) {
        Str what;
        what.add("adding Transfer-Encoding to the WinHTTP request failed (Win32 error ")
            .num(GetLastError())
            .add(")");
        WinHttpCloseHandle(h);  // HANDLE_CLOSING releases the handle's reference
        return fail(502, 3, what.c_str(), nullptr, E_FAIL);
    }
    bool cancelled;
    {
        Exclusive l(&lock_);
        cancelled = cancelled_ != 0;
        if (!cancelled) handle_ = h;
    }
    if (cancelled) {
        WinHttpCloseHandle(h);
        return Next::kEnd;
    }
    const DWORD total = chunked_ ? WINHTTP_IGNORE_REQUEST_TOTAL_LENGTH
                                 : static_cast<DWORD>(content_length_);
    const wchar_t* text = headers.c_str();
    const DWORD length = static_cast<DWORD>(headers.size());
    return issue(
        [&](HINTERNET r) {
            return WinHttpSendRequest(r, text, length, nullptr, 0, total, context);
        },
        next);
}

template <typename F> Forward::Next Forward::issue(F call, Event* next) {
    AcquireSRWLockExclusive(&lock_);
    HINTERNET h = handle_;
    if (!h) {  // closed by cancel: HANDLE_CLOSING ends the request
        ReleaseSRWLockExclusive(&lock_);
        return Next::kEnd;
    }
    have_sync_ = false;
    wait_since_ = GetTickCount64();
    _InterlockedExchange(&waiting_, 1);
    _InterlockedExchange(&sync_thread_, static_cast<long>(GetCurrentThreadId()));
    const BOOL ok = call(h);
    const DWORD error = ok ? 0 : GetLastError();
    _InterlockedExchange(&sync_thread_, 0);
    const bool sync = have_sync_;
    const Event event = sync_event_;
    ReleaseSRWLockExclusive(&lock_);
    if (!ok || sync) _InterlockedExchange(&waiting_, 0);
    if (!ok) {
        Event e = {Ev::kError, error, 0};
        return on_error(e);
    }
    if (sync) {
        *next = event;
        return Next::kContinue;
    }
    return Next::kWait;
}

void Forward::drive(Event e) {
    add_ref();
    for (;;) {
        Event next = {Ev::kError, 0, 0};
        if (step(e, &next) != Next::kContinue) break;
        e = next;
    }
    release();
}

Forward::Next Forward::step(const Event& e, Event* next) {
    switch (e.kind) {
    case Ev::kSent:
    case Ev::kWritten: return send_body(next);
    case Ev::kHeaders: return on_headers(next);
    case Ev::kAvailable: return on_available(e.value, next);
    case Ev::kRead: return on_read(e.value, next);
    case Ev::kError: return on_error(e);
    }
    return Next::kEnd;
}

Forward::Next Forward::send_body(Event* next) {
    if (!has_body_ || body_done_) {
        return issue([](HINTERNET r) { return WinHttpReceiveResponse(r, nullptr); }, next);
    }
    uint32_t got = 0;
    char* data = buffer_ + kChunkPrefix;
    const HRESULT hr = request_->read_body(request_, data, kBuffer - kChunkPrefix - 2, &got);
    if (FAILED(hr)) return end(hr);
    if (got == 0) {
        body_done_ = true;
        if (!chunked_)
            return issue([](HINTERNET r) { return WinHttpReceiveResponse(r, nullptr); }, next);
        return issue(
            [](HINTERNET r) {
                DWORD written = 0;
                return WinHttpWriteData(r, kLastChunk, sizeof(kLastChunk) - 1, &written);
            },
            next);
    }
    const char* out = data;
    DWORD length = got;
    if (chunked_) {
        // "<hex>\r\n" just before the data, "\r\n" just after: one write per chunk.
        char hex[12];
        size_t k = 0;
        for (int shift = 28; shift >= 0; shift -= 4) {
            const uint32_t nibble = (got >> shift) & 0xF;
            if (nibble || k || shift == 0) hex[k++] = "0123456789abcdef"[nibble];
        }
        hex[k++] = '\r';
        hex[k++] = '\n';
        char* start = data - k;
        memcpy(start, hex, k);
        data[got] = '\r';
        data[got + 1] = '\n';
        out = start;
        length = static_cast<DWORD>(k + got + 2);
    }
    return issue(
        [&](HINTERNET r) {
            DWORD written = 0;
            return WinHttpWriteData(r, out, length, &written);
        },
        next);
}

Forward::Next Forward::on_headers(Event* next) {
    DWORD status = 0;
    wchar_t* raw = nullptr;
    DWORD raw_bytes = 0;
    {
        Exclusive l(&lock_);
        if (!handle_) return Next::kEnd;
        DWORD size = sizeof(status);
        WinHttpQueryHeaders(handle_, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
                            nullptr, &status, &size, nullptr);
        WinHttpQueryHeaders(handle_, WINHTTP_QUERY_RAW_HEADERS_CRLF, nullptr, nullptr,
                            &raw_bytes, nullptr);
        raw = raw_bytes ? static_cast<wchar_t*>(archway::heap_alloc(raw_bytes + 2)) : nullptr;
        if (raw && !WinHttpQueryHeaders(handle_, WINHTTP_QUERY_RAW_HEADERS_CRLF, nullptr, raw,
                                        &raw_bytes, nullptr)) {
            archway::heap_free(raw);
            raw = nullptr;
        }
    }
    if (!raw || status < 100 || status > 999) {
        archway::heap_free(raw);
        return fail(502, 3, "the server's response head could not be read", nullptr, E_FAIL);
    }
    Str text, head, reason;
    narrow(raw, raw_bytes / sizeof(wchar_t), &text);
    archway::heap_free(raw);
    // The status line: "HTTP/1.1 200 OK".
    size_t line_end = 0;
    while (line_end < text.size() && text[line_end] != '\r' && text[line_end] != '\n') ++line_end;
    size_t sp = 0, spaces = 0;
    while (sp < line_end && spaces < 2) {
        if (text[sp] == ' ') ++spaces;
        ++sp;
    }
    if (spaces == 2) reason.add(text.c_str() + sp, line_end - sp);
    bool sized = false;
    each_header(text.c_str() + line_end, text.size() - line_end,
                [&](const char* name, size_t nn, const char* value, size_t vn) {
                    if (hop_by_hop(name, nn)) return;
                    if (is(name, nn, "Content-Length")) {
                        sized = true;
                        uint64_t length = 0;
                        if (parse_u64(value, vn, ~0ull, &length)) response_left_ = length;
                    }
                    head.add(name, nn).add(": ").add(value, vn).add("\r\n");
                });
    if (head.failed() || reason.failed())
        return fail(500, 0, "out of memory reading the response head", nullptr, E_OUTOFMEMORY);
    const HRESULT hr = request_->send_head(request_, static_cast<uint16_t>(status), 0,
                                           reason.empty() ? nullptr : reason.c_str(),
                                           head.c_str(), static_cast<uint32_t>(head.size()));
    {
        Exclusive l(&info_lock_);
        head_sent_ = true;  // even a failed send_head may have started the response
    }
    if (FAILED(hr)) return end(hr);
    if (status == 101 && websocket_wanted(request_, raw_headers_.c_str(), raw_headers_.size())) {
        // The connection becomes a WebSocket (websocket.h); the session holds a reference until
        // both sides have closed, then reports its result here. The HTTP request handle is
        // closed once the WebSocket handle exists (ANCM does the same).
        add_ref();
        HRESULT started = HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
        {
            Exclusive l(&lock_);
            if (handle_)
                started = websocket_start(request_, handle_, [](void* owner, HRESULT result) {
                    Forward* f = static_cast<Forward*>(owner);
                    {
                        Exclusive i(&f->info_lock_);
                        if (SUCCEEDED(f->result_)) f->result_ = result;
                    }
                    f->release();
                }, this);
        }
        if (FAILED(started)) {
            release();
            return end(started);
        }
        close_handle();
        return Next::kEnd;
    }
    // A body of unknown length (an event stream, a long poll): the head goes to the client now,
    // not with the first bytes, which may be a long time coming.
    if (!sized) {
        const HRESULT flushed = request_->write_body(request_, nullptr, 0, ARCHWAY_WRITE_FLUSH);
        if (FAILED(flushed)) return end(flushed);
    }
    return query_data(next);
}

// WinHttpQueryDataAvailable, then WinHttpReadData of exactly what is there, so a read returns
// as soon as any bytes arrived (WinHTTP's documented loop). Wine 8 still holds back the end of
// each chunk of a chunked response: its read_data, having copied a chunk's last byte, reads the
// next chunk's size line before it returns (winhttp/request.c, "if (request->read_chunked &&
// !request->read_chunked_size) ret = refill_buffer(...)"), so under Wine an event stream
// arrives one event late; Windows' WinHTTP returns at the chunk's end (README, platform
// handler, Wine findings).
Forward::Next Forward::query_data(Event* next) {
    return issue([](HINTERNET r) { return WinHttpQueryDataAvailable(r, nullptr); }, next);
}

Forward::Next Forward::on_available(DWORD bytes, Event* next) {
    if (bytes == 0) return end(S_OK);
    char* buffer = buffer_;
    const DWORD size = bytes < kBuffer ? bytes : static_cast<DWORD>(kBuffer);
    return issue(
        [&](HINTERNET r) {
            DWORD read = 0;
            return WinHttpReadData(r, buffer, size, &read);
        },
        next);
}

Forward::Next Forward::on_read(DWORD bytes, Event* next) {
    if (bytes == 0) return end(S_OK);
    const HRESULT hr = request_->write_body(request_, buffer_, bytes, ARCHWAY_WRITE_FLUSH);
    if (FAILED(hr)) return end(hr);
    // The last byte of a sized body: WinHTTP has already returned the connection to its pool
    // (it does so when a read reaches Content-Length), so the request ends here rather than
    // after one more WinHttpQueryDataAvailable that can only say 0, an asynchronous round
    // trip per request (docs/httpplatform.md §10). [UNCERTAIN] that Windows WinHTTP also pools
    // the connection when the handle is closed right after that read; the Windows jobs' bench
    // proxy runs would show a new connection per request as a higher p50.
    if (response_left_ != kUnknown) {
        response_left_ = bytes >= response_left_ ? 0 : response_left_ - bytes;
        if (response_left_ == 0) return end(S_OK);
    }
    return query_data(next);
}

// `now` is read once per sweep, before the sweep walks the requests: a call issued after that
// has wait_since_ > now, and the unsigned now - wait_since_ then wrapped to a huge value, which
// ended a request that had waited for nothing with "did not answer within requestTimeout" (a
// 502.3 after a few milliseconds, about one request in 20,000 in xtask/tests/stress.rs). A wait
// counts only when it began at or before `now`, checked again under lock_ (issue() sets both
// fields under it).
void Forward::check_timeout(ULONGLONG now) {
    const uint32_t limit = app_->config().request_timeout_ms;
    auto overdue = [&] { return waiting_ && wait_since_ <= now && now - wait_since_ >= limit; };
    if (!limit || !overdue()) return;
    // A thread inside a WinHTTP call holds lock_ (Wine 8 may block there, see query_data):
    // the watchdog never waits for it; it tries again next round.
    if (!TryAcquireSRWLockExclusive(&lock_)) return;
    if (!overdue()) {
        ReleaseSRWLockExclusive(&lock_);
        return;
    }
    HINTERNET h = handle_;
    handle_ = nullptr;
    ReleaseSRWLockExclusive(&lock_);
    if (!h) return;
    Str what;
    what.add("the server did not answer within requestTimeout (").num(limit / 1000).add(" s)");
    record(502, 3, what.c_str(), "requestTimeout", nullptr,
           HRESULT_FROM_WIN32(ERROR_WINHTTP_TIMEOUT));
    WinHttpCloseHandle(h);
}

Forward::Next Forward::on_error(const Event& e) {
    if (cancelled_) return fail(503, 0, "the application is stopping", nullptr,
                                HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED));
    Str what;
    const char* attribute = nullptr;
    if (e.value == ERROR_WINHTTP_TIMEOUT) {
        what.add("the server did not answer within requestTimeout (");
        what.num(app_->config().request_timeout_ms / 1000).add(" s)");
        attribute = "requestTimeout";
    } else if (server_ && !server_->alive()) {
        what.add("the server process ").num(server_->pid()).add(" exited during the request");
    } else {
        what.add("WinHTTP error ").num(e.value);
        static const char* const kApis[] = {"", " receiving the response head",
                                            " waiting for response data", " reading the response",
                                            " sending the request body", " sending the request"};
        if (e.api < 6) what.add(kApis[e.api]);
    }
    return fail(502, 3, what.c_str(), attribute, HRESULT_FROM_WIN32(e.value));
}

void WINAPI Forward::callback(HINTERNET handle, DWORD_PTR context, DWORD status, void* info,
                              DWORD info_length) {
    (void)handle;
    Forward* f = reinterpret_cast<Forward*>(context);
    if (!f) return;  // the session's and the connections' own notifications
    Event e = {Ev::kError, 0, 0};
    switch (status) {
    case WINHTTP_CALLBACK_STATUS_HANDLE_CLOSING: f->release(); return;
    case WINHTTP_CALLBACK_STATUS_SENDREQUEST_COMPLETE: e.kind = Ev::kSent; break;
    case WINHTTP_CALLBACK_STATUS_WRITE_COMPLETE:
        e.kind = Ev::kWritten;
        e.value = info ? *static_cast<DWORD*>(info) : 0;
        break;
    case WINHTTP_CALLBACK_STATUS_HEADERS_AVAILABLE: e.kind = Ev::kHeaders; break;
    case WINHTTP_CALLBACK_STATUS_DATA_AVAILABLE:
        e.kind = Ev::kAvailable;
        e.value = info ? *static_cast<DWORD*>(info) : 0;
        break;
    case WINHTTP_CALLBACK_STATUS_READ_COMPLETE:
        e.kind = Ev::kRead;
        e.value = info_length;
        break;
    case WINHTTP_CALLBACK_STATUS_REQUEST_ERROR: {
        const WINHTTP_ASYNC_RESULT* r = static_cast<const WINHTTP_ASYNC_RESULT*>(info);
        e.kind = Ev::kError;
        e.value = r ? r->dwError : ERROR_WINHTTP_CONNECTION_ERROR;
        e.api = r ? static_cast<DWORD>(r->dwResult) : 0;
        break;
    }
    default: return;
    }
    _InterlockedExchange(&f->waiting_, 0);
    if (f->sync_thread_ == static_cast<long>(GetCurrentThreadId())) {
        f->sync_event_ = e;  // the thread inside issue() handles it when the call returns
        f->have_sync_ = true;
        return;
    }
    f->drive(e);
}

}  // namespace platform
