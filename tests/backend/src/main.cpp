// tests/backend/src/main.cpp: the test backend's entry point: command line, startup behaviours,
// listening, one thread per connection, and a safety net that ends the process.
//
// Usage: archway_backend_<arch>.exe [--port N] [options]
//   --port N               listen on 127.0.0.1:N (0: any free port); without it, the port is
//                          HTTP_PLATFORM_PORT, which must be a plain decimal 1..65535 (a padded
//                          value, as HttpPlatformHandler 1.2 sent, is refused:
//                          docs/httpplatform.md §2)
//   --exit-at-start CODE   exit at once with CODE, never listening (a server that cannot start)
//   --never-listen         run without ever listening (a server that hangs while starting)
//   --listen-after MS      listen only after MS milliseconds (a slow start)
//   --starts-file PATH     append "start pid=<pid>" to PATH at every start (tests count starts)
//   --fail-first N         with --starts-file: exit with code 3 while PATH had fewer than N lines
//                          when this process started (the first N starts fail, then it works)
//   --fail-while-exists P  exit with code 3 at start while the file P exists
//   --say TEXT             write TEXT to stdout and to stderr at start (the log tests)
//   --tag TEXT             no effect: a marker that finds this process in a process list
//   --max-seconds N        end by itself after N seconds (default 300; a safety net for tests)
// stdout: "archway_backend: listening on 127.0.0.1:<port> pid=<pid> arch=<arch>" once it listens;
// stderr: "archway_backend: started pid=<pid>" first, then one line per notable event.
// Exit codes: 0 never (it serves until killed), 1 cannot listen, 2 bad command line or port,
// 3 a planned start failure (--fail-first, --fail-while-exists), 4 --max-seconds ran out,
// anything else: --exit-at-start or /crash?code=.
#include "backend.h"

#include "archway/command_line.h"

namespace backend {

Settings g_settings;
SRWLOCK g_lock = SRWLOCK_INIT;

namespace {

struct Args {
    bool has_port = false;
    uint64_t port = 0;
    bool exit_at_start = false;
    uint64_t exit_code = 0;
    bool never_listen = false;
    uint64_t listen_after_ms = 0;
    const wchar_t* starts_file = nullptr;
    uint64_t fail_first = 0;
    const wchar_t* fail_while_exists = nullptr;
    const wchar_t* say = nullptr;
    uint64_t max_seconds = 300;
};

[[noreturn]] void fail(int code, const archway::Utf8Builder& message) {
    err_line(message);
    ExitProcess(static_cast<UINT>(code));
    for (;;) Sleep(INFINITE);  // not reached: ExitProcess does not return
}

[[noreturn]] void usage(const char* why, const wchar_t* arg) {
    char buffer[1024];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    m.raw("error: ").raw(why);
    if (arg) m.raw(" \"").utf16(arg).raw("\"");
    m.raw("; usage: archway_backend_<arch>.exe [--port N] [--exit-at-start CODE] [--never-listen] "
          "[--listen-after MS] [--starts-file PATH [--fail-first N]] [--fail-while-exists PATH] "
          "[--say TEXT] [--tag TEXT] [--max-seconds N] (see tests/backend/src/main.cpp)");
    fail(2, m);
}

Args parse_args() {
    Args a;
    const wchar_t* argv[64];
    // The copies live on the process heap for good.
    const size_t argc = archway::split_command_line(
        GetCommandLineW(), argv, 64, [](size_t bytes) { return archway::heap_alloc(bytes); });
    for (size_t i = 0; i < argc; ++i) {
        const wchar_t* name = argv[i];
        if (archway::equal_nocase(name, L"--never-listen")) {
            a.never_listen = true;
            continue;
        }
        const wchar_t* value = i + 1 < argc ? argv[i + 1] : nullptr;
        auto number = [&](uint64_t* out) {
            if (!value || !parse_u64(value, out)) usage("this option wants a decimal number:", name);
        };
        if (archway::equal_nocase(name, L"--port")) {
            number(&a.port);
            if (a.port > 65535) usage("--port wants 0..65535, not", value);
            a.has_port = true;
        } else if (archway::equal_nocase(name, L"--exit-at-start")) {
            number(&a.exit_code);
            a.exit_at_start = true;
        } else if (archway::equal_nocase(name, L"--listen-after")) {
            number(&a.listen_after_ms);
        } else if (archway::equal_nocase(name, L"--fail-first")) {
            number(&a.fail_first);
        } else if (archway::equal_nocase(name, L"--max-seconds")) {
            number(&a.max_seconds);
            if (a.max_seconds == 0 || a.max_seconds > 86400) usage("--max-seconds wants 1..86400, not", value);
        } else if (archway::equal_nocase(name, L"--starts-file") || archway::equal_nocase(name, L"--fail-while-exists") ||
                   archway::equal_nocase(name, L"--say") || archway::equal_nocase(name, L"--tag")) {
            if (!value) usage("this option wants a value:", name);
            if (archway::equal_nocase(name, L"--starts-file")) a.starts_file = value;
            if (archway::equal_nocase(name, L"--fail-while-exists")) a.fail_while_exists = value;
            if (archway::equal_nocase(name, L"--say")) a.say = value;
        } else {
            usage("unknown argument", name);
        }
        ++i;
    }
    if (a.fail_first && !a.starts_file) usage("--fail-first needs --starts-file", nullptr);
    return a;
}

uint16_t port_from_environment() {
    wchar_t value[64];
    const DWORD n = GetEnvironmentVariableW(L"HTTP_PLATFORM_PORT", value, 64);
    char buffer[256];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    if (n == 0 || n >= 64) {
        m.raw("error: no --port and HTTP_PLATFORM_PORT is not set (the platform handler sets it)");
        fail(2, m);
    }
    uint64_t port = 0;
    if (!parse_u64(value, &port) || port == 0 || port > 65535) {
        m.raw("error: HTTP_PLATFORM_PORT is \"").utf16(value).raw("\": not a plain port number 1..65535");
        fail(2, m);
    }
    return static_cast<uint16_t>(port);
}

// Lines of the file at `path` (0 when it does not exist).
uint64_t count_lines(const wchar_t* path) {
    HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | BACKEND_FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (f == INVALID_HANDLE_VALUE) return 0;
    uint64_t lines = 0;
    char buffer[4096];
    DWORD got = 0;
    while (ReadFile(f, buffer, sizeof(buffer), &got, nullptr) && got > 0)
        for (DWORD i = 0; i < got; ++i) lines += buffer[i] == '\n';
    CloseHandle(f);
    return lines;
}

void append_start(const wchar_t* path) {
    HANDLE f = CreateFileW(path, BACKEND_FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | BACKEND_FILE_SHARE_DELETE,
                           nullptr, BACKEND_OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    char buffer[256];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    if (f == INVALID_HANDLE_VALUE) {
        m.raw("error: cannot open --starts-file \"").utf16(path).raw("\": Win32 error ").u32(GetLastError());
        fail(2, m);
    }
    m.raw("start pid=").u32(g_settings.pid).raw("\n");
    DWORD written = 0;
    WriteFile(f, m.c_str(), static_cast<DWORD>(m.size()), &written, nullptr);
    CloseHandle(f);
}

bool exists(const wchar_t* path) {
    HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | BACKEND_FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (f == INVALID_HANDLE_VALUE) return false;
    CloseHandle(f);
    return true;
}

DWORD WINAPI watchdog(void* parameter) {
    const uint64_t seconds = reinterpret_cast<uintptr_t>(parameter);
    Sleep(static_cast<DWORD>(seconds * 1000));
    char buffer[96];
    archway::Utf8Builder m(buffer, sizeof(buffer));
    m.raw("--max-seconds ").u64(seconds).raw(" ran out: exiting");
    fail(4, m);
}

DWORD WINAPI connection_thread(void* parameter) {
    Connection* c = static_cast<Connection*>(parameter);
    serve_connection(c);
    shutdown(c->socket, SD_BOTH);
    closesocket(c->socket);
    delete c;
    return 0;
}

int run() {
    g_settings.pid = GetCurrentProcessId();
    g_settings.command_line = GetCommandLineW();
    {
        char buffer[96];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("started pid=").u32(g_settings.pid);
        err_line(m);
    }
    const Args args = parse_args();
    HANDLE dog = CreateThread(nullptr, 0, watchdog, reinterpret_cast<void*>(static_cast<uintptr_t>(args.max_seconds)), 0, nullptr);
    if (dog) CloseHandle(dog);

    if (args.say) {
        char buffer[1024];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("say ").utf16(args.say);
        out_line(m);
        err_line(m);
    }
    if (args.exit_at_start) {
        char buffer[96];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("exiting at start with code ").u64(args.exit_code).raw(" (--exit-at-start)");
        fail(static_cast<int>(args.exit_code), m);
    }
    if (args.starts_file) {
        const uint64_t before = count_lines(args.starts_file);
        append_start(args.starts_file);
        if (before < args.fail_first) {
            char buffer[128];
            archway::Utf8Builder m(buffer, sizeof(buffer));
            m.raw("failing start ").u64(before + 1).raw(" of the first ").u64(args.fail_first).raw(" (--fail-first)");
            fail(3, m);
        }
    }
    if (args.fail_while_exists && exists(args.fail_while_exists)) {
        char buffer[1024];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("failing start: \"").utf16(args.fail_while_exists).raw("\" exists (--fail-while-exists)");
        fail(3, m);
    }
    const uint16_t port = args.has_port ? static_cast<uint16_t>(args.port) : port_from_environment();
    if (args.never_listen) {
        static const char kNever[] = "never listening (--never-listen)";
        err_line(kNever, sizeof(kNever) - 1);
        Sleep(INFINITE);
    }
    if (args.listen_after_ms) Sleep(static_cast<DWORD>(args.listen_after_ms));

    WSADATA wsa;
    if (WSAStartup(0x0202, &wsa) != 0) {
        static const char kWsa[] = "error: WSAStartup failed";
        err_line(kWsa, sizeof(kWsa) - 1);
        return 1;
    }
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    const int exclusive = 1;
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&exclusive), sizeof(exclusive));
    sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = archway_htons(port);
    address.sin_addr.s_addr = 0x0100007Fu;  // 127.0.0.1 in network byte order
    if (s == INVALID_SOCKET || bind(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(s, SOMAXCONN) != 0) {
        char buffer[128];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("error: cannot listen on 127.0.0.1:").u32(port).raw(": Winsock error ").u32(static_cast<uint32_t>(WSAGetLastError()));
        err_line(m);
        return 1;
    }
    int length = sizeof(address);
    getsockname(s, reinterpret_cast<sockaddr*>(&address), &length);
    g_settings.port = archway_ntohs(address.sin_port);
    {
        char buffer[128];
        archway::Utf8Builder m(buffer, sizeof(buffer));
        m.raw("listening on 127.0.0.1:").u32(g_settings.port).raw(" pid=").u32(g_settings.pid).raw(" arch=").raw(ARCHWAY_ARCH_NAME);
        out_line(m);
    }
    while (true) {
        sockaddr_in peer;
        int peer_length = sizeof(peer);
        const SOCKET client = accept(s, reinterpret_cast<sockaddr*>(&peer), &peer_length);
        if (client == INVALID_SOCKET) continue;
        Connection* c = new (archway::nothrow) Connection();
        if (!c) {
            closesocket(client);
            continue;
        }
        c->socket = client;
        c->peer_port = archway_ntohs(peer.sin_port);
        HANDLE t = CreateThread(nullptr, 0, connection_thread, c, 0, nullptr);
        if (t) {
            CloseHandle(t);
        } else {
            closesocket(client);
            delete c;
        }
    }
}

}  // namespace
}  // namespace backend

// Entry point (linked with /subsystem:console /entry:ArchwayBackendMain): no CRT, so no
// argc/argv and no return to a CRT; the process ends through ExitProcess.
extern "C" void __cdecl ArchwayBackendMain(void) {
    ExitProcess(static_cast<UINT>(backend::run()));
}
