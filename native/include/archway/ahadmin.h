// archway/ahadmin.h: the parts of IIS's configuration API (ahadmin, "Application Host
// Administration") archway uses, in exact vtable order, plus the COM basics they need.
//
// Source of truth: the Windows SDK's ahadmin.h / ahadmin.idl (the C vtable structs, e.g.
// IAppHostElementVtbl), checked against Wine's include/ahadmin.idl and the interface UUIDs of
// the [MC-IISA] protocol document. A module gets the admin manager from IHttpServer slot 7
// (docs/iis.md §4.4, GetAdminManager) and reads a section with
// GetAdminSection(section name, config path), e.g. ("system.webServer/httpPlatform",
// "MACHINE/WEBROOT/APPHOST/Default Web Site/app").
//
// UNLIKE httpserv.h: these are COM interfaces. Every method is STDMETHODCALLTYPE, which is
// __stdcall on x86 (callee pops, `this` pushed as the first stack argument), NOT the __thiscall
// of httpserv.h's plain C++ interfaces (docs/iis.md §4.1); elsewhere it is the platform
// convention with `this` first. Each interface derives from IUnknown, whose three slots
// (QueryInterface, AddRef, Release) come first, so an interface's first own method is slot 3.
// No interface here has overloads, so slots are declaration order.
//
// Strings: BSTR (a UTF-16 string preceded by its byte length, allocated by oleaut32's
// SysAllocString*). Input BSTRs stay the caller's; output BSTRs become the caller's and are freed
// with SysFreeString. VARIANT indexes (get_Item) are VT_UI4/VT_I4 numbers or VT_BSTR names.
// Objects returned through out-parameters carry one reference the caller Releases.
#pragma once

#include "archway/win32.h"

// ---------------------------------------------------------------------------------------------
// COM basics.

#if defined(_M_IX86)
#define STDMETHODCALLTYPE __stdcall
#else
#define STDMETHODCALLTYPE
#endif

struct GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
};
typedef GUID IID;
static_assert(sizeof(GUID) == 16, "GUID is 16 bytes");

inline bool operator==(const GUID& a, const GUID& b) {
    if (a.Data1 != b.Data1 || a.Data2 != b.Data2 || a.Data3 != b.Data3) return false;
    for (int i = 0; i < 8; ++i)
        if (a.Data4[i] != b.Data4[i]) return false;
    return true;
}

typedef WCHAR OLECHAR;
typedef OLECHAR* BSTR;
typedef short VARIANT_BOOL;
typedef unsigned short VARTYPE;

#define E_NOINTERFACE ((HRESULT)0x80004002L)
#define DISP_E_BADINDEX ((HRESULT)0x8002000BL)
#define DISP_E_TYPEMISMATCH ((HRESULT)0x80020005L)

// VARIANT (oaidl.h): vt and three reserved WORDs, then an 8-byte-aligned union whose largest
// member is BRECORD (two pointers). sizeof 16 on x86, 24 on 64-bit targets. Only the members
// archway uses are named; the union's size is pinned by `record`.
enum VARENUM_SUBSET { VT_EMPTY = 0, VT_I4 = 3, VT_BSTR = 8, VT_BOOL = 11, VT_UI4 = 19 };

struct VARIANT {
    VARTYPE vt;
    WORD wReserved1;
    WORD wReserved2;
    WORD wReserved3;
    union {
        int64_t llVal;
        LONG lVal;
        ULONG ulVal;
        VARIANT_BOOL boolVal;
        BSTR bstrVal;
        struct {
            void* pvRecord;
            void* pRecInfo;
        } record;
    };
};
static_assert(sizeof(VARIANT) == (sizeof(void*) == 8 ? 24 : 16), "oaidl.h: sizeof(VARIANT)");
static_assert(ARCHWAY_OFFSETOF(VARIANT, bstrVal) == 8, "oaidl.h: the VARIANT union is at 8");

class IUnknown {
public:
    virtual HRESULT STDMETHODCALLTYPE QueryInterface(const IID& riid, void** ppvObject) = 0;  // 0
    virtual ULONG STDMETHODCALLTYPE AddRef() = 0;                                           // 1
    virtual ULONG STDMETHODCALLTYPE Release() = 0;                                          // 2
};

// oleaut32.dll imports. Keep in sync with native/imports/oleaut32.def (x86 byte counts there).
extern "C" {
#define ARCHWAY_OLEAUT32 __declspec(dllimport)
ARCHWAY_OLEAUT32 BSTR WINAPI SysAllocString(const OLECHAR* text);                     // @4
ARCHWAY_OLEAUT32 BSTR WINAPI SysAllocStringLen(const OLECHAR* text, UINT length);      // @8
ARCHWAY_OLEAUT32 void WINAPI SysFreeString(BSTR text);                                // @4
ARCHWAY_OLEAUT32 UINT WINAPI SysStringLen(BSTR text);                                 // @4
ARCHWAY_OLEAUT32 HRESULT WINAPI VariantClear(VARIANT* variant);                       // @4
ARCHWAY_OLEAUT32 void WINAPI VariantInit(VARIANT* variant);                           // @4
#undef ARCHWAY_OLEAUT32
}

// ---------------------------------------------------------------------------------------------
// ahadmin interfaces (opaque where archway never calls into them).

class IAppHostElementSchema;
class IAppHostCollectionSchema;
class IAppHostPropertySchema;
class IAppHostPropertyException;
class IAppHostMethodCollection;
class IAppHostConfigManager;
class IAppHostElement;
class IAppHostProperty;

// {0191775E-BCFF-445A-B4F4-3BDDA54E2816}
class IAppHostPropertyCollection : public IUnknown {
public:
    virtual HRESULT STDMETHODCALLTYPE get_Count(DWORD* pcCount) = 0;                       // 3
    virtual HRESULT STDMETHODCALLTYPE get_Item(VARIANT cIndex,
                                               IAppHostProperty** ppProperty) = 0;         // 4
};

// {08A90F5F-0702-48D6-B45F-02A9885A9768}
class IAppHostChildElementCollection : public IUnknown {
public:
    virtual HRESULT STDMETHODCALLTYPE get_Count(DWORD* pcCount) = 0;                       // 3
    virtual HRESULT STDMETHODCALLTYPE get_Item(VARIANT cIndex,
                                               IAppHostElement** ppElement) = 0;           // 4
};

// {C8550BFF-5281-4B1E-AC34-99B6FA38464D}
class IAppHostElementCollection : public IUnknown {
public:
    virtual HRESULT STDMETHODCALLTYPE get_Count(DWORD* pcElementCount) = 0;                // 3
    virtual HRESULT STDMETHODCALLTYPE get_Item(VARIANT cIndex,
                                               IAppHostElement** ppElement) = 0;           // 4
    virtual HRESULT STDMETHODCALLTYPE AddElement(IAppHostElement* pElement,
                                                 int cPosition) = 0;                       // 5
    virtual HRESULT STDMETHODCALLTYPE DeleteElement(VARIANT cIndex) = 0;                   // 6
    virtual HRESULT STDMETHODCALLTYPE Clear() = 0;                                         // 7
    virtual HRESULT STDMETHODCALLTYPE CreateNewElement(BSTR bstrElementName,
                                                       IAppHostElement** ppElement) = 0;   // 8
    virtual HRESULT STDMETHODCALLTYPE get_Schema(IAppHostCollectionSchema** ppSchema) = 0;  // 9
};

// {64FF8CCC-B287-4DAE-B08A-A72CBF45F453}
class IAppHostElement : public IUnknown {
public:
    virtual HRESULT STDMETHODCALLTYPE get_Name(BSTR* pbstrName) = 0;                       // 3
    // Null (and S_OK) when the element has no collection.
    virtual HRESULT STDMETHODCALLTYPE get_Collection(
        IAppHostElementCollection** ppCollection) = 0;                                     // 4
    virtual HRESULT STDMETHODCALLTYPE get_Properties(
        IAppHostPropertyCollection** ppProperties) = 0;                                    // 5
    virtual HRESULT STDMETHODCALLTYPE get_ChildElements(
        IAppHostChildElementCollection** ppElements) = 0;                                  // 6
    virtual HRESULT STDMETHODCALLTYPE GetMetadata(BSTR bstrMetadataType, VARIANT* pValue) = 0;  // 7
    virtual HRESULT STDMETHODCALLTYPE SetMetadata(BSTR bstrMetadataType, VARIANT value) = 0;  // 8
    virtual HRESULT STDMETHODCALLTYPE get_Schema(IAppHostElementSchema** ppSchema) = 0;    // 9
    virtual HRESULT STDMETHODCALLTYPE GetElementByName(BSTR bstrSubName,
                                                       IAppHostElement** ppElement) = 0;   // 10
    virtual HRESULT STDMETHODCALLTYPE GetPropertyByName(BSTR bstrSubName,
                                                        IAppHostProperty** ppProperty) = 0;  // 11
    virtual HRESULT STDMETHODCALLTYPE Clear() = 0;                                         // 12
    virtual HRESULT STDMETHODCALLTYPE get_Methods(IAppHostMethodCollection** ppMethods) = 0;  // 13
};

// {ED35F7A1-5024-4E7B-A44D-07DDAF4B524D}
class IAppHostProperty : public IUnknown {
public:
    virtual HRESULT STDMETHODCALLTYPE get_Name(BSTR* pbstrName) = 0;                       // 3
    virtual HRESULT STDMETHODCALLTYPE get_Value(VARIANT* pVariant) = 0;                    // 4
    virtual HRESULT STDMETHODCALLTYPE put_Value(VARIANT value) = 0;                        // 5
    virtual HRESULT STDMETHODCALLTYPE Clear() = 0;                                         // 6
    // IIS's string form of the value (booleans "true"/"false", numbers in decimal, ...).
    virtual HRESULT STDMETHODCALLTYPE get_StringValue(BSTR* pbstrValue) = 0;               // 7
    virtual HRESULT STDMETHODCALLTYPE get_Exception(
        IAppHostPropertyException** ppException) = 0;                                      // 8
    virtual HRESULT STDMETHODCALLTYPE GetMetadata(BSTR bstrMetadataType, VARIANT* pValue) = 0;  // 9
    virtual HRESULT STDMETHODCALLTYPE SetMetadata(BSTR bstrMetadataType, VARIANT value) = 0;  // 10
    virtual HRESULT STDMETHODCALLTYPE get_Schema(IAppHostPropertySchema** ppSchema) = 0;   // 11
};

// {9BE77978-73ED-4A9A-87FD-13F09FEC1B13}
class IAppHostAdminManager : public IUnknown {
public:
    // The section as it applies at `bstrPath` (a config path, MACHINE/WEBROOT/APPHOST/...).
    // An unknown section fails (real IIS: HRESULT_FROM_WIN32(ERROR_INVALID_DATA) 0x8007000D,
    // "unrecognized configuration section") [UNCERTAIN: the exact code; the IIS job of
    // tests/platform checks an unknown section's answer].
    virtual HRESULT STDMETHODCALLTYPE GetAdminSection(BSTR bstrSectionName, BSTR bstrPath,
                                                      IAppHostElement** ppAdminSection) = 0;  // 3
    virtual HRESULT STDMETHODCALLTYPE GetMetadata(BSTR bstrMetadataType, VARIANT* pValue) = 0;  // 4
    virtual HRESULT STDMETHODCALLTYPE SetMetadata(BSTR bstrMetadataType, VARIANT value) = 0;  // 5
    virtual HRESULT STDMETHODCALLTYPE get_ConfigManager(
        IAppHostConfigManager** ppConfigManager) = 0;                                      // 6
};

namespace archway {
constexpr IID kIID_IUnknown = {0x00000000, 0x0000, 0x0000, {0xC0, 0, 0, 0, 0, 0, 0, 0x46}};
constexpr IID kIID_IAppHostAdminManager = {
    0x9BE77978, 0x73ED, 0x4A9A, {0x87, 0xFD, 0x13, 0xF0, 0x9F, 0xEC, 0x1B, 0x13}};
constexpr IID kIID_IAppHostElement = {
    0x64FF8CCC, 0xB287, 0x4DAE, {0xB0, 0x8A, 0xA7, 0x2C, 0xBF, 0x45, 0xF4, 0x53}};
constexpr IID kIID_IAppHostElementCollection = {
    0xC8550BFF, 0x5281, 0x4B1E, {0xAC, 0x34, 0x99, 0xB6, 0xFA, 0x38, 0x46, 0x4D}};
constexpr IID kIID_IAppHostChildElementCollection = {
    0x08A90F5F, 0x0702, 0x48D6, {0xB4, 0x5F, 0x02, 0xA9, 0x88, 0x5A, 0x97, 0x68}};
constexpr IID kIID_IAppHostPropertyCollection = {
    0x0191775E, 0xBCFF, 0x445A, {0xB4, 0xF4, 0x3B, 0xDD, 0xA5, 0x4E, 0x28, 0x16}};
constexpr IID kIID_IAppHostProperty = {
    0xED35F7A1, 0x5024, 0x4E7B, {0xA4, 0x4D, 0x07, 0xDD, 0xAF, 0x4B, 0x52, 0x4D}};

// A VARIANT holding a number, for get_Item.
inline VARIANT index_variant(uint32_t i) {
    VARIANT v = {};
    v.vt = VT_UI4;
    v.ulVal = i;
    return v;
}

// Releases a COM pointer on scope exit.
template <typename T> class ComPtr {
public:
    ComPtr() = default;
    ~ComPtr() { reset(); }
    ComPtr(const ComPtr&) = delete;
    ComPtr& operator=(const ComPtr&) = delete;
    T** out() {
        reset();
        return &p_;
    }
    T* get() const { return p_; }
    T* operator->() const { return p_; }
    explicit operator bool() const { return p_ != nullptr; }
    void reset() {
        if (p_) p_->Release();
        p_ = nullptr;
    }

private:
    T* p_ = nullptr;
};

// A BSTR freed on scope exit.
class Bstr {
public:
    Bstr() = default;
    explicit Bstr(const wchar_t* s) : b_(SysAllocString(s)) {}
    ~Bstr() { SysFreeString(b_); }
    Bstr(const Bstr&) = delete;
    Bstr& operator=(const Bstr&) = delete;
    BSTR* out() {
        SysFreeString(b_);
        b_ = nullptr;
        return &b_;
    }
    BSTR get() const { return b_; }
    UINT size() const { return b_ ? SysStringLen(b_) : 0; }

private:
    BSTR b_ = nullptr;
};
}  // namespace archway
