// handlers/platform/src/app.h: one IIS application as the platform handler keeps it: its parsed
// configuration (cached until stop_application), its server processes (processesPerApplication
// slots, requests spread round-robin), the rapid-fail window, and its requests in flight.
#pragma once

#include "server.h"

namespace platform {

class Forward;

// The header that carries the forwarded Windows auth token (docs/httpplatform.md §3, §7).
constexpr char kTokenHeader[] = "X-IIS-WindowsAuthToken";

class App {
public:
    // The application of `request` (APPL_MD_PATH), created with its configuration on first
    // use. Returns a reference the caller releases; null with `error` filled when the
    // configuration is refused.
    static App* get(ArchwayRequest* request, HINTERNET session, ConfigError* error);
    // stop_application: the application with this config path, if any, stopped and dropped.
    static void stop_path(const char* md_path);
    // close: every application stopped and dropped.
    static void stop_all();
    // The watchdog's round: every request in flight checked against its requestTimeout.
    static void sweep_all(ULONGLONG now);
    // close: waits (up to 30 s) until no recycleOnFileChange restart is still stopping servers.
    static void wait_recycles();

    // forwardWindowsAuthToken (during execute): this process's own duplicate of the request's
    // token when the option is on and the request was authenticated with Negotiate or NTLM
    // (v2's rule); null otherwise. The caller closes it.
    HANDLE capture_user_token(ArchwayRequest* request);
    // The token duplicated into `server` and "X-IIS-WindowsAuthToken: <hex>\r\n" appended to
    // `headers`; false with `error` when DuplicateHandle fails.
    static bool add_token_header(ServerProcess* server, HANDLE token, WStr* headers, Str* error);

    void add_ref() { _InterlockedIncrement(&refs_); }
    void release();

    // A request starts or ends being in flight (stop cancels and waits for them). `enter`
    // fails when the application is stopping.
    bool enter(Forward* f);
    void leave(Forward* f);

    // A ready server for one request (a reference the caller releases), starting one when its
    // slot is empty or its process has exited. Null with the status to answer (502.5, or 503
    // while stopping) and `why` filled when there is none.
    ServerProcess* acquire(StartFailure* why, uint16_t* status, uint16_t* substatus);

    const Config& config() const { return config_; }
    bool stopping() const { return stopping_ != 0; }

private:
    App() = default;
    ~App();
    // Graceful (a recycleOnFileChange restart): requests in flight get up to 10 s to finish
    // before the usual stop (cancel, wait, terminate).
    void stop(bool graceful = false);
    // recycleOnFileChange: the change notifications for the listed files' folders (false with
    // `error` naming the entry when one cannot be watched), the thread that waits on them, and
    // its end (joined; safe to call twice).
    bool prepare_watch(ConfigError* error);
    void start_watch();
    void stop_watch();
    bool watched_file_changed(Str* which);
    void recycle();
    static DWORD WINAPI watch_thread(void* self);
    static DWORD WINAPI recycle_thread(void* self);
    bool blocked_by_rapid_fails(ULONGLONG now) const;
    void record_failure(ULONGLONG now);

    App* next_ = nullptr;      // the registry's list
    long refs_ = 1;            // the registry's
    char* md_path_ = nullptr;  // APPL_MD_PATH (UTF-8)
    Config config_;
    AppInfo info_;
    HINTERNET session_ = nullptr;

    SRWLOCK lock_ = SRWLOCK_INIT;        // everything below
    SRWLOCK start_lock_ = SRWLOCK_INIT;  // held while a server starts (one start at a time)
    ServerProcess** slots_ = nullptr;    // processes_per_application entries
    uint32_t next_slot_ = 0;
    ULONGLONG fail_window_start_ = 0;    // GetTickCount64 of the window's first failure
    uint32_t fail_count_ = 0;
    volatile long stopping_ = 0;
    Forward* requests_ = nullptr;        // in flight (Forward::app_prev_/app_next_)
    long in_flight_ = 0;
    HANDLE idle_ = nullptr;              // manual reset: set while nothing is in flight

    // recycleOnFileChange (fixed once prepare_watch succeeded; the watcher thread reads them).
    wchar_t** watch_paths_ = nullptr;       // absolute file paths (heap), watch_count_ of them
    FileAttributeData* watch_states_ = nullptr;  // each file's state when watching began
    uint32_t watch_count_ = 0;
    HANDLE watch_handles_[ARCHWAY_MAXIMUM_WAIT_OBJECTS] = {};  // [0] stop event, then folders
    uint32_t watch_handle_count_ = 0;
    HANDLE watch_thread_ = nullptr;
    volatile long warned_scheme_ = 0;       // forwardWindowsAuthToken log lines, once each
    volatile long warned_abi_ = 0;
};

}  // namespace platform
