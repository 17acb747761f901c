// archway/httpserv.h: the IIS native-module interfaces archway uses, in exact vtable order.
//
// Source of truth: docs/iis.md §4 (slot tables taken from TerraFX's bindings of the SDK's httpserv.h
// and checked against the MSVC overload rule). These are plain C++ abstract classes, no IUnknown.
// The first word of every object is its vtable pointer; virtual methods use the default member
// calling convention, which is thiscall on x86 (docs/iis.md §4.1) and the platform convention with
// `this` first elsewhere.
//
// THE OVERLOAD RULE (docs/iis.md §4.2): MSVC (and clang targeting *-windows-msvc) put all overloads
// of one virtual name into consecutive slots at the position of the first-declared overload,
// in REVERSE declaration order. Overload sets below are therefore declared in httpserv.h's
// declaration order, and the `// slot N` comment on each method is the slot that rule yields
// (e.g. IHttpContext declares GetServerVariable(PCSTR, PCWSTR*, ...) first and the ANSI-value
// overload second, so the ANSI one is slot 15). Do not reorder declarations in this file.
//
// Only the base interfaces are declared (no IHttpContext2+, IHttpResponse2+, ...). Types this
// project never looks into are opaque (incomplete classes/structs).
#pragma once

#include "archway/win32.h"

// ---------------------------------------------------------------------------------------------
// Opaque types (declared, never defined).
struct HTTP_REQUEST;   // http.h HTTP_REQUEST (V2 with a modern SDK)
struct HTTP_RESPONSE;  // http.h HTTP_RESPONSE
struct HTTP_SSL_CLIENT_CERT_INFO;
struct sockaddr;
typedef struct sockaddr* PSOCKADDR;

class IHttpSite;
class IHttpApplication;
class IHttpConnection;
class IHttpUser;
class IHttpModuleContextContainer;
class IDispensedHttpModuleContextContainer;
class IHttpUrlInfo;
class IMetadataInfo;
class IScriptMapInfo;
class IHttpFileInfo;
class IHttpFileMonitor;
class IHttpTraceContext;
class IHttpCachePolicy;
class IHttpCacheKey;
class IHttpCacheSpecificData;
class IHttpPerfCounterInfo;
class IWpfSettings;
class IAppHostConfigException;
class IAppHostAdminManager;
class CGlobalModule;
class CHttpModule;
class IHttpModuleFactory;

typedef void* HTTP_MODULE_ID;

// ---------------------------------------------------------------------------------------------
// Constants (docs/iis.md §4.1, §4.5).
enum REQUEST_NOTIFICATION_STATUS {
    RQ_NOTIFICATION_CONTINUE = 0,
    RQ_NOTIFICATION_PENDING = 1,
    RQ_NOTIFICATION_FINISH_REQUEST = 2,
};

enum GLOBAL_NOTIFICATION_STATUS {
    GL_NOTIFICATION_CONTINUE = 0,
    GL_NOTIFICATION_HANDLED = 1,
};

#define RQ_BEGIN_REQUEST 0x00000001
#define RQ_AUTHENTICATE_REQUEST 0x00000002
#define RQ_AUTHORIZE_REQUEST 0x00000004
#define RQ_RESOLVE_REQUEST_CACHE 0x00000008
#define RQ_MAP_REQUEST_HANDLER 0x00000010
#define RQ_ACQUIRE_REQUEST_STATE 0x00000020
#define RQ_PRE_EXECUTE_REQUEST_HANDLER 0x00000040
#define RQ_EXECUTE_REQUEST_HANDLER 0x00000080
#define RQ_RELEASE_REQUEST_STATE 0x00000100
#define RQ_UPDATE_REQUEST_CACHE 0x00000200
#define RQ_LOG_REQUEST 0x00000400
#define RQ_END_REQUEST 0x00000800
#define RQ_SEND_RESPONSE_STATUS_AND_HEADERS 0x08000000
#define RQ_CUSTOM_NOTIFICATION 0x10000000
#define RQ_SEND_RESPONSE 0x20000000
#define RQ_READ_ENTITY 0x40000000
#define RQ_MAP_PATH 0x80000000

// http.h HTTP_HEADER_ID: a 32-bit enum. Only the values archway names; request-only and
// response-only values overlap from 20 on (docs/iis.md §4.5). Prefer the by-name overloads.
enum HTTP_HEADER_ID {
    HttpHeaderCacheControl = 0,
    HttpHeaderConnection = 1,
    HttpHeaderContentLength = 11,
    HttpHeaderContentType = 12,
    HttpHeaderLastModified = 19,
    HttpHeaderRequestMaximum = 41,
    HttpHeaderResponseMaximum = 30,
};

enum HTTP_CONTEXT_INTERFACE_VERSION { HTTP_CONTEXT_INTERFACE_VERSION_DUMMY = 0 };
enum HTTP_SERVER_INTERFACE_VERSION {
    HTTP_SERVER_INTERFACE_V2 = 0,
    HTTP_SERVER_INTERFACE_V3 = 1,
};
enum CACHE_OPERATION { CACHE_OPERATION_DUMMY = 0 };

// ---------------------------------------------------------------------------------------------
// HTTP_DATA_CHUNK (http.h). docs/iis.md §4.5: the union holds HTTP_BYTE_RANGE (two 64-bit values),
// so it is 8-byte aligned on every target: pBuffer at 8, BufferLength at 16 (64-bit) or 12
// (x86), sizeof 32 everywhere. [computed in docs/iis.md, asserted below]
enum HTTP_DATA_CHUNK_TYPE {
    HttpDataChunkFromMemory = 0,
    HttpDataChunkFromFileHandle = 1,
    HttpDataChunkFromFragmentCache = 2,
    HttpDataChunkFromFragmentCacheEx = 3,
    HttpDataChunkTrailers = 4,
    HttpDataChunkFromWinHttpFastForwarding = 5,
};

struct HTTP_BYTE_RANGE {
    ULONGLONG StartingOffset;  // ULARGE_INTEGER in http.h: same size and alignment
    ULONGLONG Length;
};

struct HTTP_DATA_CHUNK {
    HTTP_DATA_CHUNK_TYPE DataChunkType;
    union {
        struct {
            void* pBuffer;
            ULONG BufferLength;
        } FromMemory;
        struct {
            HTTP_BYTE_RANGE ByteRange;
            HANDLE FileHandle;
        } FromFileHandle;
        struct {
            USHORT FragmentNameLength;
            PCWSTR pFragmentName;
        } FromFragmentCache;
        struct {
            HTTP_BYTE_RANGE ByteRange;
            PCWSTR pFragmentName;
        } FromFragmentCacheEx;
    };
};

static_assert(sizeof(HTTP_DATA_CHUNK) == 32, "docs/iis.md §4.5: sizeof(HTTP_DATA_CHUNK) is 32");
static_assert(ARCHWAY_OFFSETOF(HTTP_DATA_CHUNK, FromMemory.pBuffer) == 8,
              "docs/iis.md §4.5: pBuffer at offset 8");
static_assert(ARCHWAY_OFFSETOF(HTTP_DATA_CHUNK, FromMemory.BufferLength) ==
                  (sizeof(void*) == 8 ? 16 : 12),
              "docs/iis.md §4.5: BufferLength at 16 (64-bit) or 12 (x86)");

// ---------------------------------------------------------------------------------------------
// Providers and completion info (server-implemented).

// IHttpEventProvider: slot 0 only; derived providers append after it (docs/iis.md §4.4).
class IHttpEventProvider {
public:
    virtual void SetErrorStatus(HRESULT hrError) = 0;  // slot 0
};

// The derived providers are opaque here: archway never calls their own methods.
class IAuthenticationProvider : public IHttpEventProvider {};
class IMapHandlerProvider : public IHttpEventProvider {};
class ISendResponseProvider : public IHttpEventProvider {};
class IMapPathProvider : public IHttpEventProvider {};
class IReadEntityProvider : public IHttpEventProvider {};
class ICustomNotificationProvider : public IHttpEventProvider {};

class IHttpCompletionInfo {
public:
    virtual DWORD GetCompletionBytes() const = 0;     // slot 0
    virtual HRESULT GetCompletionStatus() const = 0;  // slot 1
};

// ---------------------------------------------------------------------------------------------
// Module-implemented interfaces (docs/iis.md §4.3).

class IModuleAllocator {
public:
    virtual void* AllocateMemory(DWORD cbAllocation) = 0;  // slot 0
};

class IHttpModuleFactory {
public:
    virtual HRESULT GetHttpModule(CHttpModule** ppModule,
                                  IModuleAllocator* pAllocator) = 0;  // slot 0
    virtual void Terminate() = 0;                                     // slot 1
};

class IHttpContext;

// CHttpModule: a class with default bodies; the module derives from it and overrides the
// notifications it registered for. The SDK's defaults call DebugBreak(); ours just continue
// (IIS only calls the notifications a module registered for, docs/iis.md §4.3).
class CHttpModule {
public:
#define ARCHWAY_DEFAULT_NOTIFICATION(name, provider)                                             \
    virtual REQUEST_NOTIFICATION_STATUS name(IHttpContext* pHttpContext, provider* pProvider) {  \
        (void)pHttpContext;                                                                      \
        (void)pProvider;                                                                         \
        return RQ_NOTIFICATION_CONTINUE;                                                         \
    }
    ARCHWAY_DEFAULT_NOTIFICATION(OnBeginRequest, IHttpEventProvider)                   // slot 0
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostBeginRequest, IHttpEventProvider)               // slot 1
    ARCHWAY_DEFAULT_NOTIFICATION(OnAuthenticateRequest, IAuthenticationProvider)       // slot 2
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostAuthenticateRequest, IHttpEventProvider)        // slot 3
    ARCHWAY_DEFAULT_NOTIFICATION(OnAuthorizeRequest, IHttpEventProvider)               // slot 4
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostAuthorizeRequest, IHttpEventProvider)           // slot 5
    ARCHWAY_DEFAULT_NOTIFICATION(OnResolveRequestCache, IHttpEventProvider)            // slot 6
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostResolveRequestCache, IHttpEventProvider)        // slot 7
    ARCHWAY_DEFAULT_NOTIFICATION(OnMapRequestHandler, IMapHandlerProvider)             // slot 8
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostMapRequestHandler, IHttpEventProvider)          // slot 9
    ARCHWAY_DEFAULT_NOTIFICATION(OnAcquireRequestState, IHttpEventProvider)            // slot 10
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostAcquireRequestState, IHttpEventProvider)        // slot 11
    ARCHWAY_DEFAULT_NOTIFICATION(OnPreExecuteRequestHandler, IHttpEventProvider)       // slot 12
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostPreExecuteRequestHandler, IHttpEventProvider)   // slot 13
    ARCHWAY_DEFAULT_NOTIFICATION(OnExecuteRequestHandler, IHttpEventProvider)          // slot 14
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostExecuteRequestHandler, IHttpEventProvider)      // slot 15
    ARCHWAY_DEFAULT_NOTIFICATION(OnReleaseRequestState, IHttpEventProvider)            // slot 16
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostReleaseRequestState, IHttpEventProvider)        // slot 17
    ARCHWAY_DEFAULT_NOTIFICATION(OnUpdateRequestCache, IHttpEventProvider)             // slot 18
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostUpdateRequestCache, IHttpEventProvider)         // slot 19
    ARCHWAY_DEFAULT_NOTIFICATION(OnLogRequest, IHttpEventProvider)                     // slot 20
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostLogRequest, IHttpEventProvider)                 // slot 21
    ARCHWAY_DEFAULT_NOTIFICATION(OnEndRequest, IHttpEventProvider)                     // slot 22
    ARCHWAY_DEFAULT_NOTIFICATION(OnPostEndRequest, IHttpEventProvider)                 // slot 23
    ARCHWAY_DEFAULT_NOTIFICATION(OnSendResponse, ISendResponseProvider)                // slot 24
    ARCHWAY_DEFAULT_NOTIFICATION(OnMapPath, IMapPathProvider)                          // slot 25
    ARCHWAY_DEFAULT_NOTIFICATION(OnReadEntity, IReadEntityProvider)                    // slot 26
    // slot 27
    ARCHWAY_DEFAULT_NOTIFICATION(OnCustomRequestNotification, ICustomNotificationProvider)
#undef ARCHWAY_DEFAULT_NOTIFICATION

    virtual REQUEST_NOTIFICATION_STATUS OnAsyncCompletion(IHttpContext* pHttpContext,
                                                          DWORD dwNotification,
                                                          BOOL fPostNotification,
                                                          IHttpEventProvider* pProvider,
                                                          IHttpCompletionInfo* pCompletionInfo) {
        (void)pHttpContext;
        (void)dwNotification;
        (void)fPostNotification;
        (void)pProvider;
        (void)pCompletionInfo;
        return RQ_NOTIFICATION_CONTINUE;
    }  // slot 28

    // slot 29. IIS calls it when the request is done. The default deletes the object, which is
    // right for modules made with `new`; a module placed in IModuleAllocator memory overrides
    // it and must not free.
    virtual void Dispose() { delete this; }

protected:
    // slot 30: MSVC puts a "scalar deleting destructor" (hidden flags argument) here.
    // [UNCERTAIN] docs/iis.md §4.3: IIS never calls it directly; it exists to keep the layout exact.
    virtual ~CHttpModule() {}
};

// ---------------------------------------------------------------------------------------------
// Server-implemented interfaces (docs/iis.md §4.4).

class IHttpModuleRegistrationInfo {
public:
    virtual PCWSTR GetName() const = 0;                                        // slot 0
    virtual HTTP_MODULE_ID GetId() const = 0;                                  // slot 1
    virtual HRESULT SetRequestNotifications(IHttpModuleFactory* pModuleFactory,
                                            DWORD dwRequestNotifications,
                                            DWORD dwPostRequestNotifications) = 0;  // slot 2
    virtual HRESULT SetGlobalNotifications(CGlobalModule* pGlobalModule,
                                           DWORD dwGlobalNotifications) = 0;   // slot 3
    virtual HRESULT SetPriorityForRequestNotification(DWORD dwRequestNotification,
                                                      PCWSTR pszPriorityAlias) = 0;  // slot 4
    virtual HRESULT SetPriorityForGlobalNotification(DWORD dwGlobalNotification,
                                                     PCWSTR pszPriorityAlias) = 0;  // slot 5
};

class IHttpRequest {
public:
    // Overload set (docs/iis.md §4.2): declared non-const first, so the const one is slot 0.
    virtual HTTP_REQUEST* GetRawHttpRequest() = 0;              // slot 1
    virtual const HTTP_REQUEST* GetRawHttpRequest() const = 0;  // slot 0

    // Overload set: by-name declared first, so by-ID is slot 2 and by-name slot 3.
    virtual PCSTR GetHeader(PCSTR pszHeaderName, USHORT* pcchHeaderValue) const = 0;   // slot 3
    virtual PCSTR GetHeader(HTTP_HEADER_ID ulHeaderIndex,
                            USHORT* pcchHeaderValue) const = 0;                        // slot 2

    // Overload set: by-ID slot 4, by-name slot 5.
    virtual HRESULT SetHeader(PCSTR pszHeaderName, PCSTR pszHeaderValue, USHORT cchHeaderValue,
                              BOOL fReplace) = 0;                                      // slot 5
    virtual HRESULT SetHeader(HTTP_HEADER_ID ulHeaderIndex, PCSTR pszHeaderValue,
                              USHORT cchHeaderValue, BOOL fReplace) = 0;               // slot 4

    // Overload set: by-ID slot 6, by-name slot 7.
    virtual HRESULT DeleteHeader(PCSTR pszHeaderName) = 0;                             // slot 7
    virtual HRESULT DeleteHeader(HTTP_HEADER_ID ulHeaderIndex) = 0;                    // slot 6

    virtual PCSTR GetHttpMethod() const = 0;                                           // slot 8
    virtual HRESULT SetHttpMethod(PCSTR pszHttpMethod) = 0;                            // slot 9

    // Overload set: wide declared first, so the PCSTR one is slot 10.
    virtual HRESULT SetUrl(PCWSTR pszUrl, DWORD cchUrl, BOOL fResetQueryString) = 0;   // slot 11
    virtual HRESULT SetUrl(PCSTR pszUrl, DWORD cchUrl, BOOL fResetQueryString) = 0;    // slot 10

    virtual BOOL GetUrlChanged() const = 0;                                            // slot 12
    virtual PCWSTR GetForwardedUrl() const = 0;                                        // slot 13
    virtual PSOCKADDR GetLocalAddress() const = 0;                                     // slot 14
    virtual PSOCKADDR GetRemoteAddress() const = 0;                                    // slot 15
    virtual HRESULT ReadEntityBody(void* pvBuffer, DWORD cbBuffer, BOOL fAsync,
                                   DWORD* pcbBytesReceived,
                                   BOOL* pfCompletionPending) = 0;                     // slot 16
    virtual HRESULT InsertEntityBody(void* pvBuffer, DWORD cbBuffer) = 0;              // slot 17
    virtual DWORD GetRemainingEntityBytes() = 0;                                       // slot 18
    virtual void GetHttpVersion(USHORT* pMajorVersion,
                                USHORT* pMinorVersion) const = 0;                      // slot 19
    virtual HRESULT GetClientCertificate(HTTP_SSL_CLIENT_CERT_INFO** ppClientCertInfo,
                                         BOOL* pfClientCertNegotiated) = 0;            // slot 20
    virtual HRESULT NegotiateClientCertificate(BOOL fAsync,
                                               BOOL* pfCompletionPending) = 0;         // slot 21
    virtual DWORD GetSiteId() const = 0;                                               // slot 22
    virtual HRESULT GetHeaderChanges(DWORD dwOldChangeNumber, DWORD* pdwNewChangeNumber,
                                     PCSTR* knownHeaderSnapshot,  // [HttpHeaderRequestMaximum]
                                     DWORD* pdwUnknownHeaderSnapshot,
                                     PCSTR** ppUnknownHeaderNameSnapshot,
                                     PCSTR** ppUnknownHeaderValueSnapshot,
                                     DWORD* diffedKnownHeaderIndices,  // [Maximum + 1]
                                     DWORD* pdwDiffedUnknownHeaders,
                                     DWORD** ppDiffedUnknownHeaderIndices) = 0;        // slot 23
};

class IHttpResponse {
public:
    // Overload set (docs/iis.md §4.2): non-const declared first, so the const one is slot 0.
    virtual HTTP_RESPONSE* GetRawHttpResponse() = 0;              // slot 1
    virtual const HTTP_RESPONSE* GetRawHttpResponse() const = 0;  // slot 0

    virtual IHttpCachePolicy* GetCachePolicy() = 0;  // slot 2
    virtual HRESULT SetStatus(USHORT statusCode, PCSTR pszReason, USHORT uSubStatus,
                              HRESULT hrErrorToReport, IAppHostConfigException* pException,
                              BOOL fTrySkipCustomErrors) = 0;  // slot 3

    // Overload set: by-name declared first, so by-ID is slot 4 and by-name slot 5.
    virtual HRESULT SetHeader(PCSTR pszHeaderName, PCSTR pszHeaderValue, USHORT cchHeaderValue,
                              BOOL fReplace) = 0;                                      // slot 5
    virtual HRESULT SetHeader(HTTP_HEADER_ID ulHeaderIndex, PCSTR pszHeaderValue,
                              USHORT cchHeaderValue, BOOL fReplace) = 0;               // slot 4

    // Overload set: by-ID slot 6, by-name slot 7.
    virtual HRESULT DeleteHeader(PCSTR pszHeaderName) = 0;                             // slot 7
    virtual HRESULT DeleteHeader(HTTP_HEADER_ID ulHeaderIndex) = 0;                    // slot 6

    // Overload set: by-ID slot 8, by-name slot 9.
    virtual PCSTR GetHeader(PCSTR pszHeaderName, USHORT* pcchHeaderValue) const = 0;   // slot 9
    virtual PCSTR GetHeader(HTTP_HEADER_ID ulHeaderIndex,
                            USHORT* pcchHeaderValue) const = 0;                        // slot 8

    virtual void Clear() = 0;                                                          // slot 10
    virtual void ClearHeaders() = 0;                                                   // slot 11
    virtual void SetNeedDisconnect() = 0;                                              // slot 12
    virtual void ResetConnection() = 0;                                                // slot 13
    virtual void DisableKernelCache(ULONG reason) = 0;                                 // slot 14
    virtual BOOL GetKernelCacheEnabled() const = 0;                                    // slot 15
    virtual void SuppressHeaders() = 0;                                                // slot 16
    virtual BOOL GetHeadersSuppressed() const = 0;                                     // slot 17
    virtual HRESULT Flush(BOOL fAsync, BOOL fMoreData, DWORD* pcbSent,
                          BOOL* pfCompletionExpected) = 0;                             // slot 18
    virtual HRESULT Redirect(PCSTR pszUrl, BOOL fResetStatusCode,
                             BOOL fIncludeParameters) = 0;                             // slot 19
    virtual HRESULT WriteEntityChunkByReference(HTTP_DATA_CHUNK* pDataChunk,
                                                LONG lInsertPosition) = 0;             // slot 20
    virtual HRESULT WriteEntityChunks(HTTP_DATA_CHUNK* pDataChunks, DWORD nChunks,
                                      BOOL fAsync, BOOL fMoreData, DWORD* pcbSent,
                                      BOOL* pfCompletionExpected) = 0;                 // slot 21
    virtual void DisableBuffering() = 0;                                               // slot 22
    virtual void GetStatus(USHORT* pStatusCode, USHORT* pSubStatus, PCSTR* ppszReason,
                           USHORT* pcchReason, HRESULT* phrErrorToReport, PCWSTR* ppszModule,
                           DWORD* pdwNotification, IAppHostConfigException** ppException,
                           BOOL* pfTrySkipCustomErrors) = 0;                           // slot 23
    virtual HRESULT SetErrorDescription(PCWSTR pszDescription, DWORD cchDescription,
                                        BOOL fHtmlEncode) = 0;                         // slot 24
    virtual PCWSTR GetErrorDescription(DWORD* pcchDescription) = 0;                    // slot 25
    virtual HRESULT GetHeaderChanges(DWORD dwOldChangeNumber, DWORD* pdwNewChangeNumber,
                                     PCSTR* knownHeaderSnapshot,  // [HttpHeaderResponseMaximum]
                                     DWORD* pdwUnknownHeaderSnapshot,
                                     PCSTR** ppUnknownHeaderNameSnapshot,
                                     PCSTR** ppUnknownHeaderValueSnapshot,
                                     DWORD* diffedKnownHeaderIndices,  // [Maximum + 1]
                                     DWORD* pdwDiffedUnknownHeaders,
                                     DWORD** ppDiffedUnknownHeaderIndices) = 0;        // slot 26
    virtual void CloseConnection() = 0;                                                // slot 27
};

class IHttpContext {
public:
    virtual IHttpSite* GetSite() = 0;                                    // slot 0
    virtual IHttpApplication* GetApplication() = 0;                      // slot 1
    virtual IHttpConnection* GetConnection() = 0;                        // slot 2
    virtual IHttpRequest* GetRequest() = 0;                              // slot 3
    virtual IHttpResponse* GetResponse() = 0;                            // slot 4
    virtual BOOL GetResponseHeadersSent() const = 0;                     // slot 5
    virtual IHttpUser* GetUser() const = 0;                              // slot 6
    virtual IHttpModuleContextContainer* GetModuleContextContainer() = 0;  // slot 7
    virtual void IndicateCompletion(
        REQUEST_NOTIFICATION_STATUS notificationStatus) = 0;            // slot 8
    virtual HRESULT PostCompletion(DWORD cbBytes) = 0;                   // slot 9
    virtual void DisableNotifications(DWORD dwNotifications,
                                      DWORD dwPostNotifications) = 0;    // slot 10
    virtual BOOL GetNextNotification(REQUEST_NOTIFICATION_STATUS status,
                                     DWORD* pdwNotification, BOOL* pfIsPostNotification,
                                     CHttpModule** ppModuleInfo,
                                     IHttpEventProvider** ppRequestOutput) = 0;  // slot 11
    virtual BOOL GetIsLastNotification(REQUEST_NOTIFICATION_STATUS status) = 0;  // slot 12
    virtual HRESULT ExecuteRequest(BOOL fAsync, IHttpContext* pHttpContext,
                                   DWORD dwExecuteFlags, IHttpUser* pHttpUser,
                                   BOOL* pfCompletionExpected) = 0;      // slot 13
    virtual DWORD GetExecuteFlags() const = 0;                           // slot 14

    // Overload set (docs/iis.md §4.2): the wide-value overload is declared first in httpserv.h, so
    // the ANSI-value overload, declared second, lands in slot 15 and the wide one in slot 16.
    virtual HRESULT GetServerVariable(PCSTR pszVariableName, PCWSTR* ppszValue,
                                      DWORD* pcchValueLength) = 0;       // slot 16
    virtual HRESULT GetServerVariable(PCSTR pszVariableName, PCSTR* ppszValue,
                                      DWORD* pcchValueLength) = 0;       // slot 15

    virtual HRESULT SetServerVariable(PCSTR pszVariableName,
                                      PCWSTR pszVariableValue) = 0;      // slot 17
    virtual void* AllocateRequestMemory(DWORD cbAllocation) = 0;         // slot 18
    virtual IHttpUrlInfo* GetUrlInfo() = 0;                              // slot 19
    virtual IMetadataInfo* GetMetadata() = 0;                            // slot 20
    virtual PCWSTR GetPhysicalPath(DWORD* pcchPhysicalPath) = 0;         // slot 21
    virtual PCWSTR GetScriptName(DWORD* pcchScriptName) const = 0;       // slot 22
    virtual PCWSTR GetScriptTranslated(DWORD* pcchScriptTranslated) = 0;  // slot 23
    virtual IScriptMapInfo* GetScriptMap() const = 0;                    // slot 24
    virtual void SetRequestHandled() = 0;                                // slot 25
    virtual IHttpFileInfo* GetFileInfo() const = 0;                      // slot 26
    virtual HRESULT MapPath(PCWSTR pszUrl, PWSTR pszPhysicalPath,
                            DWORD* pcbPhysicalPath) = 0;                 // slot 27
    virtual HRESULT NotifyCustomNotification(ICustomNotificationProvider* pCustomOutput,
                                             BOOL* pfCompletionExpected) = 0;  // slot 28
    virtual IHttpContext* GetParentContext() const = 0;                  // slot 29
    virtual IHttpContext* GetRootContext() const = 0;                    // slot 30
    virtual HRESULT CloneContext(DWORD dwCloneFlags,
                                 IHttpContext** ppHttpContext) = 0;      // slot 31
    virtual HRESULT ReleaseClonedContext() = 0;                          // slot 32
    virtual HRESULT GetCurrentExecutionStats(DWORD* pdwNotification,
                                             DWORD* pdwNotificationStartTickCount,
                                             PCWSTR* ppszModule,
                                             DWORD* pdwModuleStartTickCount,
                                             DWORD* pdwAsyncNotification,
                                             DWORD* pdwAsyncNotificationStartTickCount)
        const = 0;                                                       // slot 33
    virtual IHttpTraceContext* GetTraceContext() const = 0;              // slot 34
    virtual HRESULT GetServerVarChanges(DWORD dwOldChangeNumber, DWORD* pdwNewChangeNumber,
                                        DWORD* pdwVariableSnapshot,
                                        PCSTR** ppVariableNameSnapshot,
                                        PCWSTR** ppVariableValueSnapshot,
                                        DWORD* pdwDiffedVariables,
                                        DWORD** ppDiffedVariableIndices) = 0;  // slot 35
    virtual HRESULT CancelIo() = 0;                                      // slot 36
    virtual HRESULT MapHandler(DWORD dwSiteId, PCWSTR pszSiteName, PCWSTR pszUrl,
                               PCSTR pszVerb, IScriptMapInfo** ppScriptMap,
                               BOOL fIgnoreWildcardMappings) = 0;        // slot 37
    virtual HRESULT GetExtendedInterface(HTTP_CONTEXT_INTERFACE_VERSION version,
                                         void** ppInterface) = 0;        // slot 38
};

// IHttpServer: no overloads, declaration order (docs/iis.md §4.4).
class IHttpServer {
public:
    virtual BOOL IsCommandLineLaunch() const = 0;                        // slot 0
    virtual PCWSTR GetAppPoolName() const = 0;                           // slot 1
    virtual HRESULT AssociateWithThreadPool(HANDLE hHandle,
                                            LPOVERLAPPED_COMPLETION_ROUTINE completionRoutine) =
        0;                                                               // slot 2
    virtual void IncrementThreadCount() = 0;                             // slot 3
    virtual void DecrementThreadCount() = 0;                             // slot 4
    virtual void ReportUnhealthy(PCWSTR pszReasonString, HRESULT hrReason) = 0;  // slot 5
    virtual void RecycleProcess(PCWSTR pszReason) = 0;                   // slot 6
    virtual IAppHostAdminManager* GetAdminManager() const = 0;           // slot 7
    virtual HRESULT GetFileInfo(PCWSTR pszPhysicalPath, HANDLE hUserToken, PSID pSid,
                                PCWSTR pszChangeNotificationPath,
                                HANDLE hChangeNotificationToken, BOOL fCache,
                                IHttpFileInfo** ppFileInfo,
                                IHttpTraceContext* pHttpTraceContext) = 0;  // slot 8
    virtual HRESULT FlushKernelCache(PCWSTR pszUrl) = 0;                 // slot 9
    virtual HRESULT DoCacheOperation(CACHE_OPERATION cacheOperation, IHttpCacheKey* pCacheKey,
                                     IHttpCacheSpecificData** ppCacheSpecificData,
                                     IHttpTraceContext* pHttpTraceContext) = 0;  // slot 10
    virtual GLOBAL_NOTIFICATION_STATUS NotifyCustomNotification(
        ICustomNotificationProvider* pCustomOutput) = 0;                 // slot 11
    virtual IHttpPerfCounterInfo* GetPerfCounterInfo() = 0;              // slot 12
    virtual void RecycleApplication(PCWSTR pszAppConfigPath) = 0;        // slot 13
    virtual void NotifyConfigurationChange(PCWSTR pszPath) = 0;          // slot 14
    virtual void NotifyFileChange(PCWSTR pszFileName) = 0;               // slot 15
    virtual IDispensedHttpModuleContextContainer* DispenseContainer() = 0;  // slot 16
    virtual HRESULT AddFragmentToCache(HTTP_DATA_CHUNK* pDataChunk,
                                       PCWSTR pszFragmentName) = 0;      // slot 17
    virtual HRESULT ReadFragmentFromCache(PCWSTR pszFragmentName, BYTE* pvBuffer,
                                          DWORD cbSize, DWORD* pcbCopied) = 0;  // slot 18
    virtual HRESULT RemoveFragmentFromCache(PCWSTR pszFragmentName) = 0;  // slot 19
    virtual HRESULT GetWorkerProcessSettings(
        IWpfSettings** ppWorkerProcessSettings) = 0;                     // slot 20
    virtual HRESULT GetProtocolManagerCustomInterface(PCWSTR pProtocolManagerDll,
                                                      PCWSTR pProtocolManagerDllInitFunction,
                                                      DWORD dwCustomInterfaceId,
                                                      void** ppCustomInterface) = 0;  // slot 21
    virtual BOOL SatisfiesPrecondition(PCWSTR pszPrecondition, BOOL* pfUnknownPrecondition)
        const = 0;                                                       // slot 22
    virtual IHttpTraceContext* GetTraceContext() const = 0;              // slot 23
    virtual HRESULT RegisterFileChangeMonitor(PCWSTR pszPath, HANDLE hToken,
                                              IHttpFileMonitor** ppFileMonitor) = 0;  // slot 24
    virtual HRESULT GetExtendedInterface(HTTP_SERVER_INTERFACE_VERSION version,
                                         void** ppInterface) = 0;        // slot 25
};

// PFN_REGISTERMODULE (docs/iis.md §4.1): looked up by the literal name "RegisterModule", so it is
// exported through a .def file, never with dllexport (that would export _RegisterModule@12 on
// x86, docs/toolchains.md §4.3). dwServerVersion is the IIS major version (7, 8, 10, ...).
typedef HRESULT(WINAPI* PFN_REGISTERMODULE)(DWORD dwServerVersion,
                                            IHttpModuleRegistrationInfo* pModuleInfo,
                                            IHttpServer* pGlobalInfo);
#define MODULE_REGISTERMODULE "RegisterModule"

// ---------------------------------------------------------------------------------------------
// Site, application and global-module interfaces (docs/iis.md §4.3, §4.4), used by the worker
// stand-in (tests/worker). No overloads in any of them, so the slots are declaration order.

class IHttpSite {
public:
    virtual DWORD GetSiteId() const = 0;                                     // slot 0
    virtual PCWSTR GetSiteName() const = 0;                                  // slot 1
    virtual IHttpModuleContextContainer* GetModuleContextContainer() = 0;    // slot 2
    virtual IHttpPerfCounterInfo* GetPerfCounterInfo() = 0;                  // slot 3
};

// IHttpConnection (docs/iis.md §4.4 "Small interfaces"): declaration order, no overloads.
class IHttpConnection {
public:
    virtual BOOL IsConnected() const = 0;                                    // slot 0
    virtual void* AllocateMemory(DWORD cbAllocation) = 0;                    // slot 1
    virtual IHttpModuleContextContainer* GetModuleContextContainer() = 0;    // slot 2
};

// IHttpUser (IHttpContext::GetUser; docs/httpplatform.md §7): declaration order as in the
// SDK's httpserv.h, no overloads, no virtual destructor. The shim reads the
// authentication type and the primary token (handler ABI 1.2 user_token); the worker stand-in
// implements it for its test-only authenticated requests.
class IHttpUser {
public:
    virtual PCWSTR GetRemoteUserName() = 0;                                  // slot 0
    virtual PCWSTR GetUserName() = 0;                                        // slot 1
    virtual PCWSTR GetAuthenticationType() = 0;                              // slot 2
    virtual PCWSTR GetPassword() = 0;                                        // slot 3
    virtual HANDLE GetImpersonationToken() = 0;                              // slot 4
    virtual HANDLE GetPrimaryToken() = 0;                                    // slot 5
    virtual void ReferenceUser() = 0;                                        // slot 6
    virtual void DereferenceUser() = 0;                                      // slot 7
    virtual BOOL SupportsIsInRole() = 0;                                     // slot 8
    virtual HRESULT IsInRole(PCWSTR pszRoleName, BOOL* pfInRole) = 0;        // slot 9
    virtual PVOID GetUserVariable(PCSTR pszVariableName) = 0;               // slot 10
};

class IHttpApplication {
public:
    virtual PCWSTR GetApplicationPhysicalPath() const = 0;                   // slot 0
    virtual PCWSTR GetApplicationId() const = 0;                             // slot 1
    virtual PCWSTR GetAppConfigPath() const = 0;                             // slot 2
    virtual IHttpModuleContextContainer* GetModuleContextContainer() = 0;    // slot 3
};

#define GL_STOP_LISTENING 0x00000002
#define GL_CACHE_CLEANUP 0x00000004
#define GL_CACHE_OPERATION 0x00000010
#define GL_HEALTH_CHECK 0x00000020
#define GL_CONFIGURATION_CHANGE 0x00000040
#define GL_FILE_CHANGE 0x00000080
#define GL_PRE_BEGIN_REQUEST 0x00000100
#define GL_APPLICATION_START 0x00000200
#define GL_APPLICATION_RESOLVE_MODULES 0x00000400
#define GL_APPLICATION_STOP 0x00000800
#define GL_RSCA_QUERY 0x00001000
#define GL_TRACE_EVENT 0x00002000
#define GL_CUSTOM_NOTIFICATION 0x00004000
#define GL_THREAD_CLEANUP 0x00008000
#define GL_APPLICATION_PRELOAD 0x00010000

// The providers of global notifications are opaque here: nothing in archway calls them.
class IGlobalStopListeningProvider : public IHttpEventProvider {};
class ICacheProvider;
class IGlobalConfigurationChangeProvider;
class IGlobalFileChangeProvider;
class IPreBeginRequestProvider;
class IHttpApplicationStartProvider;
class IHttpApplicationResolveModulesProvider;
// GL_APPLICATION_STOP's provider: httpserv.h has `typedef IHttpApplicationProvider
// IHttpApplicationStopProvider`, and IHttpApplicationProvider (also GL_APPLICATION_START's)
// declares one method after IHttpEventProvider's slot 0: GetApplication.
class IHttpApplicationStopProvider : public IHttpEventProvider {
public:
    virtual IHttpApplication* GetApplication() = 0;                          // slot 1
};
class IGlobalRSCAQueryProvider;
class IGlobalTraceEventProvider;
class IGlobalThreadCleanupProvider;
class IGlobalApplicationPreloadProvider;
class IGlobalSuspendProcessCallback;

// CGlobalModule (module-implemented, docs/iis.md §4.3): Terminate is pure and sits at slot 13,
// between OnGlobalCustomNotification and OnGlobalThreadCleanup. No virtual destructor.
class CGlobalModule {
public:
#define ARCHWAY_DEFAULT_GLOBAL(name, params)                                                     \
    virtual GLOBAL_NOTIFICATION_STATUS name params { return GL_NOTIFICATION_CONTINUE; }
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalStopListening, (IGlobalStopListeningProvider*))        // slot 0
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalCacheCleanup, ())                                      // slot 1
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalCacheOperation, (ICacheProvider*))                     // slot 2
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalHealthCheck, ())                                       // slot 3
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalConfigurationChange,
                           (IGlobalConfigurationChangeProvider*))                        // slot 4
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalFileChange, (IGlobalFileChangeProvider*))              // slot 5
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalPreBeginRequest, (IPreBeginRequestProvider*))          // slot 6
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalApplicationStart, (IHttpApplicationStartProvider*))    // slot 7
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalApplicationResolveModules,
                           (IHttpApplicationResolveModulesProvider*))                    // slot 8
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalApplicationStop, (IHttpApplicationStopProvider*))      // slot 9
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalRSCAQuery, (IGlobalRSCAQueryProvider*))                // slot 10
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalTraceEvent, (IGlobalTraceEventProvider*))              // slot 11
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalCustomNotification, (ICustomNotificationProvider*))    // slot 12
    virtual void Terminate() = 0;                                                         // slot 13
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalThreadCleanup, (IGlobalThreadCleanupProvider*))        // slot 14
    ARCHWAY_DEFAULT_GLOBAL(OnGlobalApplicationPreload,
                           (IGlobalApplicationPreloadProvider*))                         // slot 15
    ARCHWAY_DEFAULT_GLOBAL(OnSuspendProcess, (IGlobalSuspendProcessCallback**))           // slot 16
#undef ARCHWAY_DEFAULT_GLOBAL
};
