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

namespace platform {
namespace {

constexpr ULONGLONG kRapidFailWindowMs = 60000;
constexpr DWORD kStopWaitMs = 10000;  // stop waits this long for requests, twice

SRWLOCK g_apps_lock = SRWLOCK_INIT;
App* g_apps = nullptr;

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
        app->info_.virtual_path.failed()) {
        error->message.add("out of memory");
        app->release();
        return nullptr;
    }
    if (app->config_.recycle_files) {
        log_line("recycleOnFileChange is configured but not watched by archway: recycle the "
                 "application pool (or touch web.config) after changing those files");
    }
    if (app->config_.forward_windows_auth_token) {
        log_line("forwardWindowsAuthToken=\"true\" is not supported (the handler ABI carries no "
                 "user token): X-IIS-WindowsAuthToken is not sent");
    }
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
    return app;
}

App::~App() {
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

void App::stop() {
    _InterlockedExchange(&stopping_, 1);
    // Cancel every request in flight (outside the lock: a cancel may end the request at once,
    // and ending takes the lock).
    Buf<Forward*> cancel;
    {
        Exclusive l(&lock_);
        for (Forward* f = requests_; f; f = f->app_next_) {
            f->add_ref();
            cancel.push(f);
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
                f->add_ref();
                all.push(f);
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

}  // namespace platform
