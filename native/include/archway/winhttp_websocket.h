// archway/winhttp_websocket.h: our own declarations of WinHTTP's WebSocket client API
// (winhttp.dll, Windows 8 and later), beside archway/winhttp.h.
//
// Values and layouts follow the SDK's winhttp.h. Every function here is imported from
// winhttp.dll and listed with its x86 stdcall byte count in native/imports/winhttp.def
// (docs/toolchains.md §4.2; a USHORT argument still takes 4 bytes on the x86 stack). How the
// platform handler uses it: docs/httpplatform.md §9.
#pragma once

#include "archway/winhttp.h"

// WinHttpSetOption on a request handle before WinHttpSendRequest (no buffer): the request asks
// for an upgrade; after a 101, WinHttpWebSocketCompleteUpgrade turns it into a WebSocket handle.
#define WINHTTP_OPTION_UPGRADE_TO_WEB_SOCKET 114

// The status callbacks a WebSocket handle adds; its READ_COMPLETE and WRITE_COMPLETE carry a
// WINHTTP_WEB_SOCKET_STATUS, its REQUEST_ERROR a WINHTTP_WEB_SOCKET_ASYNC_RESULT.
#define WINHTTP_CALLBACK_STATUS_CLOSE_COMPLETE 0x02000000u
#define WINHTTP_CALLBACK_STATUS_SHUTDOWN_COMPLETE 0x04000000u
#define WINHTTP_CALLBACK_FLAG_CLOSE_COMPLETE 0x02000000u
#define WINHTTP_CALLBACK_FLAG_SHUTDOWN_COMPLETE 0x04000000u

typedef enum WINHTTP_WEB_SOCKET_BUFFER_TYPE {
    WINHTTP_WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE = 0,
    WINHTTP_WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE = 1,
    WINHTTP_WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE = 2,
    WINHTTP_WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE = 3,
    WINHTTP_WEB_SOCKET_CLOSE_BUFFER_TYPE = 4,
} WINHTTP_WEB_SOCKET_BUFFER_TYPE;

typedef enum WINHTTP_WEB_SOCKET_OPERATION {
    WINHTTP_WEB_SOCKET_SEND_OPERATION = 0,
    WINHTTP_WEB_SOCKET_RECEIVE_OPERATION = 1,
    WINHTTP_WEB_SOCKET_CLOSE_OPERATION = 2,
    WINHTTP_WEB_SOCKET_SHUTDOWN_OPERATION = 3,
} WINHTTP_WEB_SOCKET_OPERATION;

typedef struct WINHTTP_WEB_SOCKET_STATUS {
    DWORD dwBytesTransferred;
    WINHTTP_WEB_SOCKET_BUFFER_TYPE eBufferType;
} WINHTTP_WEB_SOCKET_STATUS;

typedef struct WINHTTP_WEB_SOCKET_ASYNC_RESULT {
    WINHTTP_ASYNC_RESULT AsyncResult;
    WINHTTP_WEB_SOCKET_OPERATION Operation;
} WINHTTP_WEB_SOCKET_ASYNC_RESULT;

#define WINHTTP_WEB_SOCKET_SUCCESS_CLOSE_STATUS 1000
#define WINHTTP_WEB_SOCKET_ENDPOINT_TERMINATED_CLOSE_STATUS 1001
#define WINHTTP_WEB_SOCKET_EMPTY_CLOSE_STATUS 1005
#define WINHTTP_WEB_SOCKET_MAX_CLOSE_REASON_LENGTH 123

#ifdef __cplusplus
extern "C" {
#endif

#define ARCHWAY_WINHTTP __declspec(dllimport)

ARCHWAY_WINHTTP HINTERNET WINAPI WinHttpWebSocketCompleteUpgrade(HINTERNET request,
                                                                 DWORD_PTR context);    // @8
ARCHWAY_WINHTTP DWORD WINAPI WinHttpWebSocketSend(HINTERNET socket,
                                                  WINHTTP_WEB_SOCKET_BUFFER_TYPE type,
                                                  void* buffer, DWORD length);           // @16
ARCHWAY_WINHTTP DWORD WINAPI WinHttpWebSocketReceive(HINTERNET socket, void* buffer,
                                                     DWORD length, DWORD* read,
                                                     WINHTTP_WEB_SOCKET_BUFFER_TYPE* type); // @20
ARCHWAY_WINHTTP DWORD WINAPI WinHttpWebSocketShutdown(HINTERNET socket, USHORT status,
                                                      void* reason, DWORD length);      // @16
ARCHWAY_WINHTTP DWORD WINAPI WinHttpWebSocketClose(HINTERNET socket, USHORT status,
                                                   void* reason, DWORD length);         // @16
ARCHWAY_WINHTTP DWORD WINAPI WinHttpWebSocketQueryCloseStatus(HINTERNET socket, USHORT* status,
                                                              void* reason, DWORD length,
                                                              DWORD* consumed);          // @20

#undef ARCHWAY_WINHTTP

#ifdef __cplusplus
}
#endif
