// module/src/shim.h: what the shim's files share: process state, the handler table, selection,
// and the ArchwayRequest implementation (docs/iis.md §4; archway/handler_abi.h, ABI 1.1).
//
// Files: shim.cpp (RegisterModule, the request module, the global module), handlers.cpp (loading
// handlers, several at once, with back-off and an in-flight count), select.cpp (which handler an
// application uses, from IIS's configuration), request.cpp (the ArchwayRequest callbacks, incl.
// read_config over IAppHostAdminManager).
#pragma once

#include "archway/ahadmin.h"
#include "archway/handler_abi.h"
#include "archway/httpserv.h"
#include "archway/memory.h"
#include "archway/text.h"

namespace shim {

constexpr DWORD kPathCapacity = 2048;     // UTF-16 units for one full path (incl. NUL)
constexpr size_t kMessageCapacity = 4096;  // UTF-16 units for one error message
constexpr size_t kHandlerNameMax = 32;

// Set once by RegisterModule; read-only afterwards.
struct Process {
    HMODULE self;               // this DLL (from DllMain)
    IHttpServer* server;        // from RegisterModule, kept for the module's lifetime
    wchar_t shim_path[kPathCapacity];
    size_t shim_path_length;
    size_t folder_length;       // of shim_path, including the trailing backslash
    wchar_t suffix[kPathCapacity];  // "x64" for archway_x64.dll, empty for archway.dll
    bool detailed_errors;       // ARCHWAY_DETAILED_ERRORS, read once in RegisterModule
};
extern Process g_process;

// Process-heap memory freed on scope exit.
template <typename T> class HeapBuffer {
public:
    explicit HeapBuffer(size_t count) : p_(static_cast<T*>(archway::heap_alloc(count * sizeof(T)))) {}
    ~HeapBuffer() { archway::heap_free(p_); }
    T* get() const { return p_; }
    HeapBuffer(const HeapBuffer&) = delete;
    HeapBuffer& operator=(const HeapBuffer&) = delete;

private:
    T* p_;
};

void log_message(archway::WideBuilder& message);  // OutputDebugStringW, one line
const char* default_reason(uint16_t status);       // "OK", "Bad Gateway", ...; "" if unknown
bool valid_handler_name(const char* name, size_t length);

// ---- handlers.cpp ----
struct HandlerEntry;
// The entry for handler `name` (valid name), created on first use; entries live as long as the
// process. Null only when the table is full or memory is exhausted (`message` says so).
HandlerEntry* handler_entry(const char* name, archway::WideBuilder& message);
// Makes sure the handler is loaded (or a recent failure is remembered) and counts the caller in.
// False with `message` saying why it cannot be used. On true, the caller must handler_leave.
bool handler_enter(HandlerEntry* entry, archway::WideBuilder& message);
void handler_leave(HandlerEntry* entry);
const ArchwayHandler& handler_of(const HandlerEntry* entry);
// Terminate: every handler is closed and unloaded once no request is inside it.
void close_all_handlers();
// GL_APPLICATION_STOP: stop_application on every loaded handler that has it.
void stop_application_all(const char* app_config_path);

// ---- select.cpp ----
// The handler name (NUL-terminated, valid) for the request's application, from configuration:
// system.webServer/archway @handler, else "platform" when system.webServer/httpPlatform has a
// processPath, else "diagnostics". Cached per application config path. False with `message`
// (naming the attribute) when the configuration is unusable.
bool select_handler(IHttpContext* context, char (&name)[kHandlerNameMax + 1],
                    archway::WideBuilder& message);
void forget_application(const wchar_t* app_config_path);

// ---- request.cpp ----
struct ShimRequest;
// A heap request for `context`, served by `entry` (whose in-flight count the caller holds; the
// request gives it back when it ends). Null when out of memory.
ShimRequest* request_create(IHttpContext* context, HandlerEntry* entry);
ArchwayRequest* request_abi(ShimRequest* request);
// execute returned: ARCHWAY_S_PENDING → RQ_NOTIFICATION_PENDING unless complete already ran;
// otherwise the request ends now (error answers as needed). Frees the request when it ends.
REQUEST_NOTIFICATION_STATUS request_after_execute(ShimRequest* request, HRESULT hr);
// OnAsyncCompletion after complete's PostCompletion: ends the request and frees it.
REQUEST_NOTIFICATION_STATUS request_after_completion(ShimRequest* request);
// The IIS context of a request, and its WebSocket state (duplex.cpp; null until accepted).
struct Duplex;
IHttpContext* request_http_context(ArchwayRequest* request);
Duplex*& request_duplex(ArchwayRequest* request);

// ---- duplex.cpp (ABI 1.2 WebSocket: docs/iis.md §9) ----
void duplex_install(ArchwayRequest* request);  // sets the websocket_* callbacks
void duplex_free(Duplex* duplex);

// Answers (request thread only): the whole response, and a 500 with the detail gated by
// ARCHWAY_DETAILED_ERRORS.
HRESULT send_response(IHttpContext* context, uint16_t status, const char* reason,
                      const char* content_type, const void* body, uint32_t body_length);
void send_error(IHttpContext* context, const wchar_t* message, size_t length);

}  // namespace shim
