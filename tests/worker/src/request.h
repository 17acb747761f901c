// tests/worker/src/request.h: one connection and one request/response, shared by http.cpp (the
// wire) and iis_objects.cpp (what modules see through IHttpContext/IHttpRequest/IHttpResponse).
#pragma once

#include "worker.h"

namespace worker {

struct Connection {
    SOCKET socket;
    sockaddr_in local;
    sockaddr_in remote;
    const Site* site;
    const Binding* binding;
    Vec<char> in;       // received bytes not consumed yet
    bool broken;        // the peer went away or a socket call failed
    HANDLE event;       // auto-reset: async completion of a pending notification (iis_objects)
};

struct Header {
    const char* name;   // NUL-terminated (request arena)
    size_t name_length;
    const char* value;  // NUL-terminated
    size_t value_length;
    bool deleted;
};

// How the request body is framed and how much of it is left.
struct BodyState {
    enum Mode { kNone, kLength, kChunked } mode;
    uint64_t remaining;    // kLength: bytes left; kChunked: bytes left in the current chunk
    bool chunk_open;       // kChunked: inside a chunk's data (its size line was read)
    bool done;             // everything (incl. a chunked body's trailers) has been consumed
    bool failed;           // malformed framing or the connection broke: close after responding
    bool expect_continue;  // "Expect: 100-continue" not yet answered
    uint64_t received;     // body bytes handed to the module so far
};

struct Request {
    Connection* conn;
    const App* app;           // the application serving the URL (iis_objects.cpp)
    Arena arena;

    // The request head (copies in the arena).
    const char* method;
    size_t method_length;
    const char* raw_url;      // the request-target as sent (origin form)
    const char* path;         // percent-decoded, dot segments removed (URL)
    size_t path_length;
    const char* query;        // after '?', as sent (QUERY_STRING)
    size_t query_length;
    USHORT major, minor;
    Vec<Header> headers;
    const char* raw_head;     // request line + headers (ALL_RAW is the headers part)
    size_t raw_head_length;
    const char* raw_headers;  // the header lines as received, for ALL_RAW
    size_t raw_headers_length;
    bool keep_alive;          // what the client asked for (HTTP/1.1 default, 1.0 opt-in)
    bool keep;                // decided when the head is sent: the connection stays open
    bool is_head;             // HEAD: the response has headers only
    bool url_changed;
    BodyState body;

    // The response.
    USHORT status;
    USHORT sub_status;
    const char* reason;       // null: the default for the status
    HRESULT error_status;     // IHttpEventProvider::SetErrorStatus / SetStatus hrErrorToReport
    bool touched;             // a module set a status, a header or wrote a body
    Vec<Header> response_headers;
    Vec<char> response_body;  // buffered, not yet sent
    bool head_sent;           // status line and headers are on the wire
    bool chunked;             // the body is sent with Transfer-Encoding: chunked
    bool close_delimited;     // HTTP/1.0 streaming: the body ends when the connection closes
    bool buffering_disabled;
    bool headers_suppressed;
    bool need_disconnect;     // SetNeedDisconnect: close after this response
    bool reset;               // ResetConnection/CloseConnection: close without finishing
    bool finished;            // the terminating chunk (or the whole buffered body) was sent
    uint64_t body_bytes_sent;
    const wchar_t* error_description;
    DWORD error_description_length;

    // Server variables a module set or that were computed once (name → values).
    struct Variable {
        const char* name;
        const char* value;
        size_t length;
        const wchar_t* wide;
        size_t wide_length;
        Variable* next;
    };
    Variable* variables;
};

// --- http.cpp: the wire side, called by the IIS objects. ---
// Reads up to `capacity` body bytes; 0 at the end of the body. False on a framing or socket
// error (`*read` is 0 then).
bool body_read(Request* r, void* buffer, DWORD capacity, DWORD* read);
// What GetRemainingEntityBytes reports: Content-Length bytes left, or for a chunked body the
// bytes left in the current chunk (reading the next chunk's size line if needed; 0 at the end).
DWORD body_remaining(Request* r);
// Sends the status line and headers (once) and the buffered body as one chunk (or raw bytes
// for a Content-Length or HTTP/1.0 response). False when the connection broke.
bool response_flush(Request* r);
// Default reason phrase for a status code ("OK", "Not Found", ...).
const char* default_reason(USHORT status);

// --- iis_objects.cpp: the module side, called by http.cpp for each parsed request. ---
// Runs the IIS request pipeline for `r` (or answers 503 when a global module failed to load).
// When it returns, the response is complete in `r` but maybe not yet sent.
void process_request(Request* r);

}  // namespace worker
