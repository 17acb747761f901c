// archway/http_parse.h: the pieces of HTTP/1.1 message parsing that the worker stand-in
// (tests/worker) and the test backend (tests/backend) share: comma-separated token lists,
// hexadecimal digits, chunk-size lines (RFC 9112 §7.1), and Winsock send and wait helpers.
//
// Freestanding like text.h: nothing here allocates; every function works on the caller's bytes.
#pragma once

#include "archway/text.h"
#include "archway/winsock.h"

namespace archway {
namespace http {

// The value of a hexadecimal digit, or -1.
inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Whether the comma-separated list `value` (a Connection or Transfer-Encoding value, say)
// holds `token`, case-insensitively; blanks around the elements are ignored.
inline bool has_token(const char* value, size_t n, const char* token) {
    const size_t t = length(token);
    size_t i = 0;
    while (i < n) {
        while (i < n && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) ++i;
        size_t j = i;
        while (j < n && value[j] != ',') ++j;
        size_t e = j;
        while (e > i && (value[e - 1] == ' ' || value[e - 1] == '\t')) --e;
        if (equal_nocase(value + i, e - i, token, t)) return true;
        i = j;
    }
    return false;
}

// A chunk-size line without its CRLF: hexadecimal digits (at most 15, so the size fits in 60
// bits), optional blanks, then nothing or a ';' that starts chunk extensions (ignored). False
// for anything else.
inline bool parse_chunk_size(const char* line, size_t n, uint64_t* size) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n; ++i) {
        const int d = hex_value(line[i]);
        if (d < 0) break;
        if (i >= 15) return false;
        v = v * 16 + static_cast<uint64_t>(d);
    }
    if (i == 0) return false;
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < n && line[i] != ';') return false;
    *size = v;
    return true;
}

// Sends all `n` bytes on a blocking socket; false when the connection fails first.
inline bool send_all(SOCKET s, const char* data, size_t n) {
    while (n > 0) {
        const int piece = n > 0x100000 ? 0x100000 : static_cast<int>(n);
        const int sent = send(s, data, piece, 0);
        if (sent <= 0) return false;
        data += sent;
        n -= static_cast<size_t>(sent);
    }
    return true;
}

// Waits up to `ms` for `s` to become readable: 1 readable (or closed by the peer), 0 timed
// out, -1 error.
inline int wait_readable(SOCKET s, DWORD ms) {
    fd_set set;
    set.fd_count = 1;
    set.fd_array[0] = s;
    timeval tv;
    tv.tv_sec = static_cast<long>(ms / 1000);
    tv.tv_usec = static_cast<long>((ms % 1000) * 1000);
    const int r = select(0, &set, nullptr, nullptr, &tv);
    if (r < 0) return -1;
    return r > 0 ? 1 : 0;
}

}  // namespace http
}  // namespace archway
