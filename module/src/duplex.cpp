// module/src/duplex.cpp: the WebSocket calls of handler ABI 1.2 (archway/handler_abi.h,
// websocket_*) on IIS's WebSocket module (archway/iis_websocket.h, docs/iis.md §9).
//
// As the ASP.NET Core Module's out-of-process handler does (websockethandler.cpp): after the
// handler's 101 head, a flush lets IIS's WebSocket module take the connection; the request's
// IHttpContext3 (HttpGetExtendedInterface: IHttpServer2::GetExtendedInterface with the two
// interface GUIDs) holds the "websockets" named context, an IWebSocketContext whose
// ReadFragment/WriteFragment/SendConnectionClose run asynchronously with a completion routine.
// An asynchronous call that IIS completes at once (*pfCompletionExpected FALSE) gets no
// completion routine; the handler's `done` is then called here, on the calling thread.
// [UNCERTAIN] ANCM flushes the 101 asynchronously and continues in OnAsyncCompletion on an IIS
// thread; websocket_accept flushes synchronously from the handler's thread (a WinHTTP thread).
// Only real IIS can confirm that IIS's WebSocket module accepts that, and [UNCERTAIN] whether it
// writes Sec-WebSocket-Accept itself (for the client's key) or passes on the backend's (for
// WinHTTP's key): the `<row> · platform websocket` lines of `pools --host iis` (windows x64 and
// windows-11-arm jobs; xtask/src/pools/iis/websocket.rs) check both, the 101 and its accept.
#include "archway/iis_websocket.h"
#include "shim.h"

namespace shim {

// RFC 6455 §5.5: a control frame carries at most 125 bytes, 2 of them the status code.
constexpr size_t kMaxCloseReason = 123;
// A second read (or write) while one is outstanding: HRESULT_FROM_WIN32(ERROR_BUSY), 170.
const HRESULT kBusy = HRESULT_FROM_WIN32(170L);

typedef void(ARCHWAY_CALL* DoneFn)(void* user, HRESULT result, uint32_t bytes, uint32_t flags);

struct Duplex {
    IWebSocketContext* ws;
    DoneFn read_done;
    void* read_user;
    DoneFn write_done;
    void* write_user;
    volatile long reading;  // one read outstanding at most
    volatile long writing;  // one write or close outstanding at most
    wchar_t close_reason[kMaxCloseReason + 1];
};

namespace {

uint32_t flags_of(BOOL utf8, BOOL final_fragment, BOOL close) {
    return (utf8 ? ARCHWAY_WS_UTF8 : 0u) | (final_fragment ? ARCHWAY_WS_FINAL : 0u) |
           (close ? ARCHWAY_WS_CLOSE : 0u);
}

Duplex* duplex_of(ArchwayRequest* request) { return request ? request_duplex(request) : nullptr; }

void WINAPI read_completion(HRESULT hr, void* context, DWORD bytes, BOOL utf8, BOOL final_fragment,
                            BOOL close) {
    Duplex* d = static_cast<Duplex*>(context);
    const DoneFn done = d->read_done;
    void* user = d->read_user;
    _InterlockedExchange(&d->reading, 0);  // before `done`, which may read again
    done(user, hr, bytes, flags_of(utf8, final_fragment, close));
}

void WINAPI write_completion(HRESULT hr, void* context, DWORD bytes, BOOL, BOOL, BOOL) {
    Duplex* d = static_cast<Duplex*>(context);
    const DoneFn done = d->write_done;
    void* user = d->write_user;
    _InterlockedExchange(&d->writing, 0);
    done(user, hr, bytes, 0);
}

HRESULT ARCHWAY_CALL websocket_accept(ArchwayRequest* request) {
    if (!request) return E_POINTER;
    if (request_duplex(request)) return E_UNEXPECTED;  // once
    IHttpContext* context = request_http_context(request);
    // The 101 goes out now; IIS's WebSocket module sees it and takes the connection.
    DWORD sent = 0;
    BOOL expected = FALSE;
    HRESULT hr = context->GetResponse()->Flush(FALSE, TRUE, &sent, &expected);  // slot 18
    if (FAILED(hr)) return hr;
    // HttpGetExtendedInterface (docs/iis.md §9.1).
    IHttpServer2* server2 = nullptr;
    hr = g_process.server->GetExtendedInterface(HTTP_SERVER_INTERFACE_V2,
                                                reinterpret_cast<void**>(&server2));
    if (FAILED(hr) || !server2) return FAILED(hr) ? hr : E_NOINTERFACE;
    IHttpContext3* context3 = nullptr;
    hr = server2->GetExtendedInterface(kIID_IHttpContext, context, kIID_IHttpContext3,
                                       reinterpret_cast<void**>(&context3));
    if (FAILED(hr) || !context3) return FAILED(hr) ? hr : E_NOINTERFACE;
    INamedContextContainer* named = context3->GetNamedContextContainer();
    IHttpStoredContext* stored = named ? named->GetNamedContext(IIS_WEBSOCKET) : nullptr;
    // No "websockets" context: IIS's WebSocket module is not installed or not enabled for the
    // request (ANCM reports ERROR_FILE_NOT_FOUND there).
    if (!stored) return HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED);
    Duplex* d = static_cast<Duplex*>(archway::heap_alloc_zeroed(sizeof(Duplex)));
    if (!d) return E_OUTOFMEMORY;
    d->ws = static_cast<IWebSocketContext*>(stored);
    request_duplex(request) = d;
    return S_OK;
}

HRESULT ARCHWAY_CALL websocket_read(ArchwayRequest* request, void* buffer, uint32_t capacity,
                                    DoneFn done, void* user) {
    Duplex* d = duplex_of(request);
    if (!d) return E_UNEXPECTED;
    if (!buffer || !capacity || !done) return E_INVALIDARG;
    if (_InterlockedExchange(&d->reading, 1)) return kBusy;
    d->read_done = done;
    d->read_user = user;
    DWORD n = capacity;
    BOOL utf8 = FALSE, final_fragment = FALSE, close = FALSE, expected = FALSE;
    const HRESULT hr = d->ws->ReadFragment(buffer, &n, TRUE, &utf8, &final_fragment, &close,
                                           read_completion, d, &expected);  // slot 2
    if (FAILED(hr)) {
        _InterlockedExchange(&d->reading, 0);
        return hr;
    }
    if (!expected) read_completion(S_OK, d, n, utf8, final_fragment, close);
    return S_OK;
}

HRESULT ARCHWAY_CALL websocket_write(ArchwayRequest* request, const void* data, uint32_t length,
                                     uint32_t flags, DoneFn done, void* user) {
    Duplex* d = duplex_of(request);
    if (!d) return E_UNEXPECTED;
    if ((!data && length) || !done) return E_INVALIDARG;
    if (_InterlockedExchange(&d->writing, 1)) return kBusy;
    d->write_done = done;
    d->write_user = user;
    DWORD n = length;
    BOOL expected = FALSE;
    const HRESULT hr = d->ws->WriteFragment(const_cast<void*>(data), &n, TRUE,
                                            (flags & ARCHWAY_WS_UTF8) ? TRUE : FALSE,
                                            (flags & ARCHWAY_WS_FINAL) ? TRUE : FALSE,
                                            write_completion, d, &expected);  // slot 1
    if (FAILED(hr)) {
        _InterlockedExchange(&d->writing, 0);
        return hr;
    }
    if (!expected) write_completion(S_OK, d, n, FALSE, FALSE, FALSE);
    return S_OK;
}

HRESULT ARCHWAY_CALL websocket_send_close(ArchwayRequest* request, uint16_t status,
                                          const char* reason, DoneFn done, void* user) {
    Duplex* d = duplex_of(request);
    if (!d) return E_UNEXPECTED;
    if (!done) return E_INVALIDARG;
    const size_t n = reason ? archway::length(reason) : 0;
    if (n > kMaxCloseReason) return E_INVALIDARG;
    if (_InterlockedExchange(&d->writing, 1)) return kBusy;
    // UTF-8 → UTF-16 (IIS takes the reason as a wide string); kept until the request ends.
    size_t k = 0;
    for (size_t i = 0; i < n && k < kMaxCloseReason;) {
        uint32_t c = archway::Utf8Builder::next_utf8(reason, n, &i);
        if (c >= 0x10000) {
            if (k + 2 > kMaxCloseReason) break;
            c -= 0x10000;
            d->close_reason[k++] = static_cast<wchar_t>(0xD800 + (c >> 10));
            d->close_reason[k++] = static_cast<wchar_t>(0xDC00 + (c & 0x3FF));
        } else {
            d->close_reason[k++] = static_cast<wchar_t>(c);
        }
    }
    d->close_reason[k] = 0;
    d->write_done = done;
    d->write_user = user;
    BOOL expected = FALSE;
    const HRESULT hr = d->ws->SendConnectionClose(TRUE, status, k ? d->close_reason : nullptr,
                                                  write_completion, d, &expected);  // slot 3
    if (FAILED(hr)) {
        _InterlockedExchange(&d->writing, 0);
        return hr;
    }
    if (!expected) write_completion(S_OK, d, 0, FALSE, FALSE, FALSE);
    return S_OK;
}

HRESULT ARCHWAY_CALL websocket_close_status(ArchwayRequest* request, uint16_t* status,
                                            char* reason, uint32_t capacity) {
    Duplex* d = duplex_of(request);
    if (!d) return E_UNEXPECTED;
    if (!status || (!reason && capacity)) return E_POINTER;
    USHORT code = 0;
    const wchar_t* text = nullptr;
    USHORT length = 0;
    const HRESULT hr = d->ws->GetCloseStatus(&code, &text, &length);  // slot 4
    if (FAILED(hr)) return hr;
    *status = code;
    if (capacity) {
        archway::Utf8Builder b(reason, capacity);
        if (text) b.utf16(text, length);
    }
    return S_OK;
}

void ARCHWAY_CALL websocket_abort(ArchwayRequest* request) {
    Duplex* d = duplex_of(request);
    // [UNCERTAIN] that CloseTcpConnection also completes an outstanding ReadFragment with a
    // failure (docs/iis.md §9.3); the abort session of the `platform websocket` lines of
    // `pools --host iis` (the backend exits mid-session) checks that the client's connection ends.
    if (d) d->ws->CloseTcpConnection();  // slot 5
}

}  // namespace

void duplex_install(ArchwayRequest* request) {
    request->websocket_accept = websocket_accept;
    request->websocket_read = websocket_read;
    request->websocket_write = websocket_write;
    request->websocket_send_close = websocket_send_close;
    request->websocket_close_status = websocket_close_status;
    request->websocket_abort = websocket_abort;
}

void duplex_free(Duplex* duplex) { archway::heap_free(duplex); }

}  // namespace shim
