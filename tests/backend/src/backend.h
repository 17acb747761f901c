// tests/backend/src/backend.h: what the test backend's files share: output, buffers, the
// connection and request model, SHA-256, and the process-wide settings from the command line.
//
// The backend is a small HTTP/1.1 server on Winsock (http.cpp), one thread per connection, whose
// answer is chosen by the request path (routes.cpp). main.cpp reads the command line, applies
// the startup behaviours and listens. Freestanding like everything native here
// (docs/toolchains.md §4): our own declarations from native/include/archway, plus the few below that they lack.
#pragma once

#include "archway/memory.h"
#include "archway/text.h"
#include "archway/winsock.h"

// CreateFileW values the shared win32.h does not define (fileapi.h / winnt.h).
#define BACKEND_FILE_APPEND_DATA 0x00000004u
#define BACKEND_FILE_SHARE_DELETE 0x00000004u
#define BACKEND_OPEN_ALWAYS 4u

namespace backend {

// ---------------------------------------------------------------------------------------------
// Output: whole lines, one WriteFile each, under a lock. Both add the "archway_backend: " prefix
// and the newline. stdout is what a stdout log captures; stderr too.
void out_line(const char* utf8, size_t n);
void err_line(const char* utf8, size_t n);
inline void out_line(const archway::Utf8Builder& b) { out_line(b.c_str(), b.size()); }
inline void err_line(const archway::Utf8Builder& b) { err_line(b.c_str(), b.size()); }

// ---------------------------------------------------------------------------------------------
// A growable byte buffer on the process heap; growth failures make `ok()` false, never crash.
class Bytes {
public:
    Bytes() = default;
    Bytes(const Bytes&) = delete;
    Bytes& operator=(const Bytes&) = delete;
    ~Bytes() { archway::heap_free(data_); }

    bool reserve(size_t n);
    bool append(const char* s, size_t n);
    bool append(const char* s) { return append(s, archway::length(s)); }
    void erase_front(size_t n);
    void clear() { size_ = 0; }
    char* data() { return data_; }
    const char* data() const { return data_; }
    size_t size() const { return size_; }
    bool ok() const { return ok_; }

private:
    char* data_ = nullptr;
    size_t size_ = 0;
    size_t cap_ = 0;
    bool ok_ = true;
};

// JSON into a Bytes: a thin layer over Utf8Builder's escaping, without a size limit.
class Json {
public:
    explicit Json(Bytes* out) : out_(out) {}
    Json& raw(const char* s) { out_->append(s); return *this; }
    Json& raw(const char* s, size_t n) { out_->append(s, n); return *this; }
    Json& str(const char* s, size_t n);   // a JSON string from UTF-8 (invalid bytes -> U+FFFD)
    Json& str(const char* s) { return str(s, archway::length(s)); }
    Json& wstr(const wchar_t* s);         // a JSON string from UTF-16
    Json& num(uint64_t v);
    Json& key(const char* name) { str(name); out_->append(":", 1); return *this; }

private:
    Bytes* out_;
};

// ---------------------------------------------------------------------------------------------
// SHA-256 (sha256.cpp), streamed.
struct Sha256 {
    uint32_t state[8];
    uint64_t total;
    uint8_t block[64];
    size_t used;
    void init();
    void update(const void* data, size_t n);
    void hex(char out[65]);  // finishes; lower-case hex, NUL-terminated
};

// ---------------------------------------------------------------------------------------------
// Connections and requests (http.cpp).
struct Header {
    const char* name;
    size_t name_length;
    const char* value;
    size_t value_length;
};

constexpr size_t kMaxHeaders = 128;

struct Connection {
    SOCKET socket;
    uint16_t peer_port;
    Bytes in;     // received bytes not consumed yet
    bool broken;  // the peer went away or a socket call failed
};

struct Request {
    Connection* conn;
    Bytes head;   // request line and header lines, NUL-terminated pieces point into it
    const char* method;
    size_t method_length;
    const char* target;  // the request-target as sent (path and query)
    size_t target_length;
    const char* path;    // the target up to '?'
    size_t path_length;
    const char* query;   // after '?' ("" when none)
    size_t query_length;
    const char* version;
    size_t version_length;
    Header headers[kMaxHeaders];
    size_t header_count;
    bool keep_alive;
    // The body: Content-Length or chunked, read by read_body.
    bool chunked;
    uint64_t remaining;  // Content-Length: bytes left; chunked: bytes left in this chunk
    bool body_done;
    bool body_failed;
    bool expect_continue;
};

// The value of header `name` (case-insensitive), or null.
const Header* find_header(const Request* r, const char* name);
// Reads the next body bytes: > 0 bytes, 0 at the end, -1 on a framing or connection error.
int read_body(Request* r, char* buffer, size_t capacity);

// Responses. `extra` is "Name: value\r\n" lines (or null).
bool send_all(Connection* c, const char* data, size_t n);
bool respond(Request* r, uint16_t status, const char* reason, const char* content_type,
             const char* body, size_t length, const char* extra = nullptr);
bool begin_chunked(Request* r, uint16_t status, const char* reason, const char* content_type,
                   const char* extra = nullptr);
bool send_chunk(Request* r, const char* data, size_t n);
bool end_chunked(Request* r);
// A response with Content-Length whose body follows in pieces (send_all).
bool begin_sized(Request* r, uint16_t status, const char* reason, const char* content_type,
                 uint64_t length);

// Serves one connection until it closes (called on its own thread).
void serve_connection(Connection* c);

// ---------------------------------------------------------------------------------------------
// Routes (routes.cpp): answers one request. False closes the connection afterwards.
bool route(Request* r);

// Query parameters: the percent-decoded value of `name` into `out` (NUL-terminated); false when
// absent or too long.
bool query_param(const Request* r, const char* name, char* out, size_t capacity);
// A decimal parameter, or `fallback` when absent or not a number.
uint64_t query_number(const Request* r, const char* name, uint64_t fallback);

// ---------------------------------------------------------------------------------------------
// The process (main.cpp).
struct Settings {
    uint16_t port;              // the port it listens on
    const wchar_t* command_line;
    DWORD pid;
    volatile long requests;     // requests answered so far (interlocked by the one lock below)
};
extern Settings g_settings;
extern SRWLOCK g_lock;  // requests counter and the SSE table (routes.cpp)

// Decimal parse of a whole string; false on anything but 1..20 digits.
bool parse_u64(const char* s, size_t n, uint64_t* out);
bool parse_u64(const wchar_t* s, uint64_t* out);

}  // namespace backend
