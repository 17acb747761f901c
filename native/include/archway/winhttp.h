// archway/winhttp.h: our own minimal WinHTTP declarations (winhttp.dll imports).
//
// Freestanding like win32.h (docs/toolchains.md §4): no SDK headers. Every function declared
// here is imported from winhttp.dll and must also be listed, with its x86 stdcall byte count, in
// native/imports/winhttp.def (docs/toolchains.md §4.2). Values and layouts follow the SDK's
// winhttp.h. Used by handlers/platform (the reverse proxy) in asynchronous mode.
#pragma once

#include "archway/win32.h"

typedef void* HINTERNET;
typedef uintptr_t DWORD_PTR;
typedef WORD INTERNET_PORT;

// The status callback (CALLBACK: stdcall on x86).
typedef void(WINAPI* WINHTTP_STATUS_CALLBACK)(HINTERNET handle, DWORD_PTR context, DWORD status,
                                               void* info, DWORD info_length);
#define WINHTTP_INVALID_STATUS_CALLBACK ((WINHTTP_STATUS_CALLBACK)(intptr_t)-1)

// What WINHTTP_CALLBACK_STATUS_REQUEST_ERROR points at: the API that failed and its error.
typedef struct WINHTTP_ASYNC_RESULT {
    DWORD_PTR dwResult;  // API_* below
    DWORD dwError;
} WINHTTP_ASYNC_RESULT;

#define API_RECEIVE_RESPONSE 1
#define API_QUERY_DATA_AVAILABLE 2
#define API_READ_DATA 3
#define API_WRITE_DATA 4
#define API_SEND_REQUEST 5

#define WINHTTP_ACCESS_TYPE_NO_PROXY 1
#define WINHTTP_FLAG_ASYNC 0x10000000u
#define WINHTTP_FLAG_ESCAPE_DISABLE 0x00000040u
#define WINHTTP_FLAG_ESCAPE_DISABLE_QUERY 0x00000080u

#define WINHTTP_CALLBACK_STATUS_HANDLE_CREATED 0x00000400u
#define WINHTTP_CALLBACK_STATUS_HANDLE_CLOSING 0x00000800u
#define WINHTTP_CALLBACK_STATUS_HEADERS_AVAILABLE 0x00020000u
#define WINHTTP_CALLBACK_STATUS_DATA_AVAILABLE 0x00040000u
#define WINHTTP_CALLBACK_STATUS_READ_COMPLETE 0x00080000u
#define WINHTTP_CALLBACK_STATUS_WRITE_COMPLETE 0x00100000u
#define WINHTTP_CALLBACK_STATUS_REQUEST_ERROR 0x00200000u
#define WINHTTP_CALLBACK_STATUS_SENDREQUEST_COMPLETE 0x00400000u
#define WINHTTP_CALLBACK_FLAG_ALL_COMPLETIONS 0x007E0000u
#define WINHTTP_CALLBACK_FLAG_HANDLES 0x00000C00u

#define WINHTTP_OPTION_CONTEXT_VALUE 45
#define WINHTTP_OPTION_DISABLE_FEATURE 63
#define WINHTTP_DISABLE_COOKIES 0x00000001u
#define WINHTTP_DISABLE_REDIRECTS 0x00000002u
#define WINHTTP_DISABLE_AUTHENTICATION 0x00000004u

#define WINHTTP_QUERY_STATUS_CODE 19
#define WINHTTP_QUERY_STATUS_TEXT 20
#define WINHTTP_QUERY_RAW_HEADERS_CRLF 22
#define WINHTTP_QUERY_FLAG_NUMBER 0x20000000u

// dwTotalLength of WinHttpSendRequest when the body length is unknown (a chunked upload: the
// caller sends `Transfer-Encoding: chunked` and frames the chunks itself).
#define WINHTTP_IGNORE_REQUEST_TOTAL_LENGTH 0

#define ERROR_WINHTTP_TIMEOUT 12002L
#define ERROR_WINHTTP_OPERATION_CANCELLED 12017L
#define ERROR_WINHTTP_INCORRECT_HANDLE_STATE 12019L
#define ERROR_WINHTTP_CANNOT_CONNECT 12029L
#define ERROR_WINHTTP_CONNECTION_ERROR 12030L
#define ERROR_WINHTTP_INVALID_SERVER_RESPONSE 12152L

#ifdef __cplusplus
extern "C" {
#endif

#define ARCHWAY_WINHTTP __declspec(dllimport)

ARCHWAY_WINHTTP HINTERNET WINAPI WinHttpOpen(PCWSTR agent, DWORD access_type, PCWSTR proxy,
                                             PCWSTR proxy_bypass, DWORD flags);          // @20
ARCHWAY_WINHTTP HINTERNET WINAPI WinHttpConnect(HINTERNET session, PCWSTR server,
                                                INTERNET_PORT port, DWORD reserved);     // @16
ARCHWAY_WINHTTP HINTERNET WINAPI WinHttpOpenRequest(HINTERNET connect, PCWSTR verb,
                                                    PCWSTR object, PCWSTR version,
                                                    PCWSTR referrer, PCWSTR* accept_types,
                                                    DWORD flags);                        // @28
ARCHWAY_WINHTTP WINHTTP_STATUS_CALLBACK WINAPI WinHttpSetStatusCallback(
    HINTERNET handle, WINHTTP_STATUS_CALLBACK callback, DWORD flags, DWORD_PTR reserved); // @16
ARCHWAY_WINHTTP BOOL WINAPI WinHttpSetOption(HINTERNET handle, DWORD option, void* buffer,
                                             DWORD length);                              // @16
ARCHWAY_WINHTTP BOOL WINAPI WinHttpSetTimeouts(HINTERNET handle, int resolve, int connect,
                                               int send, int receive);                   // @20
// Adds request headers before WinHttpSendRequest ("Name: value\r\n" lines; length -1: up to
// the NUL). WINHTTP_ADDREQ_FLAG_ADD adds the header when absent; ..._REPLACE replaces it.
#define WINHTTP_ADDREQ_FLAG_ADD 0x20000000u
#define WINHTTP_ADDREQ_FLAG_REPLACE 0x80000000u
ARCHWAY_WINHTTP BOOL WINAPI WinHttpAddRequestHeaders(HINTERNET request, PCWSTR headers,
                                                     DWORD headers_length,
                                                     DWORD modifiers);                   // @16

ARCHWAY_WINHTTP BOOL WINAPI WinHttpSendRequest(HINTERNET request, PCWSTR headers,
                                               DWORD headers_length, void* optional,
                                               DWORD optional_length, DWORD total_length,
                                               DWORD_PTR context);                       // @28
ARCHWAY_WINHTTP BOOL WINAPI WinHttpWriteData(HINTERNET request, const void* buffer,
                                             DWORD length, DWORD* written);              // @16
ARCHWAY_WINHTTP BOOL WINAPI WinHttpReceiveResponse(HINTERNET request, void* reserved); // @8
ARCHWAY_WINHTTP BOOL WINAPI WinHttpQueryHeaders(HINTERNET request, DWORD info, PCWSTR name,
                                                void* buffer, DWORD* length,
                                                DWORD* index);                           // @24
ARCHWAY_WINHTTP BOOL WINAPI WinHttpQueryDataAvailable(HINTERNET request,
                                                      DWORD* available);                 // @8
ARCHWAY_WINHTTP BOOL WINAPI WinHttpReadData(HINTERNET request, void* buffer, DWORD length,
                                            DWORD* read);                                // @16
ARCHWAY_WINHTTP BOOL WINAPI WinHttpCloseHandle(HINTERNET handle);                       // @4

#undef ARCHWAY_WINHTTP

#ifdef __cplusplus
}
#endif
