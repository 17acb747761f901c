// tests/backend/src/ws.h: the backend's WebSocket echo (ws.cpp; RFC 6455, the handshake and
// frame headers from archway/websocket_frame.h, shared with the worker stand-in).
#pragma once

#include "archway/websocket_frame.h"
#include "backend.h"

namespace backend {

// Serves GET /ws: the upgrade, then messages until a close (see ws.cpp). Always false (the
// connection is not reused for HTTP afterwards).
bool websocket(Request* r);

}  // namespace backend
