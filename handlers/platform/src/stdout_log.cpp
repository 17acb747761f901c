// handlers/platform/src/stdout_log.cpp: the stdout log (stdout_log.h). A reader thread drains
// the pipe into a bounded ring at once, so the server never waits for the disk; a writer thread
// moves the ring to the file. When the ring is full the reader drops output and counts it; the
// writer then records in the file how many bytes were lost at that point.
#include "stdout_log.h"

#include "archway/process.h"

namespace platform {

volatile long g_log_threads = 0;

namespace {

// The log file's name: v2's `<base>_<yyyyMMddHHmmss UTC>_<worker pid>.log`.
void suffix(WStr* path) {
    SYSTEMTIME t;
    GetSystemTime(&t);
    wchar_t text[48];
    archway::WideBuilder b(text, 48);
    auto two = [&](uint32_t v) { b.ch(static_cast<wchar_t>(L'0' + v / 10 % 10)).ch(static_cast<wchar_t>(L'0' + v % 10)); };
    b.ch(L'_').u32(t.wYear);
    two(t.wMonth);
    two(t.wDay);
    two(t.wHour);
    two(t.wMinute);
    two(t.wSecond);
    b.ch(L'_').u32(GetCurrentProcessId()).wide(L".log");
    path->add(b.c_str(), b.size());
}

// Creates every folder above the file `path` (absolute); existing ones are fine.
void create_folders(const WStr& path) {
    WStr prefix;
    const wchar_t* p = path.c_str();
    const size_t n = path.size();
    size_t start = 0;
    if (n >= 2 && p[0] == L'\\' && p[1] == L'\\') {
        // \\server\share\: the share itself cannot be created; skip two components.
        int skip = 0;
        for (start = 2; start < n && skip < 2; ++start)
            if (p[start] == L'\\') ++skip;
    } else if (n >= 3 && p[1] == L':') {
        start = 3;
    }
    for (size_t i = start; i < n; ++i) {
        if (p[i] != L'\\' && p[i] != L'/') continue;
        prefix.clear();
        prefix.add(p, i);
        if (!prefix.failed()) CreateDirectoryW(prefix.c_str(), nullptr);
    }
}

void win32_error(Str* error, const char* what, DWORD code) {
    error->add(what).add(" (Win32 error ").num(code).add(")");
}

}  // namespace

StdoutLog* StdoutLog::open(const WStr& base, HANDLE* child_end, Str* path_utf8, Str* error) {
    WStr path;
    path.add(base.c_str(), base.size());
    suffix(&path);
    path_utf8->utf16(path.c_str(), path.size());
    if (path.failed()) {
        error->add("out of memory");
        return nullptr;
    }
    create_folders(path);
    HANDLE file = CreateFileW(path.c_str(), FILE_APPEND_DATA | SYNCHRONIZE,
                              FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_ALWAYS,
                              FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) {
        win32_error(error, "the stdout log file could not be opened", GetLastError());
        return nullptr;
    }
    StdoutLog* log = new (archway::nothrow) StdoutLog();
    char* ring = static_cast<char*>(archway::heap_alloc(kRing));
    HANDLE ready = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    HANDLE read_end = nullptr, write_end = nullptr;
    if (!log || !ring || !ready || !CreatePipe(&read_end, &write_end, nullptr, 64 * 1024) ||
        !SetHandleInformation(write_end, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)) {
        win32_error(error, "the stdout pipe could not be created", GetLastError());
        if (read_end) CloseHandle(read_end);
        if (write_end) CloseHandle(write_end);
        if (ready) CloseHandle(ready);
        archway::heap_free(ring);
        delete log;
        CloseHandle(file);
        return nullptr;
    }
    log->pipe_ = read_end;
    log->file_ = file;
    log->ready_ = ready;
    log->ring_ = ring;
    *child_end = write_end;
    return log;
}

bool StdoutLog::start() {
    _InterlockedIncrement(&g_log_threads);
    HANDLE r = CreateThread(nullptr, 0, reader, this, 0, nullptr);
    if (!r) {
        _InterlockedDecrement(&g_log_threads);
        discard();
        return false;
    }
    CloseHandle(r);
    _InterlockedIncrement(&g_log_threads);
    HANDLE w = CreateThread(nullptr, 0, writer, this, 0, nullptr);
    if (!w) {
        // The reader runs on and drops everything: the pipe must still be drained.
        _InterlockedDecrement(&g_log_threads);
        {
            Exclusive l(&lock_);
            held_ = 0;
        }
        release();
        return false;
    }
    CloseHandle(w);
    return true;
}

void StdoutLog::discard() {
    refs_ = 1;
    release();
}

void StdoutLog::release() {
    if (_InterlockedDecrement(&refs_) != 0) return;
    CloseHandle(pipe_);
    CloseHandle(file_);
    CloseHandle(ready_);
    archway::heap_free(ring_);
    delete this;
}

DWORD WINAPI StdoutLog::reader(void* self) {
    StdoutLog* log = static_cast<StdoutLog*>(self);
    char chunk[4096];
    for (;;) {
        DWORD got = 0;
        if (!ReadFile(log->pipe_, chunk, sizeof(chunk), &got, nullptr) || got == 0) break;
        {
            Exclusive l(&log->lock_);
            size_t room = kRing - log->held_;
            size_t take = got < room ? got : room;
            for (size_t i = 0; i < take; ++i)
                log->ring_[(log->head_ + log->held_ + i) % kRing] = chunk[i];
            log->held_ += take;
            log->dropped_ += got - take;
        }
        SetEvent(log->ready_);
    }
    {
        Exclusive l(&log->lock_);
        log->ended_ = true;
    }
    SetEvent(log->ready_);
    log->release();
    _InterlockedDecrement(&g_log_threads);
    return 0;
}

DWORD WINAPI StdoutLog::writer(void* self) {
    StdoutLog* log = static_cast<StdoutLog*>(self);
    char* out = static_cast<char*>(archway::heap_alloc(64 * 1024));
    for (;;) {
        WaitForSingleObject(log->ready_, INFINITE);
        for (;;) {
            size_t n = 0;
            uint64_t dropped = 0;
            bool ended;
            {
                Exclusive l(&log->lock_);
                if (out) {
                    n = log->held_ < 64 * 1024 ? log->held_ : 64 * 1024;
                    for (size_t i = 0; i < n; ++i) out[i] = log->ring_[(log->head_ + i) % kRing];
                } else {
                    n = 0;  // no buffer: the held bytes can only be counted as lost
                    log->dropped_ += log->held_;
                    log->held_ = 0;
                }
                log->head_ = (log->head_ + n) % kRing;
                log->held_ -= n;
                dropped = log->dropped_;
                log->dropped_ = 0;
                ended = log->ended_ && log->held_ == 0;
            }
            DWORD written = 0;
            if (n) WriteFile(log->file_, out, static_cast<DWORD>(n), &written, nullptr);
            if (dropped) {
                char note[128];
                archway::Utf8Builder b(note, sizeof(note));
                b.raw("\r\n[archway: ").u64(dropped).raw(
                    " bytes of output dropped here: the log file could not keep up]\r\n");
                WriteFile(log->file_, note, static_cast<DWORD>(b.size()), &written, nullptr);
            }
            if (ended) {
                archway::heap_free(out);
                log->release();
                _InterlockedDecrement(&g_log_threads);
                return 0;
            }
            if (n == 0 && !dropped) break;
        }
    }
}

}  // namespace platform
