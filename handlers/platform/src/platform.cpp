// handlers/platform/src/platform.cpp: the HttpPlatformHandler-compatible handler's ABI entry
// points (archway/handler_abi.h, ABI 1.1): open (one asynchronous WinHTTP session), execute
// (configuration, then the request goes pending and is proxied; see forward.h), stop_application
// and close (servers stopped, requests cancelled and waited for).
#include "archway/process.h"
#include "archway/handler_open.h"
#include "forward.h"
#include "page.h"
#include "stdout_log.h"

namespace {

using platform::App;
using platform::Forward;

HINTERNET g_session;  // WINHTTP_FLAG_ASYNC; every request handle reports to Forward::callback
HANDLE g_watchdog;        // the requestTimeout watchdog thread (Forward::check_timeout)
HANDLE g_watchdog_stop;   // set by close

DWORD WINAPI watchdog(void*) {
    while (WaitForSingleObject(g_watchdog_stop, 1000) == WAIT_TIMEOUT)
        App::sweep_all(GetTickCount64());
    return 0;
}

// A page sent while execute still runs (the request is not pending), or plain `respond` from a
// 1.0 shim, which cannot stream.
HRESULT answer_now(ArchwayRequest* request, uint16_t status, uint16_t substatus,
                   const platform::PageDetail& detail) {
    return platform::send_page(request, status, substatus, detail);
}

HRESULT ARCHWAY_CALL platform_execute(void* state, ArchwayRequest* request) {
    (void)state;
    if (!request) return E_POINTER;
    if (!ARCHWAY_HAS(request, client_connected) || !request->read_config || !request->send_head ||
        !request->write_body || !request->read_body || !request->complete) {
        static const char kOld[] =
            "archway platform handler: the shim is older than handler ABI 1.1 (no configuration, "
            "streaming or pending requests); install a matching archway.dll";
        platform::log_line(kOld);
        return request->respond(request, 500, "Internal Server Error", "text/plain; charset=utf-8",
                                kOld, sizeof(kOld) - 1);
    }
    if (!g_session) return E_UNEXPECTED;

    platform::ConfigError config_error;
    App* app = App::get(request, g_session, &config_error);
    if (!app) {
        platform::Str what;
        if (!config_error.attribute.empty())
            what.add("system.webServer/httpPlatform attribute ").add(config_error.attribute.c_str())
                .add(" ");
        what.add(config_error.message.c_str());
        platform::PageDetail d;
        d.what = what.c_str();
        d.attribute = config_error.attribute.c_str();
        // 500.19: IIS's own status for configuration data that is not valid.
        answer_now(request, 500, 19, d);
        return S_OK;
    }
    platform::Str error;
    Forward* f = Forward::create(app, request, &error);
    if (!f) {
        platform::PageDetail d;
        d.what = error.c_str();
        answer_now(request, 500, 0, d);
        app->release();
        return S_OK;
    }
    if (!app->enter(f)) {
        platform::PageDetail d;
        d.what = "the application is stopping";
        answer_now(request, 503, 0, d);
        f->release();
        app->release();
        return S_OK;
    }
    app->release();  // the request holds its own reference
    // From here the request is pending: the work item (or, if it cannot be queued, this thread)
    // completes it.
    if (!QueueUserWorkItem(Forward::start, f, WT_EXECUTELONGFUNCTION)) Forward::start(f);
    return ARCHWAY_S_PENDING;
}

void ARCHWAY_CALL platform_stop_application(void* state, const char* app_config_path) {
    (void)state;
    if (app_config_path) App::stop_path(app_config_path);
}

void ARCHWAY_CALL platform_close(void* state) {
    (void)state;
    if (g_watchdog) {
        SetEvent(g_watchdog_stop);
        WaitForSingleObject(g_watchdog, 10000);
        CloseHandle(g_watchdog);
        g_watchdog = nullptr;
    }
    App::stop_all();
    App::wait_recycles();  // recycleOnFileChange restarts still stopping their servers
    // Nothing is in flight any more: the cached transfer buffers (up to 1 MiB) go back to the
    // process heap, which outlives this DLL (forward.h).
    Forward::free_cached_buffers();
    if (g_session) {
        WinHttpSetStatusCallback(g_session, nullptr, 0, 0);
        WinHttpCloseHandle(g_session);
        g_session = nullptr;
    }
    // The stdout log threads end once their servers are gone; the DLL may be unloaded next.
    for (int i = 0; i < 100 && platform::g_log_threads > 0; ++i) Sleep(50);
}

}  // namespace

// The handler ABI entry point, exported undecorated via handlers/platform/platform.def.
extern "C" HRESULT ARCHWAY_CALL ArchwayHandlerOpen(const ArchwayHost* host,
                                                   ArchwayHandler* handler) {
    if (const HRESULT refused = archway_handler_check_open(host, handler); FAILED(refused)) return refused;

    if (!g_session) {
        // No agent: the client's own User-Agent is forwarded (Wine adds an empty
        // "User-Agent:" line for an empty agent string when the client sent none).
        g_session = WinHttpOpen(nullptr, WINHTTP_ACCESS_TYPE_NO_PROXY, nullptr, nullptr,
                                WINHTTP_FLAG_ASYNC);
        if (!g_session) return HRESULT_FROM_WIN32(GetLastError());
        if (WinHttpSetStatusCallback(g_session, Forward::callback,
                                     WINHTTP_CALLBACK_FLAG_ALL_COMPLETIONS |
                                         WINHTTP_CALLBACK_FLAG_HANDLES,
                                     0) == WINHTTP_INVALID_STATUS_CALLBACK) {
            const DWORD e = GetLastError();
            WinHttpCloseHandle(g_session);
            g_session = nullptr;
            return HRESULT_FROM_WIN32(e);
        }
    }
    if (!g_watchdog) {
        if (!g_watchdog_stop) g_watchdog_stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
        if (g_watchdog_stop) ResetEvent(g_watchdog_stop);
        g_watchdog = g_watchdog_stop ? CreateThread(nullptr, 0, watchdog, nullptr, 0, nullptr)
                                     : nullptr;
        if (!g_watchdog) return HRESULT_FROM_WIN32(GetLastError());
    }
    ArchwayHandler mine = {};
    mine.name = "platform";
    mine.state = nullptr;
    mine.execute = platform_execute;
    mine.close = platform_close;
    mine.stop_application = platform_stop_application;  // copied only if the shim's size covers it
    archway_handler_fill(handler, &mine);
    return S_OK;
}

extern "C" BOOL WINAPI DllMain(HMODULE module, DWORD reason, void* reserved) {
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) DisableThreadLibraryCalls(module);
    return TRUE;
}
