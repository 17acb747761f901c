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

#ifdef __cplusplus
extern "C" {
#endif

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
};

// What a handler gives the shim.
struct ArchwayHandler {
    uint32_t struct_size;          // in: the shim's buffer size; out: bytes the handler filled
    uint32_t abi_version;          // ARCHWAY_HANDLER_ABI_VERSION of the handler
    const char* name;              // short ASCII name, e.g. "diagnostics"
    void* state;                   // passed back to execute/close
    HRESULT (ARCHWAY_CALL* execute)(void* state, struct ArchwayRequest* request);
    void (ARCHWAY_CALL* close)(void* state);
};

typedef HRESULT (ARCHWAY_CALL* ArchwayHandlerOpenFn)(const struct ArchwayHost* host,
                                                     struct ArchwayHandler* handler);

#ifdef __cplusplus
}
#endif
