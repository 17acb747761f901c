// handlers/platform/src/server.cpp: starting one server process the way HttpPlatformHandler v2
// does (docs/httpplatform.md §2): the port (random 10000-48000, up to 10 tries
// skipping busy ones, or the configured HTTP_PLATFORM_PORT), %HTTP_PLATFORM_PORT% substituted in
// the arguments and environment values, the environment, the job object, stdout/stderr, and the
// wait until the port accepts a connection within startupTimeLimit.
#include "server.h"

#include "archway/process.h"
#include "stdout_log.h"

namespace platform {
namespace {

constexpr DWORD kPollMs = 50;  // between two readiness probes

void win32_failure(StartFailure* why, const char* what, DWORD code) {
    why->what.add(what).add(" (Win32 error ").num(code).add(")");
}

bool winsock_ready() {
    static volatile long started = 0;  // 1 once WSAStartup succeeded (never cleaned up: cheap)
    if (started) return true;
    WSADATA data;
    if (WSAStartup(0x0202, &data) != 0) return false;
    if (_InterlockedExchange(&started, 1) == 1) WSACleanup();  // another thread won: one ref
    return true;
}

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = archway_htons(port);
    a.sin_addr.s_addr = 0x0100007Fu;  // 127.0.0.1 in network byte order
    return a;
}

// Nobody listens on 127.0.0.1:port: an exclusive bind succeeds.
bool port_free(uint16_t port) {
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return false;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&one), sizeof(one));
    sockaddr_in a = loopback(port);
    const bool ok = bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
    closesocket(s);
    return ok;
}

// Something accepts connections on 127.0.0.1:port.
bool port_accepts(uint16_t port) {
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return false;
    sockaddr_in a = loopback(port);
    const bool ok = connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
    closesocket(s);
    return ok;
}

const char* find_env(const Config& c, const char* name) {
    const char* found = nullptr;
    for (size_t i = 0; i < c.environment.size(); ++i)
        if (archway::equal_nocase(c.environment[i].name, name)) found = c.environment[i].value;
    return found;
}

bool choose_port(const Config& c, uint16_t* port, StartFailure* why) {
    const char* fixed = find_env(c, "HTTP_PLATFORM_PORT");
    if (fixed && *fixed) {
        uint64_t v = 0;
        if (!parse_u64(fixed, archway::length(fixed), 48000, &v) || v < 1025) {
            why->attribute.add("environmentVariables HTTP_PLATFORM_PORT");
            why->what.add("HTTP_PLATFORM_PORT must be a port from 1025 to 48000 (the value is \"")
                .add(fixed)
                .add("\")");
            return false;
        }
        *port = static_cast<uint16_t>(v);
        return true;
    }
    for (int attempt = 0; attempt < 10; ++attempt) {
        uint32_t r = 0;
        if (!random_bytes(&r, sizeof(r))) {
            why->what.add("the system random number generator failed");
            return false;
        }
        const uint16_t candidate = static_cast<uint16_t>(10000 + r % 38001);
        if (port_free(candidate)) {
            *port = candidate;
            return true;
        }
    }
    why->what.add("no free loopback port was found in 10 tries between 10000 and 48000");
    return false;
}

// Lower-case GUID text from 16 random bytes (version 4).
bool make_token(char* out) {
    uint8_t b[16];
    if (!random_bytes(b, sizeof(b))) return false;
    b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
    static const char kHex[] = "0123456789abcdef";
    size_t k = 0;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[k++] = '-';
        out[k++] = kHex[b[i] >> 4];
        out[k++] = kHex[b[i] & 0xF];
    }
    out[k] = 0;
    return true;
}

// `text` (UTF-8) with every %HTTP_PLATFORM_PORT% (any case) replaced by the port, in UTF-16.
void substitute_port(const char* text, uint16_t port, WStr* out) {
    static const char kVar[] = "%HTTP_PLATFORM_PORT%";
    const size_t k = sizeof(kVar) - 1;
    const size_t n = archway::length(text);
    size_t from = 0;
    for (size_t i = 0; i + k <= n;) {
        if (archway::equal_nocase(text + i, k, kVar, k)) {
            out->utf8(text + from, i - from).num(port);
            i += k;
            from = i;
        } else {
            ++i;
        }
    }
    out->utf8(text + from, n - from);
}

bool expand(const WStr& in, WStr* out) {
    const DWORD need = ExpandEnvironmentStringsW(in.c_str(), nullptr, 0);
    if (need == 0) return false;
    wchar_t* tmp = static_cast<wchar_t*>(archway::heap_alloc(need * sizeof(wchar_t)));
    const DWORD got = tmp ? ExpandEnvironmentStringsW(in.c_str(), tmp, need) : 0;
    if (got > 0 && got <= need) out->add(tmp, got - 1);  // `got` counts the NUL
    archway::heap_free(tmp);
    return got > 0 && got <= need && !out->failed();
}

bool is_absolute(const WStr& p) {
    const wchar_t* s = p.c_str();
    return (p.size() >= 2 && s[1] == L':') || (p.size() >= 1 && (s[0] == L'\\' || s[0] == L'/'));
}

// `path` made absolute and normalised against the application folder.
bool resolve(const AppInfo& app, const WStr& path, WStr* out) {
    WStr joined;
    if (!is_absolute(path)) joined.add(app.physical_path.c_str(), app.physical_path.size());
    joined.add(path.c_str(), path.size());
    for (size_t i = 0; i < joined.size(); ++i)
        if (joined[i] == L'/') joined[i] = L'\\';
    if (joined.failed()) return false;
    const DWORD need = GetFullPathNameW(joined.c_str(), 0, nullptr, nullptr);
    if (need == 0) return false;
    wchar_t* tmp = static_cast<wchar_t*>(archway::heap_alloc(need * sizeof(wchar_t)));
    const DWORD got = tmp ? GetFullPathNameW(joined.c_str(), need, tmp, nullptr) : 0;
    if (got > 0 && got < need) out->add(tmp, got);
    archway::heap_free(tmp);
    return got > 0 && got < need && !out->failed();
}

bool name_is(const wchar_t* entry, const wchar_t* name) {
    const size_t n = archway::length(name);
    return archway::equal_nocase(entry, n, name, n) && entry[n] == L'=';
}

bool name_is_utf8(const wchar_t* entry, const char* name) {
    WStr w;
    w.utf8(name);
    return !w.failed() && name_is(entry, w.c_str());
}

// The child's environment block: the worker's, minus every name set below, then the configured
// variables (%HTTP_PLATFORM_PORT% substituted), then HTTP_PLATFORM_PORT, _APPL_PATH, _TOKEN,
// _IIS_PHYSICAL_PATH, _IIS_HTTPAUTH and _IIS_WEBSOCKETS_SUPPORTED, each once. A configured
// HTTP_PLATFORM_PORT chose the port (above); a configured entry of any other of these names is
// replaced by ours, as v2 replaces _APPL_PATH, _IIS_PHYSICAL_PATH, _IIS_HTTPAUTH and
// _IIS_WEBSOCKETS_SUPPORTED (docs/httpplatform.md §9). v2 would take a configured _TOKEN as
// the token; archway keeps its own, which is also the MS-ASPNETCORE-TOKEN header's.
bool environment(const Config& c, const AppInfo& app, uint16_t port, const char* token,
                 WStr* block) {
    static const char* const kOwn[] = {"HTTP_PLATFORM_PORT",
                                       "HTTP_PLATFORM_APPL_PATH",
                                       "HTTP_PLATFORM_TOKEN",
                                       "HTTP_PLATFORM_IIS_PHYSICAL_PATH",
                                       "HTTP_PLATFORM_IIS_HTTPAUTH",
                                       "HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED"};
    wchar_t* worker = GetEnvironmentStringsW();
    if (worker) {
        for (const wchar_t* e = worker; *e; e += archway::length(e) + 1) {
            bool replaced = false;
            for (const char* own : kOwn) replaced = replaced || name_is_utf8(e, own);
            for (size_t i = 0; !replaced && i < c.environment.size(); ++i)
                replaced = name_is_utf8(e, c.environment[i].name);
            if (!replaced) block->add(e).push(0);
        }
        FreeEnvironmentStringsW(worker);
    }
    for (size_t i = 0; i < c.environment.size(); ++i) {
        const EnvVar& v = c.environment[i];
        bool own = false;
        for (const char* name : kOwn) own = own || archway::equal_nocase(v.name, name);
        if (own) continue;
        // A later entry with the same name wins.
        bool later = false;
        for (size_t j = i + 1; j < c.environment.size(); ++j)
            later = later || archway::equal_nocase(v.name, c.environment[j].name);
        if (later) continue;
        block->utf8(v.name).push(L'=');
        substitute_port(v.value ? v.value : "", port, block);
        block->push(0);
    }
    block->add(L"HTTP_PLATFORM_PORT=").num(port).push(0);
    block->add(L"HTTP_PLATFORM_APPL_PATH=").add(app.virtual_path.c_str()).push(0);
    block->add(L"HTTP_PLATFORM_TOKEN=").utf8(token).push(0);
    // The application's folder with its trailing backslash, as ANCM's in-process handler sets
    // the same variable; v2's out-of-process code passes IIS's application ID here instead
    // (docs/httpplatform.md §9).
    block->add(L"HTTP_PLATFORM_IIS_PHYSICAL_PATH=").add(app.physical_path.c_str()).push(0);
    block->add(L"HTTP_PLATFORM_IIS_HTTPAUTH=").add(app.http_auth.c_str()).push(0);
    // v2's spelling: "true" or "false" (environmentvariablehelpers.h).
    block->add(L"HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED=")
        .add(app.websockets_supported ? L"true" : L"false")
        .push(0);
    block->push(0);
    return !block->failed();
}

HANDLE open_null(bool write) {
    HANDLE h = CreateFileW(L"NUL", write ? GENERIC_WRITE : GENERIC_READ,
                           FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return nullptr;
    SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    return h;
}

void close(HANDLE h) {
    if (h && h != INVALID_HANDLE_VALUE) CloseHandle(h);
}

}  // namespace

ServerProcess::~ServerProcess() {
    if (connect_) WinHttpCloseHandle(connect_);
    if (job_) {
        TerminateJobObject(job_, 1);
        CloseHandle(job_);  // KILL_ON_JOB_CLOSE: whatever is left of the tree ends here
    }
    if (process_) CloseHandle(process_);
}

void ServerProcess::release() {
    if (_InterlockedDecrement(&refs_) == 0) delete this;
}

void ServerProcess::terminate() {
    if (job_) TerminateJobObject(job_, 1);
}

// The handle belongs to the server from here: it closes it (v1.2's documentation says the
// child must). If the request fails before the server reads the header, the handle stays open
// in the server until it exits, as in v2 (docs/httpplatform.md §7). process_ comes from
// CreateProcessW, so it has PROCESS_DUP_HANDLE.
bool ServerProcess::give_token(HANDLE token, uint64_t* value, DWORD* error) const {
    HANDLE target = nullptr;
    if (!DuplicateHandle(GetCurrentProcess(), token, process_, &target, 0, FALSE,
                         ARCHWAY_DUPLICATE_SAME_ACCESS)) {
        *error = GetLastError();
        return false;
    }
    *value = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(target));
    return true;
}

bool app_relative_path(const AppInfo& app, const char* path, WStr* out) {
    WStr raw, expanded;
    raw.utf8(path);
    return !raw.failed() && expand(raw, &expanded) && resolve(app, expanded, out);
}

bool start_server(const Config& c, const AppInfo& app, HINTERNET session, volatile long* stopping,
                  ServerProcess** out, StartFailure* why) {
    *out = nullptr;
    if (!winsock_ready()) {
        win32_failure(why, "Winsock could not be started", static_cast<DWORD>(WSAGetLastError()));
        return false;
    }
    uint16_t port = 0;
    if (!choose_port(c, &port, why)) return false;
    ServerProcess* p = new (archway::nothrow) ServerProcess();
    if (!p || !make_token(p->token_)) {
        delete p;
        why->what.add("out of memory, or the random number generator failed");
        return false;
    }
    p->port_ = port;

    // processPath: variables expanded; relative (".\app.exe", "./x") to the application folder.
    WStr raw_path, expanded_path, path;
    raw_path.utf8(c.process_path.c_str());
    if (!expand(raw_path, &expanded_path)) {
        why->attribute.add("processPath");
        why->what.add("the environment variables in processPath could not be expanded");
        delete p;
        return false;
    }
    if (expanded_path.size() && expanded_path[0] == L'.') {
        if (!resolve(app, expanded_path, &path)) {
            why->attribute.add("processPath");
            why->what.add("processPath could not be made absolute against the application folder");
            delete p;
            return false;
        }
    } else {
        path.add(expanded_path.c_str(), expanded_path.size());
    }
    WStr raw_args, args, command;
    substitute_port(c.arguments.c_str(), port, &raw_args);
    if (!expand(raw_args, &args)) args.add(raw_args.c_str(), raw_args.size());
    command.push(L'"').add(path.c_str(), path.size()).push(L'"');
    if (args.size()) command.push(L' ').add(args.c_str(), args.size());
    WStr env;
    if (!environment(c, app, port, p->token_, &env) || command.failed()) {
        why->what.add("out of memory building the command line and environment");
        delete p;
        return false;
    }

    // stdout and stderr: the log's pipe, or NUL (a server without a console must still have
    // valid standard handles).
    StdoutLog* log = nullptr;
    HANDLE child_out = nullptr;
    if (c.stdout_log_enabled) {
        WStr base_raw, base_expanded, base;
        base_raw.utf8(c.stdout_log_file.c_str());
        if (!expand(base_raw, &base_expanded) || !resolve(app, base_expanded, &base)) {
            why->attribute.add("stdoutLogFile");
            why->what.add("stdoutLogFile could not be made absolute against the application folder");
            delete p;
            return false;
        }
        Str error;
        log = StdoutLog::open(base, &child_out, &why->log_path, &error);
        if (!log) {
            why->attribute.add("stdoutLogFile");
            why->what.add(error.c_str());
            delete p;
            return false;
        }
    } else {
        child_out = open_null(true);
    }
    HANDLE child_in = open_null(false);

    p->job_ = CreateJobObjectW(nullptr, nullptr);
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
    memset(&limits, 0, sizeof(limits));
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!p->job_ || !SetInformationJobObject(p->job_, JobObjectExtendedLimitInformation, &limits,
                                             sizeof(limits))) {
        win32_failure(why, "the job object for the process could not be created", GetLastError());
        if (log) log->discard();
        close(child_out);
        close(child_in);
        delete p;
        return false;
    }

    STARTUPINFOW si;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = child_in;
    si.hStdOutput = child_out;
    si.hStdError = child_out;
    PROCESS_INFORMATION pi;
    memset(&pi, 0, sizeof(pi));
    const wchar_t* folder = app.physical_path.size() ? app.physical_path.c_str() : nullptr;
    // [UNCERTAIN] bInheritHandles=TRUE also hands the child every other inheritable handle of
    // the worker (ANCM does the same); PROC_THREAD_ATTRIBUTE_HANDLE_LIST would narrow it. The
    // Windows jobs' platform tests run it against real w3wp handles.
    const BOOL created = CreateProcessW(nullptr, command.data(), nullptr, nullptr, TRUE,
                                        CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT |
                                            CREATE_NO_WINDOW,
                                        env.data(), folder, &si, &pi);
    const DWORD create_error = GetLastError();
    close(child_out);  // the child has its own copies now
    close(child_in);
    if (!created) {
        why->attribute.add("processPath");
        why->what.add("the process could not be started: ").utf16(command.c_str(), command.size());
        why->what.add(" (Win32 error ").num(create_error).add(")");
        if (log) log->discard();
        delete p;
        return false;
    }
    p->process_ = pi.hProcess;
    p->pid_ = pi.dwProcessId;
    if (!AssignProcessToJobObject(p->job_, pi.hProcess)) {
        const DWORD e = GetLastError();
        TerminateProcess(pi.hProcess, 1);
        CloseHandle(pi.hThread);
        if (log) log->discard();
        win32_failure(why, "the process could not be put in its job object", e);
        delete p;
        return false;
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    if (log) log->start();

    // Ready when the port accepts a connection; failed when the process exits first or the
    // time runs out.
    const ULONGLONG deadline = GetTickCount64() + static_cast<ULONGLONG>(c.startup_time_limit_s) * 1000;
    for (;;) {
        if (port_accepts(port)) break;
        if (!p->alive()) {
            DWORD code = 0;
            GetExitCodeProcess(p->process_, &code);
            why->attribute.add("processPath");
            why->what.add("the process exited with code ").num(code).add(
                " before it listened on port ").num(port);
            delete p;
            return false;
        }
        if (*stopping) {
            why->what.add("the application is stopping");
            delete p;
            return false;
        }
        if (GetTickCount64() >= deadline) {
            why->attribute.add("startupTimeLimit");
            why->what.add("the process did not listen on port ").num(port).add(" within ")
                .num(c.startup_time_limit_s).add(" s (startupTimeLimit)");
            delete p;
            return false;
        }
        Sleep(kPollMs);
    }
    p->connect_ = WinHttpConnect(session, L"127.0.0.1", port, 0);
    if (!p->connect_) {
        win32_failure(why, "WinHttpConnect failed", GetLastError());
        delete p;
        return false;
    }
    *out = p;
    return true;
}

}  // namespace platform
