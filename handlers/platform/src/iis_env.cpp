// handlers/platform/src/iis_env.cpp: HTTP_PLATFORM_IIS_HTTPAUTH from the application's three
// authentication sections (iis_env.h; docs/httpplatform.md §9). v2 reads each section with
// IAppHostAdminManager::GetAdminSection at the application's config path
// (RequestHandlerLib/requesthandler_config.cpp) and builds the value in
// environmentvariablehelpers.h; the handler ABI's read_config is that same call in the shim.
#include "iis_env.h"

namespace platform {
namespace {

// The `enabled` attribute of one authentication section as read_config reports it.
struct Enabled {
    bool value;  // IIS's schema default until the host reports the attribute
    Str bad;     // a value that is neither "true" nor "false"
};

void ARCHWAY_CALL enabled_attribute(void* user, const char* element, uint32_t item, const char* attribute,
                                    const char* value) {
    Enabled* e = static_cast<Enabled*>(user);
    if (!element || *element || item != ARCHWAY_CONFIG_NO_ITEM || !attribute) return;
    if (!is(attribute, archway::length(attribute), "enabled")) return;
    if (!value) value = "";
    const size_t n = archway::length(value);
    e->bad.clear();
    // IIS's string form is "true"/"false"; a host without the schema (the worker stand-in)
    // reports the file's spelling, and IIS reads booleans without regard to case.
    if (is(value, n, "true")) {
        e->value = true;
    } else if (is(value, n, "false")) {
        e->value = false;
    } else {
        e->value = false;
        e->bad.add(value, n);
    }
}

// Whether `section` is enabled for the application: `fallback` (the schema default) when the
// host reports no `enabled`, false when the section is unknown or cannot be read (v2:
// "assume the corresponding authen was not enabled").
bool section_enabled(ArchwayRequest* request, const char* section, bool fallback) {
    Enabled e;
    e.value = fallback;
    const char* detail = nullptr;
    const HRESULT hr = request->read_config(request, section, enabled_attribute, &e, &detail);
    if (hr == ARCHWAY_E_NO_SECTION) return false;
    if (FAILED(hr)) {
        char hex[16];
        archway::Utf8Builder h(hex, sizeof(hex));
        h.hex(static_cast<uint32_t>(hr), 8);
        Str line;
        line.add(section).add(" could not be read (HRESULT ").add(h.c_str()).add(")");
        if (detail && *detail) line.add(": ").add(detail);
        line.add("; HTTP_PLATFORM_IIS_HTTPAUTH counts it as disabled for this application");
        log_line(line);
        return false;
    }
    if (!e.bad.empty()) {
        Str line;
        line.add(section)
            .add(" enabled=\"")
            .add(e.bad.c_str())
            .add("\" is neither \"true\" nor \"false\"; HTTP_PLATFORM_IIS_HTTPAUTH counts it as disabled "
                 "for this application (fix the attribute in applicationHost.config or web.config)");
        log_line(line);
    }
    return e.value;
}

}  // namespace

bool iis_http_auth(ArchwayRequest* request, Str* out) {
    // Schema defaults (learn.microsoft.com, iis/wmi-provider/*authenticationsection-class):
    // windows false, basic false, anonymous true. The order is v2's.
    static const struct {
        const char* section;
        bool fallback;
        const char* token;
    } kSchemes[] = {
        {"system.webServer/security/authentication/windowsAuthentication", false, "windows;"},
        {"system.webServer/security/authentication/basicAuthentication", false, "basic;"},
        {"system.webServer/security/authentication/anonymousAuthentication", true, "anonymous;"},
    };
    const bool can_read = ARCHWAY_HAS(request, read_config) && request->read_config;
    for (const auto& s : kSchemes)
        if (can_read && section_enabled(request, s.section, s.fallback)) out->add(s.token);
    if (out->empty()) out->add("none");
    return !out->failed();
}

}  // namespace platform
