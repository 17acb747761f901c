// archway/winsock.h: our own minimal Winsock 2 declarations (ws2_32.dll imports), IPv4 only.
//
// Freestanding like win32.h (docs/toolchains.md §4): no SDK headers. Every function declared here is
// imported from ws2_32.dll and must also be listed, with its x86 stdcall byte count, in
// native/imports/ws2_32.def (docs/toolchains.md §4.2). Layouts follow winsock2.h/ws2def.h; WSADATA
// differs between 32- and 64-bit Windows (the vendor-info pointer moves), as in the SDK.
#pragma once

#include "archway/win32.h"

typedef uintptr_t SOCKET;  // UINT_PTR
#define INVALID_SOCKET ((SOCKET)(~(SOCKET)0))
#define SOCKET_ERROR (-1)

#define AF_INET 2
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define SOL_SOCKET 0xFFFF
#define SO_EXCLUSIVEADDRUSE ((int)(~0x0004))  // ~SO_REUSEADDR
#define SO_RCVTIMEO 0x1006
#define SO_SNDTIMEO 0x1005
#define TCP_NODELAY 0x0001
#define SOMAXCONN 0x7FFFFFFF
#define SD_RECEIVE 0
#define SD_SEND 1
#define SD_BOTH 2
#define FD_SETSIZE 64

// Winsock error numbers (WSAGetLastError).
#define WSAEINTR 10004L
#define WSAEWOULDBLOCK 10035L
#define WSAEADDRINUSE 10048L
#define WSAEADDRNOTAVAIL 10049L
#define WSAECONNABORTED 10053L
#define WSAECONNRESET 10054L
#define WSAETIMEDOUT 10060L

struct sockaddr {
    uint16_t sa_family;
    char sa_data[14];
};

struct in_addr {
    uint32_t s_addr;  // network byte order
};

struct sockaddr_in {
    int16_t sin_family;
    uint16_t sin_port;  // network byte order
    struct in_addr sin_addr;
    char sin_zero[8];
};

#ifdef __cplusplus
static_assert(sizeof(sockaddr) == 16 && sizeof(sockaddr_in) == 16, "ws2def.h sizes");
#endif

typedef struct WSADATA {
    WORD wVersion;
    WORD wHighVersion;
#if defined(_WIN64)
    unsigned short iMaxSockets;
    unsigned short iMaxUdpDg;
    char* lpVendorInfo;
    char szDescription[256 + 1];
    char szSystemStatus[128 + 1];
#else
    char szDescription[256 + 1];
    char szSystemStatus[128 + 1];
    unsigned short iMaxSockets;
    unsigned short iMaxUdpDg;
    char* lpVendorInfo;
#endif
} WSADATA;

typedef struct fd_set {
    UINT fd_count;
    SOCKET fd_array[FD_SETSIZE];
} fd_set;

#define MSG_PEEK 0x2

struct timeval {
    long tv_sec;
    long tv_usec;
};

#ifdef __cplusplus
extern "C" {
#endif

#define ARCHWAY_WS2_32 __declspec(dllimport)

ARCHWAY_WS2_32 int WINAPI WSAStartup(WORD version, WSADATA* data);                      // @8
ARCHWAY_WS2_32 int WINAPI WSACleanup(void);                                             // @0
ARCHWAY_WS2_32 int WINAPI WSAGetLastError(void);                                        // @0
ARCHWAY_WS2_32 SOCKET WINAPI accept(SOCKET s, struct sockaddr* addr, int* addrlen);     // @12
ARCHWAY_WS2_32 int WINAPI bind(SOCKET s, const struct sockaddr* name, int namelen);     // @12
ARCHWAY_WS2_32 int WINAPI closesocket(SOCKET s);                                        // @4
ARCHWAY_WS2_32 int WINAPI getpeername(SOCKET s, struct sockaddr* name, int* namelen);   // @12
ARCHWAY_WS2_32 int WINAPI getsockname(SOCKET s, struct sockaddr* name, int* namelen);   // @12
ARCHWAY_WS2_32 int WINAPI listen(SOCKET s, int backlog);                                // @8
ARCHWAY_WS2_32 int WINAPI recv(SOCKET s, char* buf, int len, int flags);                // @16
ARCHWAY_WS2_32 int WINAPI select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                                 const struct timeval* timeout);                        // @20
ARCHWAY_WS2_32 int WINAPI send(SOCKET s, const char* buf, int len, int flags);          // @16
ARCHWAY_WS2_32 int WINAPI setsockopt(SOCKET s, int level, int optname, const char* optval,
                                     int optlen);                                       // @20
ARCHWAY_WS2_32 int WINAPI shutdown(SOCKET s, int how);                                  // @8
ARCHWAY_WS2_32 SOCKET WINAPI socket(int af, int type, int protocol);                    // @12

#undef ARCHWAY_WS2_32

#ifdef __cplusplus
}
#endif

// Byte order (Windows targets are little-endian).
static inline uint16_t archway_htons(uint16_t v) { return (uint16_t)((v << 8) | (v >> 8)); }
#define archway_ntohs archway_htons
