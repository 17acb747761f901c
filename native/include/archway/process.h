// archway/process.h: our own declarations for child processes, job objects, pipes, thread-pool
// work items, UTC time, the system RNG (bcrypt.dll) and Winsock's `connect`.
//
// Freestanding like win32.h (docs/toolchains.md §4): no SDK headers; layouts follow the SDK's
// processthreadsapi.h, jobapi2.h/winnt.h, minwinbase.h and bcrypt.h. The kernel32 functions
// here are listed, with their x86 stdcall byte counts, in native/imports/kernel32.def,
// BCryptGenRandom in native/imports/bcrypt.def and `connect` in native/imports/ws2_32.def
// (docs/toolchains.md §4.2). Used by handlers/platform; win32.h keeps what everything shares.
#pragma once

#include "archway/win32.h"
#include "archway/winsock.h"

typedef struct STARTUPINFOW {
    DWORD cb;
    PWSTR lpReserved;
    PWSTR lpDesktop;
    PWSTR lpTitle;
    DWORD dwX;
    DWORD dwY;
    DWORD dwXSize;
    DWORD dwYSize;
    DWORD dwXCountChars;
    DWORD dwYCountChars;
    DWORD dwFillAttribute;
    DWORD dwFlags;
    WORD wShowWindow;
    WORD cbReserved2;
    BYTE* lpReserved2;
    HANDLE hStdInput;
    HANDLE hStdOutput;
    HANDLE hStdError;
} STARTUPINFOW;

typedef struct PROCESS_INFORMATION {
    HANDLE hProcess;
    HANDLE hThread;
    DWORD dwProcessId;
    DWORD dwThreadId;
} PROCESS_INFORMATION;

typedef struct SYSTEMTIME {
    WORD wYear;
    WORD wMonth;
    WORD wDayOfWeek;
    WORD wDay;
    WORD wHour;
    WORD wMinute;
    WORD wSecond;
    WORD wMilliseconds;
} SYSTEMTIME;

// JOBOBJECT_EXTENDED_LIMIT_INFORMATION (winnt.h). LARGE_INTEGER is 8-byte aligned on x86 too.
typedef struct JOBOBJECT_BASIC_LIMIT_INFORMATION {
    int64_t PerProcessUserTimeLimit;
    int64_t PerJobUserTimeLimit;
    DWORD LimitFlags;
    SIZE_T MinimumWorkingSetSize;
    SIZE_T MaximumWorkingSetSize;
    DWORD ActiveProcessLimit;
    uintptr_t Affinity;
    DWORD PriorityClass;
    DWORD SchedulingClass;
} JOBOBJECT_BASIC_LIMIT_INFORMATION;

typedef struct IO_COUNTERS {
    ULONGLONG ReadOperationCount;
    ULONGLONG WriteOperationCount;
    ULONGLONG OtherOperationCount;
    ULONGLONG ReadTransferCount;
    ULONGLONG WriteTransferCount;
    ULONGLONG OtherTransferCount;
} IO_COUNTERS;

typedef struct JOBOBJECT_EXTENDED_LIMIT_INFORMATION {
    JOBOBJECT_BASIC_LIMIT_INFORMATION BasicLimitInformation;
    IO_COUNTERS IoInfo;
    SIZE_T ProcessMemoryLimit;
    SIZE_T JobMemoryLimit;
    SIZE_T PeakProcessMemoryUsed;
    SIZE_T PeakJobMemoryUsed;
} JOBOBJECT_EXTENDED_LIMIT_INFORMATION;

#ifdef __cplusplus
#if defined(_WIN64)
static_assert(sizeof(STARTUPINFOW) == 104 && sizeof(PROCESS_INFORMATION) == 24, "SDK sizes");
static_assert(sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) == 144, "SDK size");
#else
static_assert(sizeof(STARTUPINFOW) == 68 && sizeof(PROCESS_INFORMATION) == 16, "SDK sizes");
static_assert(sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) == 112, "SDK size");
#endif
static_assert(sizeof(SYSTEMTIME) == 16, "SDK size");
#endif

#define JobObjectExtendedLimitInformation 9
#define JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE 0x00002000u
#define CREATE_SUSPENDED 0x00000004u
#define CREATE_UNICODE_ENVIRONMENT 0x00000400u
#define CREATE_NO_WINDOW 0x08000000u
#define STARTF_USESTDHANDLES 0x00000100u
#define HANDLE_FLAG_INHERIT 0x00000001u
#define STILL_ACTIVE 259u
#define WT_EXECUTELONGFUNCTION 0x00000010u
#define GENERIC_WRITE 0x40000000u
#define FILE_APPEND_DATA 0x00000004u
#define SYNCHRONIZE 0x00100000u
#define OPEN_ALWAYS 4u
#define ERROR_ALREADY_EXISTS 183L
#define BCRYPT_USE_SYSTEM_PREFERRED_RNG 0x00000002u

typedef BYTE BOOLEAN;

#ifdef __cplusplus
extern "C" {
#endif

#define ARCHWAY_KERNEL32 __declspec(dllimport)

ARCHWAY_KERNEL32 BOOL WINAPI AssignProcessToJobObject(HANDLE job, HANDLE process);   // @8
ARCHWAY_KERNEL32 BOOL WINAPI CreateDirectoryW(PCWSTR path,
                                              SECURITY_ATTRIBUTES* attributes);      // @8
ARCHWAY_KERNEL32 HANDLE WINAPI CreateJobObjectW(SECURITY_ATTRIBUTES* attributes,
                                                PCWSTR name);                        // @8
ARCHWAY_KERNEL32 BOOL WINAPI CreatePipe(HANDLE* read, HANDLE* write,
                                        SECURITY_ATTRIBUTES* attributes, DWORD size); // @16
ARCHWAY_KERNEL32 BOOL WINAPI CreateProcessW(PCWSTR application, PWSTR command_line,
                                            SECURITY_ATTRIBUTES* process_attributes,
                                            SECURITY_ATTRIBUTES* thread_attributes,
                                            BOOL inherit_handles, DWORD flags,
                                            void* environment, PCWSTR directory,
                                            STARTUPINFOW* startup,
                                            PROCESS_INFORMATION* info);              // @40
ARCHWAY_KERNEL32 BOOL WINAPI FreeEnvironmentStringsW(PWSTR block);                   // @4
ARCHWAY_KERNEL32 DWORD WINAPI GetCurrentThreadId(void);                              // @0
ARCHWAY_KERNEL32 PWSTR WINAPI GetEnvironmentStringsW(void);                          // @0
ARCHWAY_KERNEL32 BOOL WINAPI GetExitCodeProcess(HANDLE process, DWORD* code);        // @8
ARCHWAY_KERNEL32 void WINAPI GetSystemTime(SYSTEMTIME* time);                        // @4
ARCHWAY_KERNEL32 BOOL WINAPI QueueUserWorkItem(LPTHREAD_START_ROUTINE function, void* context,
                                               ULONG flags);                         // @12
ARCHWAY_KERNEL32 DWORD WINAPI ResumeThread(HANDLE thread);                           // @4
ARCHWAY_KERNEL32 BOOL WINAPI SetHandleInformation(HANDLE handle, DWORD mask,
                                                  DWORD flags);                      // @12
ARCHWAY_KERNEL32 BOOL WINAPI SetInformationJobObject(HANDLE job, int information_class,
                                                     void* information, DWORD length); // @16
ARCHWAY_KERNEL32 BOOL WINAPI TerminateJobObject(HANDLE job, UINT exit_code);         // @8
ARCHWAY_KERNEL32 BOOL WINAPI TerminateProcess(HANDLE process, UINT exit_code);       // @8
ARCHWAY_KERNEL32 BOOLEAN WINAPI TryAcquireSRWLockExclusive(SRWLOCK* lock);           // @4

#undef ARCHWAY_KERNEL32

// bcrypt.dll: NTSTATUS BCryptGenRandom(BCRYPT_ALG_HANDLE, PUCHAR, ULONG, ULONG).
__declspec(dllimport) LONG WINAPI BCryptGenRandom(void* algorithm, uint8_t* buffer, ULONG length,
                                                  ULONG flags);                     // @16

// ws2_32.dll (winsock.h has the rest; this one is the platform handler's readiness probe).
__declspec(dllimport) int WINAPI connect(SOCKET s, const struct sockaddr* name, int namelen); // @12

#ifdef __cplusplus
}
#endif
