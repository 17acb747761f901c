// module/src/select.cpp: which handler serves an application, from IIS's configuration.
//
// Read through IHttpServer::GetAdminManager()->GetAdminSection(section, the application's config
// path) (docs/iis.md §4.4, IHttpServer slot 7; archway/ahadmin.h), so applicationHost.config,
// <location> elements and web.config files all count, as IIS merges them:
//   1. system.webServer/archway, attribute `handler`, when set and not empty: that handler
//      (1-32 characters from [a-z0-9_]; anything else is a configuration error naming the
//      attribute);
//   2. else "platform" when system.webServer/httpPlatform has a non-empty processPath (a site's
//      existing HttpPlatformHandler configuration works unchanged);
//   3. else "diagnostics".
// A section no schema declares (IIS answers ERROR_NOT_FOUND or ERROR_INVALID_DATA, see
// request.cpp) counts as not set. The choice is cached per application config path and dropped
// when IIS stops the application (GL_APPLICATION_STOP), so a changed web.config, which recycles
// the application, is read again. Failures are not cached.
#include "shim.h"

namespace shim {
namespace {

struct Choice {
    Choice* next;
    wchar_t* path;  // heap, NUL-terminated
    char name[kHandlerNameMax + 1];
};

SRWLOCK g_lock;
Choice* g_choices;

enum class Read { kUnset, kValue, kError };

// One attribute of one section at `path`, as IIS's string form (heap UTF-16, caller frees).
Read read_attribute(IAppHostAdminManager* admin, const wchar_t* section, const wchar_t* path,
                    const wchar_t* attribute, archway::Bstr& value, HRESULT* error) {
    archway::Bstr section_b(section), path_b(path), attribute_b(attribute);
    if (!section_b.get() || !path_b.get() || !attribute_b.get()) {
        *error = E_OUTOFMEMORY;
        return Read::kError;
    }
    archway::ComPtr<IAppHostElement> element;
    HRESULT hr = admin->GetAdminSection(section_b.get(), path_b.get(), element.out());
    if (hr == HRESULT_FROM_WIN32(ERROR_NOT_FOUND) || hr == HRESULT_FROM_WIN32(ERROR_INVALID_DATA))
        return Read::kUnset;
    if (FAILED(hr) || !element) {
        *error = FAILED(hr) ? hr : E_UNEXPECTED;
        return Read::kError;
    }
    archway::ComPtr<IAppHostProperty> property;
    // Real IIS knows every attribute of the schema (defaults included); a host without the
    // schema (the worker stand-in) fails for an attribute no file sets: not set.
    if (FAILED(element->GetPropertyByName(attribute_b.get(), property.out())) || !property)
        return Read::kUnset;
    hr = property->get_StringValue(value.out());
    if (FAILED(hr)) {
        *error = hr;
        return Read::kError;
    }
    return value.size() ? Read::kValue : Read::kUnset;
}

void config_failure(archway::WideBuilder& message, const wchar_t* section, const wchar_t* path,
                    HRESULT hr) {
    message.ascii("archway: cannot read configuration section ").wide(section)
        .ascii(" for ").wide(path).ascii(": HRESULT ").hex(static_cast<uint32_t>(hr), 8);
}

bool lookup(const wchar_t* path, char (&name)[kHandlerNameMax + 1]) {
    AcquireSRWLockShared(&g_lock);
    bool found = false;
    for (Choice* c = g_choices; c && !found; c = c->next) {
        if (archway::equal_nocase(c->path, path)) {
            memcpy(name, c->name, sizeof(name));
            found = true;
        }
    }
    ReleaseSRWLockShared(&g_lock);
    return found;
}

void remember(const wchar_t* path, const char* name) {
    const size_t n = archway::length(path);
    Choice* c = static_cast<Choice*>(archway::heap_alloc_zeroed(sizeof(Choice)));
    wchar_t* copy = static_cast<wchar_t*>(archway::heap_alloc((n + 1) * sizeof(wchar_t)));
    if (!c || !copy) {  // not cached: the next request reads the configuration again
        archway::heap_free(c);
        archway::heap_free(copy);
        return;
    }
    memcpy(copy, path, (n + 1) * sizeof(wchar_t));
    c->path = copy;
    memcpy(c->name, name, archway::length(name) + 1);
    AcquireSRWLockExclusive(&g_lock);
    c->next = g_choices;
    g_choices = c;
    ReleaseSRWLockExclusive(&g_lock);
}

void set_name(char (&name)[kHandlerNameMax + 1], const char* value) {
    memcpy(name, value, archway::length(value) + 1);
}

}  // namespace

bool valid_handler_name(const char* name, size_t length) {
    if (length < 1 || length > kHandlerNameMax) return false;
    for (size_t i = 0; i < length; ++i) {
        const char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

bool select_handler(IHttpContext* context, char (&name)[kHandlerNameMax + 1],
                    archway::WideBuilder& message) {
    IHttpApplication* application = context->GetApplication();
    const wchar_t* path = application ? application->GetAppConfigPath() : nullptr;
    if (!path || !*path) {
        message.ascii("archway: IIS gave no application config path for this request");
        return false;
    }
    if (lookup(path, name)) return true;
    IAppHostAdminManager* admin = g_process.server->GetAdminManager();
    if (!admin) {
        message.ascii("archway: IIS gave no configuration API (IHttpServer::GetAdminManager)");
        return false;
    }

    static const wchar_t kArchway[] = L"system.webServer/archway";
    static const wchar_t kPlatform[] = L"system.webServer/httpPlatform";
    archway::Bstr value;
    HRESULT error = S_OK;
    switch (read_attribute(admin, kArchway, path, L"handler", value, &error)) {
    case Read::kError:
        config_failure(message, kArchway, path, error);
        return false;
    case Read::kValue: {
        const wchar_t* v = value.get();
        const size_t n = value.size();
        bool ok = n >= 1 && n <= kHandlerNameMax;
        for (size_t i = 0; ok && i < n; ++i) {
            ok = v[i] < 0x80;
            name[i] = static_cast<char>(v[i]);
        }
        if (ok) {
            name[n] = 0;
            ok = valid_handler_name(name, n);
        }
        if (!ok) {
            message.ascii("archway: invalid value \"").wide(v, n)
                .ascii("\" of attribute \"handler\" in configuration section ").wide(kArchway)
                .ascii(" for ").wide(path)
                .ascii(": expected 1-32 characters from [a-z0-9_], e.g. \"platform\"");
            return false;
        }
        remember(path, name);
        return true;
    }
    case Read::kUnset:
        break;
    }
    switch (read_attribute(admin, kPlatform, path, L"processPath", value, &error)) {
    case Read::kError:
        config_failure(message, kPlatform, path, error);
        return false;
    case Read::kValue:
        set_name(name, "platform");
        break;
    case Read::kUnset:
        set_name(name, "diagnostics");
        break;
    }
    remember(path, name);
    return true;
}

void forget_application(const wchar_t* path) {
    AcquireSRWLockExclusive(&g_lock);
    Choice** link = &g_choices;
    while (*link) {
        Choice* c = *link;
        if (archway::equal_nocase(c->path, path)) {
            *link = c->next;
            archway::heap_free(c->path);
            archway::heap_free(c);
        } else {
            link = &c->next;
        }
    }
    ReleaseSRWLockExclusive(&g_lock);
}

}  // namespace shim
