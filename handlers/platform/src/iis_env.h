// handlers/platform/src/iis_env.h: HTTP_PLATFORM_IIS_HTTPAUTH, what HttpPlatformHandler v2 (an
// ASP.NET Core Module fork) tells the server about the application's IIS authentication
// (docs/httpplatform.md §2, §9): read once per application, from the request that creates it.
#pragma once

#include "util.h"

namespace platform {

// "windows;" when system.webServer/security/authentication/windowsAuthentication is enabled
// for the application of `request`, then "basic;" (basicAuthentication), then "anonymous;"
// (anonymousAuthentication), concatenated in that order; "none" when none is. An attribute the
// host does not report counts as IIS's schema default (anonymous on, windows and basic off); a
// section the host does not know (ARCHWAY_E_NO_SECTION) or cannot read counts as disabled, as
// in v2. A read failure and an `enabled` that is neither "true" nor "false" are logged. False
// only when memory runs out.
bool iis_http_auth(ArchwayRequest* request, Str* out);

}  // namespace platform
