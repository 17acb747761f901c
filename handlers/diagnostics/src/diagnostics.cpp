// handlers/diagnostics/src/diagnostics.cpp: the handler that answers with JSON about what serves.
//
// Response (200, application/json; keys in this order):
//   {"product":"archway","version":"<host product_version>","abi_version":1,
//    "shim":{"arch":"x64","path":"..."},"handler":{"name":"diagnostics","arch":"x64","path":"..."},
//    "process":{"machine":"x64","native_machine":"arm64","wow64":false,"emulated":true},
//    "modules":["...",...],"request":{"method":"GET","url":"/x","app_pool":"P64"}}
// `modules` lists every loaded module whose folder is the shim's folder (so Arm64X forwarders
// show up next to the DLLs they forward to). Values that cannot be determined are null.
#include "archway/handler_open.h"
#include "archway/memory.h"
#include "archway/text.h"

namespace {

constexpr DWORD kPathCapacity = 2048;         // UTF-16 units per module path
constexpr size_t kBodyCapacity = 256 * 1024;  // bytes of JSON

HMODULE g_self;               // this DLL (from DllMain)
const ArchwayHost* g_host;    // lives as long as the shim (handler_abi.h)

// The field `member` of a struct whose producer said it is `struct_size` bytes long.
#define ARCHWAY_COVERS(ptr, type, member)                                                        \
    ((ptr)->struct_size >= ARCHWAY_OFFSETOF(type, member) + sizeof((ptr)->member))

const char* machine_name(uint32_t machine) {
    switch (machine) {
    case IMAGE_FILE_MACHINE_I386: return "x86";
    case IMAGE_FILE_MACHINE_AMD64: return "x64";
    case IMAGE_FILE_MACHINE_ARM64: return "arm64";
    case IMAGE_FILE_MACHINE_ARM64EC: return "arm64ec";
    case IMAGE_FILE_MACHINE_ARM64X: return "arm64x";
    case IMAGE_FILE_MACHINE_ARMNT: return "arm";
    default: return nullptr;
    }
}

void json_machine(archway::Utf8Builder& out, uint32_t machine) {
    const char* name = machine_name(machine);
    if (name) {
        out.json_string(name);
    } else {
        char hex[16];
        archway::Utf8Builder text(hex, sizeof(hex));
        text.hex(machine, 4);
        out.json_string(text.c_str());
    }
}

// The machine of the process this code runs in, from what it was compiled for: x64 and ARM64EC
// code only ever run in an x64 process (docs/iis.md §1.2, §1.4).
uint32_t compiled_process_machine() {
#if defined(_M_ARM64EC) || defined(_M_X64)
    return IMAGE_FILE_MACHINE_AMD64;
#elif defined(_M_ARM64)
    return IMAGE_FILE_MACHINE_ARM64;
#else
    return IMAGE_FILE_MACHINE_I386;
#endif
}

// "process": docs/iis.md §1.4. IsWow64Process2 reports a process machine only for WOW64 processes;
// an emulated x64 process on ARM64 gets UNKNOWN, like a native one, so the compile-time
// architecture of this code decides then.
void json_process(archway::Utf8Builder& out) {
    USHORT process_machine = IMAGE_FILE_MACHINE_UNKNOWN;
    USHORT native_machine = IMAGE_FILE_MACHINE_UNKNOWN;
    bool known = false;
    // Resolved at run time so the handler still loads where IsWow64Process2 is missing
    // (Windows 10 before 1709).
    HMODULE kernel32 = GetModuleHandleW(L"kernel32.dll");
    PFN_IsWow64Process2 is_wow64_process2 =
        kernel32 ? archway::proc_cast<PFN_IsWow64Process2>(
                       GetProcAddress(kernel32, "IsWow64Process2"))
                 : nullptr;
    if (is_wow64_process2 &&
        is_wow64_process2(GetCurrentProcess(), &process_machine, &native_machine)) {
        known = true;
    }
    const bool wow64 = known && process_machine != IMAGE_FILE_MACHINE_UNKNOWN;
    const uint32_t machine = wow64 ? process_machine : compiled_process_machine();

    out.raw("\"process\":{\"machine\":");
    json_machine(out, machine);
    out.raw(",\"native_machine\":");
    if (known) {
        json_machine(out, native_machine);
    } else {
        out.json_string("unknown");
    }
    out.raw(",\"wow64\":");
    if (known) {
        out.json_bool(wow64);
    } else {
        out.json_null();
    }
    // "emulated": the CPU translates this process's instructions, i.e. x86 or x64 code on an
    // ARM64 machine. x86 under WOW64 on x64 Windows runs natively and is not emulated.
    out.raw(",\"emulated\":");
    if (known) {
        out.json_bool(native_machine == IMAGE_FILE_MACHINE_ARM64 && machine != IMAGE_FILE_MACHINE_ARM64);
    } else {
        out.json_null();
    }
    out.ch('}');
}

// "modules": full paths of the loaded modules that live in the shim's folder.
void json_modules(archway::Utf8Builder& out, const wchar_t* shim_path) {
    out.raw("\"modules\":[");
    const size_t shim_length = archway::length(shim_path);
    const size_t folder = archway::folder_length(shim_path, shim_length);
    HANDLE process = GetCurrentProcess();

    const DWORD handle_size = static_cast<DWORD>(sizeof(HMODULE));
    DWORD capacity = 512;  // handles
    HMODULE* modules = nullptr;
    DWORD count = 0;
    for (int attempt = 0; attempt < 4; ++attempt) {
        modules = static_cast<HMODULE*>(archway::heap_alloc(capacity * handle_size));
        if (!modules) break;
        DWORD needed = 0;  // bytes
        if (!K32EnumProcessModules(process, modules, capacity * handle_size, &needed)) {
            archway::heap_free(modules);
            modules = nullptr;
            break;
        }
        if (needed <= capacity * handle_size) {
            count = needed / handle_size;
            break;
        }
        archway::heap_free(modules);  // more modules than room: try again with enough
        modules = nullptr;
        capacity = needed / handle_size + 64;
    }

    wchar_t* path = static_cast<wchar_t*>(archway::heap_alloc(kPathCapacity * sizeof(wchar_t)));
    bool first = true;
    if (modules && path && folder > 0) {
        for (DWORD i = 0; i < count; ++i) {
            const DWORD n = GetModuleFileNameW(modules[i], path, kPathCapacity);
            if (n == 0 || n >= kPathCapacity) continue;
            if (archway::folder_length(path, n) != folder) continue;
            if (!archway::equal_nocase(path, folder, shim_path, folder)) continue;
            if (!first) out.ch(',');
            first = false;
            out.json_string(path, n);
        }
    }
    archway::heap_free(path);
    archway::heap_free(modules);
    out.ch(']');
}

void json_server_variable(archway::Utf8Builder& out, ArchwayRequest* request, const char* name) {
    const char* value = nullptr;
    uint32_t length = 0;
    if (SUCCEEDED(request->get_server_variable(request, name, &value, &length)) && value) {
        out.json_string(value, length);
    } else {
        out.json_null();
    }
}

HRESULT ARCHWAY_CALL diagnostics_execute(void* state, ArchwayRequest* request) {
    (void)state;
    if (!request) return E_POINTER;
    if (!ARCHWAY_COVERS(request, ArchwayRequest, respond) || !request->respond ||
        !request->get_server_variable) {
        return HRESULT_FROM_WIN32(ERROR_REVISION_MISMATCH);
    }

    const ArchwayHost* host = g_host;
    if (!host) return E_UNEXPECTED;  // not opened, or already closed

    char* buffer = static_cast<char*>(archway::heap_alloc(kBodyCapacity));
    if (!buffer) return E_OUTOFMEMORY;
    archway::Utf8Builder out(buffer, kBodyCapacity);

    const char* version =
        ARCHWAY_COVERS(host, ArchwayHost, product_version) ? host->product_version : nullptr;
    const wchar_t* shim_path = ARCHWAY_COVERS(host, ArchwayHost, shim_path) ? host->shim_path
                                                                            : nullptr;

    out.raw("{\"product\":\"archway\",\"version\":");
    if (version) {
        out.json_string(version);
    } else {
        out.json_null();
    }
    out.raw(",\"abi_version\":").u32(ARCHWAY_HANDLER_ABI_VERSION);

    out.raw(",\"shim\":{\"arch\":");
    if (ARCHWAY_COVERS(host, ArchwayHost, shim_machine)) {
        json_machine(out, host->shim_machine);
    } else {
        out.json_null();
    }
    out.raw(",\"path\":");
    if (shim_path) {
        out.json_string(shim_path);
    } else {
        out.json_null();
    }

    out.raw("},\"handler\":{\"name\":\"diagnostics\",\"arch\":\"" ARCHWAY_ARCH_NAME "\",\"path\":");
    wchar_t* own_path = static_cast<wchar_t*>(archway::heap_alloc(kPathCapacity * sizeof(wchar_t)));
    const DWORD own_length = own_path ? GetModuleFileNameW(g_self, own_path, kPathCapacity) : 0;
    if (own_length > 0 && own_length < kPathCapacity) {
        out.json_string(own_path, own_length);
    } else if (ARCHWAY_COVERS(host, ArchwayHost, handler_path) && host->handler_path) {
        out.json_string(host->handler_path);
    } else {
        out.json_null();
    }
    archway::heap_free(own_path);
    out.raw("},");

    json_process(out);
    out.ch(',');
    if (shim_path) {
        json_modules(out, shim_path);
    } else {
        out.raw("\"modules\":[]");
    }

    out.raw(",\"request\":{\"method\":");
    json_server_variable(out, request, "REQUEST_METHOD");
    out.raw(",\"url\":");
    json_server_variable(out, request, "URL");
    out.raw(",\"app_pool\":");
    json_server_variable(out, request, "APP_POOL_ID");
    out.raw("}}");

    HRESULT hr;
    if (out.overflow()) {
        static const char kTooLarge[] = "archway diagnostics: response larger than 256 KiB";
        hr = request->respond(request, 500, "Internal Server Error", "text/plain; charset=utf-8",
                              kTooLarge, sizeof(kTooLarge) - 1);
    } else {
        hr = request->respond(request, 200, "OK", "application/json", out.c_str(),
                              static_cast<uint32_t>(out.size()));
    }
    archway::heap_free(buffer);
    return hr;
}

void ARCHWAY_CALL diagnostics_close(void* state) {
    (void)state;
    g_host = nullptr;
}

}  // namespace

// The handler ABI entry point (archway/handler_abi.h), exported undecorated via
// handlers/diagnostics/diagnostics.def.
extern "C" HRESULT ARCHWAY_CALL ArchwayHandlerOpen(const ArchwayHost* host,
                                                   ArchwayHandler* handler) {
    if (const HRESULT refused = archway_handler_check_open(host, handler); FAILED(refused)) return refused;

    g_host = host;
    ArchwayHandler mine = {};
    mine.name = "diagnostics";
    mine.state = nullptr;
    mine.execute = diagnostics_execute;
    mine.close = diagnostics_close;
    archway_handler_fill(handler, &mine);
    return S_OK;
}

extern "C" BOOL WINAPI DllMain(HMODULE module, DWORD reason, void* reserved) {
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        g_self = module;
        DisableThreadLibraryCalls(module);
    }
    return TRUE;
}
