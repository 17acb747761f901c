// handlers/platform/src/app.cpp: the applications (app.h) and their registry.
//
// Rapid fails: HttpPlatformHandler's reference says rapidFailsPerMinute is how often the process
// "is allowed to crash per minute; if this limit is exceeded, the handler will stop launching the
// process for the remainder of the minute" (docs/httpplatform.md §4: 502.5). Every
// failed start attempt and every server found exited counts; once the count in the window that
// began with the first failure exceeds the limit, requests get 502.5 until 60 s after that first
// failure. [UNCERTAIN] whether v1.2 counts failed start attempts as crashes; the Windows jobs'
// platform tests compare with real HttpPlatformHandler only where it is installed.
#include "app.h"

#include "forward.h"
#include "websocket.h"

namespace platform {
namespace {

constexpr ULONGLONG kRapidFailWindowMs = 60000;
constexpr DWORD kStopWaitMs = 10000;  // stop waits this long for requests, twice
constexpr DWORD kRecycleWaitMs = 30000;  // close waits this long for restarts in progress
constexpr DWORD kSettleMs = 250;  // recycleOnFileChange: quiet time before comparing the files
constexpr DWORD kWatchFilter = ARCHWAY_FILE_NOTIFY_CHANGE_FILE_NAME |
                               ARCHWAY_FILE_NOTIFY_CHANGE_SIZE |
                               ARCHWAY_FILE_NOTIFY_CHANGE_LAST_WRITE;

SRWLOCK g_apps_lock = SRWLOCK_INIT;
App* g_apps = nullptr;
volatile long g_recycling = 0;  // recycle threads still running (close waits for them)

// A file's state as recycleOnFileChange compares it: absent, or attributes, write time, size.
FileAttributeData file_state(const wchar_t* path) {
    FileAttributeData d;
    memset(&d, 0, sizeof(d));
    if (!GetFileAttributesExW(path, ARCHWAY_GET_FILE_EX_INFO_STANDARD, &d)) {
        memset(&d, 0, sizeof(d));
        d.attributes = 0xFFFFFFFFu;  // INVALID_FILE_ATTRIBUTES: absent (or unreadable)
    }
    d.last_access[0] = d.last_access[1] = 0;  // reading a file is not a change
    return d;
}

void append_hex(WStr* out, uint64_t v) {
    static const char kHex[] = "0123456789abcdef";
    wchar_t digits[16];
    int n = 0;
    do {
        digits[n++] = static_cast<wchar_t>(kHex[v & 0xF]);
        v >>= 4;
    } while (v);
    while (n) out->push(digits[--n]);
}

bool read_variable(ArchwayRequest* r, const char* name, Str* out) {
    const char* v = nullptr;
    uint32_t n = 0;
    if (FAILED(r->get_server_variable(r, name, &v, &n)) || !v) return false;
    out->add(v, n);
    return !out->failed();
}

// The application's virtual path from its config path: "MACHINE/WEBROOT/APPHOST/<site>/app" or
// IIS's metabase form "/LM/W3SVC/<id>/ROOT/app" give "/app"; the site's root gives "/".
void virtual_path(const Str& md, WStr* out) {
    const char* s = md.c_str();
    const size_t n = md.size();
    size_t skip = 0;  // segments before the application's own path
    size_t i = 0;
    if (starts_with_nocase(s, n, "MACHINE/WEBROOT/APPHOST/")) {
        i = 24;
        skip = 1;  // the site's name
    } else if (starts_with_nocase(s, n, "/LM/W3SVC/")) {
        i = 10;
        skip = 2;  // the site's id, then ROOT
    }
    while (skip && i < n) {
        if (s[i] == '/') --skip;
        ++i;
    }
    if (skip == 0 && i < n) {
        out->push(L'/').utf8(s + i, n - i);
    } else {
        out->push(L'/');
    }
}

}  // namespace

App* App::get(ArchwayRequest* request, HINTERNET session, ConfigError* error) {
    Str md;
    if (!read_variable(request, "APPL_MD_PATH", &md) || md.empty()) {
        error->message.add("the host gave no APPL_MD_PATH for the request");
        return nullptr;
    }
    {
        Shared l(&g_apps_lock);
        for (App* a = g_apps; a; a = a->next_) {
            if (archway::equal_nocase(a->md_path_, md.c_str())) {
                a->add_ref();
                return a;
            }
        }
    }
    App* app = new (archway::nothrow) App();
    if (!app) {
        error->message.add("out of memory");
        return nullptr;
    }
    Str physical;
    read_variable(request, "APPL_PHYSICAL_PATH", &physical);
    app->info_.physical_path.utf8(physical.c_str(), physical.size());
    if (app->info_.physical_path.size() &&
        app->info_.physical_path[app->info_.physical_path.size() - 1] != L'\\')
        app->info_.physical_path.push(L'\\');
    virtual_path(md, &app->info_.virtual_path);
    app->info_.websockets_supported = websockets_supported(request);
    Str auth;
    const bool auth_ok = iis_http_auth(request, &auth);
    app->info_.http_auth.utf8(auth.c_str(), auth.size());
    app->md_path_ = copy_text(md.c_str(), md.size());
    app->session_ = session;
    app->idle_ = CreateEventW(nullptr, TRUE, TRUE, nullptr);
    if (!load_config(request, &app->config_, error)) {
        app->release();
        return nullptr;
    }
    const uint32_t slots = app->config_.processes_per_application;
    app->slots_ = static_cast<ServerProcess**>(archway::heap_alloc_zeroed(slots * sizeof(void*)));
    if (!app->md_path_ || !app->idle_ || !app->slots_ || app->info_.physical_path.failed() ||
        app->info_.virtual_path.failed() || !auth_ok || app->info_.http_auth.failed()) {
        error->message.add("out of memory");
        app->release();
        return nullptr;
    }
    if (!app->prepare_watch(error)) {
        app->release();
        return nullptr;
    }
    {
        Exclusive l(&g_apps_lock);
        for (App* a = g_apps; a; a = a->next_) {
            if (archway::equal_nocase(a->md_path_, md.c_str())) {  // another request was first
                a->add_ref();
                app->release();
                return a;
            }
        }
        app->next_ = g_apps;
        g_apps = app;
        app->add_ref();  // the caller's; the registry keeps the first
    }
    app->start_watch();
    return app;
}

App::~App() {
    stop_watch();
    for (uint32_t i = 0; i < watch_count_; ++i) archway::heap_free(watch_paths_[i]);
    archway::heap_free(watch_paths_);
    archway::heap_free(watch_states_);
    for (uint32_t i = 0; i < watch_handle_count_; ++i) {
        if (i == 0) CloseHandle(watch_handles_[0]);
        else FindCloseChangeNotification(watch_handles_[i]);
    }
    if (slots_) {
        for (uint32_t i = 0; i < config_.processes_per_application; ++i) {
            if (slots_[i]) {
                slots_[i]->terminate();
                slots_[i]->release();
            }
        }
        archway::heap_free(slots_);
    }
    if (idle_) CloseHandle(idle_);
    archway::heap_free(md_path_);
}

void App::release() {
    if (_InterlockedDecrement(&refs_) == 0) delete this;
}

bool App::enter(Forward* f) {
    Exclusive l(&lock_);
    if (stopping_) return false;
    f->app_next_ = requests_;
    f->app_prev_ = nullptr;
    if (requests_) requests_->app_prev_ = f;
    requests_ = f;
    if (in_flight_++ == 0) ResetEvent(idle_);
    f->in_app_ = true;
    return true;
}

void App::leave(Forward* f) {
    Exclusive l(&lock_);
    if (f->app_prev_) f->app_prev_->app_next_ = f->app_next_;
    else requests_ = f->app_next_;
    if (f->app_next_) f->app_next_->app_prev_ = f->app_prev_;
    f->app_prev_ = f->app_next_ = nullptr;
    if (--in_flight_ == 0) SetEvent(idle_);
}

bool App::blocked_by_rapid_fails(ULONGLONG now) const {
    return fail_count_ > config_.rapid_fails_per_minute &&
           now - fail_window_start_ < kRapidFailWindowMs;
}

void App::record_failure(ULONGLONG now) {
    if (fail_count_ == 0 || now - fail_window_start_ >= kRapidFailWindowMs) {
        fail_window_start_ = now;
        fail_count_ = 0;
    }
    ++fail_count_;
}

ServerProcess* App::acquire(StartFailure* why, uint16_t* status, uint16_t* substatus) {
    *status = 502;
    *substatus = 5;
    uint32_t slot;
    {
        Exclusive l(&lock_);
        if (stopping_) {
            *status = 503;
            *substatus = 0;
            why->what.add("the application is stopping");
            return nullptr;
        }
        slot = next_slot_++ % config_.processes_per_application;
        ServerProcess* p = slots_[slot];
        if (p && p->alive()) {
            p->add_ref();
            return p;
        }
    }
    Exclusive starting(&start_lock_);
    ServerProcess* dead = nullptr;
    {
        Exclusive l(&lock_);
        ServerProcess* p = slots_[slot];
        if (p && p->alive()) {  // started by the request before us
            p->add_ref();
            return p;
        }
        if (p) {  // exited: replaced now
            dead = p;
            slots_[slot] = nullptr;
            record_failure(GetTickCount64());
            Str line;
            line.add("the server process ").num(p->pid()).add(" of ").add(md_path_).add(
                " has exited; starting another");
            log_line(line);
        }
    }
    if (dead) {
        dead->terminate();
        dead->release();
    }
    const uint32_t attempts = config_.startup_retry_count + 1;
    for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
        {
            Exclusive l(&lock_);
            if (blocked_by_rapid_fails(GetTickCount64())) {
                why->what.clear();
                why->attribute.clear();
                why->what.add("the process failed more than ").num(config_.rapid_fails_per_minute).add(
                    " times within a minute (rapidFailsPerMinute); it is not started again until "
                    "the minute has passed");
                why->attribute.add("rapidFailsPerMinute");
                return nullptr;
            }
        }
        if (stopping_) break;
        StartFailure attempt_why;
        ServerProcess* p = nullptr;
        if (start_server(config_, info_, session_, &stopping_, &p, &attempt_why)) {
            Exclusive l(&lock_);
            slots_[slot] = p;  // the slot's reference
            p->add_ref();      // the caller's
            Str line;
            line.add("started server process ").num(p->pid()).add(" on port ").num(p->port())
                .add(" for ").add(md_path_);
            log_line(line);
            return p;
        }
        Str line;
        line.add("start ").num(attempt + 1).add(" of ").num(attempts).add(" for ").add(md_path_)
            .add(" failed: ").add(attempt_why.what.c_str());
        log_line(line);
        why->what.clear();
        why->attribute.clear();
        why->log_path.clear();
        why->what.add(attempt_why.what.c_str());
        why->attribute.add(attempt_why.attribute.c_str());
        why->log_path.add(attempt_why.log_path.c_str());
        Exclusive l(&lock_);
        record_failure(GetTickCount64());
    }
    if (stopping_) {
        *status = 503;
        *substatus = 0;
    }
    return nullptr;
}

void App::stop(bool graceful) {
    stop_watch();
    if (graceful && WaitForSingleObject(idle_, kStopWaitMs) != WAIT_OBJECT_0) {
        Str line;
        line.add("restarting ").add(md_path_).add(": requests still in flight after 10 s are "
                                                  "cancelled");
        log_line(line);
    }
    _InterlockedExchange(&stopping_, 1);
    // Cancel every request in flight (outside the lock: a cancel may end the request at once,
    // and ending takes the lock).
    Buf<Forward*> cancel;
    {
        Exclusive l(&lock_);
        for (Forward* f = requests_; f; f = f->app_next_) {
            if (f->try_add_ref()) cancel.push(f);  // not one already finishing (forward.cpp)
        }
    }
    for (size_t i = 0; i < cancel.size(); ++i) {
        cancel[i]->cancel();
        cancel[i]->release();
    }
    // Cancelled requests end at once; one still inside a WinHTTP call ends when its server does.
    const bool idle = WaitForSingleObject(idle_, kStopWaitMs) == WAIT_OBJECT_0;
    {
        Exclusive starting(&start_lock_);  // no start in progress past this point
        Exclusive l(&lock_);
        for (uint32_t i = 0; i < config_.processes_per_application; ++i) {
            if (slots_[i]) {
                slots_[i]->terminate();
                slots_[i]->release();
                slots_[i] = nullptr;
            }
        }
    }
    if (!idle && WaitForSingleObject(idle_, kStopWaitMs) != WAIT_OBJECT_0) {
        Str line;
        line.add("stopping ").add(md_path_).add(": requests still in flight 10 s after their "
                                                "servers were stopped");
        log_line(line);
    }
}

void App::sweep_all(ULONGLONG now) {
    Buf<Forward*> all;
    {
        Shared apps(&g_apps_lock);
        for (App* a = g_apps; a; a = a->next_) {
            Exclusive l(&a->lock_);
            for (Forward* f = a->requests_; f; f = f->app_next_) {
                if (f->try_add_ref()) all.push(f);  // not one already finishing (forward.cpp)
            }
        }
    }
    for (size_t i = 0; i < all.size(); ++i) {
        all[i]->check_timeout(now);
        all[i]->release();
    }
}

void App::stop_path(const char* md_path) {
    App* found = nullptr;
    {
        Exclusive l(&g_apps_lock);
        for (App** p = &g_apps; *p; p = &(*p)->next_) {
            if (archway::equal_nocase((*p)->md_path_, md_path)) {
                found = *p;
                *p = found->next_;
                break;
            }
        }
    }
    if (!found) return;
    found->stop();
    found->release();  // the registry's
}

void App::stop_all() {
    App* all;
    {
        Exclusive l(&g_apps_lock);
        all = g_apps;
        g_apps = nullptr;
    }
    while (all) {
        App* next = all->next_;
        all->stop();
        all->release();
        all = next;
    }
}

// ---------------------------------------------------------------------------------------------
// forwardWindowsAuthToken (docs/httpplatform.md §3, §7).

HANDLE App::capture_user_token(ArchwayRequest* request) {
    if (!config_.forward_windows_auth_token) return nullptr;
    if (!ARCHWAY_HAS(request, user_token) || !request->user_token) {
        if (_InterlockedExchange(&warned_abi_, 1) == 0)
            log_line("forwardWindowsAuthToken: the shim is older than handler ABI 1.2 (no user "
                     "token): X-IIS-WindowsAuthToken is not sent; install a matching archway.dll");
        return nullptr;
    }
    const char* type = nullptr;
    HANDLE token = nullptr;
    if (FAILED(request->user_token(request, &type, &token)) || !token || !type) return nullptr;
    const size_t n = archway::length(type);
    // v2 forwards the token of Negotiate and NTLM requests only; Basic, Digest and certificate
    // mappings also give IIS a token, but v2 sends none for them, and neither does archway.
    if (!is(type, n, "Negotiate") && !is(type, n, "NTLM")) {
        if (_InterlockedExchange(&warned_scheme_, 1) == 0) {
            Str line;
            line.add("forwardWindowsAuthToken: requests of ").add(md_path_).add(" authenticated with \"")
                .add(type, n).add("\" get no X-IIS-WindowsAuthToken (only Negotiate and NTLM, as "
                                  "HttpPlatformHandler v2)");
            log_line(line);
        }
        return nullptr;
    }
    HANDLE mine = nullptr;
    if (!DuplicateHandle(GetCurrentProcess(), token, GetCurrentProcess(), &mine, 0, FALSE,
                         ARCHWAY_DUPLICATE_SAME_ACCESS)) {
        Str line;
        line.add("forwardWindowsAuthToken: the request's token could not be duplicated (Win32 "
                 "error ").num(GetLastError()).add("): the request goes without it");
        log_line(line);
        return nullptr;
    }
    return mine;
}

bool App::add_token_header(ServerProcess* server, HANDLE token, WStr* headers, Str* error) {
    uint64_t value = 0;
    DWORD e = 0;
    if (!server->give_token(token, &value, &e)) {
        error->add("the Windows auth token could not be duplicated into server process ")
            .num(server->pid()).add(" (Win32 error ").num(e).add(")");
        return false;
    }
    // Lower-case hexadecimal without a prefix, as v2 formats it (_ui64toa_s, radix 16).
    headers->utf8(kTokenHeader).add(L": ");
    append_hex(headers, value);
    headers->add(L"\r\n");
    if (headers->failed()) {
        error->add("out of memory adding the Windows auth token header");
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// recycleOnFileChange (docs/httpplatform.md §8): one thread per application that lists
// files waits on a change notification per folder (FindFirstChangeNotificationW: names, sizes,
// write times) and compares the listed files' states when one fires, so a change to another
// file of the same folder restarts nothing.

bool App::prepare_watch(ConfigError* error) {
    const size_t count = config_.recycle_files.size();
    if (count == 0) return true;
    watch_paths_ = static_cast<wchar_t**>(archway::heap_alloc_zeroed(count * sizeof(wchar_t*)));
    watch_states_ =
        static_cast<FileAttributeData*>(archway::heap_alloc_zeroed(count * sizeof(FileAttributeData)));
    watch_handles_[0] = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (watch_handles_[0]) watch_handle_count_ = 1;  // ~App closes what was opened
    if (!watch_paths_ || !watch_states_ || !watch_handles_[0]) {
        error->message.add("recycleOnFileChange could not be set up (out of memory)");
        return false;
    }
    for (size_t i = 0; i < count; ++i) {
        WStr path;
        if (!app_relative_path(info_, config_.recycle_files[i], &path)) {
            error->attribute.add("recycleOnFileChange[").num(i).add("].path");
            error->message.add("could not be made absolute against the application folder (the "
                               "value is \"").add(config_.recycle_files[i]).add("\")");
            return false;
        }
        size_t slash = path.size();
        while (slash > 0 && path[slash - 1] != L'\\') --slash;
        if (slash == 0 || slash == path.size()) {
            error->attribute.add("recycleOnFileChange[").num(i).add("].path");
            error->message.add("does not name a file (the value is \"").add(config_.recycle_files[i])
                .add("\")");
            return false;
        }
        watch_paths_[i] = static_cast<wchar_t*>(archway::heap_alloc((path.size() + 1) * sizeof(wchar_t)));
        if (!watch_paths_[i]) {
            error->message.add("recycleOnFileChange could not be set up (out of memory)");
            return false;
        }
        memcpy(watch_paths_[i], path.c_str(), (path.size() + 1) * sizeof(wchar_t));
        watch_count_ = static_cast<uint32_t>(i + 1);
        watch_states_[i] = file_state(watch_paths_[i]);
        // One notification per folder: a folder listed before shares it.
        bool seen = false;
        for (size_t j = 0; j < i && !seen; ++j) {
            const wchar_t* other = watch_paths_[j];
            size_t other_slash = archway::length(other);
            while (other_slash > 0 && other[other_slash - 1] != L'\\') --other_slash;
            seen = archway::equal_nocase(other, other_slash, path.c_str(), slash);
        }
        if (seen) continue;
        if (watch_handle_count_ == ARCHWAY_MAXIMUM_WAIT_OBJECTS) {
            error->attribute.add("recycleOnFileChange[").num(i).add("].path");
            error->message.add("is in a 64th folder: archway watches at most 63 folders per "
                               "application");
            return false;
        }
        WStr folder;
        folder.add(path.c_str(), slash);
        const HANDLE h = folder.failed() ? INVALID_HANDLE_VALUE
                                         : FindFirstChangeNotificationW(folder.c_str(), FALSE, kWatchFilter);
        if (h == INVALID_HANDLE_VALUE || !h) {
            const DWORD e = GetLastError();
            error->attribute.add("recycleOnFileChange[").num(i).add("].path");
            error->message.add("cannot be watched: its folder ").utf16(folder.c_str(), folder.size())
                .add(" could not be opened for change notifications (Win32 error ").num(e)
                .add("; the folder must exist)");
            return false;
        }
        watch_handles_[watch_handle_count_++] = h;
    }
    return true;
}

void App::start_watch() {
    if (watch_handle_count_ < 2) return;
    watch_thread_ = CreateThread(nullptr, 0, watch_thread, this, 0, nullptr);
    if (!watch_thread_) {
        Str line;
        line.add("recycleOnFileChange: the watcher thread of ").add(md_path_)
            .add(" could not be started (Win32 error ").num(GetLastError())
            .add("): changes to its files restart nothing");
        log_line(line);
    }
}

void App::stop_watch() {
    if (!watch_thread_) return;
    SetEvent(watch_handles_[0]);
    WaitForSingleObject(watch_thread_, INFINITE);  // it waits on that event: ends at once
    CloseHandle(watch_thread_);
    watch_thread_ = nullptr;
}

bool App::watched_file_changed(Str* which) {
    for (uint32_t i = 0; i < watch_count_; ++i) {
        const FileAttributeData now = file_state(watch_paths_[i]);
        if (memcmp(&now, &watch_states_[i], sizeof(now)) != 0) {
            which->utf16(watch_paths_[i], archway::length(watch_paths_[i]));
            return true;
        }
    }
    return false;
}

DWORD WINAPI App::watch_thread(void* self) {
    App* app = static_cast<App*>(self);
    for (;;) {
        const DWORD w = WaitForMultipleObjects(app->watch_handle_count_, app->watch_handles_, FALSE,
                                               INFINITE);
        if (w == WAIT_OBJECT_0) return 0;  // stop_watch
        if (w <= WAIT_OBJECT_0 || w >= WAIT_OBJECT_0 + app->watch_handle_count_) {
            Str line;
            line.add("recycleOnFileChange: waiting for changes of ").add(app->md_path_)
                .add(" failed (Win32 error ").num(GetLastError()).add("); no longer watching");
            log_line(line);
            return 0;
        }
        // Re-armed before the comparison, so a change made while comparing fires again. One
        // save is often several events (truncate, write, close, rename): the comparison waits
        // until the folders have been quiet for kSettleMs, so one save restarts once.
        FindNextChangeNotification(app->watch_handles_[w - WAIT_OBJECT_0]);
        for (;;) {
            const DWORD more = WaitForMultipleObjects(app->watch_handle_count_, app->watch_handles_,
                                                      FALSE, kSettleMs);
            if (more == WAIT_OBJECT_0) return 0;  // stop_watch
            if (more <= WAIT_OBJECT_0 || more >= WAIT_OBJECT_0 + app->watch_handle_count_) break;
            FindNextChangeNotification(app->watch_handles_[more - WAIT_OBJECT_0]);
        }
        Str which;
        if (app->watched_file_changed(&which)) {
            Str line;
            line.add("recycleOnFileChange: ").add(which.c_str()).add(" changed: restarting the "
                                                                     "server processes of ")
                .add(app->md_path_);
            log_line(line);
            app->recycle();
            return 0;
        }
    }
}

// On the watcher thread: the application leaves the registry (the next request makes a new one,
// which reads the configuration again and starts new servers) and a thread of its own stops it
// gracefully, since stop joins this watcher.
void App::recycle() {
    bool removed = false;
    {
        Exclusive l(&g_apps_lock);
        for (App** p = &g_apps; *p; p = &(*p)->next_) {
            if (*p == this) {
                *p = next_;
                removed = true;
                break;
            }
        }
    }
    if (!removed) return;  // stop_path or close has it already
    _InterlockedIncrement(&g_recycling);
    const HANDLE t = CreateThread(nullptr, 0, recycle_thread, this, 0, nullptr);
    if (t) {
        CloseHandle(t);
        return;
    }
    // No thread: back in the registry, so stop_application or close still stops it.
    _InterlockedDecrement(&g_recycling);
    Str line;
    line.add("recycleOnFileChange: the restart of ").add(md_path_).add(" could not start (Win32 "
                                                                      "error ")
        .num(GetLastError()).add(")");
    log_line(line);
    Exclusive l(&g_apps_lock);
    next_ = g_apps;
    g_apps = this;
}

DWORD WINAPI App::recycle_thread(void* self) {
    App* app = static_cast<App*>(self);
    app->stop(true);
    app->release();  // the registry's
    _InterlockedDecrement(&g_recycling);
    return 0;
}

void App::wait_recycles() {
    for (DWORD waited = 0; g_recycling > 0 && waited < kRecycleWaitMs; waited += 50) Sleep(50);
}

}  // namespace platform
