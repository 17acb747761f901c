// tests/backend/src/ws.h: the backend's WebSocket echo (ws.cpp) and the SHA-1 its handshake
// needs (sha1.cpp). RFC 6455: the handshake answers Sec-WebSocket-Accept = base64(SHA-1(key +
// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
#pragma once

#include "backend.h"

namespace backend {

// SHA-1 (FIPS 180-4) of `n` bytes into 20 bytes.
void sha1(const void* data, size_t n, uint8_t out[20]);

// Serves GET /ws: the upgrade, then messages until a close (see ws.cpp). Always false (the
// connection is not reused for HTTP afterwards).
bool websocket(Request* r);

}  // namespace backend
