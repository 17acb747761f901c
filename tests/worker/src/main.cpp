// tests/worker/src/main.cpp: the worker stand-in's entry point: command line, config, lifecycle.
//
// Usage (w3wp-like): archway_worker_<arch>.exe -ap <pool> -h <applicationHost.config>
//                    [-max-seconds N]
// stdout, one line each (the driver parses them):
//   archway_worker: module <name> loaded from <expanded full path>
//   archway_worker: listening pool=<pool> site=<site> address=<ip>:<port> pid=<pid> machine=<arch>
//   archway_worker: ready
//   archway_worker: stopped
// Everything else goes to stderr with the same prefix (request log, IIS events 2280/2293/2295),
// except config errors: "<config path>(<line>,<col>): error: <what>".
// Exit codes: 0 stopped after stdin reached EOF; 2 bad command line; 3 config error;
// 4 -max-seconds elapsed (stopped the same way); 1 cannot listen or another fatal error.
#include "admin.h"
#include "archway/command_line.h"
#include "worker.h"

namespace worker {
namespace {

struct Args {
    const wchar_t* pool = nullptr;
    const wchar_t* config = nullptr;
    uint32_t max_seconds = 600;
};

HANDLE g_stop_event;

int usage(const char* why) {
    char buffer[512];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    m.raw("error: ").raw(why).raw(
        "; usage: archway_worker_<arch>.exe -ap <pool name> -h <applicationHost.config> "
        "[-max-seconds N]");
    err_line(m);
    return 2;
}

bool parse_args(Arena* arena, Args* args, int* exit_code) {
    const wchar_t* argv[64];
    const size_t argc = archway::split_command_line(
        GetCommandLineW(), argv, 64, [&](size_t bytes) { return arena->alloc(bytes); });
    for (size_t i = 0; i < argc; ++i) {
        const wchar_t* a = argv[i];
        const wchar_t* value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (archway::equal_nocase(a, L"-ap") || archway::equal_nocase(a, L"-h") ||
            archway::equal_nocase(a, L"-max-seconds")) {
            if (!value) {
                *exit_code = usage("an option is missing its value");
                return false;
            }
            ++i;
            if (archway::equal_nocase(a, L"-ap")) {
                args->pool = value;
            } else if (archway::equal_nocase(a, L"-h")) {
                args->config = value;
            } else {
                uint64_t n = 0;
                bool ok = *value != 0;
                for (const wchar_t* p = value; *p && ok; ++p) {
                    ok = *p >= L'0' && *p <= L'9';
                    n = n * 10 + static_cast<uint64_t>(*p - L'0');
                    if (n > 86400u * 30) ok = false;
                }
                if (!ok || n == 0) {
                    *exit_code = usage("-max-seconds wants a number of seconds (1 to 2592000)");
                    return false;
                }
                args->max_seconds = static_cast<uint32_t>(n);
            }
        } else {
            char buffer[512];
            archway::Utf8Builder m(buffer, sizeof(buffer));
            m.raw("unknown argument \"").utf16(a).raw("\"");
            *exit_code = usage(m.c_str());
            return false;
        }
    }
    if (!args->pool || !*args->pool) {
        *exit_code = usage("-ap <pool name> is required");
        return false;
    }
    if (!args->config || !*args->config) {
        *exit_code = usage("-h <path of applicationHost.config> is required");
        return false;
    }
    return true;
}

// "<path>(<line>,<col>): error: <what>" on stderr.
void config_error(const char* path, uint32_t line, uint32_t column, const char* what) {
    char buffer[4096];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    m.raw(path).ch('(').u32(line).ch(',').u32(column).raw("): error: ").raw(what);
    err_raw_line(m.c_str(), m.size());
}

// The whole file (at most 16 MiB + 1 byte, so the parser can say it is too large).
bool read_file(const wchar_t* path, Vec<char>* out, DWORD* error) {
    HANDLE file = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                              OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) {
        *error = GetLastError();
        return false;
    }
    const size_t limit = (16u << 20) + 1;
    bool ok = true;
    while (out->size() < limit) {
        const size_t before = out->size();
        if (!out->resize(before + 65536)) {
            *error = ERROR_NOT_ENOUGH_MEMORY;
            ok = false;
            break;
        }
        DWORD read = 0;
        if (!ReadFile(file, out->data() + before, 65536, &read, nullptr)) {
            *error = GetLastError();
            out->resize(before);
            ok = false;
            break;
        }
        out->resize(before + read);
        if (read == 0) break;
    }
    CloseHandle(file);
    return ok;
}

// Stops the worker when stdin reaches EOF (the driver closes the pipe).
DWORD WINAPI stdin_thread(void* parameter) {
    HANDLE in = static_cast<HANDLE>(parameter);
    char buffer[256];
    while (true) {
        DWORD read = 0;
        if (!ReadFile(in, buffer, sizeof(buffer), &read, nullptr) || read == 0) break;
    }
    SetEvent(g_stop_event);
    return 0;
}

int run() {
    Arena* arena = new Arena();  // lives as long as the process
    Args args;
    int exit_code = 0;
    if (!parse_args(arena, &args, &exit_code)) return exit_code;

    size_t pool_length = 0, config_length = 0;
    char* pool = arena->narrow(args.pool, archway::length(args.pool), &pool_length);
    char* config_path = arena->narrow(args.config, archway::length(args.config), &config_length);
    if (!pool || !config_path) return 1;
    g_process.pool = pool;
    g_process.pool_w = args.pool;

    // As w3wp does, before any module is loaded.
    SetEnvironmentVariableW(L"APP_POOL_ID", args.pool);
    SetEnvironmentVariableW(L"APP_POOL_CONFIG", args.config);

    {
        Vec<char> bytes;
        DWORD error = 0;
        if (!read_file(args.config, &bytes, &error)) {
            char buffer[256];
            archway::Utf8Builder m(buffer, sizeof(buffer));
            m.raw("cannot read the file: ");
            append_win32_error(m, error);
            config_error(config_path, 1, 1, m.c_str());
            return 3;
        }
        ConfigError ce;
        if (!parse_config(bytes.data() ? bytes.data() : "", bytes.size(), pool, &g_process.config, &ce)) {
            config_error(config_path, ce.line, ce.column, ce.message);
            return 3;
        }
        if (!admin_init(bytes.data() ? bytes.data() : "", bytes.size(), config_path)) return 1;
    }

    g_stop_event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (!g_stop_event) return 1;

    load_modules();
    if (!start_listeners()) return 1;
    static const char kReady[] = "ready";
    out_line(kReady, sizeof(kReady) - 1);

    // Without any stdin (a detached start) only -max-seconds ends the worker.
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    if (in && in != INVALID_HANDLE_VALUE) {
        HANDLE watcher = CreateThread(nullptr, 0, stdin_thread, in, 0, nullptr);
        if (watcher) CloseHandle(watcher);
    } else {
        static const char kNoInput[] = "no stdin: only -max-seconds will stop this worker";
        err_line(kNoInput, sizeof(kNoInput) - 1);
    }

    const uint64_t ms = static_cast<uint64_t>(args.max_seconds) * 1000u;
    const DWORD waited = WaitForSingleObject(g_stop_event, ms >= INFINITE ? INFINITE - 1 : static_cast<DWORD>(ms));
    int code = 0;
    if (waited != WAIT_OBJECT_0) {
        char buffer[128];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("-max-seconds ").u32(args.max_seconds).raw(" elapsed: stopping");
        err_line(m);
        code = 4;
    }

    // Graceful stop: no new connections, in-flight requests get 5 s, then GL_APPLICATION_STOP for
    // each application and Terminate(). When
    // requests are still running, the modules are not terminated under them: the process just
    // ends, as w3wp does when its shutdown time limit runs out.
    stop_accepting();
    notify_stop_listening();
    if (wait_for_connections(5000)) {
        notify_application_stop();
        terminate_modules();
    } else {
        static const char kLeft[] = "requests still running after 5 s: exiting without Terminate()";
        err_line(kLeft, sizeof(kLeft) - 1);
    }
    static const char kStopped[] = "stopped";
    out_line(kStopped, sizeof(kStopped) - 1);
    return code;
}

}  // namespace
}  // namespace worker

// Entry point (linked with /subsystem:console /entry:ArchwayWorkerMain): no CRT, so no argc/argv
// and no return to a CRT; the process ends through ExitProcess.
extern "C" void __cdecl ArchwayWorkerMain(void) {
    ExitProcess(static_cast<UINT>(worker::run()));
}
