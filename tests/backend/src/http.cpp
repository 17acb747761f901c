// tests/backend/src/http.cpp: HTTP/1.1 on one connection: request heads (64 KiB at most), bodies
// framed by Content-Length or chunked encoding (read as they arrive, never buffered whole),
// "Expect: 100-continue", keep-alive, and responses with Content-Length or chunked.
//
// Deliberately plain: it serves the platform handler (WinHTTP) and the tests' own clients, both
// well-formed; malformed input gets 400 and the connection is closed.
#include "backend.h"

#include "archway/http_parse.h"

namespace backend {

namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr DWORD kIdleMs = 120000;  // a kept-alive connection may wait this long between requests

using archway::http::wait_readable;

// More bytes into c->in; false on close, error or timeout.
bool fill(Connection* c, DWORD timeout_ms) {
    if (c->broken) return false;
    if (wait_readable(c->socket, timeout_ms) != 1) {
        c->broken = true;
        return false;
    }
    char buffer[65536];
    const int got = recv(c->socket, buffer, sizeof(buffer), 0);
    if (got <= 0) {
        c->broken = true;
        return false;
    }
    return c->in.append(buffer, static_cast<size_t>(got));
}

size_t find_crlf(const char* p, size_t n, size_t from) {
    for (size_t i = from; i + 1 < n; ++i)
        if (p[i] == '\r' && p[i + 1] == '\n') return i;
    return static_cast<size_t>(-1);
}

bool value_has_token(const Header* h, const char* token) {
    return archway::http::has_token(h->value, h->value_length, token);
}

// Parses the head in r->head (NUL-terminated pieces are made in place). False: malformed.
bool parse_head(Request* r) {
    char* p = r->head.data();
    const size_t n = r->head.size();
    size_t line_end = find_crlf(p, n, 0);
    if (line_end == static_cast<size_t>(-1)) return false;
    // Request line: METHOD SP TARGET SP VERSION.
    size_t sp1 = 0;
    while (sp1 < line_end && p[sp1] != ' ') ++sp1;
    size_t sp2 = sp1 + 1;
    while (sp2 < line_end && p[sp2] != ' ') ++sp2;
    if (sp1 == 0 || sp1 >= line_end || sp2 >= line_end || sp2 == sp1 + 1) return false;
    r->method = p;
    r->method_length = sp1;
    r->target = p + sp1 + 1;
    r->target_length = sp2 - sp1 - 1;
    r->version = p + sp2 + 1;
    r->version_length = line_end - sp2 - 1;
    p[sp1] = 0;
    p[sp2] = 0;
    p[line_end] = 0;
    size_t q = 0;
    while (q < r->target_length && r->target[q] != '?') ++q;
    r->path = r->target;
    r->path_length = q;
    r->query = q < r->target_length ? r->target + q + 1 : "";
    r->query_length = q < r->target_length ? r->target_length - q - 1 : 0;
    // Header lines.
    size_t at = line_end + 2;
    r->header_count = 0;
    while (at < n) {
        const size_t end = find_crlf(p, n, at);
        if (end == static_cast<size_t>(-1) || end == at) break;
        size_t colon = at;
        while (colon < end && p[colon] != ':') ++colon;
        if (colon == at || colon >= end || r->header_count == kMaxHeaders) return false;
        size_t v = colon + 1;
        while (v < end && (p[v] == ' ' || p[v] == '\t')) ++v;
        size_t ve = end;
        while (ve > v && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) --ve;
        Header* h = &r->headers[r->header_count++];
        h->name = p + at;
        h->name_length = colon - at;
        h->value = p + v;
        h->value_length = ve - v;
        p[colon] = 0;
        p[ve] = 0;
        at = end + 2;
    }
    // Framing and persistence.
    const bool http11 = archway::equal(r->version, r->version_length, "HTTP/1.1", 8);
    r->keep_alive = http11;
    if (const Header* c = find_header(r, "Connection")) {
        if (value_has_token(c, "close")) r->keep_alive = false;
        if (value_has_token(c, "keep-alive")) r->keep_alive = true;
    }
    const Header* te = find_header(r, "Transfer-Encoding");
    const Header* cl = find_header(r, "Content-Length");
    if (te && cl) return false;
    r->chunked = te && value_has_token(te, "chunked");
    if (te && !r->chunked) return false;
    r->remaining = 0;
    if (cl && !parse_u64(cl->value, cl->value_length, &r->remaining)) return false;
    r->body_done = !r->chunked && r->remaining == 0;
    r->body_failed = false;
    const Header* expect = find_header(r, "Expect");
    r->expect_continue = expect && value_has_token(expect, "100-continue") && !r->body_done;
    return true;
}

// Reads one head into r->head; false when the connection ends first (or on a 64 KiB overflow).
bool read_head(Connection* c, Request* r, bool* too_large) {
    *too_large = false;
    size_t scanned = 0;
    while (true) {
        const char* p = c->in.data();
        const size_t n = c->in.size();
        for (size_t i = scanned; i + 3 < n; ++i) {
            if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
                r->head.clear();
                r->head.append(p, i + 4);
                r->head.append("", 1);  // a NUL past the end
                c->in.erase_front(i + 4);
                return r->head.ok();
            }
        }
        scanned = n > 3 ? n - 3 : 0;
        if (n > kMaxHead) {
            *too_large = true;
            return false;
        }
        if (!fill(c, kIdleMs)) return false;
    }
}

// One stderr line: what was wrong and the first bytes of the head (escaped), so a test can
// see in the server's log what the proxy sent.
void log_malformed(Request* r, const char* what) {
    char buffer[1024];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    m.raw("400 for ").raw(what).raw(": ");
    const size_t n = r->head.size() < 400 ? r->head.size() : 400;
    for (size_t i = 0; i < n; ++i) {
        const char c = r->head.data()[i];
        if (c == '\r') m.raw("\\r");
        else if (c == '\n') m.raw("\\n");
        else if (c >= 0x20 && c < 0x7F) m.ch(c);
        else m.ch('<').hex(static_cast<uint8_t>(c), 2).ch('>');
    }
    err_line(m);
}

// The status line and headers into `head` (not sent).
bool build_head(Request* r, uint16_t status, const char* reason, const char* content_type,
                const char* framing, const char* extra, Bytes* out) {
    Bytes& head = *out;
    char line[256];
    archway::Utf8Builder b(line, sizeof(line));
    b.raw("HTTP/1.1 ").u32(status).ch(' ').raw(reason).raw("\r\n");
    head.append(b.c_str(), b.size());
    if (content_type) {
        head.append("Content-Type: ");
        head.append(content_type);
        head.append("\r\n");
    }
    head.append(framing);
    if (extra) head.append(extra);
    if (!r->keep_alive) head.append("Connection: close\r\n");
    head.append("\r\n");
    return head.ok();
}

bool send_head(Request* r, uint16_t status, const char* reason, const char* content_type,
               const char* framing, const char* extra) {
    Bytes head;
    return build_head(r, status, reason, content_type, framing, extra, &head) &&
           send_all(r->conn, head.data(), head.size());
}

// Bodies up to this size leave in the same send as the head: one segment instead of two with
// TCP_NODELAY, and one socket call less (each costs wineserver round trips under Wine:
// docs/httpplatform.md §10).
constexpr size_t kCoalesce = 16 * 1024;

}  // namespace

bool send_all(Connection* c, const char* data, size_t n) {
    if (c->broken) return false;
    if (!archway::http::send_all(c->socket, data, n)) c->broken = true;
    return !c->broken;
}

const Header* find_header(const Request* r, const char* name) {
    const size_t n = archway::length(name);
    for (size_t i = 0; i < r->header_count; ++i)
        if (archway::equal_nocase(r->headers[i].name, r->headers[i].name_length, name, n)) return &r->headers[i];
    return nullptr;
}

int read_body(Request* r, char* buffer, size_t capacity) {
    Connection* c = r->conn;
    if (r->body_failed) return -1;
    if (r->body_done) return 0;
    if (r->expect_continue) {
        static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        r->expect_continue = false;
        if (!send_all(c, kContinue, sizeof(kContinue) - 1)) return -1;
    }
    if (r->chunked && r->remaining == 0) {
        // The next chunk-size line (after the previous chunk's CRLF, consumed below).
        size_t end;
        while ((end = find_crlf(c->in.data(), c->in.size(), 0)) == static_cast<size_t>(-1)) {
            if (c->in.size() > 1024 || !fill(c, kIdleMs)) {
                r->body_failed = true;
                return -1;
            }
        }
        uint64_t size = 0;
        if (!archway::http::parse_chunk_size(c->in.data(), end, &size)) {  // extensions ignored
            r->body_failed = true;
            return -1;
        }
        c->in.erase_front(end + 2);
        if (size == 0) {
            // Trailers up to the blank line.
            while (true) {
                while ((end = find_crlf(c->in.data(), c->in.size(), 0)) == static_cast<size_t>(-1)) {
                    if (c->in.size() > kMaxHead || !fill(c, kIdleMs)) {
                        r->body_failed = true;
                        return -1;
                    }
                }
                c->in.erase_front(end + 2);
                if (end == 0) break;
            }
            r->body_done = true;
            return 0;
        }
        r->remaining = size;
    }
    if (c->in.size() == 0 && !fill(c, kIdleMs)) {
        r->body_failed = true;
        return -1;
    }
    size_t take = c->in.size();
    if (take > capacity) take = capacity;
    if (take > r->remaining) take = static_cast<size_t>(r->remaining);
    memcpy(buffer, c->in.data(), take);
    c->in.erase_front(take);
    r->remaining -= take;
    if (r->remaining == 0) {
        if (r->chunked) {
            // The CRLF after the chunk's data.
            while (c->in.size() < 2) {
                if (!fill(c, kIdleMs)) {
                    r->body_failed = true;
                    return -1;
                }
            }
            if (c->in.data()[0] != '\r' || c->in.data()[1] != '\n') {
                r->body_failed = true;
                return -1;
            }
            c->in.erase_front(2);
        } else {
            r->body_done = true;
        }
    }
    return static_cast<int>(take);
}

bool respond(Request* r, uint16_t status, const char* reason, const char* content_type,
             const char* body, size_t length, const char* extra) {
    char framing[64];
    archway::Utf8Builder f(framing, sizeof(framing));
    f.raw("Content-Length: ").u64(length).raw("\r\n");
    Bytes head;
    if (!build_head(r, status, reason, content_type, f.c_str(), extra, &head)) return false;
    if (length <= kCoalesce) {
        head.append(body, length);
        return head.ok() && send_all(r->conn, head.data(), head.size());
    }
    return send_all(r->conn, head.data(), head.size()) && send_all(r->conn, body, length);
}

bool begin_sized(Request* r, uint16_t status, const char* reason, const char* content_type,
                 uint64_t length) {
    char framing[64];
    archway::Utf8Builder f(framing, sizeof(framing));
    f.raw("Content-Length: ").u64(length).raw("\r\n");
    return send_head(r, status, reason, content_type, f.c_str(), nullptr);
}

bool begin_chunked(Request* r, uint16_t status, const char* reason, const char* content_type,
                   const char* extra) {
    return send_head(r, status, reason, content_type, "Transfer-Encoding: chunked\r\n", extra);
}

bool send_chunk(Request* r, const char* data, size_t n) {
    if (n == 0) return true;  // a zero-size chunk would end the body
    char size[32];
    archway::Utf8Builder b(size, sizeof(size));
    static const char kHex[] = "0123456789abcdef";
    char digits[16];
    size_t k = 0;
    size_t v = n;
    do {
        digits[k++] = kHex[v & 0xF];
        v >>= 4;
    } while (v);
    while (k) b.ch(digits[--k]);
    b.raw("\r\n");
    // One send for size, data and CRLF, so each chunk leaves as one piece (TCP_NODELAY is on).
    Bytes chunk;
    chunk.append(b.c_str(), b.size());
    chunk.append(data, n);
    chunk.append("\r\n", 2);
    return chunk.ok() && send_all(r->conn, chunk.data(), chunk.size());
}

bool end_chunked(Request* r) {
    static const char kEnd[] = "0\r\n\r\n";
    return send_all(r->conn, kEnd, sizeof(kEnd) - 1);
}

void serve_connection(Connection* c) {
    const int nodelay = 1;
    setsockopt(c->socket, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&nodelay), sizeof(nodelay));
    Request* r = new (archway::nothrow) Request();
    if (!r) return;
    while (!c->broken) {
        bool too_large = false;
        r->conn = c;
        if (!read_head(c, r, &too_large)) {
            if (too_large) {
                r->keep_alive = false;
                respond(r, 431, "Request Header Fields Too Large", "text/plain", "head too large\n", 15);
            }
            break;
        }
        if (!parse_head(r)) {
            log_malformed(r, "a malformed request head");
            r->keep_alive = false;
            respond(r, 400, "Bad Request", "text/plain", "malformed request\n", 18);
            break;
        }
        const bool keep = route(r);
        if (!keep || !r->keep_alive || c->broken) break;
        // Whatever the route left of the body is read and dropped before the next request.
        char sink[16384];
        int got;
        while ((got = read_body(r, sink, sizeof(sink))) > 0) {
        }
        if (got < 0) break;
    }
    delete r;
}

}  // namespace backend
