// archway/handler_abi.h: the versioned C ABI between the shim (module/) and a handler DLL
// (handlers/<name>/). Plain C types only, so a handler may be written in any language that can
// export a C function; nothing of IIS crosses this line.
//
// Loading: for every request the shim needs a handler, loaded once from the shim's own folder by
// full path. The handler's file name carries the same architecture suffix as the shim's own:
// shim `archway_x64.dll` loads `archway_<handler>_x64.dll`; shim `archway.dll` (plain names, as
// installed on x64 Windows) loads `archway_<handler>.dll`.
//
// Handshake: the shim calls the export `ArchwayHandlerOpen(&host, &handler)` once.
//   * `host` and `handler` start with `struct_size` and `abi_version`. The major version is
//     ARCHWAY_HANDLER_ABI_VERSION; both sides refuse a different one with
//     HRESULT_FROM_WIN32(ERROR_REVISION_MISMATCH) (0x8007051A; ERROR_REVISION_MISMATCH is 1306).
//   * Later minor revisions may only append fields. A reader uses a field only when the other
//     side's `struct_size` covers it, so old shims and new handlers (and the reverse) work.
//   * On entry, `handler` is zeroed except `handler->struct_size`, which is the size of the
//     shim's buffer (sizeof(ArchwayHandler) as the shim was compiled). The handler writes no
//     more than that many bytes, sets `struct_size` to the number of bytes it filled and
//     returns S_OK; any failure HRESULT means "do not use".
// Requests: the shim calls `handler.execute(handler.state, &request)` on IIS's request thread,
// possibly on several threads at once. The request's callbacks are valid only during that call.
// Shutdown: the shim calls `handler.close(handler.state)` once when IIS terminates the module.
//
// Calling convention: ARCHWAY_CALL (__stdcall on x86, the platform convention elsewhere), for
// the export and for every function pointer.
#pragma once

#include "archway/win32.h"

#define ARCHWAY_HANDLER_ABI_VERSION 1u
#define ARCHWAY_HANDLER_OPEN_EXPORT "ArchwayHandlerOpen"

#if defined(_M_IX86)
#define ARCHWAY_CALL __stdcall
#else
#define ARCHWAY_CALL
#endif

// ABI 1.1 (a minor revision: fields appended to ArchwayRequest and ArchwayHandler).
//   * execute may return ARCHWAY_S_PENDING: the request then stays valid, from any thread,
//     until the handler calls request->complete (the shim returns RQ_NOTIFICATION_PENDING to
//     IIS, so no IIS thread waits for the handler). Any other result ends the request when
//     execute returns, as in 1.0.
//   * Streaming (send_head + write_body) and `respond` exclude each other per request.
#define ARCHWAY_HANDLER_ABI_MINOR 2u  // 1.2: see the ABI 1.2 block below
#define ARCHWAY_S_PENDING ((HRESULT)0x00040201L)      // success, FACILITY_ITF, code 0x201
#define ARCHWAY_E_NO_SECTION ((HRESULT)0x80040202L)   // failure, FACILITY_ITF, code 0x202
#define ARCHWAY_CONFIG_NO_ITEM 0xFFFFFFFFu
#define ARCHWAY_WRITE_FLUSH 0x1u

// ABI 1.2 (a minor revision: fields appended to ArchwayRequest, each marked "ABI 1.2").
//   * user_token: the authenticated user's primary token and authentication type, so a handler
//     can forward the token to another process (handlers/platform: forwardWindowsAuthToken).
//   * websocket_*: after send_head(101) on an upgrade request, the request carries WebSocket
//     fragments both ways through IIS's WebSocket module (docs/iis.md §9), until both sides
//     have sent a close (or websocket_abort); then the handler calls complete as usual.
#define ARCHWAY_WS_UTF8 0x1u   // a text (UTF-8) message's fragment; otherwise binary
#define ARCHWAY_WS_FINAL 0x2u  // the last fragment of its message
#define ARCHWAY_WS_CLOSE 0x4u  // read: the client sent a close (bytes 0; see websocket_close_status)

// True when the struct `s` (whose first field is its struct_size) covers `field`.
#define ARCHWAY_HAS(s, field) \
    ((s)->struct_size >= (uint32_t)((size_t)&((s)->field) - (size_t)(s) + sizeof((s)->field)))

#ifdef __cplusplus
extern "C" {
#endif

typedef void (ARCHWAY_CALL* ArchwayConfigVisitor)(void* user, const char* element,
                                                  uint32_t item, const char* attribute,
                                                  const char* value);

// What the shim tells a handler about itself. Lives as long as the shim.
struct ArchwayHost {
    uint32_t struct_size;          // sizeof(ArchwayHost) as the shim was compiled
    uint32_t abi_version;          // ARCHWAY_HANDLER_ABI_VERSION of the shim
    const wchar_t* shim_path;      // full path of the shim DLL whose code runs (behind an Arm64X
                                   // forwarder: the forwarded-to DLL, e.g. archway_x64.dll)
    uint16_t shim_machine;         // what the shim was compiled for: an IMAGE_FILE_MACHINE_*
                                   // value, with ARM64EC code reported as 0xA641
    uint16_t reserved;
    const char* product_version;   // "major.minor.patch.build", as in the VERSIONINFO
    const wchar_t* handler_path;   // full path of the handler DLL the shim loaded
};

// One request, as the handler sees it. Valid only during `execute`.
struct ArchwayRequest {
    uint32_t struct_size;
    void* context;                 // the shim's; opaque to the handler

    // An IIS server variable (e.g. "REQUEST_METHOD", "URL", "APP_POOL_ID") as UTF-8 bytes,
    // not NUL-terminated. The bytes stay valid until `execute` returns.
    HRESULT (ARCHWAY_CALL* get_server_variable)(struct ArchwayRequest* request, const char* name,
                                                const char** value, uint32_t* length);

    // Sends the whole response. `reason` and `content_type` are NUL-terminated ASCII; the body
    // is copied before the call returns. Call at most once.
    HRESULT (ARCHWAY_CALL* respond)(struct ArchwayRequest* request, uint16_t status,
                                    const char* reason, const char* content_type,
                                    const void* body, uint32_t body_length);

    // ---- ABI 1.1: appended fields. A handler calls one only when ARCHWAY_HAS(request, field)
    // ---- holds; a 1.0 shim's request ends above. All strings are UTF-8.

    // The request's configuration: the section `section` (e.g. "system.webServer/httpPlatform")
    // as IIS resolves it for this request's application (applicationHost.config, <location>
    // elements, web.config files), read through IAppHostAdminManager with the application's
    // config path (IHttpApplication::GetAppConfigPath, e.g.
    // "MACHINE/WEBROOT/APPHOST/Default Web Site/app"; APPL_MD_PATH is the metabase form
    // "/LM/W3SVC/1/ROOT/app", not a config path). `visit` is called, before read_config
    // returns, once per attribute:
    //   * the section element's own attributes: element "" and item ARCHWAY_CONFIG_NO_ITEM;
    //   * a child element that is not a collection (e.g. "handlerSettings"): element = its name,
    //     item ARCHWAY_CONFIG_NO_ITEM;
    //   * each entry of a child collection (e.g. <environmentVariables><environmentVariable
    //     name= value=/>): element = the collection element's name, item = the entry's 0-based
    //     index, attribute/value = the entry's attributes (one call each); entries of a
    //     collection that is the section element itself come with element "" and their index.
    // Values are IIS's string form (booleans "true"/"false", numbers in decimal, timespans
    // "hh:mm:ss"). Real IIS reports every attribute its schema defines (defaults included); a
    // host without the schema (the worker stand-in) reports only what the files set, so a
    // handler applies its own defaults and validates names itself.
    // Returns S_OK; ARCHWAY_E_NO_SECTION when the host knows no such section (schema not
    // installed); another failure HRESULT when the configuration cannot be read (then `detail`,
    // if the host filled it, names the file and line, UTF-8, NUL-terminated, valid until
    // execute returns or the request completes).
    HRESULT (ARCHWAY_CALL* read_config)(struct ArchwayRequest* request, const char* section,
                                        ArchwayConfigVisitor visit, void* user,
                                        const char** detail);

    // Reads the next bytes of the request body into `buffer`: *received = 0 with S_OK means
    // the body has ended. Blocking; allowed from any thread while the request is pending.
    HRESULT (ARCHWAY_CALL* read_body)(struct ArchwayRequest* request, void* buffer,
                                      uint32_t capacity, uint32_t* received);

    // Starts a streamed response: status, substatus (e.g. 502 and 3 for IIS's "502.3"),
    // reason (NUL-terminated ASCII, may be NULL) and `headers`: "Name: value\r\n" lines,
    // without the blank line that ends them (`headers_length` bytes). The shim turns response
    // buffering off. Call once, before write_body; not after `respond`.
    HRESULT (ARCHWAY_CALL* send_head)(struct ArchwayRequest* request, uint16_t status,
                                      uint16_t substatus, const char* reason,
                                      const char* headers, uint32_t headers_length);

    // Appends body bytes (copied before the call returns). With ARCHWAY_WRITE_FLUSH everything
    // written so far goes to the client now, so an event stream's events arrive one by one.
    // Blocking; allowed from any thread while the request is pending. Fails (e.g.
    // HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED)) once the client has gone.
    HRESULT (ARCHWAY_CALL* write_body)(struct ArchwayRequest* request, const void* data,
                                       uint32_t length, uint32_t flags);

    // Ends a request for which execute returned ARCHWAY_S_PENDING, from any thread, exactly
    // once. `result` is a failure only when the handler gives up on a response it has not
    // finished (the shim then resets the connection rather than end a truncated body cleanly).
    // The request and everything it handed out are invalid once this returns.
    void (ARCHWAY_CALL* complete)(struct ArchwayRequest* request, HRESULT result);

    // TRUE while the client is still connected (IHttpConnection::IsConnected).
    BOOL (ARCHWAY_CALL* client_connected)(struct ArchwayRequest* request);

    // ---- ABI 1.2 (user token): a handler calls it only when ARCHWAY_HAS(request, user_token).
    // The request's authenticated user (IHttpContext::GetUser). `*auth_type` receives
    // IHttpUser::GetAuthenticationType in UTF-8, NUL-terminated ("Negotiate", "NTLM", "Basic",
    // ...; "" for an anonymous request), valid until the request ends; `*token` receives the
    // user's primary token (IHttpUser::GetPrimaryToken), or NULL for an anonymous request (no
    // IHttpUser, or an empty authentication type: IIS's anonymous user carries the anonymous
    // account's token, which is never handed out here). The token stays owned by IIS and is
    // valid only until execute returns: a handler that needs it later duplicates it
    // (DuplicateHandle) during execute and closes its copy. Returns S_OK, or a failure when the
    // pointers are NULL or memory runs out (then *auth_type "" and *token NULL).
    HRESULT (ARCHWAY_CALL* user_token)(struct ArchwayRequest* request, const char** auth_type,
                                       HANDLE* token);

    // ---- ABI 1.2 (WebSocket): a handler calls these only when
    // ---- ARCHWAY_HAS(request, websocket_abort) holds. Only on a pending request.
    // Completions: a call that returns S_OK calls `done` exactly once, on any thread, possibly
    // before it returns (on the calling thread); a call that fails never calls it. One read and
    // one write (websocket_write or websocket_send_close) may be outstanding at a time; buffers
    // stay the caller's and must stay valid until `done`. `bytes`: what was read or written;
    // `flags`: ARCHWAY_WS_* of the fragment read (0 for a write).

    // After send_head(101, ...) for a request with "Upgrade: websocket": sends the 101 and hands
    // the connection to IIS's WebSocket module (docs/iis.md §9.3). Blocking. Fails with
    // HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED) when IIS has no WebSocket module for the request.
    HRESULT (ARCHWAY_CALL* websocket_accept)(struct ArchwayRequest* request);
    // Reads the client's next fragment (at most `capacity` bytes; a larger frame arrives as
    // several fragments, the last with ARCHWAY_WS_FINAL). A close from the client completes
    // with ARCHWAY_WS_CLOSE and 0 bytes; nothing more is read after it.
    HRESULT (ARCHWAY_CALL* websocket_read)(struct ArchwayRequest* request, void* buffer,
                                           uint32_t capacity,
                                           void (ARCHWAY_CALL* done)(void* user, HRESULT result,
                                                                     uint32_t bytes,
                                                                     uint32_t flags),
                                           void* user);
    // Sends one fragment to the client: ARCHWAY_WS_UTF8 for text, ARCHWAY_WS_FINAL on the last
    // fragment of a message.
    HRESULT (ARCHWAY_CALL* websocket_write)(struct ArchwayRequest* request, const void* data,
                                            uint32_t length, uint32_t flags,
                                            void (ARCHWAY_CALL* done)(void* user, HRESULT result,
                                                                      uint32_t bytes,
                                                                      uint32_t flags),
                                            void* user);
    // Sends a close frame with `status` (1000-4999) and `reason` (UTF-8, NUL-terminated, at most
    // 123 bytes, may be NULL).
    HRESULT (ARCHWAY_CALL* websocket_send_close)(struct ArchwayRequest* request, uint16_t status,
                                                 const char* reason,
                                                 void (ARCHWAY_CALL* done)(void* user,
                                                                           HRESULT result,
                                                                           uint32_t bytes,
                                                                           uint32_t flags),
                                                 void* user);
    // After a read completed with ARCHWAY_WS_CLOSE: the client's status code (1005 when it gave
    // none) and reason (UTF-8, NUL-terminated, cut to `capacity`).
    HRESULT (ARCHWAY_CALL* websocket_close_status)(struct ArchwayRequest* request,
                                                   uint16_t* status, char* reason,
                                                   uint32_t capacity);
    // Drops the client's connection at once (outstanding calls complete with a failure).
    void (ARCHWAY_CALL* websocket_abort)(struct ArchwayRequest* request);
};

// What a handler gives the shim.
struct ArchwayHandler {
    uint32_t struct_size;          // in: the shim's buffer size; out: bytes the handler filled
    uint32_t abi_version;          // ARCHWAY_HANDLER_ABI_VERSION of the handler
    const char* name;              // short ASCII name, e.g. "diagnostics"
    void* state;                   // passed back to execute/close
    HRESULT (ARCHWAY_CALL* execute)(void* state, struct ArchwayRequest* request);
    void (ARCHWAY_CALL* close)(void* state);

    // ---- ABI 1.1: appended fields; the shim calls one only when the handler's struct_size
    // ---- covers it and it is not NULL.

    // IIS stops an application (recycle, web.config change, site stopped): the handler lets go
    // of what it keeps for it (e.g. stops its server processes). `app_config_path` names the
    // application exactly as the server variable APPL_MD_PATH gives it to that application's
    // requests (UTF-8, IIS's metabase form, e.g. "/LM/W3SVC/1/ROOT" or "/LM/W3SVC/1/ROOT/app";
    // it is IHttpApplication::GetApplicationId), so a handler keys per-application state by
    // APPL_MD_PATH. (ABI 1.1 first showed a config path here, "MACHINE/WEBROOT/APPHOST/...",
    // which no server variable gives; IIS's APPL_MD_PATH is the metabase form.) Called on an IIS thread; may block until the
    // application's requests have completed.
    void (ARCHWAY_CALL* stop_application)(void* state, const char* app_config_path);
};

typedef HRESULT (ARCHWAY_CALL* ArchwayHandlerOpenFn)(const struct ArchwayHost* host,
                                                     struct ArchwayHandler* handler);

#ifdef __cplusplus
}
#endif
