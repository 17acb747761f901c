// tests/worker/src/websocket.h: the stand-in's part of IIS's WebSocket module (websocket.cpp):
// after a module flushes a 101 for an upgrade request, the connection carries WebSocket frames
// both ways through the request's "websockets" named context (an IWebSocketContext), reached
// like on IIS through IHttpServer2::GetExtendedInterface and IHttpContext3 (docs/iis.md §9).
#pragma once

#include "archway/iis_websocket.h"
#include "request.h"

namespace worker {

// http.cpp's response_flush, before the head goes out: for a 101 it sends the handshake itself
// (RFC 6455 §4.2.2: Upgrade, Connection and Sec-WebSocket-Accept from the client's key, as
// IIS's WebSocket module does; the connection is not reused for HTTP afterwards) and returns
// true with `*ok` the result. False for any other status (nothing done).
bool websocket_flush_101(Request* r, bool* ok);
// IHttpContext3::GetNamedContextContainer of the request (null when out of memory).
INamedContextContainer* websocket_container(Request* r);
// IHttpServer2::GetExtendedInterface: IHttpContext → IHttpContext3 for the stand-in's contexts
// (whose one class implements both: the same pointer).
HRESULT websocket_extended_interface(const GUID& from, void* input, const GUID& to, void** output);
// The request has ended (process_request's end): stops the reader and frees the request's
// WebSocket state. A read still outstanding is dropped with an stderr line (a module must not
// leave one: IIS would call it after the request is gone).
void websocket_end(Request* r);

}  // namespace worker
