// tests/backend/src/routes.cpp: what the backend answers, chosen by the request path.
//
//   /crash?code=N          exits the process at once (code N, default 7), answering nothing
//   /slow?head_ms=A&chunks=K&chunk_ms=B
//                          waits A ms before the headers, then sends K chunks ("chunk i\n"),
//                          B ms apart (K = 0: a fixed body "slow\n" after A ms)
//   /sse?id=X&events=N     an event stream: "event 1" at once; event n+1 only after /sse/release
//                          for X has been called n times (so a test decides when the backend
//                          may send the next event: no timing in the assertion), 60 s at most
//                          (&comment_after=1: each event is followed by a comment chunk)
//   /sse/release?id=X      lets stream X send its next event; answers {"id","released","sent"}
//                          with the number of events X had sent before this release
//   /large?bytes=N[&chunked=1]
//                          N bytes, byte i = i % 251, streamed in 64 KiB pieces
//   /log?stdout=T&stderr=U writes the line T to stdout and U to stderr (for the log tests)
//   /status?code=N         answers status N with a short text body
//   /ws[?hello=1]          a WebSocket echo (ws.cpp)
//   /token                 the Windows auth token forwarded by the platform handler
//                          (forwardWindowsAuthToken): {"count", "header", "valid", "sid",
//                          "own_sid", "error"}: how many X-IIS-WindowsAuthToken headers came,
//                          the first one's value, whether it names a token handle of THIS
//                          process (GetTokenInformation(TokenUser) on it), that token's user
//                          SID, this process's own user SID, and the Win32 error of a failed
//                          query (0 otherwise); the handle is closed afterwards, as the child's
//                          duty is (docs/httpplatform.md §3)
//   anything else          echo, as JSON: method, URL, version, every header in order, the
//                          body's length and SHA-256 (and text when at most 4096 bytes), the
//                          process id and command line, HTTP_PLATFORM_PORT, the port it listens
//                          on, and environment variables (HTTP_PLATFORM_* and those named by
//                          ?env=A,B)
#include "backend.h"
#include "ws.h"

namespace backend {

namespace {

bool path_is(const Request* r, const char* p) {
    return archway::equal(r->path, r->path_length, p, archway::length(p));
}

// ---------------------------------------------------------------------------------------------
// Server-sent events, synchronised by the test.
struct Stream {
    char id[64];
    uint32_t released;
    uint32_t sent;
    bool used;
};
Stream g_streams[32];

Stream* stream_for(const char* id) {
    // Under g_lock. Finds or makes the entry for `id`; null when the table is full.
    for (Stream& s : g_streams)
        if (s.used && archway::equal(s.id, archway::length(s.id), id, archway::length(id))) return &s;
    for (Stream& s : g_streams) {
        if (!s.used) {
            s.used = true;
            s.released = 0;
            s.sent = 0;
            const size_t n = archway::length(id);
            memcpy(s.id, id, n + 1);
            return &s;
        }
    }
    return nullptr;
}

bool sse(Request* r) {
    char id[64];
    if (!query_param(r, "id", id, sizeof(id))) memcpy(id, "default", 8);
    const uint64_t events = query_number(r, "events", 3);
    const bool comment_after = query_number(r, "comment_after", 0) == 1;
    AcquireSRWLockExclusive(&g_lock);
    Stream* s = stream_for(id);
    if (s) {
        s->released = 0;
        s->sent = 0;
    }
    ReleaseSRWLockExclusive(&g_lock);
    if (!s) return respond(r, 503, "Service Unavailable", "text/plain", "too many streams\n", 17);
    if (!begin_chunked(r, 200, "OK", "text/event-stream", "Cache-Control: no-cache\r\n")) return false;
    for (uint64_t n = 1; n <= events; ++n) {
        // Event n waits for n - 1 releases (60 s at most, then the stream says so and ends).
        const ULONGLONG deadline = GetTickCount64() + 60000;
        bool released = false;
        while (!released) {
            AcquireSRWLockShared(&g_lock);
            released = s->released >= n - 1;
            ReleaseSRWLockShared(&g_lock);
            if (released) break;
            if (GetTickCount64() > deadline) {
                static const char kTimeout[] = "event: timeout\ndata: no release within 60 s\n\n";
                send_chunk(r, kTimeout, sizeof(kTimeout) - 1);
                end_chunked(r);
                return false;
            }
            Sleep(10);
        }
        char event[128];
        archway::Utf8Builder e(event, sizeof(event));
        e.raw("id: ").u64(n).raw("\nevent: tick\ndata: event ").u64(n).raw("\n\n");
        if (!send_chunk(r, e.c_str(), e.size())) return false;
        if (comment_after) {
            // An SSE comment in a chunk of its own: a reader that holds a chunk back until the
            // next chunk's size line arrives (Wine 8's WinHTTP) then still passes the event on.
            char comment[64];
            archway::Utf8Builder c(comment, sizeof(comment));
            c.raw(": after event ").u64(n).raw("\n\n");
            if (!send_chunk(r, c.c_str(), c.size())) return false;
        }
        AcquireSRWLockExclusive(&g_lock);
        s->sent = static_cast<uint32_t>(n);
        ReleaseSRWLockExclusive(&g_lock);
    }
    return end_chunked(r);
}

bool sse_release(Request* r) {
    char id[64];
    if (!query_param(r, "id", id, sizeof(id))) memcpy(id, "default", 8);
    AcquireSRWLockExclusive(&g_lock);
    Stream* s = stream_for(id);
    uint32_t released = 0, sent = 0;
    if (s) {
        sent = s->sent;
        released = ++s->released;
    }
    ReleaseSRWLockExclusive(&g_lock);
    Bytes body;
    Json j(&body);
    j.raw("{").key("id").str(id).raw(",").key("released").num(released).raw(",").key("sent").num(sent).raw("}");
    return respond(r, 200, "OK", "application/json", body.data(), body.size());
}

// ---------------------------------------------------------------------------------------------
bool slow(Request* r) {
    const uint64_t head_ms = query_number(r, "head_ms", 0);
    const uint64_t chunks = query_number(r, "chunks", 0);
    const uint64_t chunk_ms = query_number(r, "chunk_ms", 0);
    Sleep(static_cast<DWORD>(head_ms > 600000 ? 600000 : head_ms));
    if (chunks == 0) return respond(r, 200, "OK", "text/plain", "slow\n", 5);
    if (!begin_chunked(r, 200, "OK", "text/plain")) return false;
    for (uint64_t i = 1; i <= chunks; ++i) {
        if (i > 1) Sleep(static_cast<DWORD>(chunk_ms > 60000 ? 60000 : chunk_ms));
        char text[64];
        archway::Utf8Builder t(text, sizeof(text));
        t.raw("chunk ").u64(i).raw("\n");
        if (!send_chunk(r, t.c_str(), t.size())) return false;
    }
    return end_chunked(r);
}

bool large(Request* r) {
    const uint64_t total = query_number(r, "bytes", 1 << 20);
    const bool chunked = query_number(r, "chunked", 0) == 1;
    char* piece = static_cast<char*>(archway::heap_alloc(65536));
    if (!piece) return respond(r, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
    bool ok = chunked ? begin_chunked(r, 200, "OK", "application/octet-stream")
                      : begin_sized(r, 200, "OK", "application/octet-stream", total);
    uint64_t at = 0;
    while (ok && at < total) {
        const size_t n = total - at < 65536 ? static_cast<size_t>(total - at) : 65536;
        for (size_t i = 0; i < n; ++i) piece[i] = static_cast<char>((at + i) % 251);
        ok = chunked ? send_chunk(r, piece, n) : send_all(r->conn, piece, n);
        at += n;
    }
    if (ok && chunked) ok = end_chunked(r);
    archway::heap_free(piece);
    return ok;
}

bool log(Request* r) {
    char text[2048];
    if (query_param(r, "stdout", text, sizeof(text))) out_line(text, archway::length(text));
    if (query_param(r, "stderr", text, sizeof(text))) err_line(text, archway::length(text));
    return respond(r, 200, "OK", "application/json", "{\"logged\":true}", 15);
}

// ---------------------------------------------------------------------------------------------
// The forwarded Windows auth token (advapi32: the backend is a test program; nothing shipped
// imports advapi32).
extern "C" __declspec(dllimport) BOOL WINAPI OpenProcessToken(HANDLE process, DWORD access,
                                                              HANDLE* token);  // @12
extern "C" __declspec(dllimport) BOOL WINAPI GetTokenInformation(HANDLE token, int information_class,
                                                                 void* information, DWORD length,
                                                                 DWORD* returned);  // @20
constexpr int kTokenUser = 1;  // TOKEN_INFORMATION_CLASS TokenUser: TOKEN_USER
constexpr DWORD kTokenQuery = 0x0008;

// "S-1-5-21-…" of the TokenUser SID of `token` into `out`; the Win32 error, or 0.
DWORD token_sid(HANDLE token, archway::Utf8Builder& out) {
    alignas(8) unsigned char buffer[256];
    DWORD returned = 0;
    if (!GetTokenInformation(token, kTokenUser, buffer, sizeof(buffer), &returned)) return GetLastError();
    // TOKEN_USER { SID_AND_ATTRIBUTES { PSID Sid; DWORD Attributes; } }; a SID is Revision (1
    // byte), SubAuthorityCount (1), IdentifierAuthority (6, big-endian), SubAuthority[] (DWORDs).
    const unsigned char* sid = *reinterpret_cast<unsigned char* const*>(buffer);
    uint64_t authority = 0;
    for (int i = 2; i < 8; ++i) authority = (authority << 8) | sid[i];
    out.raw("S-").u32(sid[0]).raw("-").u64(authority);
    for (unsigned i = 0; i < sid[1] && i < 15; ++i) {
        uint32_t sub;
        memcpy(&sub, sid + 8 + 4 * i, 4);
        out.raw("-").u32(sub);
    }
    return 0;
}

bool token(Request* r) {
    size_t count = 0;
    const Header* first = nullptr;
    for (size_t i = 0; i < r->header_count; ++i) {
        const Header& h = r->headers[i];
        if (archway::equal_nocase(h.name, h.name_length, "X-IIS-WindowsAuthToken", 22)) {
            if (!first) first = &h;
            ++count;
        }
    }
    char sid_text[256], own_text[256];
    archway::Utf8Builder sid(sid_text, sizeof(sid_text)), own(own_text, sizeof(own_text));
    DWORD error = 0;
    bool valid = false;
    if (first) {
        uint64_t value = 0;
        bool parsed = first->value_length > 0 && first->value_length <= 16;
        for (size_t i = 0; parsed && i < first->value_length; ++i) {
            const char c = first->value[i];
            const int d = c >= '0' && c <= '9' ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
            parsed = d >= 0;
            value = (value << 4) | static_cast<uint64_t>(d < 0 ? 0 : d);
        }
        if (!parsed) {
            error = 13;  // ERROR_INVALID_DATA: not a hexadecimal handle value
        } else {
            const HANDLE handle = reinterpret_cast<HANDLE>(static_cast<uintptr_t>(value));
            error = token_sid(handle, sid);
            valid = error == 0;
            if (valid) CloseHandle(handle);  // the child's duty (v1.2's documentation)
        }
    }
    HANDLE self = nullptr;
    if (OpenProcessToken(GetCurrentProcess(), kTokenQuery, &self)) {
        token_sid(self, own);
        CloseHandle(self);
    }
    Bytes body;
    Json j(&body);
    j.raw("{").key("count").num(count).raw(",").key("header");
    if (first) {
        j.str(first->value, first->value_length);
    } else {
        j.raw("null");
    }
    j.raw(",").key("valid").raw(valid ? "true" : "false").raw(",").key("sid").str(sid.c_str());
    j.raw(",").key("own_sid").str(own.c_str()).raw(",").key("error").num(error).raw("}");
    return respond(r, 200, "OK", "application/json", body.data(), body.size());
}

bool status(Request* r) {
    const uint64_t code = query_number(r, "code", 200);
    const uint16_t s = code >= 200 && code <= 599 ? static_cast<uint16_t>(code) : 500;
    char text[64];
    archway::Utf8Builder t(text, sizeof(text));
    t.raw("status ").u32(s).raw("\n");
    return respond(r, s, "Chosen", "text/plain", t.c_str(), t.size());
}

// ---------------------------------------------------------------------------------------------
void env_entry(Json& j, const wchar_t* name, bool* first) {
    static wchar_t value[32768];  // under g_lock (the largest environment value)
    if (!*first) j.raw(",");
    *first = false;
    char key[256];
    archway::Utf8Builder k(key, sizeof(key));
    k.utf16(name);
    j.key(key);
    AcquireSRWLockExclusive(&g_lock);
    const DWORD n = GetEnvironmentVariableW(name, value, 32768);
    if (n == 0 || n >= 32768) {
        j.raw("null");
    } else {
        j.wstr(value);
    }
    ReleaseSRWLockExclusive(&g_lock);
}

bool echo(Request* r) {
    // The body first: streamed through SHA-256, the first 4096 bytes kept.
    Sha256 sha;
    sha.init();
    Bytes kept;
    char* buffer = static_cast<char*>(archway::heap_alloc(65536));
    if (!buffer) return respond(r, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
    uint64_t length = 0;
    const bool chunked = r->chunked;
    int got;
    while ((got = read_body(r, buffer, 65536)) > 0) {
        sha.update(buffer, static_cast<size_t>(got));
        if (kept.size() < 4097) kept.append(buffer, kept.size() + got > 4097 ? 4097 - kept.size() : static_cast<size_t>(got));
        length += static_cast<uint64_t>(got);
    }
    archway::heap_free(buffer);
    if (got < 0) {
        char line[160];
        archway::Utf8Builder m(line, sizeof(line));
        m.raw("the request body broke off after ").u64(length).raw(" bytes (").raw(r->chunked ? "chunked" : "Content-Length").raw(" framing)");
        err_line(m);
        r->keep_alive = false;
        respond(r, 400, "Bad Request", "text/plain", "the request body broke off\n", 27);
        return false;
    }
    char digest[65];
    sha.hex(digest);

    AcquireSRWLockExclusive(&g_lock);
    const uint64_t number = static_cast<uint64_t>(++g_settings.requests);
    ReleaseSRWLockExclusive(&g_lock);

    Bytes body;
    Json j(&body);
    j.raw("{").key("backend").str("archway_backend").raw(",").key("arch").str(ARCHWAY_ARCH_NAME);
    j.raw(",").key("pid").num(g_settings.pid).raw(",").key("command_line").wstr(g_settings.command_line);
    j.raw(",").key("port").num(g_settings.port).raw(",").key("request_number").num(number);
    j.raw(",").key("client_port").num(r->conn->peer_port);
    j.raw(",").key("method").str(r->method, r->method_length);
    j.raw(",").key("url").str(r->target, r->target_length);
    j.raw(",").key("path").str(r->path, r->path_length);
    j.raw(",").key("query").str(r->query, r->query_length);
    j.raw(",").key("version").str(r->version, r->version_length);
    j.raw(",").key("headers").raw("[");
    for (size_t i = 0; i < r->header_count; ++i) {
        if (i) j.raw(",");
        j.raw("[").str(r->headers[i].name, r->headers[i].name_length).raw(",").str(r->headers[i].value, r->headers[i].value_length).raw("]");
    }
    j.raw("]");
    j.raw(",").key("body").raw("{").key("length").num(length).raw(",").key("sha256").str(digest);
    j.raw(",").key("chunked").raw(chunked ? "true" : "false");
    if (length <= 4096) j.raw(",").key("text").str(kept.data() ? kept.data() : "", kept.size());
    j.raw("}");
    j.raw(",").key("env").raw("{");
    bool first = true;
    env_entry(j, L"HTTP_PLATFORM_PORT", &first);
    env_entry(j, L"HTTP_PLATFORM_TOKEN", &first);
    env_entry(j, L"HTTP_PLATFORM_APPL_PATH", &first);
    char names[1024];
    if (query_param(r, "env", names, sizeof(names))) {
        size_t i = 0;
        const size_t n = archway::length(names);
        while (i < n) {
            size_t e = i;
            while (e < n && names[e] != ',') ++e;
            wchar_t name[256];
            size_t k = 0;
            for (size_t c = i; c < e && k < 255; ++c) name[k++] = static_cast<wchar_t>(static_cast<uint8_t>(names[c]));
            name[k] = 0;
            if (k) env_entry(j, name, &first);
            i = e + 1;
        }
    }
    j.raw("}}");
    if (!body.ok()) return respond(r, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
    return respond(r, 200, "OK", "application/json", body.data(), body.size());
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool query_param(const Request* r, const char* name, char* out, size_t capacity) {
    const char* q = r->query;
    const size_t n = r->query_length;
    const size_t name_length = archway::length(name);
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && q[e] != '&') ++e;
        size_t eq = i;
        while (eq < e && q[eq] != '=') ++eq;
        if (archway::equal(q + i, eq - i, name, name_length)) {
            size_t k = 0;
            for (size_t c = eq + 1; c < e; ++c) {
                if (k + 1 >= capacity) return false;
                char ch = q[c];
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && c + 2 < e && hex_value(q[c + 1]) >= 0 && hex_value(q[c + 2]) >= 0) {
                    ch = static_cast<char>(hex_value(q[c + 1]) * 16 + hex_value(q[c + 2]));
                    c += 2;
                }
                out[k++] = ch;
            }
            if (capacity == 0) return false;
            out[k] = 0;
            return true;
        }
        i = e + 1;
    }
    return false;
}

uint64_t query_number(const Request* r, const char* name, uint64_t fallback) {
    char text[24];
    uint64_t v = 0;
    if (!query_param(r, name, text, sizeof(text)) || !parse_u64(text, archway::length(text), &v)) return fallback;
    return v;
}

bool route(Request* r) {
    if (path_is(r, "/crash")) {
        char line[64];
        archway::Utf8Builder m(line, sizeof(line));
        const uint64_t code = query_number(r, "code", 7);
        m.raw("crashing on request with exit code ").u64(code);
        err_line(m);
        ExitProcess(static_cast<UINT>(code));
    }
    if (path_is(r, "/slow")) return slow(r);
    if (path_is(r, "/sse")) return sse(r);
    if (path_is(r, "/sse/release")) return sse_release(r);
    if (path_is(r, "/large")) return large(r);
    if (path_is(r, "/log")) return log(r);
    if (path_is(r, "/status")) return status(r);
    if (path_is(r, "/ws")) return websocket(r);  // ws.cpp
    if (path_is(r, "/token")) return token(r);
    return echo(r);
}

}  // namespace backend
