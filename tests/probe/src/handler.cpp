// tests/probe/src/handler.cpp: the probe as an archway handler (ABI 1.1, archway/handler_abi.h).
//
// Loaded by the shim as handler "probe" (archway_probe_<arch>.dll, selected with
// <archway handler="probe" /> in the configuration). By URL path, after an optional
// application prefix (only the part from "/h/" on counts):
//   /h/sync        responds "sync\n" from execute
//   /h/pending     execute returns ARCHWAY_S_PENDING; a thread responds "pending\n" and completes
//   /h/early       a thread responds "early\n" and completes, and execute waits for that thread
//                  before it returns ARCHWAY_S_PENDING: complete comes before execute returns
//   /h/stream      pending; a thread sends the head (200, X-Probe: stream), writes "first\n" with
//                  a flush, waits (up to 60 s) until a request for /h/release arrives, then writes
//                  "second\n" with a flush and completes
//   /h/release     responds "released\n" and lets a waiting /h/stream go on
//   /h/truncated   pending; a thread streams "partial\n" (flushed) and completes with E_FAIL
//   /h/body        pending; a thread reads the request body with read_body and responds
//                  "body-length=<n>\nbody=<bytes>"
//   /h/config      read_config of the section in the query (?system.webServer/httpPlatform):
//                  one line per visit, "<element>|<item or ->|<attribute>=<value>", or
//                  "no-section", or "error <HRESULT> <detail>"
//   /h/vars        "<NAME>=<value>" for APPL_MD_PATH and APPL_PHYSICAL_PATH
//   /h/gone        pending; a thread polls client_connected every 20 ms (up to 60 s) and, when it
//                  turns FALSE, writes "archway_probe: client gone" on stderr and completes
// stop_application writes "archway_probe: stop_application <path>" and close writes
// "archway_probe: handler close" on stderr, so a test sees both.
#include "archway/handler_abi.h"
#include "archway/memory.h"
#include "archway/text.h"

namespace {

HANDLE g_release;  // auto-reset: a /h/release request lets one waiting /h/stream go on

void err_text(const char* a, const char* b = "", size_t bn = static_cast<size_t>(-1)) {
    char line[1024];
    archway::Utf8Builder m(line, sizeof(line));
    m.raw("archway_probe: ").raw(a).raw(b, bn == static_cast<size_t>(-1) ? archway::length(b) : bn).ch('\n');
    DWORD written = 0;
    WriteFile(GetStdHandle(STD_ERROR_HANDLE), m.c_str(), static_cast<DWORD>(m.size()), &written, nullptr);
}

void respond_text(ArchwayRequest* r, const char* text, size_t n) {
    r->respond(r, 200, "OK", "text/plain", text, static_cast<uint32_t>(n));
}

// A growing text answer in a heap buffer.
struct Text {
    char* data = nullptr;
    size_t size = 0, cap = 0;
    ~Text() { archway::heap_free(data); }
    Text& add(const char* s, size_t n) {
        if (size + n + 1 > cap) {
            size_t c = cap ? cap * 2 : 1024;
            while (c < size + n + 1) c *= 2;
            char* d = static_cast<char*>(archway::heap_alloc(c));
            if (!d) return *this;
            if (size) memcpy(d, data, size);
            archway::heap_free(data);
            data = d;
            cap = c;
        }
        memcpy(data + size, s, n);
        size += n;
        return *this;
    }
    Text& add(const char* s) { return add(s, archway::length(s)); }
};

DWORD WINAPI pending_thread(void* p) {
    ArchwayRequest* r = static_cast<ArchwayRequest*>(p);
    respond_text(r, "pending\n", 8);
    r->complete(r, S_OK);
    return 0;
}

DWORD WINAPI early_thread(void* p) {
    ArchwayRequest* r = static_cast<ArchwayRequest*>(p);
    respond_text(r, "early\n", 6);
    r->complete(r, S_OK);
    return 0;
}

DWORD WINAPI stream_thread(void* p) {
    ArchwayRequest* r = static_cast<ArchwayRequest*>(p);
    static const char kHead[] = "Content-Type: text/plain\r\nX-Probe: stream\r\n";
    HRESULT hr = r->send_head(r, 200, 0, "OK", kHead, sizeof(kHead) - 1);
    if (SUCCEEDED(hr)) hr = r->write_body(r, "first\n", 6, ARCHWAY_WRITE_FLUSH);
    if (SUCCEEDED(hr) && WaitForSingleObject(g_release, 60000) != WAIT_OBJECT_0) hr = E_FAIL;
    if (SUCCEEDED(hr)) hr = r->write_body(r, "second\n", 7, ARCHWAY_WRITE_FLUSH);
    r->complete(r, hr);
    return 0;
}

DWORD WINAPI truncated_thread(void* p) {
    ArchwayRequest* r = static_cast<ArchwayRequest*>(p);
    static const char kHead[] = "Content-Type: text/plain\r\n";
    HRESULT hr = r->send_head(r, 200, 0, "OK", kHead, sizeof(kHead) - 1);
    if (SUCCEEDED(hr)) hr = r->write_body(r, "partial\n", 8, ARCHWAY_WRITE_FLUSH);
    r->complete(r, E_FAIL);
    return 0;
}

DWORD WINAPI body_thread(void* p) {
    ArchwayRequest* r = static_cast<ArchwayRequest*>(p);
    Text body;
    char buffer[4096];
    HRESULT hr = S_OK;
    for (;;) {
        uint32_t n = 0;
        hr = r->read_body(r, buffer, sizeof(buffer), &n);
        if (FAILED(hr) || n == 0) break;
        body.add(buffer, n);
    }
    Text out;
    char number[32];
    archway::Utf8Builder b(number, sizeof(number));
    b.u64(body.size);
    out.add("body-length=").add(b.c_str(), b.size()).add("\nbody=").add(body.data ? body.data : "", body.size);
    if (FAILED(hr)) out.add("\nread failed");
    respond_text(r, out.data ? out.data : "", out.size);
    r->complete(r, S_OK);
    return 0;
}

DWORD WINAPI gone_thread(void* p) {
    ArchwayRequest* r = static_cast<ArchwayRequest*>(p);
    for (int i = 0; i < 3000 && r->client_connected(r); ++i) Sleep(20);
    if (!r->client_connected(r)) err_text("client gone");
    r->complete(r, HRESULT_FROM_WIN32(ERROR_CONNECTION_ABORTED));
    return 0;
}

void ARCHWAY_CALL visit(void* user, const char* element, uint32_t item, const char* attribute,
                        const char* value) {
    Text& out = *static_cast<Text*>(user);
    char number[16];
    archway::Utf8Builder b(number, sizeof(number));
    if (item == ARCHWAY_CONFIG_NO_ITEM) b.raw("-");
    else b.u32(item);
    out.add(element).add("|").add(b.c_str(), b.size()).add("|").add(attribute).add("=").add(value).add("\n");
}

HRESULT start(ArchwayRequest* r, LPTHREAD_START_ROUTINE routine, bool wait) {
    HANDLE thread = CreateThread(nullptr, 0, routine, r, 0, nullptr);
    if (!thread) return HRESULT_FROM_WIN32(GetLastError());
    if (wait) WaitForSingleObject(thread, 60000);  // complete runs before execute returns
    CloseHandle(thread);
    return ARCHWAY_S_PENDING;
}

bool is(const char* p, size_t n, const char* lit) { return archway::equal(p, n, lit, archway::length(lit)); }

HRESULT ARCHWAY_CALL execute(void*, ArchwayRequest* r) {
    if (!ARCHWAY_HAS(r, client_connected)) return E_NOTIMPL;  // needs an ABI 1.1 shim
    const char* url = nullptr;
    uint32_t url_length = 0;
    if (FAILED(r->get_server_variable(r, "URL", &url, &url_length))) return E_FAIL;
    size_t k = 0;  // from "/h/" on
    while (k + 3 <= url_length && !is(url + k, 3, "/h/")) ++k;
    const char* path = url + k;
    const size_t n = k + 3 <= url_length ? url_length - k : 0;
    if (is(path, n, "/h/sync")) {
        respond_text(r, "sync\n", 5);
        return S_OK;
    }
    if (is(path, n, "/h/pending")) return start(r, pending_thread, false);
    if (is(path, n, "/h/early")) return start(r, early_thread, true);
    if (is(path, n, "/h/stream")) return start(r, stream_thread, false);
    if (is(path, n, "/h/truncated")) return start(r, truncated_thread, false);
    if (is(path, n, "/h/body")) return start(r, body_thread, false);
    if (is(path, n, "/h/gone")) return start(r, gone_thread, false);
    if (is(path, n, "/h/release")) {
        SetEvent(g_release);
        respond_text(r, "released\n", 9);
        return S_OK;
    }
    if (is(path, n, "/h/vars")) {
        Text out;
        static const char* const kNames[] = {"APPL_MD_PATH", "APPL_PHYSICAL_PATH"};
        for (const char* name : kNames) {
            const char* v = nullptr;
            uint32_t vn = 0;
            if (FAILED(r->get_server_variable(r, name, &v, &vn))) v = "(failed)", vn = 8;
            out.add(name).add("=").add(v, vn).add("\n");
        }
        respond_text(r, out.data, out.size);
        return S_OK;
    }
    if (is(path, n, "/h/config")) {
        const char* q = nullptr;
        uint32_t qn = 0;
        if (FAILED(r->get_server_variable(r, "QUERY_STRING", &q, &qn)) || qn == 0 || qn > 200) return E_INVALIDARG;
        char section[256];
        memcpy(section, q, qn);
        section[qn] = 0;
        Text out;
        const char* detail = nullptr;
        const HRESULT hr = r->read_config(r, section, visit, &out, &detail);
        if (hr == ARCHWAY_E_NO_SECTION) {
            out.add("no-section\n");
        } else if (FAILED(hr)) {
            char line[64];
            archway::Utf8Builder b(line, sizeof(line));
            b.raw("error ").hex(static_cast<uint32_t>(hr), 8).raw(" ");
            out.add(b.c_str(), b.size()).add(detail ? detail : "").add("\n");
        }
        respond_text(r, out.data ? out.data : "", out.size);
        return S_OK;
    }
    return S_FALSE;  // no response: the shim answers 500
}

void ARCHWAY_CALL close(void*) { err_text("handler close"); }

void ARCHWAY_CALL stop_application(void*, const char* path) { err_text("stop_application ", path); }

}  // namespace

extern "C" HRESULT ARCHWAY_CALL ArchwayHandlerOpen(const ArchwayHost* host, ArchwayHandler* handler) {
    if (!host || !handler || host->abi_version != ARCHWAY_HANDLER_ABI_VERSION)
        return HRESULT_FROM_WIN32(ERROR_REVISION_MISMATCH);
    if (!g_release) g_release = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    ArchwayHandler mine = {};
    mine.struct_size = static_cast<uint32_t>(sizeof(ArchwayHandler));
    mine.abi_version = ARCHWAY_HANDLER_ABI_VERSION;
    mine.name = "probe";
    mine.execute = execute;
    mine.close = close;
    mine.stop_application = stop_application;
    const uint32_t room = handler->struct_size < mine.struct_size ? handler->struct_size : mine.struct_size;
    mine.struct_size = room;
    memcpy(handler, &mine, room);
    return S_OK;
}
