// tests/worker/src/websocket.cpp: the stand-in's IIS WebSocket module (websocket.h).
//
// One Socket per upgraded request: IWebSocketContext over the connection's socket. Reads
// (ReadFragment) run on the Socket's reader thread when asynchronous, so a module's read waits
// for the client without holding the caller; a frame larger than the module's buffer arrives as
// several fragments (the last one final), client frames are unmasked here, pings are answered
// with pongs and never reach the module, and a close completes the read with fClose. Writes
// (WriteFragment, SendConnectionClose) go out on the calling thread and complete at once
// (*pfCompletionExpected FALSE), which IIS allows; without pfCompletionExpected the stand-in
// cannot report that, and says E_NOTIMPL. Frame headers: archway/websocket_frame.h.
#include "websocket.h"

#include "archway/websocket_frame.h"

namespace worker {
namespace {

constexpr DWORD kWaitSliceMs = 100;
constexpr size_t kMaxControl = 125;
const HRESULT kAborted = HRESULT_FROM_WIN32(995L);  // ERROR_OPERATION_ABORTED
const HRESULT kInvalidState = HRESULT_FROM_WIN32(ERROR_INVALID_STATE);

const Header* request_header(Request* r, const char* name) {
    const size_t n = archway::length(name);
    for (size_t i = 0; i < r->headers.size(); ++i) {
        const Header& h = r->headers[i];
        if (!h.deleted && archway::equal_nocase(h.name, h.name_length, name, n)) return &h;
    }
    return nullptr;
}

bool header_has_token(const Header* h, const char* token) {
    if (!h) return false;
    const size_t t = archway::length(token);
    size_t i = 0;
    while (i < h->value_length) {
        while (i < h->value_length && (h->value[i] == ' ' || h->value[i] == '\t' || h->value[i] == ',')) ++i;
        size_t j = i;
        while (j < h->value_length && h->value[j] != ',') ++j;
        size_t end = j;
        while (end > i && (h->value[end - 1] == ' ' || h->value[end - 1] == '\t')) --end;
        if (archway::equal_nocase(h->value + i, end - i, token, t)) return true;
        i = j;
    }
    return false;
}

class Socket final : public IWebSocketContext {
public:
    explicit Socket(Connection* c) : c_(c) {}

    bool start() {
        wake_ = CreateEventW(nullptr, FALSE, FALSE, nullptr);
        thread_ = wake_ ? CreateThread(nullptr, 0, reader, this, 0, nullptr) : nullptr;
        return thread_ != nullptr;
    }

    // Stops the reader thread (it checks every kWaitSliceMs); a pending read is dropped.
    void stop() {
        _InterlockedExchange(&stopping_, 1);
        if (wake_) SetEvent(wake_);
        if (thread_) {
            WaitForSingleObject(thread_, INFINITE);
            CloseHandle(thread_);
        }
        if (wake_) CloseHandle(wake_);
        thread_ = wake_ = nullptr;
        if (pending_) {
            static const char kText[] = "a WebSocket read was still outstanding when the request ended";
            err_line(kText, sizeof(kText) - 1);
        }
    }

    void CleanupStoredContext() override {}  // owned by the request (websocket_end)

    HRESULT WriteFragment(void* data, DWORD* sent, BOOL async, BOOL utf8, BOOL final_fragment,
                          PFN_WEBSOCKET_COMPLETION, void*, BOOL* completion_expected) override {
        if (!sent || (!data && *sent)) return E_INVALIDARG;
        if (async && !completion_expected) return E_NOTIMPL;
        if (completion_expected) *completion_expected = FALSE;
        if (close_sent_) return kInvalidState;
        const uint8_t opcode = in_message_ ? archway::ws::kContinuation
                                           : (utf8 ? archway::ws::kText : archway::ws::kBinary);
        in_message_ = !final_fragment;
        if (!send_frame(opcode, final_fragment != FALSE, static_cast<const char*>(data), *sent))
            return HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
        return S_OK;
    }

    HRESULT ReadFragment(void* data, DWORD* size, BOOL async, BOOL* utf8, BOOL* final_fragment,
                         BOOL* close, PFN_WEBSOCKET_COMPLETION completion, void* context,
                         BOOL* completion_expected) override {
        if (!data || !size || !*size) return E_INVALIDARG;
        if (completion_expected) *completion_expected = FALSE;
        if (!async) {
            if (!utf8 || !final_fragment || !close) return E_INVALIDARG;
            DWORD got = 0;
            const HRESULT hr = read_now(static_cast<char*>(data), *size, &got, utf8, final_fragment, close);
            *size = got;
            return hr;
        }
        if (!completion) return E_INVALIDARG;
        if (_InterlockedCompareExchange(&pending_, 1, 0) != 0) return kInvalidState;
        read_buffer_ = static_cast<char*>(data);
        read_capacity_ = *size;
        read_completion_ = completion;
        read_context_ = context;
        if (completion_expected) *completion_expected = TRUE;
        SetEvent(wake_);
        return S_OK;
    }

    HRESULT SendConnectionClose(BOOL async, USHORT status, const wchar_t* reason,
                                PFN_WEBSOCKET_COMPLETION, void*, BOOL* completion_expected) override {
        if (async && !completion_expected) return E_NOTIMPL;
        if (completion_expected) *completion_expected = FALSE;
        if (close_sent_) return kInvalidState;
        char payload[kMaxControl];
        payload[0] = static_cast<char>(status >> 8);
        payload[1] = static_cast<char>(status & 0xFF);
        archway::Utf8Builder text(payload + 2, kMaxControl - 2 + 1 - 1);
        if (reason) text.utf16(reason);
        if (text.overflow()) return E_INVALIDARG;
        close_sent_ = true;
        if (!send_frame(archway::ws::kClose, true, payload, 2 + text.size()))
            return HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
        return S_OK;
    }

    HRESULT GetCloseStatus(USHORT* status, const wchar_t** reason, USHORT* length) override {
        if (!status) return E_INVALIDARG;
        if (!close_received_) return kInvalidState;
        *status = close_status_;
        if (reason) *reason = close_reason_;
        if (length) *length = static_cast<USHORT>(archway::length(close_reason_));
        return S_OK;
    }

    void CloseTcpConnection() override {
        c_->broken = true;
        shutdown(c_->socket, SD_BOTH);
    }

    void CancelOutstandingIO() override {
        _InterlockedExchange(&cancel_, 1);
        SetEvent(wake_);
    }

private:
    static DWORD WINAPI reader(void* self) {
        static_cast<Socket*>(self)->read_loop();
        return 0;
    }

    void read_loop() {
        while (!stopping_) {
            WaitForSingleObject(wake_, kWaitSliceMs);
            if (stopping_ || !pending_) continue;
            DWORD got = 0;
            BOOL utf8 = FALSE, final_fragment = FALSE, close = FALSE;
            const HRESULT hr = read_now(read_buffer_, read_capacity_, &got, &utf8, &final_fragment, &close);
            if (stopping_) break;  // the request ended while waiting: nothing to complete
            const PFN_WEBSOCKET_COMPLETION completion = read_completion_;
            void* context = read_context_;
            _InterlockedExchange(&pending_, 0);  // before the completion, which may read again
            completion(hr, context, got, utf8, final_fragment, close);
        }
    }

    // More bytes from the client into c_->in; a failure once the client is gone, the reader is
    // stopping or the read was cancelled.
    HRESULT fill() {
        while (true) {
            if (stopping_ || cancel_) {
                _InterlockedExchange(&cancel_, 0);
                return kAborted;
            }
            if (c_->broken) return HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
            fd_set set;
            set.fd_count = 1;
            set.fd_array[0] = c_->socket;
            timeval tv = {0, static_cast<long>(kWaitSliceMs * 1000)};
            const int ready = select(0, &set, nullptr, nullptr, &tv);
            if (ready == 0) continue;
            char buffer[16384];
            const int got = ready > 0 ? recv(c_->socket, buffer, sizeof(buffer), 0) : -1;
            if (got <= 0 || !c_->in.append(buffer, static_cast<size_t>(got))) {
                c_->broken = true;
                return HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED);
            }
            return S_OK;
        }
    }

    // The next fragment for the module (control frames are handled on the way).
    HRESULT read_now(char* out, DWORD capacity, DWORD* got, BOOL* utf8, BOOL* final_fragment, BOOL* close) {
        *got = 0;
        *utf8 = *final_fragment = *close = FALSE;
        if (close_received_) return kInvalidState;
        while (frame_left_ == 0 && !frame_open_) {
            archway::ws::Head h;
            size_t at;
            while (!(at = archway::ws::parse(reinterpret_cast<const uint8_t*>(c_->in.data()), c_->in.size(), &h))) {
                const HRESULT hr = fill();
                if (FAILED(hr)) return hr;
            }
            if (!h.masked) return protocol_error("an unmasked client frame");
            if (h.opcode >= archway::ws::kClose) {
                if (h.length > kMaxControl || !h.fin) return protocol_error("a malformed control frame");
                while (c_->in.size() < at + h.length) {
                    const HRESULT hr = fill();
                    if (FAILED(hr)) return hr;
                }
                char payload[kMaxControl];
                for (size_t i = 0; i < h.length; ++i) payload[i] = static_cast<char>(c_->in[at + i] ^ h.mask[i & 3]);
                c_->in.erase_front(at + static_cast<size_t>(h.length));
                if (h.opcode == archway::ws::kPing) {
                    if (!close_sent_) send_frame(archway::ws::kPong, true, payload, static_cast<size_t>(h.length));
                    continue;
                }
                if (h.opcode != archway::ws::kClose) continue;  // pong, or a reserved control opcode
                close_status_ = 1005;  // RFC 6455 §7.1.5: no status code in the frame
                close_reason_[0] = 0;
                if (h.length >= 2) {
                    close_status_ = static_cast<USHORT>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
                    widen_into(payload + 2, static_cast<size_t>(h.length) - 2, close_reason_, kMaxControl);
                }
                close_received_ = true;
                *close = TRUE;
                *final_fragment = TRUE;
                return S_OK;
            }
            if (h.opcode == archway::ws::kContinuation) {
                if (!message_open_) return protocol_error("a continuation frame outside a message");
            } else if (h.opcode == archway::ws::kText || h.opcode == archway::ws::kBinary) {
                if (message_open_) return protocol_error("a new message inside a fragmented one");
                message_text_ = h.opcode == archway::ws::kText;
            } else {
                return protocol_error("a reserved opcode");
            }
            c_->in.erase_front(at);
            message_open_ = !h.fin;
            frame_fin_ = h.fin;
            frame_left_ = h.length;
            memcpy(frame_mask_, h.mask, 4);
            mask_at_ = 0;
            frame_open_ = true;
        }
        // Payload bytes of the open frame: what is there (at least one byte), up to `capacity`.
        while (frame_left_ > 0 && c_->in.size() == 0) {
            const HRESULT hr = fill();
            if (FAILED(hr)) return hr;
        }
        size_t n = c_->in.size() < frame_left_ ? c_->in.size() : static_cast<size_t>(frame_left_);
        if (n > capacity) n = capacity;
        for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(c_->in[i] ^ frame_mask_[(mask_at_ + i) & 3]);
        c_->in.erase_front(n);
        mask_at_ += n;
        frame_left_ -= n;
        if (frame_left_ == 0) frame_open_ = false;
        *got = static_cast<DWORD>(n);
        *utf8 = message_text_ ? TRUE : FALSE;
        *final_fragment = frame_left_ == 0 && frame_fin_ ? TRUE : FALSE;
        return S_OK;
    }

    HRESULT protocol_error(const char* what) {
        char line[160];
        archway::Utf8Builder m(line, sizeof(line));
        m.raw("websocket: protocol error from the client: ").raw(what);
        err_line(m);
        if (!close_sent_) {
            static const char kPayload[] = {0x03, static_cast<char>(0xEA)};  // 1002
            close_sent_ = true;
            send_frame(archway::ws::kClose, true, kPayload, 2);
        }
        CloseTcpConnection();
        return HRESULT_FROM_WIN32(ERROR_INVALID_DATA);
    }

    bool send_frame(uint8_t opcode, bool fin, const char* data, size_t n) {
        uint8_t head[10];
        const size_t k = archway::ws::header(opcode, fin, n, head);
        AcquireSRWLockExclusive(&send_lock_);
        bool ok = !c_->broken;
        ok = ok && send_raw(reinterpret_cast<const char*>(head), k) && send_raw(data, n);
        ReleaseSRWLockExclusive(&send_lock_);
        return ok;
    }

    bool send_raw(const char* data, size_t n) {
        while (n > 0) {
            const int chunk = n > 0x100000 ? 0x100000 : static_cast<int>(n);
            const int sent = send(c_->socket, data, chunk, 0);
            if (sent <= 0) {
                c_->broken = true;
                return false;
            }
            data += sent;
            n -= static_cast<size_t>(sent);
        }
        return true;
    }

    Connection* c_;
    HANDLE wake_ = nullptr;
    HANDLE thread_ = nullptr;
    SRWLOCK send_lock_ = SRWLOCK_INIT;
    volatile long stopping_ = 0;
    volatile long cancel_ = 0;
    volatile long pending_ = 0;
    char* read_buffer_ = nullptr;
    DWORD read_capacity_ = 0;
    PFN_WEBSOCKET_COMPLETION read_completion_ = nullptr;
    void* read_context_ = nullptr;
    // Reading (the reader thread, or a synchronous caller).
    bool message_open_ = false;   // inside a fragmented message
    bool message_text_ = false;
    bool frame_open_ = false;     // a data frame whose payload is not all delivered
    bool frame_fin_ = false;
    uint64_t frame_left_ = 0;
    uint8_t frame_mask_[4] = {};
    size_t mask_at_ = 0;
    bool close_received_ = false;
    USHORT close_status_ = 0;
    wchar_t close_reason_[kMaxControl] = {};
    // Writing.
    bool in_message_ = false;     // a written message is not finished
    bool close_sent_ = false;
};

class Container final : public INamedContextContainer {
public:
    IHttpStoredContext* GetNamedContext(const wchar_t* name) override {
        return socket && name && archway::equal_nocase(name, IIS_WEBSOCKET) ? socket : nullptr;
    }
    HRESULT SetNamedContext(IHttpStoredContext*, const wchar_t*) override { return E_NOTIMPL; }

    Socket* socket = nullptr;
};

// Request → its WebSocket state, for the few requests that have one.
struct Entry {
    Request* r;
    Container* container;
};
constexpr size_t kMaxEntries = 256;
Entry g_entries[kMaxEntries];
SRWLOCK g_lock = SRWLOCK_INIT;

Container* container_for(Request* r, bool create) {
    AcquireSRWLockExclusive(&g_lock);
    Container* found = nullptr;
    for (Entry& e : g_entries)
        if (e.r == r) found = e.container;
    if (!found && create) {
        for (Entry& e : g_entries) {
            if (e.r) continue;
            found = new (archway::nothrow) Container();
            if (found) e = {r, found};
            break;
        }
    }
    ReleaseSRWLockExclusive(&g_lock);
    return found;
}

bool is_upgrade(Request* r) {
    const Header* key = request_header(r, "Sec-WebSocket-Key");
    const Header* version = request_header(r, "Sec-WebSocket-Version");
    return archway::equal(r->method, r->method_length, "GET", 3) && r->major == 1 && r->minor == 1 &&
           header_has_token(request_header(r, "Upgrade"), "websocket") &&
           header_has_token(request_header(r, "Connection"), "Upgrade") && key && key->value_length == 24 &&
           version && archway::equal(version->value, version->value_length, "13", 2);
}

}  // namespace

bool websocket_flush_101(Request* r, bool* ok) {
    if (r->status != 101) return false;
    *ok = false;
    // Not an upgrade request: IIS's WebSocket module stays out; the 101 goes out as it is and
    // the connection closes after it.
    const bool upgrade = is_upgrade(r);
    Vec<char> head;
    char line[160];
    archway::Utf8Builder b(line, sizeof(line));
    b.raw("HTTP/1.1 101 ").raw(r->reason ? r->reason : "Switching Protocols").raw("\r\n");
    bool good = head.append(b.c_str(), b.size());
    static const char* const kOurs[] = {"Content-Length", "Transfer-Encoding", "Connection", "Upgrade",
                                        "Sec-WebSocket-Accept"};
    for (size_t i = 0; i < r->response_headers.size(); ++i) {
        const Header& h = r->response_headers[i];
        bool ours = h.deleted;
        for (const char* name : kOurs) ours = ours || archway::equal_nocase(h.name, h.name_length, name, archway::length(name));
        if (ours) continue;
        good = good && head.append(h.name, h.name_length) && head.append(": ", 2) &&
               head.append(h.value, h.value_length) && head.append("\r\n", 2);
    }
    if (upgrade) {
        const Header* key = request_header(r, "Sec-WebSocket-Key");
        char accept[29];
        archway::ws::accept_for(key->value, key->value_length, accept);
        archway::Utf8Builder u(line, sizeof(line));
        u.raw("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ").raw(accept).raw("\r\n");
        good = good && head.append(u.c_str(), u.size());
    } else {
        good = good && head.append("Connection: close\r\n", 19);
    }
    good = good && head.append("\r\n", 2);
    r->keep = false;
    r->head_sent = true;
    r->chunked = false;
    r->close_delimited = true;
    r->response_body.clear();
    if (!good || r->conn->broken) return true;
    const char* p = head.data();
    size_t n = head.size();
    while (n > 0) {
        const int sent = send(r->conn->socket, p, static_cast<int>(n), 0);
        if (sent <= 0) {
            r->conn->broken = true;
            return true;
        }
        p += sent;
        n -= static_cast<size_t>(sent);
    }
    if (upgrade) {
        Container* container = container_for(r, true);
        Socket* socket = container ? new (archway::nothrow) Socket(r->conn) : nullptr;
        if (!socket || !socket->start()) {
            if (socket) socket->stop();
            delete socket;
            static const char kText[] = "websocket: out of memory or threads for an upgraded connection";
            err_line(kText, sizeof(kText) - 1);
            return true;
        }
        container->socket = socket;
    }
    *ok = true;
    return true;
}

INamedContextContainer* websocket_container(Request* r) { return container_for(r, true); }

HRESULT websocket_extended_interface(const GUID& from, void* input, const GUID& to, void** output) {
    if (!output) return E_INVALIDARG;
    *output = nullptr;
    if (!input || !(from == kIID_IHttpContext) || !(to == kIID_IHttpContext3)) return E_NOINTERFACE;
    *output = input;  // the stand-in's IHttpContext is its IHttpContext3 (one class, one vtable)
    return S_OK;
}

void websocket_end(Request* r) {
    AcquireSRWLockExclusive(&g_lock);
    Container* container = nullptr;
    for (Entry& e : g_entries) {
        if (e.r != r) continue;
        container = e.container;
        e = {nullptr, nullptr};
    }
    ReleaseSRWLockExclusive(&g_lock);
    if (!container) return;
    if (container->socket) {
        container->socket->stop();
        delete container->socket;
    }
    delete container;
}

}  // namespace worker
