// tests/backend/src/ws.cpp: GET /ws, a WebSocket echo (RFC 6455) for the platform handler's
// upgrade path (xtask/tests/websocket.rs).
//
//   /ws[?hello=1]   the handshake (101 with Sec-WebSocket-Accept), then every complete message
//                   (text or binary, fragmented or not, up to 16 MiB) is sent back whole with the
//                   same type; a ping gets a pong with its payload; a client's close is answered
//                   with the same status code and the connection closed. The text message
//                   "close-please" makes the server close instead: it sends close 1000
//                   "server closing", waits for the client's close, then closes the socket.
//                   With hello=1 the first message is text "headers\n" + every request header
//                   line ("Name: value\n"), so a test sees what the proxy forwarded.
// A request that is not a valid upgrade gets 400 naming what is missing. Each open and close is
// logged on stdout ("websocket open", "websocket closed: ...").
#include "ws.h"

namespace backend {

namespace {

constexpr uint64_t kMaxMessage = 16u * 1024 * 1024;
constexpr DWORD kIdleMs = 120000;
const char kCloseRequest[] = "close-please";

using archway::ws::kBinary;
using archway::ws::kClose;
using archway::ws::kContinuation;
using archway::ws::kPing;
using archway::ws::kPong;
using archway::ws::kText;

bool has_token(const Header* h, const char* token) {
    if (!h) return false;
    const size_t tn = archway::length(token);
    size_t i = 0;
    while (i < h->value_length) {
        while (i < h->value_length && (h->value[i] == ' ' || h->value[i] == ',')) ++i;
        size_t j = i;
        while (j < h->value_length && h->value[j] != ',') ++j;
        size_t end = j;
        while (end > i && h->value[end - 1] == ' ') --end;
        if (archway::equal_nocase(h->value + i, end - i, token, tn)) return true;
        i = j;
    }
    return false;
}

// At least `need` bytes in c->in; false when the peer closes, fails or stays silent too long.
bool want(Connection* c, size_t need) {
    while (c->in.size() < need) {
        if (c->broken) return false;
        fd_set set;
        set.fd_count = 1;
        set.fd_array[0] = c->socket;
        timeval tv = {static_cast<long>(kIdleMs / 1000), 0};
        if (select(0, &set, nullptr, nullptr, &tv) != 1) {
            c->broken = true;
            return false;
        }
        char buffer[65536];
        const int got = recv(c->socket, buffer, sizeof(buffer), 0);
        if (got <= 0 || !c->in.append(buffer, static_cast<size_t>(got))) {
            c->broken = true;
            return false;
        }
    }
    return true;
}

// One unmasked server frame, FIN set.
bool send_frame(Connection* c, uint8_t opcode, const char* data, size_t n) {
    uint8_t head[10];
    const size_t k = archway::ws::header(opcode, true, n, head);
    Bytes frame;
    frame.append(reinterpret_cast<const char*>(head), k);
    frame.append(data, n);
    return frame.ok() && send_all(c, frame.data(), frame.size());
}

bool send_close(Connection* c, uint16_t code, const char* reason) {
    char payload[125];
    payload[0] = static_cast<char>(code >> 8);
    payload[1] = static_cast<char>(code & 0xFF);
    const size_t n = archway::length(reason);
    memcpy(payload + 2, reason, n);
    return send_frame(c, kClose, payload, n + 2);
}

struct Frame {
    bool fin;
    uint8_t opcode;
    Bytes payload;
};

// One client frame (masked, as RFC 6455 §5.1 requires); false with `why` on a protocol error
// or a connection that ended.
bool read_frame(Connection* c, Frame* f, const char** why) {
    *why = "the connection ended";
    archway::ws::Head h;
    size_t at = 0;
    for (size_t need = 2; !(at = archway::ws::parse(reinterpret_cast<const uint8_t*>(c->in.data()), c->in.size(), &h));) {
        if (!want(c, need)) return false;
        need = c->in.size() + 1;
    }
    if (!h.masked) {
        *why = "an unmasked client frame";
        return false;
    }
    if (h.length > kMaxMessage) {
        *why = "a frame over 16 MiB";
        return false;
    }
    if (!want(c, at + static_cast<size_t>(h.length))) return false;
    f->fin = h.fin;
    f->opcode = h.opcode;
    f->payload.clear();
    if (!f->payload.append(c->in.data() + at, static_cast<size_t>(h.length))) {
        *why = "out of memory";
        return false;
    }
    for (size_t i = 0; i < h.length; ++i) f->payload.data()[i] ^= static_cast<char>(h.mask[i & 3]);
    c->in.erase_front(at + static_cast<size_t>(h.length));
    return true;
}

void log_closed(const char* why, uint64_t code) {
    char line[160];
    archway::Utf8Builder m(line, sizeof(line));
    m.raw("websocket closed: ").raw(why);
    if (code) m.raw(" (code ").u64(code).ch(')');
    out_line(m);
}

// After the handshake: messages until a close.
void session(Request* r) {
    Connection* c = r->conn;
    Frame* f = new (archway::nothrow) Frame();
    Bytes* message = new (archway::nothrow) Bytes();
    if (!f || !message) {
        delete f;
        delete message;
        return;
    }
    uint8_t message_type = 0;  // 0: no message in progress
    bool closing = false;      // we sent a close and wait for the client's
    const char* why = "";
    while (true) {
        if (!read_frame(c, f, &why)) {
            if (!c->broken) send_close(c, 1002, why);
            log_closed(why, 0);
            break;
        }
        if (f->opcode == kClose) {
            uint16_t code = 1005;
            if (f->payload.size() >= 2)
                code = static_cast<uint16_t>((static_cast<uint8_t>(f->payload.data()[0]) << 8) |
                                             static_cast<uint8_t>(f->payload.data()[1]));
            if (!closing) send_close(c, code == 1005 ? 1000 : code, "");
            log_closed(closing ? "the client answered the server's close" : "the client closed", code);
            break;
        }
        if (f->opcode == kPing) {
            send_frame(c, kPong, f->payload.data(), f->payload.size());
            continue;
        }
        if (f->opcode == kPong) continue;
        if (f->opcode == kText || f->opcode == kBinary) {
            if (message_type) {
                why = "a new message inside a fragmented one";
                send_close(c, 1002, why);
                log_closed(why, 0);
                break;
            }
            message_type = f->opcode;
            message->clear();
        } else if (f->opcode != kContinuation || !message_type) {
            why = f->opcode == kContinuation ? "a continuation without a message" : "an unknown opcode";
            send_close(c, 1002, why);
            log_closed(why, 0);
            break;
        }
        if (message->size() + f->payload.size() > kMaxMessage || !message->append(f->payload.data(), f->payload.size())) {
            why = "a message over 16 MiB";
            send_close(c, 1009, why);
            log_closed(why, 0);
            break;
        }
        if (!f->fin) continue;
        const uint8_t type = message_type;
        message_type = 0;
        if (closing) continue;  // after our close, data is read and dropped (RFC 6455 §5.5.1)
        if (type == kText && archway::equal(message->data(), message->size(), kCloseRequest, sizeof(kCloseRequest) - 1)) {
            closing = send_close(c, 1000, "server closing");
            if (!closing) break;
            continue;
        }
        if (!send_frame(c, type, message->data(), message->size())) {
            log_closed("sending failed", 0);
            break;
        }
    }
    delete f;
    delete message;
    shutdown(c->socket, 1 /* SD_SEND */);
}

}  // namespace

bool websocket(Request* r) {
    const Header* key = find_header(r, "Sec-WebSocket-Key");
    const Header* version = find_header(r, "Sec-WebSocket-Version");
    const char* missing = nullptr;
    if (!archway::equal(r->method, r->method_length, "GET", 3)) missing = "the method GET";
    else if (!has_token(find_header(r, "Upgrade"), "websocket")) missing = "Upgrade: websocket";
    else if (!has_token(find_header(r, "Connection"), "Upgrade")) missing = "Connection: Upgrade";
    else if (!key || key->value_length != 24) missing = "a 24-character Sec-WebSocket-Key";
    else if (!version || !archway::equal(version->value, version->value_length, "13", 2))
        missing = "Sec-WebSocket-Version: 13";
    if (missing) {
        char body[128];
        archway::Utf8Builder b(body, sizeof(body));
        b.raw("not a WebSocket upgrade: missing ").raw(missing).ch('\n');
        r->keep_alive = false;
        respond(r, 400, "Bad Request", "text/plain", b.c_str(), b.size());
        return false;
    }
    char accept[29];
    archway::ws::accept_for(key->value, key->value_length, accept);
    Bytes head;
    head.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    head.append("Sec-WebSocket-Accept: ");
    head.append(accept);
    head.append("\r\n\r\n");
    if (!head.ok() || !send_all(r->conn, head.data(), head.size())) return false;
    static const char kOpen[] = "websocket open";
    out_line(kOpen, sizeof(kOpen) - 1);
    if (query_number(r, "hello", 0) == 1) {
        Bytes hello;
        hello.append("headers\n");
        for (size_t i = 0; i < r->header_count; ++i) {
            hello.append(r->headers[i].name, r->headers[i].name_length);
            hello.append(": ");
            hello.append(r->headers[i].value, r->headers[i].value_length);
            hello.append("\n");
        }
        if (!hello.ok() || !send_frame(r->conn, kText, hello.data(), hello.size())) return false;
    }
    session(r);
    return false;
}

}  // namespace backend
