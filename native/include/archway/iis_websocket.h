// archway/iis_websocket.h: our own declarations of what a native module needs to serve a
// WebSocket through IIS's WebSocket module (IIS 8 and later): IHttpServer2 and IHttpContext3
// (httpserv.h) to reach the request's named contexts, and IWebSocketContext (iiswebsocket.h),
// the "websockets" named context that reads and writes WebSocket fragments after a 101.
//
// Source of truth: docs/iis.md §9 (slots from TerraFX's bindings of the SDK's httpserv.h,
// iiswebsocket.h as published, and how the ASP.NET Core Module uses them). The classes derive
// from archway/httpserv.h's, so each derived class's new methods continue its base's slots.
// None of them declares an overload of a base method's name except IHttpServer2's
// GetExtendedInterface, which lands after the base's slots as a new virtual (docs/iis.md §4.2).
#pragma once

#include "archway/ahadmin.h"
#include "archway/httpserv.h"

class IHttpTokenEntry;
class IReferencedMetadataInfo;
class IWorkerProcessFramework;

// IHttpServer2 (docs/iis.md §9.1): IHttpServer::GetExtendedInterface(HTTP_SERVER_INTERFACE_V2)
// gives it; its GUID-based GetExtendedInterface is what the SDK's HttpGetExtendedInterface
// template calls to turn an IHttpContext into an IHttpContext3.
// No using-declaration for the base's GetExtendedInterface: MSVC would then group the two
// overloads in this class and move the new one before GetToken (docs/iis.md §4.2); the SDK
// declares none, so clang's warning about the hidden overload is silenced instead.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Woverloaded-virtual"
#endif
class IHttpServer2 : public IHttpServer {
public:
    virtual HRESULT GetToken(PCWSTR pszUserName, PCWSTR pszPassword, DWORD dwLogonMethod,
                             IHttpTokenEntry** ppTokenEntry, PCWSTR pszDefaultDomain,
                             PSOCKADDR pSockAddr, IHttpTraceContext* pHttpTraceContext) = 0;  // slot 26
    virtual PCWSTR GetAppPoolConfigFile(DWORD* pcchConfigFilePath) const = 0;               // slot 27
    virtual HRESULT GetExtendedInterface(const GUID& Version1, void* pInput, const GUID& Version2,
                                         void** ppOutput) = 0;                               // slot 28
    virtual HRESULT GetMetadata(PCWSTR pszSiteName, PCWSTR pszUrl,
                                IReferencedMetadataInfo** ppMetadataInfo) = 0;               // slot 29
    virtual HRESULT GetWorkerProcessFramework(
        IWorkerProcessFramework** ppWorkerProcessFramework) = 0;                             // slot 30
};
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

// A context stored under a name (IIS_WEBSOCKET, L"websockets").
class IHttpStoredContext {
public:
    virtual void CleanupStoredContext() = 0;                                                 // slot 0
};

class INamedContextContainer {
public:
    virtual IHttpStoredContext* GetNamedContext(const wchar_t* szName) = 0;                  // slot 0
    virtual HRESULT SetNamedContext(IHttpStoredContext* pStoredContext,
                                    const wchar_t* szName) = 0;                              // slot 1
};

class IHttpContext2 : public IHttpContext {
public:
    virtual IHttpUser* GetOriginalUser() = 0;                                                // slot 39
};

class IHttpContext3 : public IHttpContext2 {
public:
    virtual INamedContextContainer* GetNamedContextContainer() = 0;                          // slot 40
    virtual void EnableFullDuplex() = 0;                                                     // slot 41
    virtual HRESULT InheritServerVariable(PCSTR szName, BOOL fFailIfNotExist) = 0;           // slot 42
};

// PFN_WEBSOCKET_COMPLETION (iiswebsocket.h): WINAPI, so stdcall on x86.
typedef void(WINAPI* PFN_WEBSOCKET_COMPLETION)(HRESULT hrError, void* pvCompletionContext,
                                               DWORD cbIO, BOOL fUTF8Encoded,
                                               BOOL fFinalFragment, BOOL fClose);

#define IIS_WEBSOCKET L"websockets"

// IWebSocketContext (docs/iis.md §9.2): one outstanding read and one outstanding write at a
// time; an asynchronous call completes either at once (*pfCompletionExpected FALSE, no callback)
// or later through pfnCompletion.
class IWebSocketContext : public IHttpStoredContext {
public:
    virtual HRESULT WriteFragment(void* pData, DWORD* pcbSent, BOOL fAsync, BOOL fUTF8Encoded,
                                  BOOL fFinalFragment, PFN_WEBSOCKET_COMPLETION pfnCompletion,
                                  void* pvCompletionContext,
                                  BOOL* pfCompletionExpected) = 0;                           // slot 1
    virtual HRESULT ReadFragment(void* pData, DWORD* pcbData, BOOL fAsync, BOOL* pfUTF8Encoded,
                                 BOOL* pfFinalFragment, BOOL* pfConnectionClose,
                                 PFN_WEBSOCKET_COMPLETION pfnCompletion,
                                 void* pvCompletionContext,
                                 BOOL* pfCompletionExpected) = 0;                            // slot 2
    virtual HRESULT SendConnectionClose(BOOL fAsync, USHORT uStatusCode, const wchar_t* pszReason,
                                        PFN_WEBSOCKET_COMPLETION pfnCompletion,
                                        void* pvCompletionContext,
                                        BOOL* pfCompletionExpected) = 0;                     // slot 3
    virtual HRESULT GetCloseStatus(USHORT* pStatusCode, const wchar_t** ppszReason,
                                   USHORT* pcchReason) = 0;                                  // slot 4
    virtual void CloseTcpConnection() = 0;                                                   // slot 5
    virtual void CancelOutstandingIO() = 0;                                                  // slot 6
};

// The interface GUIDs HttpGetExtendedInterface passes (httpserv.h's __declspec(uuid)).
constexpr GUID kIID_IHttpContext = {0x424C1B8C, 0xA1BA, 0x44D7, {0xAC, 0x98, 0x9F, 0x8F, 0x45, 0x77, 0x01, 0xA5}};
constexpr GUID kIID_IHttpContext3 = {0xBF53C022, 0xCA4B, 0x4349, {0xA3, 0x8E, 0xA4, 0xB7, 0x8A, 0xD8, 0x97, 0xFB}};
