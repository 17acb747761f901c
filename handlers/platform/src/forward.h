// handlers/platform/src/forward.h: one request proxied to the application's server through
// WinHTTP in asynchronous mode. execute copies what it needs from the request and returns
// ARCHWAY_S_PENDING; a thread-pool work item obtains a server (starting it if needed) and sends;
// from then on WinHTTP's status callback drives the request: the body streamed up (chunked when
// its length is unknown), the response head through send_head, each chunk through write_body
// with ARCHWAY_WRITE_FLUSH, and complete once the WinHTTP handle is closed.
#pragma once

#include "app.h"

namespace platform {

class Forward {
public:
    // Copies the request's method, URL, headers and client address (valid only during execute).
    // Null when the request cannot be read (the caller answers 500).
    static Forward* create(App* app, ArchwayRequest* request, Str* error);
    // close, once no request is in flight: the cached transfer buffers go back to the heap
    // (they live on the process heap, which outlives this DLL).
    static void free_cached_buffers();
    // On a pool thread: find or start the server, then send. The request is pending from now on.
    static DWORD WINAPI start(void* self);
    // The callback every WinHTTP handle of the session reports to.
    static void WINAPI callback(HINTERNET handle, DWORD_PTR context, DWORD status, void* info,
                                DWORD info_length);

    void add_ref() { _InterlockedIncrement(&refs_); }
    // For the App's walks over its requests in flight (App::stop, App::sweep_all), under the
    // App's lock: a reference unless the last one is already gone (then false, and the request
    // must not be touched: it is finishing and leaves the list as soon as it gets that lock).
    // add_ref there would bring a finishing request back to life (see release).
    bool try_add_ref();
    void release();
    // stop_application: abort (503 when nothing was sent yet).
    void cancel();
    // The watchdog (every second): ends the request with 502.3 once WinHTTP has kept it waiting
    // longer than requestTimeout. WinHTTP's own timeouts are set too, but Wine 8's asynchronous
    // WinHTTP was seen not to apply the receive timeout (README, platform handler).
    void check_timeout(ULONGLONG now);

    Forward* app_prev_ = nullptr;  // App's list of requests in flight
    Forward* app_next_ = nullptr;
    bool in_app_ = false;          // App::enter succeeded: ending the request leaves it

private:
    enum class Ev { kSent, kWritten, kHeaders, kAvailable, kRead, kError };
    struct Event {
        Ev kind;
        DWORD value;  // bytes (kWritten, kAvailable, kRead) or the Win32 error (kError)
        DWORD api;    // API_* of a kError
    };
    enum class Next { kContinue, kWait, kEnd };

    Forward() = default;
    ~Forward();
    void drive(Event e);
    Next step(const Event& e, Event* next);
    Next send_body(Event* next);
    Next on_headers(Event* next);
    Next on_available(DWORD bytes, Event* next);
    Next on_read(DWORD bytes, Event* next);
    Next query_data(Event* next);
    Next on_error(const Event& e);
    // Issues one asynchronous WinHTTP call; kContinue with `next` when it completed on this
    // thread inside the call, kWait when the callback will come, kEnd when it failed (the
    // request is then being ended).
    template <typename F> Next issue(F call, Event* next);
    Next fail(uint16_t status, uint16_t substatus, const char* what, const char* attribute,
              HRESULT result);
    Next end(HRESULT result);
    void record(uint16_t status, uint16_t substatus, const char* what, const char* attribute,
                const char* log_path, HRESULT result);
    void close_handle();
    void finish();
    bool build_headers(WStr* out);
    Next open_and_send(Event* next);

    long refs_ = 1;
    App* app_ = nullptr;
    ArchwayRequest* request_ = nullptr;
    ServerProcess* server_ = nullptr;

    // Copied during execute.
    Str method_, url_, raw_headers_, remote_addr_, remote_port_;
    bool https_ = false;
    bool has_body_ = false;
    bool chunked_ = false;
    uint64_t content_length_ = 0;

    SRWLOCK lock_ = SRWLOCK_INIT;       // guards handle_; held during WinHTTP calls
    SRWLOCK info_lock_ = SRWLOCK_INIT;  // guards head_sent_, result_ and the fail_* fields
    HINTERNET handle_ = nullptr;
    volatile long sync_thread_ = 0;  // the thread inside a WinHTTP call (0: none)
    volatile long waiting_ = 0;      // an asynchronous WinHTTP call is outstanding
    ULONGLONG wait_since_ = 0;       // GetTickCount64 when it was issued
    bool have_sync_ = false;       // that call completed on its own thread: sync_event_
    Event sync_event_ = {Ev::kError, 0, 0};

    static constexpr uint64_t kUnknown = ~0ull;
    uint64_t response_left_ = kUnknown;  // of the response body's Content-Length, when sized

    HANDLE user_token_ = nullptr;  // forwardWindowsAuthToken: ours, from App::capture_user_token

    char* buffer_ = nullptr;
    bool body_done_ = false;
    bool head_sent_ = false;
    volatile long cancelled_ = 0;
    HRESULT result_ = S_OK;          // what complete reports once the head was sent
    uint16_t fail_status_ = 0, fail_substatus_ = 0;  // the page to send if no head was sent
    Str fail_what_, fail_attribute_, fail_log_;
};

}  // namespace platform
