// handlers/platform/src/config.cpp: reading `system.webServer/httpPlatform` through the host's
// read_config (handler_abi.h, ABI 1.1), with HttpPlatformHandler v1.2's defaults and ranges
// (docs/httpplatform.md §1). Unknown attributes and elements, bad
// numbers and values out of range are refused with the attribute's name; nothing is guessed.
// Also HTTP_PLATFORM_IIS_HTTPAUTH from the application's three authentication sections
// (docs/httpplatform.md §9): v2 reads each with IAppHostAdminManager::GetAdminSection at the
// application's config path (RequestHandlerLib/requesthandler_config.cpp) and builds the value
// in environmentvariablehelpers.h; the handler ABI's read_config is that same call in the shim.
#include "config.h"

namespace platform {
namespace {

constexpr const char* kSection = "system.webServer/httpPlatform";
constexpr uint64_t kMaxRequestTimeoutMs = 30ull * 24 * 3600 * 1000;  // v1.2: 30 days

// What the visitor collects before validation: the first error wins.
struct Collector {
    Config* config;
    ConfigError* error;
    bool failed = false;
    bool has_process_path = false;
    // The environment entry being filled (collection entries arrive attribute by attribute).
    uint32_t env_item = ARCHWAY_CONFIG_NO_ITEM;
};

void fail(Collector* c, const char* attribute, const char* what, const char* value, size_t n) {
    if (c->failed) return;
    c->failed = true;
    c->error->attribute.add(attribute);
    c->error->message.add(what);
    if (value) c->error->message.add(" (the value is \"").add(value, n).add("\")");
}

bool parse_bool(const char* v, size_t n, bool* out) {
    if (is(v, n, "true")) {
        *out = true;
        return true;
    }
    if (is(v, n, "false")) {
        *out = false;
        return true;
    }
    return false;
}

void number(Collector* c, const char* name, const char* v, size_t n, uint64_t min, uint64_t max,
            uint32_t* out) {
    uint64_t x = 0;
    if (!parse_u64(v, n, 0xFFFFFFFFull, &x)) {
        fail(c, name, "is not a whole number", v, n);
        return;
    }
    if (x < min || x > max) {
        Str what;
        what.add("is out of range: HttpPlatformHandler accepts ").num(min).add(" to ").num(max);
        fail(c, name, what.c_str(), v, n);
        return;
    }
    *out = static_cast<uint32_t>(x);
}

void section_attribute(Collector* c, const char* a, const char* v) {
    const size_t an = archway::length(a);
    const size_t vn = archway::length(v);
    Config* cfg = c->config;
    if (is(a, an, "processPath")) {
        cfg->process_path.clear();
        cfg->process_path.add(v, vn);
        c->has_process_path = vn > 0;
    } else if (is(a, an, "arguments")) {
        cfg->arguments.clear();
        cfg->arguments.add(v, vn);
    } else if (is(a, an, "startupTimeLimit")) {
        number(c, "startupTimeLimit", v, vn, 0, 3600, &cfg->startup_time_limit_s);
    } else if (is(a, an, "startupRetryCount")) {
        number(c, "startupRetryCount", v, vn, 0, 100, &cfg->startup_retry_count);
    } else if (is(a, an, "rapidFailsPerMinute")) {
        number(c, "rapidFailsPerMinute", v, vn, 0, 100, &cfg->rapid_fails_per_minute);
    } else if (is(a, an, "processesPerApplication")) {
        number(c, "processesPerApplication", v, vn, 1, 100, &cfg->processes_per_application);
    } else if (is(a, an, "requestTimeout")) {
        uint64_t ms = 0;
        if (!parse_timespan_ms(v, vn, &ms)) {
            fail(c, "requestTimeout", "is not a time span \"hh:mm:ss\"", v, vn);
        } else if (ms > kMaxRequestTimeoutMs) {
            fail(c, "requestTimeout", "is out of range: at most 30 days", v, vn);
        } else {
            cfg->request_timeout_ms = static_cast<uint32_t>(ms);
        }
    } else if (is(a, an, "stdoutLogEnabled")) {
        if (!parse_bool(v, vn, &cfg->stdout_log_enabled))
            fail(c, "stdoutLogEnabled", "is not \"true\" or \"false\"", v, vn);
    } else if (is(a, an, "stdoutLogFile")) {
        cfg->stdout_log_file.clear();
        cfg->stdout_log_file.add(v, vn);
    } else if (is(a, an, "forwardWindowsAuthToken")) {
        if (!parse_bool(v, vn, &cfg->forward_windows_auth_token))
            fail(c, "forwardWindowsAuthToken", "is not \"true\" or \"false\"", v, vn);
    } else {
        Str name;
        name.add(a, an);
        fail(c, name.c_str(),
             "is not an attribute of system.webServer/httpPlatform (HttpPlatformHandler v1.2 "
             "has processPath, arguments, startupTimeLimit, startupRetryCount, "
             "rapidFailsPerMinute, requestTimeout, stdoutLogEnabled, stdoutLogFile, "
             "processesPerApplication, forwardWindowsAuthToken)",
             nullptr, 0);
    }
}

void environment_attribute(Collector* c, uint32_t item, const char* a, const char* v) {
    Str where;
    where.add("environmentVariables[").num(item).add("].").add(a);
    const size_t an = archway::length(a);
    Buf<EnvVar>& env = c->config->environment;
    if (item != c->env_item) {
        // A new entry: the host reports one entry's attributes together, in index order.
        if (item != env.size()) {
            fail(c, where.c_str(), "arrived out of order from the host", nullptr, 0);
            return;
        }
        EnvVar e = {nullptr, nullptr};
        env.push(e);
        if (env.failed()) {
            fail(c, where.c_str(), "could not be stored (out of memory)", nullptr, 0);
            return;
        }
        c->env_item = item;
    }
    EnvVar& e = env[env.size() - 1];
    const size_t vn = archway::length(v);
    char** slot = is(a, an, "name") ? &e.name : is(a, an, "value") ? &e.value : nullptr;
    if (!slot) {
        fail(c, where.c_str(), "is not an attribute of environmentVariable (name, value)",
             nullptr, 0);
        return;
    }
    archway::heap_free(*slot);
    *slot = copy_text(v, vn);
    if (!*slot) fail(c, where.c_str(), "could not be stored (out of memory)", nullptr, 0);
}

void ARCHWAY_CALL visit(void* user, const char* element, uint32_t item, const char* attribute,
                        const char* value) {
    Collector* c = static_cast<Collector*>(user);
    if (c->failed) return;
    if (!element) element = "";
    if (!attribute) attribute = "";
    if (!value) value = "";
    const size_t en = archway::length(element);
    if (en == 0) {
        section_attribute(c, attribute, value);
    } else if (is(element, en, "environmentVariables") && item != ARCHWAY_CONFIG_NO_ITEM) {
        environment_attribute(c, item, attribute, value);
    } else if (is(element, en, "recycleOnFileChange") && item != ARCHWAY_CONFIG_NO_ITEM) {
        if (is(attribute, archway::length(attribute), "path")) {
            Buf<char*>& files = c->config->recycle_files;
            while (files.size() <= item && !files.failed()) files.push(nullptr);
            if (!files.failed()) {
                archway::heap_free(files[item]);
                files[item] = copy_text(value, archway::length(value));
            }
            if (files.failed() || !files[item]) {
                Str where;
                where.add("recycleOnFileChange[").num(item).add("].path");
                fail(c, where.c_str(), "could not be stored (out of memory)", nullptr, 0);
            }
        } else {
            Str where;
            where.add("recycleOnFileChange[").num(item).add("].").add(attribute);
            fail(c, where.c_str(), "is not an attribute of file (path)", nullptr, 0);
        }
    } else {
        Str where;
        where.add(element, en);
        if (item != ARCHWAY_CONFIG_NO_ITEM) where.add("[").num(item).add("]");
        where.add(".").add(attribute);
        fail(c, where.c_str(),
             "is not part of system.webServer/httpPlatform (child elements: "
             "environmentVariables, recycleOnFileChange)",
             nullptr, 0);
    }
}

}  // namespace

Config::~Config() {
    for (size_t i = 0; i < environment.size(); ++i) {
        archway::heap_free(environment[i].name);
        archway::heap_free(environment[i].value);
    }
    for (size_t i = 0; i < recycle_files.size(); ++i) archway::heap_free(recycle_files[i]);
}

bool parse_timespan_ms(const char* s, size_t n, uint64_t* ms) {
    // [d.]hh:mm:ss[.fffffff] (IIS's string form of a timeSpan attribute).
    uint64_t part[4] = {0, 0, 0, 0};  // days, hours, minutes, seconds
    size_t i = 0;
    auto digits = [&](uint64_t* out, size_t max_digits) -> bool {
        size_t start = i;
        uint64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < max_digits) {
            v = v * 10 + static_cast<uint64_t>(s[i] - '0');
            ++i;
        }
        *out = v;
        return i > start;
    };
    uint64_t first = 0;
    if (!digits(&first, 8)) return false;
    if (i < n && s[i] == '.') {
        part[0] = first;
        ++i;
        if (!digits(&part[1], 2)) return false;
    } else {
        part[1] = first;
    }
    if (i >= n || s[i] != ':') return false;
    ++i;
    if (!digits(&part[2], 2) || i >= n || s[i] != ':') return false;
    ++i;
    if (!digits(&part[3], 2)) return false;
    uint64_t fraction_ms = 0;
    if (i < n && s[i] == '.') {
        ++i;
        uint64_t scale = 100;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 7) {
            fraction_ms += static_cast<uint64_t>(s[i] - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start) return false;
    }
    if (i != n || part[2] > 59 || part[3] > 59 || (part[0] && part[1] > 23)) return false;
    *ms = ((part[0] * 24 + part[1]) * 60 + part[2]) * 60000 + part[3] * 1000 + fraction_ms;
    return true;
}

bool load_config(ArchwayRequest* request, Config* config, ConfigError* error) {
    Collector c;
    c.config = config;
    c.error = error;
    const char* detail = nullptr;
    const HRESULT hr = request->read_config(request, kSection, visit, &c, &detail);
    if (hr == ARCHWAY_E_NO_SECTION) {
        error->message.add("the host knows no section system.webServer/httpPlatform (is the "
                           "schema installed?)");
        return false;
    }
    if (FAILED(hr)) {
        error->message.add("the configuration could not be read (HRESULT ");
        char hex[16];
        archway::Utf8Builder h(hex, sizeof(hex));
        h.hex(static_cast<uint32_t>(hr), 8);
        error->message.add(h.c_str()).add(")");
        if (detail && *detail) error->message.add(": ").add(detail);
        return false;
    }
    if (c.failed) return false;
    if (!c.has_process_path) {
        error->attribute.add("processPath");
        error->message.add("is required and is not set");
        return false;
    }
    for (size_t i = 0; i < config->environment.size(); ++i) {
        const EnvVar& e = config->environment[i];
        if (!e.name || !*e.name) {
            error->attribute.add("environmentVariables[").num(i).add("].name");
            error->message.add("is required and is not set");
            return false;
        }
        for (const char* p = e.name; *p; ++p) {
            if (*p == '=') {
                error->attribute.add("environmentVariables[").num(i).add("].name");
                error->message.add("contains '=', which no environment variable name may (the "
                                   "value is \"").add(e.name).add("\")");
                return false;
            }
        }
    }
    for (size_t i = 0; i < config->recycle_files.size(); ++i) {
        // The schema's file/@path: required, nonEmptyString (docs/httpplatform.md §8).
        if (!config->recycle_files[i] || !*config->recycle_files[i]) {
            error->attribute.add("recycleOnFileChange[").num(i).add("].path");
            error->message.add("is required and is not set");
            return false;
        }
    }
    if (config->stdout_log_file.empty()) config->stdout_log_file.add("httpplatform-stdout");
    if (config->process_path.failed() || config->arguments.failed() ||
        config->stdout_log_file.failed() || config->environment.failed()) {
        error->message.add("the configuration could not be stored (out of memory)");
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Sections that decide an HTTP_PLATFORM_IIS_* variable.

HRESULT read_section_logged(ArchwayRequest* request, const char* section, ArchwayConfigVisitor visit, void* user,
                            const char* consequence) {
    const char* detail = nullptr;
    const HRESULT hr = request->read_config(request, section, visit, user, &detail);
    if (FAILED(hr) && hr != ARCHWAY_E_NO_SECTION) {
        char hex[16];
        archway::Utf8Builder h(hex, sizeof(hex));
        h.hex(static_cast<uint32_t>(hr), 8);
        Str line;
        line.add(section).add(" could not be read (HRESULT ").add(h.c_str()).add(")");
        if (detail && *detail) line.add(": ").add(detail);
        line.add("; ").add(consequence);
        log_line(line);
    }
    return hr;
}

namespace {

// The `enabled` attribute of one section as read_config reports it.
struct Enabled {
    bool value;  // the schema default until the host reports the attribute
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

}  // namespace

bool section_enabled(ArchwayRequest* request, const char* section, bool fallback, const char* consequence) {
    Enabled e;
    e.value = fallback;
    if (FAILED(read_section_logged(request, section, enabled_attribute, &e, consequence))) return false;
    if (!e.bad.empty()) {
        Str line;
        line.add(section)
            .add(" enabled=\"")
            .add(e.bad.c_str())
            .add("\" is neither \"true\" nor \"false\"; ")
            .add(consequence)
            .add(" (fix the attribute in applicationHost.config or web.config)");
        log_line(line);
    }
    return e.value;
}

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
        if (can_read &&
            section_enabled(request, s.section, s.fallback,
                            "HTTP_PLATFORM_IIS_HTTPAUTH counts it as disabled for this application"))
            out->add(s.token);
    if (out->empty()) out->add("none");
    return !out->failed();
}

}  // namespace platform
