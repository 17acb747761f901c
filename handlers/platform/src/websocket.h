// handlers/platform/src/websocket.h: a WebSocket proxied after the server's 101, as the ASP.NET
// Core Module's out-of-process handler does (websockethandler.cpp; docs/httpplatform.md §9):
// WinHTTP's WebSocket API towards the server, the handler ABI 1.2 websocket_* calls (IIS's
// WebSocket module) towards the client, two pumps that each read one side and write the other,
// the next read issued only once the write completed (no buffering beyond one fragment).
#pragma once

#include "archway/winhttp_websocket.h"
#include "util.h"

namespace platform {

// Whether the request asks for a WebSocket and the host can carry one (ABI 1.2): then the
// proxied request asks WinHTTP for the upgrade (WINHTTP_OPTION_UPGRADE_TO_WEB_SOCKET).
bool websocket_wanted(ArchwayRequest* request, const char* raw_headers, size_t length);
// HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED for the application of `request` (the request that
// starts it; docs/httpplatform.md §9): the host carries WebSocket (ABI 1.2),
// `system.webServer/webSocket` exists for the application with `enabled` not "false", and
// `system.webServer/modules`, where the host has it, lists WebSocketModule. A missing webSocket
// section (ARCHWAY_E_NO_SECTION: IIS's WebSocket module is not there) or a section that cannot
// be read gives false; the latter, and an `enabled` that is neither "true" nor "false", are
// logged.
bool websockets_supported(ArchwayRequest* request);
// Request headers WinHTTP sets itself on an upgrade (its own key and version) or that v2 drops
// (Sec-WebSocket-Extensions: WinHTTP supports none): not forwarded.
bool websocket_header_dropped(const char* name, size_t length);

// After send_head(101): websocket_accept on the IIS side, WinHttpWebSocketCompleteUpgrade on
// `request_handle` (the caller closes that handle afterwards), then both pumps. When both sides
// have closed (or one failed) and nothing is outstanding, `finished(owner, result)` is called
// once, from any thread: S_OK after a clean close, the failure otherwise. A failure returned
// here means nothing was started and `finished` will not be called.
HRESULT websocket_start(ArchwayRequest* request, HINTERNET request_handle,
                        void (*finished)(void* owner, HRESULT result), void* owner);

}  // namespace platform
