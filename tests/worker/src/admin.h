// tests/worker/src/admin.h: the stand-in's IIS configuration API (IAppHostAdminManager over
// applicationHost.config, <location> elements and web.config files) and the 500.19 check.
#pragma once

#include "archway/ahadmin.h"
#include "worker.h"

namespace worker {

// Keeps a copy of applicationHost.config (already parsed once by parse_config, so well-formed)
// for the configuration API. False when out of memory.
bool admin_init(const char* bytes, size_t size, const char* path);
// What IHttpServer::GetAdminManager returns (lives as long as the process).
IAppHostAdminManager* admin_manager();

// A web.config that cannot be used for a request: the file, where, and why (UTF-8).
struct WebConfigError {
    char file[2048];
    uint32_t line, column;
    char message[512];
};
// Reads the web.config files that apply to `app` of `site` (the site's root folder, then the
// application's folder when it differs). False, with `error` filled, when one exists but is not
// well-formed XML or cannot be read: IIS answers 500.19 before any module runs.
bool check_web_configs(const Site* site, const App* app, WebConfigError* error);

}  // namespace worker
