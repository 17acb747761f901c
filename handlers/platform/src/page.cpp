// handlers/platform/src/page.cpp: the error pages (page.h).
#include "page.h"

namespace platform {
namespace {

struct Kind {
    uint16_t status, substatus;
    const char* reason;
    const char* title;
    const char* sentence;
};

const Kind kKinds[] = {
    {500, 19, "Internal Server Error", "HTTP Error 500.19 - Configuration Error",
     "The system.webServer/httpPlatform configuration of this application is not valid."},
    {502, 5, "Bad Gateway", "HTTP Error 502.5 - Process Failure",
     "The application's server process (processPath) could not be started."},
    {502, 3, "Bad Gateway", "HTTP Error 502.3 - Bad Gateway",
     "The application's server process did not answer the request."},
    {503, 0, "Service Unavailable", "HTTP Error 503 - Service Unavailable",
     "The application is shutting down."},
    {400, 0, "Bad Request", "HTTP Error 400 - Bad Request",
     "The client went away before the response began."},
    {500, 0, "Internal Server Error", "HTTP Error 500 - Internal Server Error",
     "The platform handler could not process the request."},
};

const Kind& kind(uint16_t status, uint16_t substatus) {
    for (const Kind& k : kKinds)
        if (k.status == status && k.substatus == substatus) return k;
    return kKinds[sizeof(kKinds) / sizeof(kKinds[0]) - 1];
}

void html(Str& out, const char* s) {
    for (; *s; ++s) {
        switch (*s) {
        case '<': out.add("&lt;"); break;
        case '>': out.add("&gt;"); break;
        case '&': out.add("&amp;"); break;
        case '"': out.add("&quot;"); break;
        default: out.push(*s);
        }
    }
}

}  // namespace

HRESULT send_page(ArchwayRequest* request, uint16_t status, uint16_t substatus,
                  const PageDetail& d) {
    const Kind& k = kind(status, substatus);
    Str line;
    line.add(k.title).add(" for ").add(d.what ? d.what : "(no detail)");
    if (d.attribute && *d.attribute) line.add("; attribute: ").add(d.attribute);
    if (d.log_path && *d.log_path) line.add("; stdout log: ").add(d.log_path);
    log_line(line);

    Str body;
    body.add("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").add(k.title)
        .add("</title></head>\n<body><h1>").add(k.title).add("</h1>\n<p>").add(k.sentence)
        .add("</p>\n");
    if (detailed_errors()) {
        body.add("<ul>\n");
        if (d.what) body.add("<li>What failed: "), html(body, d.what), body.add("</li>\n");
        if (d.attribute && *d.attribute)
            body.add("<li>Attribute: "), html(body, d.attribute), body.add("</li>\n");
        if (d.log_path && *d.log_path)
            body.add("<li>stdout log: "), html(body, d.log_path), body.add("</li>\n");
        body.add("</ul>\n");
    } else {
        body.add("<p>The details are in the server's debug log; set ARCHWAY_DETAILED_ERRORS=1 in "
                 "the worker's environment to show them here.</p>\n");
    }
    body.add("</body></html>\n");
    Str head;
    head.add("Content-Type: text/html; charset=utf-8\r\nContent-Length: ").num(body.size())
        .add("\r\n");
    if (body.failed() || head.failed()) return E_OUTOFMEMORY;
    HRESULT hr = request->send_head(request, k.status, k.substatus, k.reason, head.c_str(),
                                    static_cast<uint32_t>(head.size()));
    if (FAILED(hr)) return hr;
    return request->write_body(request, body.c_str(), static_cast<uint32_t>(body.size()),
                               ARCHWAY_WRITE_FLUSH);
}

}  // namespace platform
