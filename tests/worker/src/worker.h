// tests/worker/src/worker.h: what the worker stand-in's files share: output, memory, config model.
//
// The worker plays one IIS worker process (w3wp.exe): it reads an applicationHost.config-shaped
// file (config.cpp), loads the global modules and drives them like IIS (iis_objects.cpp), and
// serves HTTP/1.1 on Winsock (http.cpp). main.cpp ties them together.
#pragma once

#include "archway/httpserv.h"
#include "archway/memory.h"
#include "archway/text.h"
#include "archway/winsock.h"

namespace worker {

// ---------------------------------------------------------------------------------------------
// Output (output.cpp is main.cpp): whole lines, one WriteFile each, serialised by a lock so lines
// of different threads never interleave. Both prefix "archway_worker: " and add the newline.
void out_line(const char* utf8, size_t n);  // stdout (the driver parses it)
void err_line(const char* utf8, size_t n);  // stderr (logs, errors)
inline void out_line(const archway::Utf8Builder& b) { out_line(b.c_str(), b.size()); }
inline void err_line(const archway::Utf8Builder& b) { err_line(b.c_str(), b.size()); }
// A raw line on stderr without the prefix (config errors have their own format).
void err_raw_line(const char* utf8, size_t n);

// "193 (0xC1) ERROR_BAD_EXE_FORMAT": the number, its hex form and its symbolic name if known.
void append_win32_error(archway::Utf8Builder& out, DWORD error);

// ---------------------------------------------------------------------------------------------
// A growable array of trivially copyable values on the process heap. Growth failures are
// reported (push returns false), never fatal.
template <typename T> class Vec {
public:
    Vec() = default;
    Vec(const Vec&) = delete;
    Vec& operator=(const Vec&) = delete;
    ~Vec() { archway::heap_free(data_); }

    bool reserve(size_t n) {
        if (n <= cap_) return true;
        size_t cap = cap_ ? cap_ : 8;
        while (cap < n) {
            if (cap > (static_cast<size_t>(-1) / sizeof(T)) / 2) return false;
            cap *= 2;
        }
        T* p = static_cast<T*>(archway::heap_alloc(cap * sizeof(T)));
        if (!p) return false;
        if (size_) memcpy(p, data_, size_ * sizeof(T));
        archway::heap_free(data_);
        data_ = p;
        cap_ = cap;
        return true;
    }
    bool push(const T& v) {
        if (size_ == cap_ && !reserve(size_ + 1)) return false;
        data_[size_++] = v;
        return true;
    }
    bool append(const T* v, size_t n) {
        if (n == 0) return true;
        if (size_ + n < size_ || !reserve(size_ + n)) return false;
        memcpy(data_ + size_, v, n * sizeof(T));
        size_ += n;
        return true;
    }
    bool insert_front(const T* v, size_t n) {
        if (n == 0) return true;
        if (size_ + n < size_ || !reserve(size_ + n)) return false;
        if (size_) memmove(data_ + n, data_, size_ * sizeof(T));
        memcpy(data_, v, n * sizeof(T));
        size_ += n;
        return true;
    }
    void clear() { size_ = 0; }
    // Grows (or shrinks) to `n` elements; new elements are uninitialised.
    bool resize(size_t n) {
        if (!reserve(n)) return false;
        size_ = n;
        return true;
    }
    void erase(size_t i) {
        if (i >= size_) return;
        memmove(data_ + i, data_ + i + 1, (size_ - i - 1) * sizeof(T));
        --size_;
    }
    void erase_front(size_t n) {
        if (n >= size_) {
            size_ = 0;
            return;
        }
        memmove(data_, data_ + n, (size_ - n) * sizeof(T));
        size_ -= n;
    }
    T* data() { return data_; }
    const T* data() const { return data_; }
    size_t size() const { return size_; }
    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }

private:
    T* data_ = nullptr;
    size_t size_ = 0;
    size_t cap_ = 0;
};

// Request-lifetime memory: blocks freed all at once (IHttpContext::AllocateRequestMemory,
// IModuleAllocator, server variable values, copies of the request head).
class Arena {
public:
    Arena() = default;
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;
    ~Arena() { reset(); }

    void* alloc(size_t bytes);  // 16-byte aligned, zeroed; null on failure
    void reset();
    // NUL-terminated copies.
    char* copy(const char* s, size_t n);
    wchar_t* copy(const wchar_t* s, size_t n);
    // UTF-8 → UTF-16 (invalid sequences become U+FFFD) and back.
    wchar_t* widen(const char* s, size_t n, size_t* out_length = nullptr);
    char* narrow(const wchar_t* s, size_t n, size_t* out_length = nullptr);

private:
    struct Block {
        Block* next;
        size_t size;
        size_t used;
    };
    Block* head_ = nullptr;
};

// UTF-8 → UTF-16 into a caller buffer (NUL-terminated; false if it does not fit).
bool widen_into(const char* s, size_t n, wchar_t* out, size_t capacity);

// ---------------------------------------------------------------------------------------------
// The configuration this worker serves (config.cpp). Strings are UTF-8, NUL-terminated, owned by
// the Config (which lives for the whole process).
struct Binding {
    uint32_t ip;         // IPv4, network byte order; 0 for "*" (all interfaces)
    uint16_t port;       // host byte order; 0 = ephemeral (the actual port is in Listener)
    const char* host;    // "" when the binding has no host name
    uint32_t line, column;
};

// One application of a site (system.applicationHost/sites/site/application), in this pool.
struct App {
    const char* path;                // "/" or "/app" (no trailing slash)
    const wchar_t* physical_path_w;  // expanded, with a trailing backslash (APPL_PHYSICAL_PATH)
    const wchar_t* config_path_w;    // MACHINE/WEBROOT/APPHOST/<site>[/app] (GetAppConfigPath)
    const char* md_path;             // /LM/W3SVC/<id>/ROOT[/app] (APPL_MD_PATH, GetApplicationId)
};

struct Site {
    const char* name;
    const wchar_t* name_w;
    DWORD id;
    const char* physical_path;       // as configured (environment variables not yet expanded)
    const wchar_t* physical_path_w;  // expanded, with a trailing backslash (APPL_PHYSICAL_PATH)
    const wchar_t* config_path_w;    // MACHINE/WEBROOT/APPHOST/<site>
    const char* md_path;             // /LM/W3SVC/<id>/ROOT
    Binding* bindings;
    size_t binding_count;
    App* apps;                       // apps[0] is the root application "/"; then the others
    size_t app_count;                // whose pool is this worker's
};

// The application of `site` that serves URL path `path` (the longest matching application path,
// on a segment boundary; the root application otherwise).
const App* app_for_path(const Site* site, const char* path, size_t length);

struct GlobalModuleEntry {
    const char* name;
    const char* image;
    const char* precondition;  // "" when absent
    uint32_t line, column;
};

struct Config {
    const char* pool;
    Site* sites;
    size_t site_count;
    GlobalModuleEntry* modules;
    size_t module_count;
};

struct ConfigError {
    uint32_t line = 1, column = 1;
    char message[512];
};

// Parses `bytes` (the whole file) for application pool `pool` (UTF-8). On failure fills `error`
// and returns false. Never crashes on any input (fuzzers will be pointed at it).
bool parse_config(const char* bytes, size_t size, const char* pool, Config* out,
                  ConfigError* error);

// ---------------------------------------------------------------------------------------------
// Modules and the process (iis_objects.cpp, main.cpp).
struct ModuleRecord;  // one loaded global module (iis_objects.cpp)

struct Process {
    const wchar_t* pool_w;
    const char* pool;
    Config config;
    bool module_failed;  // any global module failed to load: every request gets 503 (docs/iis.md §5)
};
extern Process g_process;

// Loads every global module of the config in order, printing the "module ... loaded" lines and
// the event lines; sets g_process.module_failed on any failure.
void load_modules();
// Factory Terminate() and CGlobalModule::Terminate() for every module (graceful stop).
void terminate_modules();
// GL_STOP_LISTENING for the global modules that asked for it.
void notify_stop_listening();
// GL_APPLICATION_STOP, once per application of the pool, for the global modules that asked.
void notify_application_stop();

// ---------------------------------------------------------------------------------------------
// HTTP (http.cpp).
bool start_listeners();       // binds every binding of every site; prints the "listening" lines
void stop_accepting();        // the accept thread stops taking connections
bool wait_for_connections(DWORD milliseconds);  // true when no connection is left
bool stopping();              // graceful stop in progress (connections close when idle)

}  // namespace worker
