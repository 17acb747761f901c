// tests/worker/src/http.cpp: HTTP/1.1 on Winsock: listeners, one thread per connection, request
// parsing, body framing (Content-Length and chunked) and response framing.
//
// What it does the way http.sys does: a request head is limited to 64 KiB (431 beyond), bad
// syntax is 400 and closes the connection, HTTP/1.1 needs a Host header, a body with both
// Content-Length and Transfer-Encoding is refused, the URL is percent-decoded with dot segments
// removed and '\' read as '/', "Expect: 100-continue" is answered when the body is first read.
// Keep-alive is the HTTP/1.1 default and opt-in for HTTP/1.0. An unread request body is
// discarded (up to 1 MiB, else the connection closes) before the next request.
#include "request.h"
#include "websocket.h"

#include "archway/http_parse.h"

namespace worker {

namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kMaxListeners = 64;
constexpr uint32_t kMaxConnections = 64;
constexpr DWORD kIdleTimeoutMs = 30000;  // between requests on a kept-alive connection
constexpr DWORD kReadTimeoutMs = 30000;  // while a request (head or body) is arriving
constexpr uint64_t kDrainLimit = 1u << 20;
constexpr size_t kCoalesce = 16 * 1024;  // a body this small leaves with its head or framing

struct Listener {
    SOCKET socket;
    const Site* site;
    const Binding* binding;
    uint16_t port;  // the actual port (the binding may say 0)
};

struct State {
    SRWLOCK lock;
    Listener listeners[kMaxListeners];
    size_t listener_count;
    uint32_t connections;
    bool stopping;
    HANDLE accept_thread;
};
State g;  // zero-initialised static storage

const char kCrlf[] = "\r\n";

bool send_all(Connection* c, const char* data, size_t n) {
    if (c->broken) return false;
    if (!archway::http::send_all(c->socket, data, n)) c->broken = true;
    return !c->broken;
}

using archway::http::has_token;
using archway::http::hex_value;
using archway::http::wait_readable;

// Receives more bytes into c->in. `idle`: waiting for the next request, so a graceful stop ends
// the wait. False on close, error, timeout or stop.
bool fill(Connection* c, DWORD timeout_ms, bool idle) {
    if (c->broken) return false;
    const ULONGLONG deadline = GetTickCount64() + timeout_ms;
    while (true) {
        if (idle && stopping()) return false;
        const ULONGLONG now = GetTickCount64();
        if (now >= deadline) return false;
        const ULONGLONG left = deadline - now;
        const int ready = wait_readable(c->socket, left > 200 ? 200 : static_cast<DWORD>(left));
        if (ready < 0) {
            c->broken = true;
            return false;
        }
        if (ready == 0) continue;
        const size_t before = c->in.size();
        if (!c->in.resize(before + 16384)) {
            c->broken = true;
            return false;
        }
        const int got = recv(c->socket, c->in.data() + before, 16384, 0);
        if (got <= 0) {
            c->in.resize(before);
            c->broken = true;
            return false;
        }
        c->in.resize(before + static_cast<size_t>(got));
        return true;
    }
}

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
    }
}

// ---------------------------------------------------------------------------------------------
// Response heads.

bool body_allowed(USHORT status) { return status >= 200 && status != 204 && status != 304; }

// Builds the status line and headers. `length`: the Content-Length to send, or -1 when the
// framing is chunked or close-delimited.
bool build_head(Request* r, int64_t length, Vec<char>* out) {
    char line[128];
    archway::Utf8Builder b(line, sizeof(line));
    const char* reason = r->reason ? r->reason : default_reason(r->status);
    b.raw("HTTP/1.1 ").u32(r->status).ch(' ');
    bool ok = out->append(b.c_str(), b.size()) && out->append(reason, archway::length(reason)) &&
              out->append(kCrlf, 2);
    bool server_set = false;
    for (size_t i = 0; i < r->response_headers.size(); ++i) {
        const Header& h = r->response_headers[i];
        if (h.deleted) continue;
        if (archway::equal_nocase(h.name, h.name_length, "Content-Length", 14) ||
            archway::equal_nocase(h.name, h.name_length, "Transfer-Encoding", 17) ||
            archway::equal_nocase(h.name, h.name_length, "Connection", 10)) {
            continue;  // framing is ours
        }
        if (archway::equal_nocase(h.name, h.name_length, "Server", 6)) server_set = true;
        ok = ok && out->append(h.name, h.name_length) && out->append(": ", 2) &&
             out->append(h.value, h.value_length) && out->append(kCrlf, 2);
    }
    if (!server_set) {
        static const char kServer[] = "Server: archway-worker\r\n";
        ok = ok && out->append(kServer, sizeof(kServer) - 1);
    }
    archway::Utf8Builder f(line, sizeof(line));
    if (r->chunked) {
        f.raw("Transfer-Encoding: chunked\r\n");
    } else if (length >= 0 && (body_allowed(r->status) || r->is_head)) {
        f.raw("Content-Length: ").u64(static_cast<uint64_t>(length)).raw(kCrlf);
    }
    if (!r->keep && !(r->major == 1 && r->minor == 0)) f.raw("Connection: close\r\n");
    if (r->keep && r->major == 1 && r->minor == 0) f.raw("Connection: keep-alive\r\n");
    f.raw(kCrlf);
    return ok && out->append(f.c_str(), f.size());
}

const Header* module_content_length(const Request* r) {
    for (size_t i = 0; i < r->response_headers.size(); ++i) {
        const Header& h = r->response_headers[i];
        if (!h.deleted && archway::equal_nocase(h.name, h.name_length, "Content-Length", 14)) return &h;
    }
    return nullptr;
}

void decide_keep(Request* r) {
    r->keep = r->keep_alive && !r->need_disconnect && !stopping() && !r->close_delimited &&
              !r->body.failed && !r->conn->broken &&
              !(r->body.mode == BodyState::kLength && r->body.remaining > kDrainLimit);
}

// The whole response in one go (nothing was flushed): Content-Length framing.
bool send_buffered(Request* r) {
    decide_keep(r);
    Vec<char> head;
    const size_t length = body_allowed(r->status) ? r->response_body.size() : 0;
    if (!build_head(r, static_cast<int64_t>(length), &head)) return false;
    if (r->headers_suppressed) head.clear();
    const bool body = !r->is_head && length;
    // Head and a small body in one send (one segment with TCP_NODELAY, one socket call less:
    // docs/httpplatform.md §10).
    const bool together = body && length <= kCoalesce;
    if (together && !head.append(r->response_body.data(), length)) return false;
    if (head.size() && !send_all(r->conn, head.data(), head.size())) return false;
    r->head_sent = true;
    if (body) {
        if (!together && !send_all(r->conn, r->response_body.data(), length)) return false;
        r->body_bytes_sent += length;
    }
    r->response_body.clear();
    return true;
}

// A short error answer from the wire layer itself; the connection closes afterwards.
void send_simple(Connection* c, USHORT status, const char* text) {
    char buffer[512];
    archway::Utf8Builder b(buffer, sizeof(buffer));
    b.raw("HTTP/1.1 ").u32(status).ch(' ').raw(default_reason(status)).raw(kCrlf);
    b.raw("Server: archway-worker\r\nContent-Type: text/plain\r\nContent-Length: ");
    b.u64(archway::length(text)).raw("\r\nConnection: close\r\n\r\n").raw(text);
    send_all(c, b.c_str(), b.size());
    char log[128];
    archway::Utf8Builder l(log, sizeof(log));
    l.raw("(malformed request) -> ").u32(status).raw(" (").u64(archway::length(text)).raw(" bytes)");
    err_line(l);
}

// ---------------------------------------------------------------------------------------------
// Request heads.

// Percent-decodes `s` into `out` (capacity >= n + 2), '\' read as '/', then removes dot
// segments. False on a bad escape or an encoded NUL (http.sys answers 400).
bool decode_path(const char* s, size_t n, char* out, size_t* out_length) {
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return false;
            const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = static_cast<char>(hi * 16 + lo);
            if (c == 0) return false;
            i += 2;
        }
        out[k++] = c == '\\' ? '/' : c;
    }
    // Dot segments (RFC 3986 5.2.4), in place: the output is "/seg/seg..." and never longer
    // than what has been read, so copying forward is safe.
    size_t w = 0;
    size_t i = 0;
    while (i < k) {
        size_t j = i + 1;
        while (j < k && out[j] != '/') ++j;
        const size_t length = j - i - 1;
        const char* seg = out + i + 1;
        const bool last = j >= k;
        if (out[i] != '/') {  // cannot happen for an origin-form target; keep it verbatim
            memmove(out + w, out + i, j - i);
            w += j - i;
        } else if (length == 1 && seg[0] == '.') {
            if (last) out[w++] = '/';
        } else if (length == 2 && seg[0] == '.' && seg[1] == '.') {
            size_t p = w;
            while (p > 0 && out[p - 1] != '/') --p;
            w = p > 0 ? p - 1 : 0;
            if (last) out[w++] = '/';
        } else {
            memmove(out + w, out + i, j - i);
            w += j - i;
        }
        i = j;
    }
    if (w == 0) out[w++] = '/';
    out[w] = 0;
    *out_length = w;
    return true;
}

enum class Parse { kOk, kBad, kTooLarge, kVersion, kNotImplemented, kClosed };

// Waits for a whole request head in c->in and parses it into r. Consumes the head's bytes.
Parse read_head(Connection* c, Request* r) {
    size_t end = 0;  // bytes of the head including the blank line
    bool first = true;
    while (true) {
        // Blank lines before a request line are ignored (RFC 9112 2.2).
        size_t skip = 0;
        while (skip < c->in.size() && (c->in[skip] == '\r' || c->in[skip] == '\n')) ++skip;
        if (skip) c->in.erase_front(skip);
        const char* d = c->in.data();
        const size_t n = c->in.size();
        for (size_t i = 0; i < n; ++i) {
            if (d[i] != '\n') continue;
            if (i + 1 < n && d[i + 1] == '\n') {
                end = i + 2;
                break;
            }
            if (i + 2 < n && d[i + 1] == '\r' && d[i + 2] == '\n') {
                end = i + 3;
                break;
            }
        }
        if (end) break;
        if (n >= kMaxHead) return Parse::kTooLarge;
        if (!fill(c, first && n == 0 ? kIdleTimeoutMs : kReadTimeoutMs, n == 0)) {
            return Parse::kClosed;
        }
        first = false;
    }
    if (end > kMaxHead) return Parse::kTooLarge;

    char* head = r->arena.copy(c->in.data(), end);
    char* all = r->arena.copy(c->in.data(), end);
    if (!head || !all) return Parse::kBad;
    c->in.erase_front(end);
    r->raw_head = all;
    r->raw_head_length = end;

    // Lines: split at '\n', drop a trailing '\r'.
    char* p = head;
    char* limit = head + end;
    auto next_line = [&](char** line, size_t* length) -> bool {
        if (p >= limit) return false;
        char* s = p;
        while (p < limit && *p != '\n') ++p;
        char* e = p;
        if (p < limit) ++p;
        if (e > s && e[-1] == '\r') --e;
        *e = 0;
        *line = s;
        *length = static_cast<size_t>(e - s);
        return true;
    };

    // Request line: method SP target SP version.
    char* line = nullptr;
    size_t length = 0;
    if (!next_line(&line, &length) || length == 0) return Parse::kBad;
    size_t i = 0;
    while (i < length && is_tchar(line[i])) ++i;
    if (i == 0 || i >= length || line[i] != ' ') return Parse::kBad;
    line[i] = 0;
    r->method = line;
    r->method_length = i;
    r->is_head = archway::equal(line, i, "HEAD", 4);
    char* target = line + i + 1;
    size_t t = 0;
    while (target + t < line + length && target[t] != ' ') {
        const uint8_t ch = static_cast<uint8_t>(target[t]);
        if (ch <= 0x20 || ch == 0x7F) return Parse::kBad;
        ++t;
    }
    if (t == 0 || target + t >= line + length) return Parse::kBad;
    target[t] = 0;
    char* version = target + t + 1;
    const size_t version_length = static_cast<size_t>(line + length - version);
    if (version_length != 8 || !archway::equal(version, 5, "HTTP/", 5) || version[5] < '0' ||
        version[5] > '9' || version[6] != '.' || version[7] < '0' || version[7] > '9') {
        return Parse::kBad;
    }
    r->major = static_cast<USHORT>(version[5] - '0');
    r->minor = static_cast<USHORT>(version[7] - '0');
    if (r->major != 1 || r->minor > 1) return Parse::kVersion;

    // Headers.
    r->raw_headers = r->raw_head + (p - head);
    r->raw_headers_length = end - static_cast<size_t>(p - head);
    while (next_line(&line, &length)) {
        if (length == 0) break;
        if (line[0] == ' ' || line[0] == '\t') return Parse::kBad;  // obs-fold
        size_t colon = 0;
        while (colon < length && is_tchar(line[colon])) ++colon;
        if (colon == 0 || colon >= length || line[colon] != ':') return Parse::kBad;
        line[colon] = 0;
        size_t v = colon + 1;
        while (v < length && (line[v] == ' ' || line[v] == '\t')) ++v;
        size_t e = length;
        while (e > v && (line[e - 1] == ' ' || line[e - 1] == '\t')) --e;
        for (size_t k = v; k < e; ++k) {
            const uint8_t ch = static_cast<uint8_t>(line[k]);
            if ((ch < 0x20 && ch != '\t') || ch == 0x7F) return Parse::kBad;
        }
        line[e] = 0;
        Header h = {line, colon, line + v, e - v, false};
        if (!r->headers.push(h)) return Parse::kBad;
    }

    // Target: origin form, absolute form (scheme and authority dropped), or "*".
    const char* path = target;
    if (t > 7 && (archway::equal_nocase(target, 7, "http://", 7))) {
        path = target + 7;
        while (*path && *path != '/') ++path;
        if (!*path) path = "/";
    } else if (!(target[0] == '/' || (t == 1 && target[0] == '*'))) {
        return Parse::kBad;
    }
    r->raw_url = path;
    const char* q = path;
    while (*q && *q != '?') ++q;
    r->query = *q ? q + 1 : q;
    r->query_length = archway::length(r->query);
    const size_t path_length = static_cast<size_t>(q - path);
    if (path[0] == '*') {
        r->path = "*";
        r->path_length = 1;
    } else {
        char* decoded = static_cast<char*>(r->arena.alloc(path_length + 2));
        if (!decoded || !decode_path(path, path_length, decoded, &r->path_length)) return Parse::kBad;
        r->path = decoded;
    }

    // Framing and connection semantics.
    const Header* host = nullptr;
    int hosts = 0;
    const Header* content_length = nullptr;
    const Header* transfer_encoding = nullptr;
    bool close = false, keep_alive = false;
    for (size_t k = 0; k < r->headers.size(); ++k) {
        const Header& h = r->headers[k];
        if (archway::equal_nocase(h.name, h.name_length, "Host", 4)) {
            host = &h;
            ++hosts;
        } else if (archway::equal_nocase(h.name, h.name_length, "Content-Length", 14)) {
            if (content_length && !archway::equal(content_length->value, content_length->value_length,
                                                  h.value, h.value_length)) {
                return Parse::kBad;
            }
            content_length = &h;
        } else if (archway::equal_nocase(h.name, h.name_length, "Transfer-Encoding", 17)) {
            if (transfer_encoding) return Parse::kNotImplemented;
            transfer_encoding = &h;
        } else if (archway::equal_nocase(h.name, h.name_length, "Connection", 10)) {
            close = close || has_token(h.value, h.value_length, "close");
            keep_alive = keep_alive || has_token(h.value, h.value_length, "keep-alive");
        } else if (archway::equal_nocase(h.name, h.name_length, "Expect", 6)) {
            if (archway::equal_nocase(h.value, h.value_length, "100-continue", 12)) {
                r->body.expect_continue = r->minor >= 1;
            } else {
                return Parse::kBad;  // http.sys: 417 would be more exact; 400 is what we say
            }
        }
    }
    if (hosts > 1 || (r->minor >= 1 && hosts == 0)) return Parse::kBad;
    r->keep_alive = r->minor >= 1 ? !close : (keep_alive && !close);
    if (transfer_encoding && content_length) return Parse::kBad;
    if (transfer_encoding) {
        if (!archway::equal_nocase(transfer_encoding->value, transfer_encoding->value_length,
                                   "chunked", 7)) {
            return Parse::kNotImplemented;
        }
        r->body.mode = BodyState::kChunked;
    } else if (content_length) {
        if (content_length->value_length == 0 || content_length->value_length > 18) return Parse::kBad;
        uint64_t v = 0;
        for (size_t k = 0; k < content_length->value_length; ++k) {
            const char ch = content_length->value[k];
            if (ch < '0' || ch > '9') return Parse::kBad;
            v = v * 10 + static_cast<uint64_t>(ch - '0');
        }
        r->body.mode = v ? BodyState::kLength : BodyState::kNone;
        r->body.remaining = v;
    }
    if (r->body.mode == BodyState::kNone) r->body.done = true;

    // A binding with a host name only answers that host (http.sys: 400 Invalid Hostname).
    const char* bound_host = c->binding->host;
    if (bound_host && *bound_host) {
        size_t hn = host ? host->value_length : 0;
        if (host) {
            size_t colon = hn;
            while (colon > 0 && host->value[colon - 1] != ':' && host->value[colon - 1] != ']') --colon;
            if (colon > 0 && host->value[colon - 1] == ':') hn = colon - 1;
        }
        if (!host || !archway::equal_nocase(host->value, hn, bound_host, archway::length(bound_host))) {
            return Parse::kBad;
        }
    }
    return Parse::kOk;
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

bool send_continue(Request* r) {
    if (!r->body.expect_continue) return true;
    r->body.expect_continue = false;
    static const char k100[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (r->conn->in.size() > 0) return true;  // the client did not wait
    return send_all(r->conn, k100, sizeof(k100) - 1);
}

// One line of a chunked body (size line or trailer), without its CRLF, into `out`.
bool take_line(Request* r, char* out, size_t capacity, size_t* length) {
    Connection* c = r->conn;
    while (true) {
        for (size_t i = 0; i < c->in.size(); ++i) {
            if (c->in[i] != '\n') continue;
            size_t e = i;
            if (e > 0 && c->in[e - 1] == '\r') --e;
            if (e >= capacity) return false;
            memcpy(out, c->in.data(), e);
            out[e] = 0;
            *length = e;
            c->in.erase_front(i + 1);
            return true;
        }
        if (c->in.size() >= capacity + 2) return false;
        if (!fill(c, kReadTimeoutMs, false)) return false;
    }
}

// Reads the next chunk-size line (and the trailers after the last chunk).
bool next_chunk(Request* r) {
    char line[256];
    size_t n = 0;
    if (!take_line(r, line, sizeof(line), &n)) return false;
    uint64_t size = 0;
    if (!archway::http::parse_chunk_size(line, n, &size)) return false;  // extensions ignored
    if (size == 0) {
        size_t total = 0;
        while (true) {  // trailers, up to the blank line
            char trailer[4096];
            if (!take_line(r, trailer, sizeof(trailer), &n)) return false;
            if (n == 0) break;
            total += n;
            if (total > kMaxHead) return false;
        }
        r->body.done = true;
        return true;
    }
    r->body.remaining = size;
    r->body.chunk_open = true;
    return true;
}

}  // namespace

bool body_read(Request* r, void* buffer, DWORD capacity, DWORD* read) {
    *read = 0;
    BodyState& b = r->body;
    if (b.failed) return false;
    if (b.done || capacity == 0) return true;
    if (!send_continue(r)) {
        b.failed = true;
        return false;
    }
    if (b.mode == BodyState::kChunked && !b.chunk_open) {
        if (!next_chunk(r)) {
            b.failed = true;
            return false;
        }
        if (b.done) return true;
    }
    Connection* c = r->conn;
    if (c->in.size() == 0 && !fill(c, kReadTimeoutMs, false)) {
        b.failed = true;
        return false;
    }
    uint64_t n = c->in.size();
    if (n > b.remaining) n = b.remaining;
    if (n > capacity) n = capacity;
    memcpy(buffer, c->in.data(), static_cast<size_t>(n));
    c->in.erase_front(static_cast<size_t>(n));
    b.remaining -= n;
    b.received += n;
    *read = static_cast<DWORD>(n);
    if (b.remaining == 0) {
        if (b.mode == BodyState::kLength) {
            b.done = true;
        } else {
            char line[8];
            size_t k = 0;
            if (!take_line(r, line, sizeof(line), &k) || k != 0) {
                b.failed = true;  // the chunk's data was not followed by CRLF
                return *read > 0;
            }
            b.chunk_open = false;
        }
    }
    return true;
}

DWORD body_remaining(Request* r) {
    BodyState& b = r->body;
    if (b.done || b.failed) return 0;
    if (b.mode == BodyState::kChunked && !b.chunk_open) {
        if (!send_continue(r) || !next_chunk(r)) {
            b.failed = true;
            return 0;
        }
        if (b.done) return 0;
    }
    return b.remaining > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<DWORD>(b.remaining);
}

bool response_flush(Request* r) {
    Connection* c = r->conn;
    if (r->reset || c->broken) return false;
    Vec<char> head;
    bool upgraded = false;  // websocket.h: a 101's handshake is IIS's WebSocket module's
    if (!r->head_sent && websocket_flush_101(r, &upgraded)) return upgraded;
    if (!r->head_sent) {
        const Header* length = module_content_length(r);
        r->chunked = !length && r->minor >= 1 && body_allowed(r->status) && !r->headers_suppressed;
        r->close_delimited = !length && !r->chunked && body_allowed(r->status);
        decide_keep(r);
        int64_t declared = -1;
        if (length) {
            declared = 0;
            for (size_t i = 0; i < length->value_length; ++i) {
                const char ch = length->value[i];
                if (ch < '0' || ch > '9' || i > 17) {
                    declared = -1;
                    break;
                }
                declared = declared * 10 + (ch - '0');
            }
            if (declared < 0) r->close_delimited = true;
            decide_keep(r);
        }
        if (!build_head(r, declared, &head)) return false;
        if (r->headers_suppressed) head.clear();
        r->head_sent = true;
    }
    // What goes out now: the head if it was just built, then the body written since (with its
    // chunk framing), in one send when the body is small (docs/httpplatform.md §10).
    const size_t n = r->response_body.size();
    const bool body = n && !r->is_head && body_allowed(r->status);
    if (body && r->chunked) {
        char size_line[32];
        archway::Utf8Builder s(size_line, sizeof(size_line));
        static const char kHex[] = "0123456789abcdef";
        char digits[16];
        size_t k = 0;
        for (size_t v = n; v; v >>= 4) digits[k++] = kHex[v & 0xF];
        while (k) s.ch(digits[--k]);
        s.raw(kCrlf);
        if (!head.append(s.c_str(), s.size())) return false;
    }
    const bool together = body && n <= kCoalesce;
    if (together) {
        if (!head.append(r->response_body.data(), n)) return false;
        if (r->chunked && !head.append(kCrlf, 2)) return false;
    }
    if (head.size() && !send_all(c, head.data(), head.size())) return false;
    if (body && !together) {
        if (!send_all(c, r->response_body.data(), n)) return false;
        if (r->chunked && !send_all(c, kCrlf, 2)) return false;
    }
    if (body) r->body_bytes_sent += n;
    r->response_body.clear();
    return true;
}

const char* default_reason(USHORT status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Redirect";  // IIS's wording
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

namespace {

// ---------------------------------------------------------------------------------------------
// Connections.

void log_request(Request* r) {
    char buffer[1024];
    archway::Utf8Builder l(buffer, sizeof(buffer));
    l.raw(r->method, r->method_length).ch(' ');
    // The URL as sent (cut short, control characters shown as '?').
    const char* url = r->raw_url;
    for (size_t i = 0; url[i] && i < 512; ++i) {
        const uint8_t ch = static_cast<uint8_t>(url[i]);
        l.ch(ch < 0x20 || ch == 0x7F ? '?' : url[i]);
    }
    l.raw(" -> ").u32(r->status).raw(" (").u64(r->body_bytes_sent).raw(" bytes)");
    err_line(l);
}

// Serves one request on `c`; false when the connection must close.
bool serve_one(Connection* c) {
    Request* r = new (archway::nothrow) Request();
    if (!r) return false;
    r->conn = c;
    r->status = 200;
    const Parse parsed = read_head(c, r);
    bool keep = false;
    switch (parsed) {
    case Parse::kClosed: break;
    case Parse::kTooLarge:
        send_simple(c, 431, "HTTP Error 431. The size of the request headers is too long.\r\n");
        break;
    case Parse::kVersion:
        send_simple(c, 505, "HTTP Error 505. The HTTP version is not supported.\r\n");
        break;
    case Parse::kNotImplemented:
        send_simple(c, 501, "HTTP Error 501. The request's transfer coding is not supported.\r\n");
        break;
    case Parse::kBad:
        send_simple(c, 400, "HTTP Error 400. The request is badly formed.\r\n");
        break;
    case Parse::kOk: {
        process_request(r);
        if (!r->reset) {
            if (!r->head_sent) {
                send_buffered(r);
            } else {
                response_flush(r);
                if (r->chunked && !r->is_head) send_all(c, "0\r\n\r\n", 5);
            }
        }
        r->finished = true;
        log_request(r);
        keep = r->keep && !r->reset && !c->broken;
        // Discard what the module left of the body before the next request.
        uint64_t drained = 0;
        char scratch[4096];
        while (keep && !r->body.done) {
            DWORD n = 0;
            if (!body_read(r, scratch, sizeof(scratch), &n) || (n == 0 && !r->body.done)) {
                keep = false;
                break;
            }
            drained += n;
            if (drained > kDrainLimit) keep = false;
        }
        break;
    }
    }
    delete r;
    return keep;
}

// Closes after our last byte: reads (and drops) what the client still sends for up to 1 s, so
// that closing with unread input does not become a reset that destroys the response in flight
// (RFC 9112 9.6, "lingering close").
void lingering_close(Connection* c) {
    shutdown(c->socket, SD_SEND);
    char scratch[4096];
    size_t total = 0;
    const ULONGLONG deadline = GetTickCount64() + 1000;
    while (!c->broken && total < 256 * 1024) {
        const ULONGLONG now = GetTickCount64();
        if (now >= deadline) break;
        const ULONGLONG left = deadline - now;
        const int ready = wait_readable(c->socket, left > 200 ? 200 : static_cast<DWORD>(left));
        if (ready < 0) break;
        if (ready == 0) continue;
        const int got = recv(c->socket, scratch, sizeof(scratch), 0);
        if (got <= 0) break;
        total += static_cast<size_t>(got);
    }
    closesocket(c->socket);
}

DWORD WINAPI connection_thread(void* parameter) {
    Connection* c = static_cast<Connection*>(parameter);
    while (serve_one(c)) {
    }
    lingering_close(c);
    if (c->event) CloseHandle(c->event);
    delete c;
    AcquireSRWLockExclusive(&g.lock);
    --g.connections;
    ReleaseSRWLockExclusive(&g.lock);
    return 0;
}

void accept_one(const Listener& l) {
    sockaddr_in remote = {};
    int remote_length = sizeof(remote);
    const SOCKET s = accept(l.socket, reinterpret_cast<sockaddr*>(&remote), &remote_length);
    if (s == INVALID_SOCKET) return;
    const int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&one), sizeof(one));
    AcquireSRWLockExclusive(&g.lock);
    const bool room = g.connections < kMaxConnections;
    if (room) ++g.connections;
    ReleaseSRWLockExclusive(&g.lock);
    Connection* c = room ? new (archway::nothrow) Connection() : nullptr;
    if (c) {
        c->socket = s;
        c->remote = remote;
        int local_length = sizeof(c->local);
        getsockname(s, reinterpret_cast<sockaddr*>(&c->local), &local_length);
        c->site = l.site;
        c->binding = l.binding;
        c->event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
        HANDLE thread = c->event ? CreateThread(nullptr, 0, connection_thread, c, 0, nullptr) : nullptr;
        if (thread) {
            CloseHandle(thread);
            return;
        }
        if (c->event) CloseHandle(c->event);
        delete c;
    }
    if (room) {
        AcquireSRWLockExclusive(&g.lock);
        --g.connections;
        ReleaseSRWLockExclusive(&g.lock);
    }
    // Too many connections (or no thread): http.sys-style 503, then close.
    Connection temp = {};
    temp.socket = s;
    send_simple(&temp, 503, "HTTP Error 503. The service is unavailable.\r\n");
    lingering_close(&temp);
}

DWORD WINAPI accept_thread(void*) {
    while (!stopping()) {
        fd_set set;
        set.fd_count = 0;
        for (size_t i = 0; i < g.listener_count && i < FD_SETSIZE; ++i) {
            set.fd_array[set.fd_count++] = g.listeners[i].socket;
        }
        timeval tv = {0, 200000};
        const int ready = select(0, &set, nullptr, nullptr, &tv);
        if (ready <= 0) {
            if (ready < 0) Sleep(50);
            continue;
        }
        if (stopping()) break;
        for (size_t i = 0; i < g.listener_count; ++i) {
            for (UINT k = 0; k < set.fd_count; ++k) {
                if (set.fd_array[k] == g.listeners[i].socket) accept_one(g.listeners[i]);
            }
        }
    }
    for (size_t i = 0; i < g.listener_count; ++i) closesocket(g.listeners[i].socket);
    return 0;
}

}  // namespace

bool stopping() {
    AcquireSRWLockShared(&g.lock);
    const bool s = g.stopping;
    ReleaseSRWLockShared(&g.lock);
    return s;
}

bool start_listeners() {
    WSADATA data;
    const int started = WSAStartup(0x0202, &data);
    if (started != 0) {
        char buffer[256];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("error: WSAStartup failed: ");
        append_win32_error(m, static_cast<DWORD>(started));
        err_line(m);
        return false;
    }
    const Config& config = g_process.config;
    for (size_t s = 0; s < config.site_count; ++s) {
        const Site& site = config.sites[s];
        for (size_t b = 0; b < site.binding_count; ++b) {
            const Binding& binding = site.bindings[b];
            char buffer[512];
            archway::Utf8Builder m(buffer, sizeof(buffer));
            const uint32_t ip = binding.ip;
            char address[32];
            archway::Utf8Builder a(address, sizeof(address));
            a.u32(ip & 0xFF).ch('.').u32((ip >> 8) & 0xFF).ch('.').u32((ip >> 16) & 0xFF).ch('.').u32(ip >> 24);
            if (g.listener_count == kMaxListeners) {
                m.raw("error: more than 64 bindings");
                err_line(m);
                return false;
            }
            const SOCKET sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
            if (sock == INVALID_SOCKET) {
                m.raw("error: socket() failed: ");
                append_win32_error(m, static_cast<DWORD>(WSAGetLastError()));
                err_line(m);
                return false;
            }
            // Like http.sys: nobody else may bind the same address while we hold it.
            const int one = 1;
            setsockopt(sock, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&one), sizeof(one));
            sockaddr_in addr = {};
            addr.sin_family = AF_INET;
            addr.sin_port = archway_htons(binding.port);
            addr.sin_addr.s_addr = ip;
            if (bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
                listen(sock, SOMAXCONN) != 0) {
                const DWORD error = static_cast<DWORD>(WSAGetLastError());
                m.raw("error: cannot listen on ").raw(a.c_str()).ch(':').u32(binding.port);
                m.raw(" for site ").raw(site.name).raw(": ");
                append_win32_error(m, error);
                err_line(m);
                closesocket(sock);
                return false;
            }
            sockaddr_in bound = {};
            int bound_length = sizeof(bound);
            getsockname(sock, reinterpret_cast<sockaddr*>(&bound), &bound_length);
            Listener& l = g.listeners[g.listener_count++];
            l.socket = sock;
            l.site = &site;
            l.binding = &binding;
            l.port = archway_ntohs(bound.sin_port);
            m.raw("listening pool=").raw(config.pool).raw(" site=").raw(site.name);
            m.raw(" address=").raw(a.c_str()).ch(':').u32(l.port);
            m.raw(" pid=").u32(GetCurrentProcessId()).raw(" machine=" ARCHWAY_ARCH_NAME);
            out_line(m);
        }
    }
    g.accept_thread = CreateThread(nullptr, 0, accept_thread, nullptr, 0, nullptr);
    if (!g.accept_thread) {
        char buffer[128];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("error: cannot start the accept thread: ");
        append_win32_error(m, GetLastError());
        err_line(m);
        return false;
    }
    return true;
}

void stop_accepting() {
    AcquireSRWLockExclusive(&g.lock);
    g.stopping = true;
    ReleaseSRWLockExclusive(&g.lock);
    if (g.accept_thread) {
        WaitForSingleObject(g.accept_thread, 5000);
        CloseHandle(g.accept_thread);
        g.accept_thread = nullptr;
    }
}

bool wait_for_connections(DWORD milliseconds) {
    const ULONGLONG deadline = GetTickCount64() + milliseconds;
    while (true) {
        AcquireSRWLockShared(&g.lock);
        const uint32_t left = g.connections;
        ReleaseSRWLockShared(&g.lock);
        if (left == 0) return true;
        if (GetTickCount64() >= deadline) return false;
        Sleep(20);
    }
}

}  // namespace worker
