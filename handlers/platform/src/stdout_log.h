// handlers/platform/src/stdout_log.h: a server's stdout and stderr into
// `<stdoutLogFile>_<yyyyMMddHHmmss UTC>_<worker pid>.log` (HttpPlatformHandler v2's name,
// docs/httpplatform.md §2), through a pipe that never blocks the server on a
// slow disk.
#pragma once

#include "util.h"

namespace platform {

class StdoutLog {
public:
    // Opens (appending; folders created) the log file for `base` (stdoutLogFile, expanded and
    // made absolute against the application folder by the caller) and a pipe whose write end
    // (inheritable) is `*child_end`. Null on failure, with `error` saying what failed.
    static StdoutLog* open(const WStr& base, HANDLE* child_end, Str* path_utf8, Str* error);
    // Starts the two threads (after the child holds its own copy of the write end, which the
    // caller then closes). On failure the log is released and nothing runs.
    bool start();
    // Drops a log whose threads never started.
    void discard();

private:
    StdoutLog() = default;
    static DWORD WINAPI reader(void* self);
    static DWORD WINAPI writer(void* self);
    void release();

    static constexpr size_t kRing = 256 * 1024;  // bytes held while the disk is slow
    long refs_ = 2;                                // the reader and the writer
    HANDLE pipe_ = nullptr;                        // read end
    HANDLE file_ = nullptr;
    HANDLE ready_ = nullptr;                       // auto-reset: data or end arrived
    SRWLOCK lock_ = SRWLOCK_INIT;
    char* ring_ = nullptr;
    size_t head_ = 0;   // first byte held
    size_t held_ = 0;   // bytes held
    uint64_t dropped_ = 0;
    bool ended_ = false;
};

// Log threads alive, and the event set when there are none (for close).
extern volatile long g_log_threads;

}  // namespace platform
