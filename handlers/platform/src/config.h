// handlers/platform/src/config.h: the `system.webServer/httpPlatform` section, parsed and
// validated with HttpPlatformHandler v1.2's defaults and ranges (docs/httpplatform.md §1),
// since a host without the section's schema reports only what the files set.
#pragma once

#include "util.h"

namespace platform {

struct EnvVar {
    char* name;   // UTF-8, NUL-terminated, heap
    char* value;
};

struct Config {
    Config() = default;
    Config(const Config&) = delete;
    Config& operator=(const Config&) = delete;
    ~Config();

    Str process_path;                   // as configured (variables not yet expanded)
    Str arguments;
    // 120 (0-3600): v1.2's schema file, which decides what IIS reports, says 120 where its
    // reference says 10; module/schema/httpplatform_schema.xml (installed by archway) keeps 120,
    // and a host without the schema must behave the same.
    uint32_t startup_time_limit_s = 120;
    uint32_t startup_retry_count = 10;   // v1.2: 10 (0-100)
    uint32_t rapid_fails_per_minute = 10;  // 10 (0-100)
    uint32_t request_timeout_ms = 120000;  // 00:02:00 (at most 30 days; 0: none)
    bool stdout_log_enabled = false;
    Str stdout_log_file;                 // default "httpplatform-stdout" (v1.2)
    uint32_t processes_per_application = 1;  // 1 (1-100)
    bool forward_windows_auth_token = false;  // v1.2: false
    Buf<EnvVar> environment;             // in configuration order; a later name replaces
    Buf<char*> recycle_files;            // recycleOnFileChange file paths (UTF-8, heap), in order
};

// Why a configuration was refused: which attribute and what is wrong, for the error page and
// the log line. `detail` from the host (file and line) when it could not read the section.
struct ConfigError {
    Str attribute;  // e.g. "startupTimeLimit", "environmentVariables[2].name"; empty if none
    Str message;
};

// Reads and validates the section for `request`'s application. On failure fills `error` and
// returns false (the caller answers 500.19, IIS's "configuration data is invalid").
bool load_config(ArchwayRequest* request, Config* config, ConfigError* error);

// Exposed for the unit-style checks of the parser: "hh:mm:ss" or "d.hh:mm:ss" with optional
// fractional seconds, in milliseconds; false when malformed.
bool parse_timespan_ms(const char* s, size_t n, uint64_t* ms);

// read_config of `section` for `request`'s application; a failure other than
// ARCHWAY_E_NO_SECTION is logged with the host's detail and `consequence` (e.g.
// "HTTP_PLATFORM_IIS_WEBSOCKETS_SUPPORTED is \"false\" for this application").
HRESULT read_section_logged(ArchwayRequest* request, const char* section, ArchwayConfigVisitor visit, void* user,
                            const char* consequence);

// Whether `section`'s `enabled` attribute is on for `request`'s application: `fallback` (the
// schema default) when the host reports no such attribute; false when the section is unknown
// (ARCHWAY_E_NO_SECTION) or cannot be read, or the value is neither "true" nor "false" (both
// logged with `consequence`).
bool section_enabled(ArchwayRequest* request, const char* section, bool fallback, const char* consequence);

// HTTP_PLATFORM_IIS_HTTPAUTH, what HttpPlatformHandler v2 (an ASP.NET Core Module fork) tells
// the server about the application's IIS authentication (docs/httpplatform.md §2, §9), read once
// per application, from the request that creates it:
// "windows;" when system.webServer/security/authentication/windowsAuthentication is enabled
// for the application of `request`, then "basic;" (basicAuthentication), then "anonymous;"
// (anonymousAuthentication), concatenated in that order; "none" when none is. An attribute the
// host does not report counts as IIS's schema default (anonymous on, windows and basic off); a
// section the host does not know (ARCHWAY_E_NO_SECTION) or cannot read counts as disabled, as
// in v2. A read failure and an `enabled` that is neither "true" nor "false" are logged. False
// only when memory runs out.
bool iis_http_auth(ArchwayRequest* request, Str* out);

}  // namespace platform
