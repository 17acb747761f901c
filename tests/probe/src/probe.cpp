// tests/probe/src/probe.cpp: a test-only IIS module that echoes the request and flushes on demand.
//
// Registers RQ_BEGIN_REQUEST and RQ_EXECUTE_REQUEST_HANDLER (docs/iis.md §4.6). By URL path:
//   /nothing       returns CONTINUE without output (IIS would answer 404)
//   /begin-finish  answers "finished in begin\n" from OnBeginRequest with FINISH_REQUEST
//   /pending       returns PENDING; a thread calls PostCompletion, OnAsyncCompletion answers
//                  "async completion\n"
//   /indicate      returns PENDING; a thread answers "indicated\n" and calls
//                  IndicateCompletion(RQ_NOTIFICATION_FINISH_REQUEST)
//   anything else  echoes, as text/plain, one "key=value" line each:
//                    begin=<1 if OnBeginRequest ran first>, method, url (URL), query
//                    (QUERY_STRING), version, then "var <NAME>=<value>" for each name in the
//                    query parameter vars=A,B (ANSI overload; " wide-mismatch" appended when
//                    the wide overload differs), "header <Name>=<value>" for each name in
//                    headers=A,B (IHttpRequest::GetHeader by name), body-length, then
//                    "body=" and the body bytes, read with ReadEntityBody.
//                  "env <NAME>=<value>" for each name in env=A,B (this process's environment),
//                  "header-id <N>=<value>" for each HTTP_HEADER_ID in ids=N,M (GetHeader by id),
// Query parameters: status=NNN sets the status; flush=N writes the answer in N pieces with a
// Flush after each (chunked on the wire); cl=1 sets Content-Length itself first; rh=1 works the
// response headers: X-Probe set to "a" then "b" appended, Vary set by id (28), X-Gone set and
// deleted, and the line "response-header X-Probe=<GetHeader by name>" added to the answer.
// ctx=1 adds "site=<id> <name>", "app=<GetAppConfigPath> <GetApplicationPhysicalPath>" and
// "local=<ip>:<port> remote=<ip>" from IHttpSite, IHttpApplication and the request's addresses.
// Environment: ARCHWAY_PROBE_FAIL_REGISTER=1 makes RegisterModule return E_FAIL (event 2293).
// Terminate() writes "archway_probe: Terminate" on stderr, so a test sees the graceful stop.
#include "archway/httpserv.h"
#include "archway/memory.h"
#include "archway/text.h"
#include "archway/winsock.h"  // sockaddr_in only (nothing imported from ws2_32)

namespace {

// A growable byte buffer on the process heap.
class Bytes {
public:
    ~Bytes() { archway::heap_free(data_); }
    Bytes& append(const void* p, size_t n) {
        if (size_ + n > cap_) {
            size_t cap = cap_ ? cap_ * 2 : 4096;
            while (cap < size_ + n) cap *= 2;
            char* d = static_cast<char*>(archway::heap_alloc(cap));
            if (!d) return *this;  // out of memory: the echo is cut short
            if (size_) memcpy(d, data_, size_);
            archway::heap_free(data_);
            data_ = d;
            cap_ = cap;
        }
        if (n) memcpy(data_ + size_, p, n);
        size_ += n;
        return *this;
    }
    Bytes& text(const char* s) { return append(s, archway::length(s)); }
    Bytes& number(uint64_t v) {
        char b[24];
        archway::Utf8Builder u(b, sizeof(b));
        u.u64(v);
        return append(u.c_str(), u.size());
    }
    const char* data() const { return data_; }
    size_t size() const { return size_; }

private:
    char* data_ = nullptr;
    size_t size_ = 0, cap_ = 0;
};

// Value of query parameter `key` (not decoded); false when absent.
bool query_param(const char* query, const char* key, const char** value, size_t* length) {
    const size_t k = archway::length(key);
    const char* p = query;
    while (p && *p) {
        const char* end = p;
        while (*end && *end != '&') ++end;
        const char* eq = p;
        while (eq < end && *eq != '=') ++eq;
        if (static_cast<size_t>(eq - p) == k && archway::equal(p, k, key, k)) {
            *value = eq < end ? eq + 1 : end;
            *length = static_cast<size_t>(end - *value);
            return true;
        }
        p = *end ? end + 1 : end;
    }
    return false;
}

uint32_t to_u32(const char* s, size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n && i < 9; ++i) {
        if (s[i] < '0' || s[i] > '9') break;
        v = v * 10 + static_cast<uint32_t>(s[i] - '0');
    }
    return v;
}

const char* variable(IHttpContext* context, const char* name, DWORD* length) {
    PCSTR value = nullptr;
    *length = 0;
    if (FAILED(context->GetServerVariable(name, &value, length)) || !value) return nullptr;
    return value;
}

HRESULT write(IHttpResponse* response, const char* data, size_t n) {
    HTTP_DATA_CHUNK chunk;
    chunk.DataChunkType = HttpDataChunkFromMemory;
    chunk.FromMemory.pBuffer = const_cast<char*>(data);
    chunk.FromMemory.BufferLength = static_cast<ULONG>(n);
    DWORD sent = 0;
    BOOL expected = FALSE;
    return response->WriteEntityChunks(&chunk, 1, FALSE, TRUE, &sent, &expected);
}

void answer_text(IHttpContext* context, const char* text) {
    IHttpResponse* response = context->GetResponse();
    response->SetStatus(200, "OK", 0, S_OK, nullptr, TRUE);
    response->SetHeader("Content-Type", "text/plain", 10, TRUE);
    write(response, text, archway::length(text));
}

// Each name of the comma-separated list in query parameter `key`, NUL-terminated in `name`.
template <typename F> void each_name(const char* query, const char* key, F f) {
    const char* list = nullptr;
    size_t n = 0;
    if (!query_param(query, key, &list, &n)) return;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && list[j] != ',') ++j;
        char name[128];
        if (j - i > 0 && j - i < sizeof(name)) {
            memcpy(name, list + i, j - i);
            name[j - i] = 0;
            f(name);
        }
        i = j + 1;
    }
}

DWORD WINAPI post_later(void* parameter) {
    Sleep(50);
    static_cast<IHttpContext*>(parameter)->PostCompletion(0);
    return 0;
}

DWORD WINAPI indicate_later(void* parameter) {
    Sleep(50);
    IHttpContext* context = static_cast<IHttpContext*>(parameter);
    answer_text(context, "indicated\n");
    context->IndicateCompletion(RQ_NOTIFICATION_FINISH_REQUEST);
    return 0;
}

class ProbeModule final : public CHttpModule {
public:
    REQUEST_NOTIFICATION_STATUS OnBeginRequest(IHttpContext* context, IHttpEventProvider*) override {
        begin_ = true;
        DWORD n = 0;
        const char* url = variable(context, "URL", &n);
        if (url && archway::equal(url, n, "/begin-finish", 13)) {
            answer_text(context, "finished in begin\n");
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
        return RQ_NOTIFICATION_CONTINUE;
    }

    REQUEST_NOTIFICATION_STATUS OnExecuteRequestHandler(IHttpContext* context,
                                                        IHttpEventProvider*) override {
        DWORD url_length = 0, query_length = 0;
        const char* url = variable(context, "URL", &url_length);
        const char* query = variable(context, "QUERY_STRING", &query_length);
        if (!url) url = "";
        if (!query) query = "";
        if (archway::equal(url, url_length, "/nothing", 8)) return RQ_NOTIFICATION_CONTINUE;
        const bool indicate = archway::equal(url, url_length, "/indicate", 9);
        if (indicate || archway::equal(url, url_length, "/pending", 8)) {
            HANDLE thread = CreateThread(nullptr, 0, indicate ? indicate_later : post_later, context, 0, nullptr);
            if (!thread) {
                answer_text(context, "no thread\n");
                return RQ_NOTIFICATION_FINISH_REQUEST;
            }
            CloseHandle(thread);
            return RQ_NOTIFICATION_PENDING;
        }

        IHttpRequest* request = context->GetRequest();
        IHttpResponse* response = context->GetResponse();
        Bytes out;
        out.text("begin=").text(begin_ ? "1" : "0");
        out.text("\nmethod=").text(request->GetHttpMethod());
        out.text("\nurl=").append(url, url_length);
        out.text("\nquery=").append(query, query_length);
        USHORT major = 0, minor = 0;
        request->GetHttpVersion(&major, &minor);
        out.text("\nversion=").number(major);
        out.text(".").number(minor);
        each_name(query, "vars", [&](const char* name) {
            out.text("\nvar ").text(name).text("=");
            DWORD n = 0;
            PCSTR value = nullptr;
            if (FAILED(context->GetServerVariable(name, &value, &n)) || !value) {
                out.text("(none)");
                return;
            }
            out.append(value, n);
            PCWSTR wide = nullptr;
            DWORD wn = 0;
            bool same = SUCCEEDED(context->GetServerVariable(name, &wide, &wn)) && wide && wn == n;
            for (DWORD i = 0; same && i < n; ++i) same = static_cast<uint8_t>(value[i]) < 0x80 ? wide[i] == value[i] : true;
            if (!same) out.text(" wide-mismatch");
        });
        each_name(query, "env", [&](const char* name) {
            wchar_t wide_name[128];
            size_t k = 0;
            for (; name[k] && k < 127; ++k) wide_name[k] = static_cast<wchar_t>(static_cast<uint8_t>(name[k]));
            wide_name[k] = 0;
            wchar_t value[1024];
            const DWORD n = GetEnvironmentVariableW(wide_name, value, 1024);
            out.text("\nenv ").text(name).text("=");
            char utf8[3072];
            archway::Utf8Builder u(utf8, sizeof(utf8));
            if (n == 0 || n >= 1024) u.raw("(none)");
            else u.utf16(value, n);
            out.append(u.c_str(), u.size());
        });
        each_name(query, "ids", [&](const char* name) {
            USHORT n = 0;
            const HTTP_HEADER_ID id = static_cast<HTTP_HEADER_ID>(to_u32(name, archway::length(name)));
            PCSTR value = request->GetHeader(id, &n);
            out.text("\nheader-id ").text(name).text("=");
            if (value) out.append(value, n);
            else out.text("(none)");
        });
        const char* flag = nullptr;
        size_t flag_length = 0;
        if (query_param(query, "ctx", &flag, &flag_length)) {
            char line[2048];
            archway::Utf8Builder u(line, sizeof(line));
            IHttpSite* site = context->GetSite();
            IHttpApplication* app = context->GetApplication();
            u.raw("\nsite=");
            if (site) u.u32(site->GetSiteId()).ch(' ').utf16(site->GetSiteName());
            u.raw("\napp=");
            if (app) u.utf16(app->GetAppConfigPath()).ch(' ').utf16(app->GetApplicationPhysicalPath());
            const sockaddr_in* local = reinterpret_cast<const sockaddr_in*>(request->GetLocalAddress());
            const sockaddr_in* remote = reinterpret_cast<const sockaddr_in*>(request->GetRemoteAddress());
            auto ip = [&](const sockaddr_in* a) {
                const uint32_t v = a->sin_addr.s_addr;
                u.u32(v & 0xFF).ch('.').u32((v >> 8) & 0xFF).ch('.').u32((v >> 16) & 0xFF).ch('.').u32(v >> 24);
            };
            u.raw("\nlocal=");
            if (local && local->sin_family == AF_INET) {
                ip(local);
                u.ch(':').u32(archway_ntohs(local->sin_port));
            }
            u.raw(" remote=");
            if (remote && remote->sin_family == AF_INET) ip(remote);
            out.append(u.c_str(), u.size());
        }
        each_name(query, "headers", [&](const char* name) {
            USHORT n = 0;
            PCSTR value = request->GetHeader(name, &n);
            out.text("\nheader ").text(name).text("=");
            if (value) out.append(value, n);
            else out.text("(none)");
        });
        Bytes body;
        char buffer[4096];
        for (int guard = 0; guard < 1 << 20; ++guard) {
            DWORD read = 0;
            BOOL pending = FALSE;
            const HRESULT hr = request->ReadEntityBody(buffer, sizeof(buffer), FALSE, &read, &pending);
            if (read) body.append(buffer, read);
            if (FAILED(hr) || (read == 0 && request->GetRemainingEntityBytes() == 0)) break;
        }
        out.text("\nbody-length=").number(body.size());
        out.text("\nbody=").append(body.data(), body.size());

        const char* value = nullptr;
        size_t n = 0;
        const uint32_t status = query_param(query, "status", &value, &n) ? to_u32(value, n) : 200;
        response->SetStatus(static_cast<USHORT>(status), nullptr, 0, S_OK, nullptr, TRUE);
        response->SetHeader("Content-Type", "text/plain", 10, TRUE);
        if (query_param(query, "rh", &value, &n)) {
            response->SetHeader("X-Probe", "a", 1, TRUE);
            response->SetHeader("X-Probe", "b", 1, FALSE);
            response->SetHeader(static_cast<HTTP_HEADER_ID>(28), "Accept", 6, TRUE);  // Vary
            response->SetHeader("X-Gone", "x", 1, TRUE);
            response->DeleteHeader("X-Gone");
            USHORT length = 0;
            PCSTR probe = response->GetHeader("X-Probe", &length);
            out.text("\nresponse-header X-Probe=");
            if (probe) out.append(probe, length);
        }
        if (query_param(query, "cl", &value, &n)) {
            char digits[24];
            archway::Utf8Builder d(digits, sizeof(digits));
            d.u64(out.size());
            response->SetHeader("Content-Length", d.c_str(), static_cast<USHORT>(d.size()), TRUE);
        }
        const uint32_t pieces = query_param(query, "flush", &value, &n) ? to_u32(value, n) : 0;
        if (pieces == 0) {
            write(response, out.data(), out.size());
            return RQ_NOTIFICATION_FINISH_REQUEST;
        }
        const size_t step = out.size() / pieces + 1;
        for (size_t at = 0; at < out.size(); at += step) {
            const size_t k = out.size() - at < step ? out.size() - at : step;
            write(response, out.data() + at, k);
            DWORD sent = 0;
            BOOL expected = FALSE;
            response->Flush(FALSE, TRUE, &sent, &expected);
        }
        return RQ_NOTIFICATION_FINISH_REQUEST;
    }

    REQUEST_NOTIFICATION_STATUS OnAsyncCompletion(IHttpContext* context, DWORD, BOOL,
                                                  IHttpEventProvider*,
                                                  IHttpCompletionInfo*) override {
        answer_text(context, "async completion\n");
        return RQ_NOTIFICATION_FINISH_REQUEST;
    }

private:
    bool begin_ = false;
};

class ProbeFactory final : public IHttpModuleFactory {
public:
    HRESULT GetHttpModule(CHttpModule** module, IModuleAllocator*) override {
        if (!module) return E_POINTER;
        *module = new (archway::nothrow) ProbeModule();
        return *module ? S_OK : E_OUTOFMEMORY;
    }
    void Terminate() override {
        static const char kLine[] = "archway_probe: Terminate\n";
        HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
        DWORD written = 0;
        if (err && err != INVALID_HANDLE_VALUE) WriteFile(err, kLine, sizeof(kLine) - 1, &written, nullptr);
        delete this;
    }
};

}  // namespace

// Exported undecorated through probe.def (docs/toolchains.md §4.3).
extern "C" HRESULT WINAPI RegisterModule(DWORD, IHttpModuleRegistrationInfo* info, IHttpServer*) {
    if (!info) return E_POINTER;
    wchar_t fail[8];
    const DWORD n = GetEnvironmentVariableW(L"ARCHWAY_PROBE_FAIL_REGISTER", fail, 8);
    if (n == 1 && fail[0] == L'1') return E_FAIL;
    ProbeFactory* factory = new (archway::nothrow) ProbeFactory();
    if (!factory) return E_OUTOFMEMORY;
    const HRESULT hr =
        info->SetRequestNotifications(factory, RQ_BEGIN_REQUEST | RQ_EXECUTE_REQUEST_HANDLER, 0);
    if (FAILED(hr)) delete factory;
    return hr;
}

extern "C" BOOL WINAPI DllMain(HMODULE module, DWORD reason, void*) {
    if (reason == DLL_PROCESS_ATTACH) DisableThreadLibraryCalls(module);
    return TRUE;
}
