// handlers/platform/src/server.h: one application server process (HttpPlatformHandler's
// "processPath"): started in its own job object so it dies with the worker, on a loopback port
// it must listen on, with a per-process token; and the stdout log that records its output.
#pragma once

#include "archway/winhttp.h"
#include "config.h"

namespace platform {

// What a server process needs to know about its application (UTF-16, fixed at creation).
struct AppInfo {
    WStr physical_path;  // APPL_PHYSICAL_PATH, with a trailing backslash: HTTP_PLATFORM_IIS_PHYSICAL_PATH
    WStr virtual_path;   // the application's virtual path ("/", "/app"): HTTP_PLATFORM_APPL_PATH
    // HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED, from the request that started the application
    // (websockets_supported in websocket.h; docs/httpplatform.md §9).
    bool websockets_supported = false;
    // HTTP_PLATFORM_IIS_HTTPAUTH ("windows;basic;anonymous;" in part, or "none"), from the same
    // request (iis_http_auth in config.h; docs/httpplatform.md §9).
    WStr http_auth;
};

// Why a start failed, for the 502.5 page and the log.
struct StartFailure {
    Str what;       // e.g. "the process exited with code 3 during startup"
    Str attribute;  // the configuration attribute to look at, if one is to blame
    Str log_path;   // the stdout log, when stdoutLogEnabled
};

class ServerProcess;

// `path` (UTF-8, as configured) with environment variables expanded and made absolute against
// the application folder unless it already is (recycleOnFileChange's file paths, v2's rule:
// docs/httpplatform.md §8). False when it cannot be expanded or resolved.
bool app_relative_path(const AppInfo& app, const char* path, WStr* out);

// Starts one server and waits until its port accepts a connection (startupTimeLimit). Returns
// false with `why` filled when it cannot; gives up early when *stopping becomes nonzero.
bool start_server(const Config& config, const AppInfo& app, HINTERNET session,
                  volatile long* stopping, ServerProcess** out, StartFailure* why);

class ServerProcess {
public:
    void add_ref() { _InterlockedIncrement(&refs_); }
    void release();
    // FALSE once the process has exited (it is then replaced on the next request).
    bool alive() const { return WaitForSingleObject(process_, 0) == WAIT_TIMEOUT; }
    // Ends the process tree now (the job), and lets go of it once the last request is done.
    void terminate();
    // forwardWindowsAuthToken: `token` (a handle of this process) duplicated into the server
    // process with the same access; *value is the handle's value there (what
    // X-IIS-WindowsAuthToken carries). False with *error (Win32) when DuplicateHandle fails.
    bool give_token(HANDLE token, uint64_t* value, DWORD* error) const;

    uint16_t port() const { return port_; }
    DWORD pid() const { return pid_; }
    const char* token() const { return token_; }     // MS-ASPNETCORE-TOKEN / HTTP_PLATFORM_TOKEN
    HINTERNET connection() const { return connect_; }  // WinHttpConnect to 127.0.0.1:port

private:
    friend bool start_server(const Config&, const AppInfo&, HINTERNET, volatile long*,
                             ServerProcess**, StartFailure*);
    ServerProcess() = default;
    ~ServerProcess();

    long refs_ = 1;
    HANDLE process_ = nullptr;
    HANDLE job_ = nullptr;
    DWORD pid_ = 0;
    uint16_t port_ = 0;
    char token_[40] = {};
    HINTERNET connect_ = nullptr;
};


}  // namespace platform
