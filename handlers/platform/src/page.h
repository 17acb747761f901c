// handlers/platform/src/page.h: the handler's error pages (500.19 for a refused configuration,
// 502.5 when the server cannot be started, 502.3 for proxy failures, 503 while the application
// stops), after the ASP.NET Core Module's pages: the status and a generic sentence always; what
// failed, the attribute to look at and the stdout log only when ARCHWAY_DETAILED_ERRORS is set.
// Every page's detail also goes to the debug log.
#pragma once

#include "util.h"

namespace platform {

struct PageDetail {
    const char* what = nullptr;       // what failed (UTF-8)
    const char* attribute = nullptr;  // the configuration attribute to look at
    const char* log_path = nullptr;   // the server's stdout log
};

// Sends the page with send_head + write_body (ABI 1.1). Returns the first failure, if any.
HRESULT send_page(ArchwayRequest* request, uint16_t status, uint16_t substatus,
                  const PageDetail& detail);

}  // namespace platform
