// archway/win32.h: our own minimal Win32 declarations (types, constants, kernel32 imports).
//
// archway is freestanding (docs/toolchains.md §4): no Windows SDK headers, no CRT, no <stdint.h>.
// This header declares only what archway uses. Every function declared here is imported from
// kernel32.dll and must also be listed, with its x86 stdcall byte count, in
// native/imports/kernel32.def (docs/toolchains.md §4.2).
//
// It parses as C too (handler_abi.h includes it and is meant to be usable from C).
#pragma once

#if !defined(_M_IX86) && !defined(_M_X64) && !defined(_M_ARM64) && !defined(_M_ARM64EC)
#error "archway targets Windows x86, x64, ARM64 and ARM64EC only"
#endif

// ---------------------------------------------------------------------------------------------
// Fixed-width integers (LLP64: int and long are 32-bit, pointers are 32- or 64-bit).
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef __int64 int64_t;
typedef unsigned __int64 uint64_t;

#if defined(_WIN64)
typedef __int64 intptr_t;
typedef unsigned __int64 uintptr_t;
#else
typedef int intptr_t;
typedef unsigned int uintptr_t;
#endif

#ifdef __cplusplus
typedef decltype(sizeof(0)) size_t;
#else
typedef uintptr_t size_t;
typedef unsigned short wchar_t;  // C has no built-in wchar_t; UTF-16 code unit on Windows
#endif

#ifdef __cplusplus
static_assert(sizeof(int64_t) == 8 && sizeof(uint32_t) == 4 && sizeof(uint16_t) == 2,
              "integer widths");
static_assert(sizeof(uintptr_t) == sizeof(void*) && sizeof(size_t) == sizeof(void*),
              "pointer-sized integers");
static_assert(sizeof(wchar_t) == 2, "wchar_t is a UTF-16 code unit on Windows");
#endif

// ---------------------------------------------------------------------------------------------
// Windows type names (as in the SDK: DWORD/LONG are `long`, 32-bit on Windows).
typedef int BOOL;
typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef unsigned short USHORT;
typedef unsigned long DWORD;
typedef unsigned long ULONG;
typedef long LONG;
typedef unsigned int UINT;
typedef long HRESULT;
typedef uint64_t ULONGLONG;
typedef uintptr_t SIZE_T;
typedef intptr_t INT_PTR;
typedef wchar_t WCHAR;
typedef char* PSTR;
typedef const char* PCSTR;
typedef WCHAR* PWSTR;
typedef const WCHAR* PCWSTR;
typedef void* HANDLE;
typedef void* PVOID;
typedef struct HINSTANCE__* HMODULE;  // opaque, as in the SDK (STRICT)
typedef void* PSID;
typedef struct OVERLAPPED_OPAQUE OVERLAPPED;  // never dereferenced by archway

#define TRUE 1
#define FALSE 0

// Calling convention of Win32 APIs: stdcall on x86; the keyword is meaningless elsewhere.
#if defined(_M_IX86)
#define WINAPI __stdcall
#else
#define WINAPI
#endif

typedef INT_PTR(WINAPI* FARPROC)(void);
typedef void(WINAPI* LPOVERLAPPED_COMPLETION_ROUTINE)(DWORD error, DWORD bytes,
                                                       OVERLAPPED* overlapped);

// Slim reader/writer lock: one pointer, statically initialisable to zero (no constructor).
typedef struct SRWLOCK {
    void* Ptr;
} SRWLOCK;
#define SRWLOCK_INIT {0}

// ---------------------------------------------------------------------------------------------
// HRESULTs and Win32 error codes.
#define S_OK ((HRESULT)0)
#define S_FALSE ((HRESULT)1)
#define E_NOTIMPL ((HRESULT)0x80004001L)
#define E_POINTER ((HRESULT)0x80004003L)
#define E_FAIL ((HRESULT)0x80004005L)
#define E_UNEXPECTED ((HRESULT)0x8000FFFFL)
#define E_OUTOFMEMORY ((HRESULT)0x8007000EL)
#define E_INVALIDARG ((HRESULT)0x80070057L)

#define FACILITY_WIN32 7
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#define HRESULT_FROM_WIN32(x)                                                                    \
    ((HRESULT)(x) <= 0 ? (HRESULT)(x)                                                            \
                       : (HRESULT)((((DWORD)(x)) & 0x0000FFFFu) | (FACILITY_WIN32 << 16) |       \
                                   0x80000000u))

#define ERROR_SUCCESS 0L
#define ERROR_FILE_NOT_FOUND 2L
#define ERROR_NOT_ENOUGH_MEMORY 8L
#define ERROR_INVALID_DATA 13L
#define ERROR_INSUFFICIENT_BUFFER 122L
#define ERROR_MOD_NOT_FOUND 126L
#define ERROR_PROC_NOT_FOUND 127L
#define ERROR_BAD_EXE_FORMAT 193L
#define ERROR_ENVVAR_NOT_FOUND 203L
#define ERROR_REVISION_MISMATCH 1306L  // 0x51A
#define ERROR_INVALID_INDEX 1413L      // 0x585: what IIS returns for an unknown server variable

// ---------------------------------------------------------------------------------------------
// Other constants.
#define MAX_PATH 260
#define DLL_PROCESS_DETACH 0
#define DLL_PROCESS_ATTACH 1
#define HEAP_ZERO_MEMORY 0x00000008
#define LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR 0x00000100
#define LOAD_LIBRARY_SEARCH_DEFAULT_DIRS 0x00001000
#define STD_OUTPUT_HANDLE ((DWORD)-11)
#define STD_ERROR_HANDLE ((DWORD)-12)
#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)

// IMAGE_FILE_HEADER.Machine values (also what IsWow64Process2 reports).
#define IMAGE_FILE_MACHINE_UNKNOWN 0x0000
#define IMAGE_FILE_MACHINE_I386 0x014C
#define IMAGE_FILE_MACHINE_ARMNT 0x01C4
#define IMAGE_FILE_MACHINE_AMD64 0x8664
#define IMAGE_FILE_MACHINE_ARM64 0xAA64
#define IMAGE_FILE_MACHINE_ARM64EC 0xA641
#define IMAGE_FILE_MACHINE_ARM64X 0xA64E

// IsWow64Process2 (Windows 10 1709+). Not imported: resolved with GetProcAddress so that a
// DLL using it still loads where it is missing.
typedef BOOL(WINAPI* PFN_IsWow64Process2)(HANDLE process, USHORT* processMachine,
                                           USHORT* nativeMachine);

// ---------------------------------------------------------------------------------------------
// kernel32.dll imports. Keep in sync with native/imports/kernel32.def (x86 byte counts there).
#ifdef __cplusplus
extern "C" {
#endif

#define ARCHWAY_KERNEL32 __declspec(dllimport)

ARCHWAY_KERNEL32 void WINAPI AcquireSRWLockExclusive(SRWLOCK* lock);                 // @4
ARCHWAY_KERNEL32 void WINAPI ReleaseSRWLockExclusive(SRWLOCK* lock);                 // @4
ARCHWAY_KERNEL32 void WINAPI AcquireSRWLockShared(SRWLOCK* lock);                    // @4
ARCHWAY_KERNEL32 void WINAPI ReleaseSRWLockShared(SRWLOCK* lock);                    // @4
ARCHWAY_KERNEL32 BOOL WINAPI DisableThreadLibraryCalls(HMODULE module);              // @4
ARCHWAY_KERNEL32 void WINAPI ExitProcess(UINT exitCode);                             // @4
ARCHWAY_KERNEL32 BOOL WINAPI FreeLibrary(HMODULE module);                            // @4
ARCHWAY_KERNEL32 PWSTR WINAPI GetCommandLineW(void);                                 // @0
ARCHWAY_KERNEL32 HANDLE WINAPI GetCurrentProcess(void);                              // @0
ARCHWAY_KERNEL32 DWORD WINAPI GetEnvironmentVariableW(PCWSTR name, PWSTR buffer,
                                                      DWORD size);                   // @12
ARCHWAY_KERNEL32 DWORD WINAPI GetFullPathNameW(PCWSTR path, DWORD size, PWSTR buffer,
                                               PWSTR* filePart);                     // @16
ARCHWAY_KERNEL32 DWORD WINAPI GetLastError(void);                                    // @0
ARCHWAY_KERNEL32 DWORD WINAPI GetModuleFileNameW(HMODULE module, PWSTR buffer,
                                                 DWORD size);                        // @12
ARCHWAY_KERNEL32 HMODULE WINAPI GetModuleHandleW(PCWSTR name);                       // @4
ARCHWAY_KERNEL32 FARPROC WINAPI GetProcAddress(HMODULE module, PCSTR name);          // @8
ARCHWAY_KERNEL32 HANDLE WINAPI GetProcessHeap(void);                                 // @0
ARCHWAY_KERNEL32 HANDLE WINAPI GetStdHandle(DWORD which);                            // @4
ARCHWAY_KERNEL32 void* WINAPI HeapAlloc(HANDLE heap, DWORD flags, SIZE_T bytes);     // @12
ARCHWAY_KERNEL32 BOOL WINAPI HeapFree(HANDLE heap, DWORD flags, void* block);        // @12
// psapi's EnumProcessModules, exported by kernel32 itself as K32EnumProcessModules (Win7+).
ARCHWAY_KERNEL32 BOOL WINAPI K32EnumProcessModules(HANDLE process, HMODULE* modules, DWORD cb,
                                                   DWORD* cbNeeded);                 // @16
ARCHWAY_KERNEL32 HMODULE WINAPI LoadLibraryExW(PCWSTR path, HANDLE reserved,
                                               DWORD flags);                         // @12
ARCHWAY_KERNEL32 void WINAPI OutputDebugStringW(PCWSTR text);                        // @4
ARCHWAY_KERNEL32 BOOL WINAPI WriteFile(HANDLE file, const void* data, DWORD bytes,
                                       DWORD* written, OVERLAPPED* overlapped);      // @20

// Used by the worker stand-in (tests/worker): threads, events, files, environment.
typedef DWORD(WINAPI* LPTHREAD_START_ROUTINE)(void* parameter);
typedef struct SECURITY_ATTRIBUTES_OPAQUE SECURITY_ATTRIBUTES;  // always passed as null
ARCHWAY_KERNEL32 BOOL WINAPI CloseHandle(HANDLE handle);                             // @4
ARCHWAY_KERNEL32 HANDLE WINAPI CreateEventW(SECURITY_ATTRIBUTES* attributes, BOOL manualReset,
                                            BOOL initialState, PCWSTR name);         // @16
ARCHWAY_KERNEL32 HANDLE WINAPI CreateFileW(PCWSTR path, DWORD access, DWORD share,
                                           SECURITY_ATTRIBUTES* attributes, DWORD disposition,
                                           DWORD flags, HANDLE templateFile);        // @28
ARCHWAY_KERNEL32 HANDLE WINAPI CreateThread(SECURITY_ATTRIBUTES* attributes, SIZE_T stackSize,
                                            LPTHREAD_START_ROUTINE start, void* parameter,
                                            DWORD flags, DWORD* threadId);           // @24
ARCHWAY_KERNEL32 DWORD WINAPI ExpandEnvironmentStringsW(PCWSTR source, PWSTR buffer,
                                                        DWORD size);                 // @12
ARCHWAY_KERNEL32 DWORD WINAPI GetCurrentProcessId(void);                             // @0
ARCHWAY_KERNEL32 ULONGLONG WINAPI GetTickCount64(void);                              // @0
ARCHWAY_KERNEL32 BOOL WINAPI ReadFile(HANDLE file, void* buffer, DWORD bytes, DWORD* read,
                                      OVERLAPPED* overlapped);                       // @20
ARCHWAY_KERNEL32 BOOL WINAPI ResetEvent(HANDLE event);                               // @4
ARCHWAY_KERNEL32 BOOL WINAPI SetEnvironmentVariableW(PCWSTR name, PCWSTR value);     // @8
ARCHWAY_KERNEL32 BOOL WINAPI SetEvent(HANDLE event);                                 // @4
ARCHWAY_KERNEL32 void WINAPI Sleep(DWORD milliseconds);                              // @4
ARCHWAY_KERNEL32 DWORD WINAPI WaitForSingleObject(HANDLE handle, DWORD milliseconds); // @8

#define STD_INPUT_HANDLE ((DWORD)-10)
#define INFINITE 0xFFFFFFFFu
#define WAIT_OBJECT_0 0x00000000u
#define WAIT_TIMEOUT 0x00000102u
#define GENERIC_READ 0x80000000u
#define FILE_SHARE_READ 0x00000001u
#define FILE_SHARE_WRITE 0x00000002u
#define OPEN_EXISTING 3u
#define FILE_ATTRIBUTE_NORMAL 0x00000080u
#define ERROR_PATH_NOT_FOUND 3L
#define ERROR_ACCESS_DENIED 5L
#define ERROR_HANDLE_EOF 38L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_INVALID_PARAMETER 87L
#define ERROR_BROKEN_PIPE 109L
#define ERROR_INVALID_NAME 123L
#define ERROR_DLL_INIT_FAILED 1114L
#define ERROR_NOT_FOUND 1168L
#define ERROR_CONNECTION_ABORTED 1236L
#define ERROR_TIMEOUT 1460L
#define ERROR_INVALID_STATE 5023L

#undef ARCHWAY_KERNEL32

#ifdef __cplusplus
}
#endif

// ---------------------------------------------------------------------------------------------
// Small compiler helpers.

#ifdef __cplusplus
namespace archway {
// GetProcAddress's FARPROC to the real function-pointer type. Going through `void (*)(void)`,
// the type compilers accept as a generic function pointer, keeps clang's
// -Wcast-function-type-mismatch quiet without hiding other casts.
template <typename F> inline F proc_cast(FARPROC proc) {
    return reinterpret_cast<F>(reinterpret_cast<void (*)(void)>(proc));
}
}  // namespace archway
#endif

#define ARCHWAY_OFFSETOF(type, member) __builtin_offsetof(type, member)

// Interlocked operations: compiler intrinsics on every target (MSVC and clang-cl), each a full
// memory barrier. Nothing is imported for them.
#ifdef __cplusplus
extern "C" {
#endif
long _InterlockedIncrement(long volatile* target);
long _InterlockedDecrement(long volatile* target);
long _InterlockedExchange(long volatile* target, long value);
long _InterlockedCompareExchange(long volatile* target, long exchange, long comparand);
#ifdef __cplusplus
}
#endif
#pragma intrinsic(_InterlockedIncrement, _InterlockedDecrement, _InterlockedExchange)
#pragma intrinsic(_InterlockedCompareExchange)

// Stop the process at once (used where hardware would fault, e.g. division by zero).
#if defined(__clang__) || defined(__GNUC__)
#define ARCHWAY_TRAP() __builtin_trap()
#else
#ifdef __cplusplus
extern "C" void __debugbreak(void);
#else
void __debugbreak(void);
#endif
#pragma intrinsic(__debugbreak)
#define ARCHWAY_TRAP() __debugbreak()
#endif

// The architecture this translation unit is compiled for. ARM64EC defines _M_X64/_M_AMD64 as
// well, so _M_ARM64EC must be tested first (docs/toolchains.md §1.3).
#if defined(_M_ARM64EC)
#define ARCHWAY_ARCH_NAME "arm64ec"
#define ARCHWAY_ARCH_MACHINE IMAGE_FILE_MACHINE_ARM64EC
#elif defined(_M_X64)
#define ARCHWAY_ARCH_NAME "x64"
#define ARCHWAY_ARCH_MACHINE IMAGE_FILE_MACHINE_AMD64
#elif defined(_M_ARM64)
#define ARCHWAY_ARCH_NAME "arm64"
#define ARCHWAY_ARCH_MACHINE IMAGE_FILE_MACHINE_ARM64
#elif defined(_M_IX86)
#define ARCHWAY_ARCH_NAME "x86"
#define ARCHWAY_ARCH_MACHINE IMAGE_FILE_MACHINE_I386
#endif
