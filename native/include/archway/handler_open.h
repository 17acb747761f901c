// archway/handler_open.h: what every handler's ArchwayHandlerOpen does with the shim's structs
// (archway/handler_abi.h): the handshake checks first, the handler's own struct copied back last.
// Kept out of handler_abi.h on purpose: these functions carry line information into the objects
// that use them, and with it the checksum of the header they live in, so the contract header
// stays declarations only and an edit to its comments rebuilds nothing
// (xtask/tests/build.rs, a_rebuild_runs_exactly_what_an_edit_touches).
#pragma once

#include "archway/handler_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

// The handshake checks every handler's ArchwayHandlerOpen starts with: S_OK when `host` speaks
// this major version and the shim's `handler` buffer holds at least the 1.0 fields (through
// `close`); E_POINTER for NULL; HRESULT_FROM_WIN32(ERROR_REVISION_MISMATCH) otherwise.
static inline HRESULT archway_handler_check_open(const struct ArchwayHost* host,
                                                 const struct ArchwayHandler* handler) {
    if (!host || !handler) return E_POINTER;
    if (host->struct_size < ARCHWAY_OFFSETOF(struct ArchwayHost, abi_version) + sizeof(uint32_t) ||
        host->abi_version != ARCHWAY_HANDLER_ABI_VERSION)
        return HRESULT_FROM_WIN32(ERROR_REVISION_MISMATCH);
    if (handler->struct_size < ARCHWAY_OFFSETOF(struct ArchwayHandler, close) + sizeof(handler->close))
        return HRESULT_FROM_WIN32(ERROR_REVISION_MISMATCH);
    return S_OK;
}

// What the handler writes back, last: its own struct cut to the shim's buffer (the
// handler->struct_size the shim passed in, still unchanged), with struct_size set to the bytes
// filled and abi_version to this header's.
static inline void archway_handler_fill(struct ArchwayHandler* handler, struct ArchwayHandler* mine) {
    const uint32_t capacity = handler->struct_size;
    const uint32_t own_size = (uint32_t)sizeof(struct ArchwayHandler);
    mine->struct_size = capacity < own_size ? capacity : own_size;
    mine->abi_version = ARCHWAY_HANDLER_ABI_VERSION;
    const unsigned char* from = (const unsigned char*)mine;
    unsigned char* to = (unsigned char*)handler;
    for (uint32_t i = 0; i < mine->struct_size; ++i) to[i] = from[i];
}

#ifdef __cplusplus
}
#endif
