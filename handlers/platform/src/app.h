// handlers/platform/src/app.h: one IIS application as the platform handler keeps it: its parsed
// configuration (cached until stop_application), its server processes (processesPerApplication
// slots, requests spread round-robin), the rapid-fail window, and its requests in flight.
#pragma once

#include "server.h"

namespace platform {

class Forward;

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
    void stop();
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
};

}  // namespace platform
