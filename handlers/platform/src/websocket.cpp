// handlers/platform/src/websocket.cpp: the WebSocket proxy (websocket.h).
//
// Lifetime: `refs_` counts the two pumps (each drops its count when its direction has carried a
// close, or on a failure) and every outstanding operation. When it reaches 0 the WinHTTP
// WebSocket handle is closed; WINHTTP_CALLBACK_STATUS_HANDLE_CLOSING, WinHTTP's last callback
// for it, then ends the session (`finished`). A failure on either side aborts both (the client's
// connection through websocket_abort, the server's by closing the WinHTTP handle); a WinHTTP
// operation still outstanding at HANDLE_CLOSING gets no completion, so its count is dropped
// there. Close codes cross as they are, except the ones RFC 6455 §7.4.1 forbids on the wire
// (1005, 1006, 1015: "no code", "abnormal", "TLS"), which become 1000.
#include "websocket.h"

#include "config.h"

namespace platform {
namespace {

constexpr DWORD kBuffer = 64 * 1024;
constexpr uint32_t kReason = 124;  // a close reason (123 bytes at most) and its NUL

bool header_is(const char* name, size_t n, const char* what) {
    return archway::equal_nocase(name, n, what, archway::length(what));
}

// An entry of system.webServer/modules (the section element is the collection) naming IIS's
// WebSocket module.
void ARCHWAY_CALL module_entry(void* user, const char* element, uint32_t item, const char* attribute,
                               const char* value) {
    if (!element || *element || item == ARCHWAY_CONFIG_NO_ITEM || !attribute || !value) return;
    if (header_is(attribute, archway::length(attribute), "name") &&
        header_is(value, archway::length(value), "WebSocketModule"))
        *static_cast<bool*>(user) = true;
}

constexpr const char* kNotSupported = "HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED is \"false\" for this application";

uint16_t wire_code(uint16_t code) {
    return code == 1005 || code == 1006 || code == 1015 || code < 1000 ? 1000 : code;
}

class Session {
public:
    Session(ArchwayRequest* r, void (*finished)(void*, HRESULT), void* owner)
        : r_(r), finished_(finished), owner_(owner) {}

    HRESULT start(HINTERNET request_handle) {
        up_ = static_cast<char*>(archway::heap_alloc(kBuffer));
        down_ = static_cast<char*>(archway::heap_alloc(kBuffer));
        if (!up_ || !down_) return E_OUTOFMEMORY;
        HRESULT hr = r_->websocket_accept(r_);
        if (FAILED(hr)) return hr;
        ws_ = WinHttpWebSocketCompleteUpgrade(request_handle, reinterpret_cast<DWORD_PTR>(this));
        if (!ws_) {
            hr = HRESULT_FROM_WIN32(GetLastError());
            r_->websocket_abort(r_);
            return hr;
        }
        // The WebSocket handle reports to this file's callback, not the session's (Forward's).
        if (WinHttpSetStatusCallback(ws_, callback,
                                     WINHTTP_CALLBACK_FLAG_ALL_COMPLETIONS | WINHTTP_CALLBACK_FLAG_HANDLES |
                                         WINHTTP_CALLBACK_FLAG_CLOSE_COMPLETE |
                                         WINHTTP_CALLBACK_FLAG_SHUTDOWN_COMPLETE,
                                     0) == WINHTTP_INVALID_STATUS_CALLBACK) {
            hr = HRESULT_FROM_WIN32(GetLastError());
            r_->websocket_abort(r_);
            DWORD_PTR none = 0;  // its HANDLE_CLOSING goes to the session's callback: no context
            WinHttpSetOption(ws_, WINHTTP_OPTION_CONTEXT_VALUE, &none, sizeof(none));
            WinHttpCloseHandle(ws_);
            return hr;
        }
        refs_ = 3;  // the two pumps, and this start until both are running
        read_client();
        receive_server();
        drop();
        return S_OK;
    }

    static void WINAPI callback(HINTERNET, DWORD_PTR context, DWORD status, void* info, DWORD length) {
        Session* s = reinterpret_cast<Session*>(context);
        if (s) s->on_winhttp(status, info, length);
    }

private:
    // ---- client → server: read IIS, send to WinHTTP ----
    void read_client() {
        add();
        const HRESULT hr = r_->websocket_read(r_, up_, kBuffer, client_read_done, this);
        if (FAILED(hr)) {
            fail(hr);
            drop();       // the read's count
            end_up();   // this direction is over
        }
    }

    static void ARCHWAY_CALL client_read_done(void* user, HRESULT hr, uint32_t bytes, uint32_t flags) {
        static_cast<Session*>(user)->on_client_read(hr, bytes, flags);
    }

    void on_client_read(HRESULT hr, uint32_t bytes, uint32_t flags) {
        if (FAILED(hr) || aborted_) {
            fail(FAILED(hr) ? hr : S_OK);
            end_up();
        } else if (flags & ARCHWAY_WS_CLOSE) {
            // The client closed: the same close goes to the server (ANCM: WinHttpWebSocketShutdown,
            // which sends it and keeps receiving until the server's close arrives).
            uint16_t code = 1005;
            char reason[kReason] = {};
            r_->websocket_close_status(r_, &code, reason, kReason);
            add();
            _InterlockedExchange(&shutdown_pending_, 1);
            const DWORD e = WinHttpWebSocketShutdown(ws_, wire_code(code), reason[0] ? reason : nullptr,
                                                     static_cast<DWORD>(archway::length(reason)));
            if (e != ERROR_SUCCESS && e != 997 /* ERROR_IO_PENDING */) {
                _InterlockedExchange(&shutdown_pending_, 0);
                fail(HRESULT_FROM_WIN32(e));
                drop();
                end_up();
            }
        } else {
            const bool text = (flags & ARCHWAY_WS_UTF8) != 0, last = (flags & ARCHWAY_WS_FINAL) != 0;
            const WINHTTP_WEB_SOCKET_BUFFER_TYPE type =
                text ? (last ? WINHTTP_WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE : WINHTTP_WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE)
                     : (last ? WINHTTP_WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE
                             : WINHTTP_WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE);
            add();
            _InterlockedExchange(&send_pending_, 1);
            const DWORD e = WinHttpWebSocketSend(ws_, type, bytes ? up_ : nullptr, bytes);
            if (e != ERROR_SUCCESS) {
                _InterlockedExchange(&send_pending_, 0);
                fail(HRESULT_FROM_WIN32(e));
                drop();
                end_up();
            }
        }
        drop();  // the read's count
    }

    // ---- server → client: receive from WinHTTP, write to IIS ----
    void receive_server() {
        add();
        _InterlockedExchange(&receive_pending_, 1);
        const DWORD e = WinHttpWebSocketReceive(ws_, down_, kBuffer, nullptr, nullptr);
        if (e != ERROR_SUCCESS) {
            _InterlockedExchange(&receive_pending_, 0);
            fail(HRESULT_FROM_WIN32(e));
            drop();
            end_down();
        }
    }

    void on_server_read(DWORD bytes, WINHTTP_WEB_SOCKET_BUFFER_TYPE type) {
        HRESULT hr = S_OK;
        if (aborted_) {
            end_down();
        } else if (type == WINHTTP_WEB_SOCKET_CLOSE_BUFFER_TYPE) {
            // The server closed: its code and reason go to the client.
            USHORT code = 1005;
            DWORD used = 0;
            char reason[kReason] = {};
            WinHttpWebSocketQueryCloseStatus(ws_, &code, reason, kReason - 1, &used);
            reason[used < kReason ? used : kReason - 1] = 0;
            add();
            hr = r_->websocket_send_close(r_, wire_code(code), reason, client_close_done, this);
            if (FAILED(hr)) {
                fail(hr);
                drop();
                end_down();
            }
        } else {
            const uint32_t flags =
                (type == WINHTTP_WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE || type == WINHTTP_WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE
                     ? ARCHWAY_WS_UTF8
                     : 0u) |
                (type == WINHTTP_WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE || type == WINHTTP_WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE
                     ? ARCHWAY_WS_FINAL
                     : 0u);
            add();
            hr = r_->websocket_write(r_, down_, bytes, flags, client_write_done, this);
            if (FAILED(hr)) {
                fail(hr);
                drop();
                end_down();
            }
        }
    }

    static void ARCHWAY_CALL client_write_done(void* user, HRESULT hr, uint32_t, uint32_t) {
        Session* s = static_cast<Session*>(user);
        if (FAILED(hr) || s->aborted_) {
            s->fail(hr);
            s->end_down();
        } else {
            s->receive_server();
        }
        s->drop();
    }

    static void ARCHWAY_CALL client_close_done(void* user, HRESULT hr, uint32_t, uint32_t) {
        Session* s = static_cast<Session*>(user);
        if (FAILED(hr)) s->fail(hr);
        s->end_down();  // the server's close reached the client: this direction is over
        s->drop();
    }

    // ---- WinHTTP's callback for the WebSocket handle ----
    void on_winhttp(DWORD status, void* info, DWORD length) {
        switch (status) {
        case WINHTTP_CALLBACK_STATUS_READ_COMPLETE: {
            _InterlockedExchange(&receive_pending_, 0);
            const WINHTTP_WEB_SOCKET_STATUS* st = static_cast<const WINHTTP_WEB_SOCKET_STATUS*>(info);
            if (!st || length < sizeof(*st)) {
                fail(E_UNEXPECTED);
                end_down();
            } else {
                on_server_read(st->dwBytesTransferred, st->eBufferType);
            }
            drop();
            return;
        }
        case WINHTTP_CALLBACK_STATUS_WRITE_COMPLETE:
            _InterlockedExchange(&send_pending_, 0);
            if (aborted_) {
                end_up();
            } else {
                read_client();
            }
            drop();
            return;
        case WINHTTP_CALLBACK_STATUS_SHUTDOWN_COMPLETE:
            _InterlockedExchange(&shutdown_pending_, 0);
            end_up();  // the client's close reached the server: this direction is over
            drop();
            return;
        case WINHTTP_CALLBACK_STATUS_REQUEST_ERROR: {
            const WINHTTP_WEB_SOCKET_ASYNC_RESULT* e = static_cast<const WINHTTP_WEB_SOCKET_ASYNC_RESULT*>(info);
            const DWORD error = e ? e->AsyncResult.dwError : ERROR_WINHTTP_CONNECTION_ERROR;
            const DWORD op = e ? static_cast<DWORD>(e->Operation) : WINHTTP_WEB_SOCKET_RECEIVE_OPERATION;
            volatile long* pending = op == WINHTTP_WEB_SOCKET_SEND_OPERATION       ? &send_pending_
                            : op == WINHTTP_WEB_SOCKET_SHUTDOWN_OPERATION ? &shutdown_pending_
                                                                          : &receive_pending_;
            if (_InterlockedExchange(pending, 0)) {
                fail(HRESULT_FROM_WIN32(error));
                if (pending == &receive_pending_) end_down(); else end_up();
                drop();
            }
            return;
        }
        case WINHTTP_CALLBACK_STATUS_HANDLE_CLOSING: {
            // No completion comes after this one: what is still outstanding is over.
            if (_InterlockedExchange(&receive_pending_, 0)) {
                end_down();
                drop();
            }
            volatile long* const up[] = {&send_pending_, &shutdown_pending_};
            for (volatile long* p : up) {
                if (_InterlockedExchange(p, 0)) {
                    end_up();
                    drop();
                }
            }
            leave();
            return;
        }
        default: return;
        }
    }

    // ---- bookkeeping ----
    void add() { _InterlockedIncrement(&refs_); }
    void drop() {
        if (_InterlockedDecrement(&refs_) != 0) return;
        // Both directions are over and nothing is outstanding on either side.
        HINTERNET h = reinterpret_cast<HINTERNET>(_InterlockedExchangePointer(reinterpret_cast<void* volatile*>(&ws_), nullptr));
        if (h) WinHttpCloseHandle(h);
        leave();
    }
    // Each direction ends once (its close crossed, or a failure) and gives back its count.
    void end_up() {
        if (!_InterlockedExchange(&up_ended_, 1)) drop();
    }
    void end_down() {
        if (!_InterlockedExchange(&down_ended_, 1)) drop();
    }
    void fail(HRESULT hr) {
        if (SUCCEEDED(hr)) hr = HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
        if (_InterlockedCompareExchange(&result_, hr, S_OK) != S_OK) return;  // the first failure counts
        _InterlockedExchange(&aborted_, 1);
        r_->websocket_abort(r_);  // the client's outstanding read ends
        HINTERNET h = reinterpret_cast<HINTERNET>(_InterlockedExchangePointer(reinterpret_cast<void* volatile*>(&ws_), nullptr));
        if (h) WinHttpCloseHandle(h);  // the server's outstanding calls end; HANDLE_CLOSING follows
    }
    // Called twice: when the counts reach 0 and at HANDLE_CLOSING; the second one finishes.
    void leave() {
        if (_InterlockedDecrement(&life_) != 0) return;
        void (*finished)(void*, HRESULT) = finished_;
        void* owner = owner_;
        const HRESULT result = result_;
        archway::heap_free(up_);
        archway::heap_free(down_);
        delete this;
        finished(owner, result);
    }

    ArchwayRequest* r_;
    void (*finished_)(void*, HRESULT);
    void* owner_;
    HINTERNET ws_ = nullptr;
    char* up_ = nullptr;
    char* down_ = nullptr;
    volatile long refs_ = 0;
    volatile long up_ended_ = 0;    // client → server is over
    volatile long down_ended_ = 0;  // server → client is over
    volatile long life_ = 2;
    volatile long result_ = S_OK;
    volatile long aborted_ = 0;
    volatile long receive_pending_ = 0;
    volatile long send_pending_ = 0;
    volatile long shutdown_pending_ = 0;
};

}  // namespace

bool websocket_wanted(ArchwayRequest* request, const char* raw_headers, size_t length) {
    if (!ARCHWAY_HAS(request, websocket_abort) || !request->websocket_accept) return false;
    // "Upgrade: websocket" among the headers (ANCM: the Upgrade header is exactly "websocket").
    size_t i = 0;
    while (i < length) {
        size_t end = i;
        while (end < length && raw_headers[end] != '\n') ++end;
        size_t colon = i;
        while (colon < end && raw_headers[colon] != ':') ++colon;
        if (colon < end && header_is(raw_headers + i, colon - i, "Upgrade")) {
            size_t v = colon + 1, ve = end;
            while (v < ve && (raw_headers[v] == ' ' || raw_headers[v] == '\t')) ++v;
            while (ve > v && (raw_headers[ve - 1] == '\r' || raw_headers[ve - 1] == ' ' || raw_headers[ve - 1] == '\t')) --ve;
            if (header_is(raw_headers + v, ve - v, "websocket")) return true;
        }
        i = end + 1;
    }
    return false;
}

bool websockets_supported(ArchwayRequest* request) {
    // Without the ABI 1.2 WebSocket calls the handler cannot carry an upgrade at all.
    if (!ARCHWAY_HAS(request, websocket_abort) || !request->websocket_accept || !request->read_config) return false;
    // v2 asks the WEBSOCKET_VERSION server variable, which the handler ABI cannot tell apart
    // from a host that does not implement it; archway reads the configuration that decides it
    // (docs/httpplatform.md §9): the section enabled, and IIS's module in the application's list.
    if (!section_enabled(request, "system.webServer/webSocket", true, kNotSupported)) return false;
    // [UNCERTAIN] that real IIS without the WebSocket Protocol feature has no WebSocketModule
    // entry in system.webServer/modules (and may still declare the webSocket section): the
    // `pools --host iis` rows (windows x64 and windows-11-arm jobs) are where a WebSocket step
    // would check it. A host that declares no modules section (the worker stand-in unless a
    // test declares it) leaves the decision to the webSocket section.
    bool listed = false;
    const HRESULT hr = read_section_logged(request, "system.webServer/modules", module_entry, &listed, kNotSupported);
    if (hr == ARCHWAY_E_NO_SECTION) return true;
    return SUCCEEDED(hr) && listed;
}

bool websocket_header_dropped(const char* name, size_t length) {
    return header_is(name, length, "Sec-WebSocket-Key") || header_is(name, length, "Sec-WebSocket-Version") ||
           header_is(name, length, "Sec-WebSocket-Extensions");
}

HRESULT websocket_start(ArchwayRequest* request, HINTERNET request_handle, void (*finished)(void*, HRESULT),
                        void* owner) {
    Session* s = new (archway::nothrow) Session(request, finished, owner);
    if (!s) return E_OUTOFMEMORY;
    const HRESULT hr = s->start(request_handle);
    if (FAILED(hr)) delete s;
    return hr;
}

}  // namespace platform
