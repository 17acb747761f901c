// tests/worker/src/config.cpp: a safe XML subset parser and the applicationHost.config reader.
//
// The XML subset: an optional UTF-8 BOM, the XML declaration and processing instructions,
// comments, CDATA, elements with attributes in ' or ", the five predefined entities and
// character references. No DTD (so no entity expansion), no namespaces processing. Text is
// ignored. Limits: 16 MiB, 64 levels, 200000 elements, 256 attributes per element. Every error
// names the line and column (1-based, in characters) of the offending byte or element.
//
// What is read (docs/iis.md §1.1, §2.1): system.applicationHost/applicationPools/add[@name],
// sites/site (name, id, application path="/" with its applicationPool, its virtualDirectory
// path="/" physicalPath, the other applications path="/app" of the same pool with theirs, and
// the http bindings), system.webServer/globalModules/add (name, image, preCondition) with
// remove/clear. Unknown elements and attributes are ignored, as IIS mostly does for what it does
// not look at. Configuration sections for modules (IAppHostAdminManager) are admin.cpp's.
#include "xml.h"

namespace worker {

namespace {

// Collections are searched for duplicates by name, so their size is bounded too.
constexpr size_t kMaxCollection = 4096;


}  // namespace

bool Xml::name(const char** out) {
    const size_t start = i_;
    if (i_ >= n_ || !name_start(static_cast<uint8_t>(s_[i_]))) return fail_here("expected a name");
    while (i_ < n_ && name_char(static_cast<uint8_t>(s_[i_]))) advance(1);
    *out = pool_copy(s_ + start, i_ - start);
    return *out != nullptr || fail_here("out of memory");
}

bool Xml::skip_until(const char* end, const char* what) {
    const uint32_t line = line_, column = column_;
    const size_t k = archway::length(end);
    while (i_ < n_) {
        if (at(end)) {
            advance(k);
            return true;
        }
        advance(1);
    }
    return fail(line, column, what);
}

// At '&': decodes one reference into `out` (up to 4 UTF-8 bytes).
bool Xml::entity(char* out, size_t* out_length) {
    const uint32_t line = line_, column = column_;
    size_t end = i_ + 1;
    while (end < n_ && end - i_ < 12 && s_[end] != ';') ++end;
    if (end >= n_ || s_[end] != ';') return fail(line, column, "'&' does not start an entity reference (use &amp;)");
    const char* body = s_ + i_ + 1;
    const size_t len = end - i_ - 1;
    uint32_t cp = 0;
    if (archway::equal(body, len, "amp", 3)) cp = '&';
    else if (archway::equal(body, len, "lt", 2)) cp = '<';
    else if (archway::equal(body, len, "gt", 2)) cp = '>';
    else if (archway::equal(body, len, "quot", 4)) cp = '"';
    else if (archway::equal(body, len, "apos", 4)) cp = '\'';
    else if (len >= 2 && body[0] == '#') {
        const bool hex = body[1] == 'x';
        size_t k = hex ? 2 : 1;
        if (k >= len) return fail(line, column, "empty character reference");
        for (; k < len; ++k) {
            const char c = body[k];
            uint32_t d;
            if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
            else if (hex && c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
            else if (hex && c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
            else return fail(line, column, "invalid character reference");
            cp = cp * (hex ? 16 : 10) + d;
            if (cp > 0x10FFFF) return fail(line, column, "character reference out of range");
        }
        const bool allowed = cp == 0x9 || cp == 0xA || cp == 0xD ||
                             (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
                             cp >= 0x10000;
        if (!allowed) return fail(line, column, "character reference to a character XML forbids");
    } else {
        return fail(line, column, "unknown entity (only &amp; &lt; &gt; &quot; &apos; and &#...; are defined)");
    }
    char buffer[8];
    archway::Utf8Builder b(buffer, sizeof(buffer));
    wchar_t units[3] = {};
    if (cp >= 0x10000) {
        units[0] = static_cast<wchar_t>(0xD800 + ((cp - 0x10000) >> 10));
        units[1] = static_cast<wchar_t>(0xDC00 + ((cp - 0x10000) & 0x3FF));
        b.utf16(units, 2);
    } else {
        units[0] = static_cast<wchar_t>(cp);
        b.utf16(units, 1);
    }
    memcpy(out, b.c_str(), b.size());
    *out_length = b.size();
    advance(end + 1 - i_);
    return true;
}

bool Xml::attribute_value(const char** out, size_t* out_length) {
    const char quote = s_[i_];
    const uint32_t line = line_, column = column_;
    advance(1);
    // Decoded text is never longer than its source, so it goes straight into the pool.
    char* start = pool_ + pool_used_;
    size_t length = 0;
    while (true) {
        if (i_ >= n_) return fail(line, column, "attribute value is not closed");
        const char c = s_[i_];
        if (c == quote) {
            advance(1);
            break;
        }
        if (c == '<') return fail_here("'<' in an attribute value (use &lt;)");
        if (pool_used_ + length + 8 > pool_capacity_) return fail_here("out of memory");
        if (c == '&') {
            size_t k = 0;
            if (!entity(start + length, &k)) return false;
            length += k;
            continue;
        }
        // Attribute-value normalisation: literal whitespace becomes a space.
        start[length++] = (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
        advance(1);
    }
    start[length] = 0;
    pool_used_ += length + 1;
    *out = start;
    *out_length = length;
    return true;
}

bool Xml::start_tag(int32_t parent, bool* empty, int32_t* index) {
    if (elements.size() >= kMaxElements) return fail_here("more than 200000 elements");
    Element e = {};
    e.line = line_;
    e.column = column_;
    e.parent = parent;
    e.first_child = e.last_child = e.next_sibling = -1;
    e.attr_begin = static_cast<uint32_t>(attrs.size());
    advance(1);  // '<'
    if (!name(&e.name)) return false;
    while (true) {
        const bool had_space = i_ < n_ && space(s_[i_]);
        skip_space();
        if (i_ >= n_) return fail(e.line, e.column, "start tag is not closed");
        if (at("/>")) {
            advance(2);
            *empty = true;
            break;
        }
        if (s_[i_] == '>') {
            advance(1);
            *empty = false;
            break;
        }
        if (!had_space) return fail_here("expected whitespace, '>' or '/>'");
        if (e.attr_count >= kMaxAttributes) return fail_here("more than 256 attributes");
        const uint32_t line = line_, column = column_;
        Attr a = {};
        if (!name(&a.name)) return false;
        skip_space();
        if (i_ >= n_ || s_[i_] != '=') return fail_here("expected '=' after the attribute name");
        advance(1);
        skip_space();
        if (i_ >= n_ || (s_[i_] != '"' && s_[i_] != '\'')) {
            return fail_here("expected a quoted attribute value");
        }
        if (!attribute_value(&a.value, &a.value_length)) return false;
        for (uint32_t k = 0; k < e.attr_count; ++k) {
            const Attr& other = attrs[e.attr_begin + k];
            if (archway::equal(other.name, archway::length(other.name), a.name,
                               archway::length(a.name))) {
                return fail(line, column, "duplicate attribute");
            }
        }
        if (!attrs.push(a)) return fail_here("out of memory");
        ++e.attr_count;
    }
    const int32_t self = static_cast<int32_t>(elements.size());
    if (!elements.push(e)) return fail_here("out of memory");
    if (parent >= 0) {
        Element& p = elements[static_cast<size_t>(parent)];
        if (p.last_child >= 0) {
            elements[static_cast<size_t>(p.last_child)].next_sibling = self;
        } else {
            p.first_child = self;
        }
        p.last_child = self;
    }
    *index = self;
    return true;
}

// Character data up to the next '<': ignored, but its entity references must be valid.
bool Xml::text() {
    while (i_ < n_ && s_[i_] != '<') {
        if (s_[i_] == '&') {
            char scratch[8];
            size_t k = 0;
            if (!entity(scratch, &k)) return false;
        } else {
            advance(1);
        }
    }
    return true;
}

bool Xml::parse() {
    if (n_ > kMaxFileSize) return fail(1, 1, "the file is larger than 16 MiB");
    if (n_ >= 3 && static_cast<uint8_t>(s_[0]) == 0xEF && static_cast<uint8_t>(s_[1]) == 0xBB &&
        static_cast<uint8_t>(s_[2]) == 0xBF) {
        i_ = 3;  // the BOM is not a column
    }
    // Well-formed UTF-8 and no NUL or other forbidden control characters anywhere.
    {
        const size_t body = i_;
        size_t k = body;
        while (k < n_) {
            const size_t at_byte = k;
            const uint8_t b = static_cast<uint8_t>(s_[k]);
            const uint32_t c = archway::Utf8Builder::next_utf8(s_, n_, &k);
            const bool real_fffd = b == 0xEF && k - at_byte == 3;
            if ((c == 0xFFFD && !real_fffd) || (c < 0x20 && c != 0x9 && c != 0xA && c != 0xD)) {
                advance(at_byte - i_);
                return fail_here(c == 0xFFFD ? "invalid UTF-8" : "control character in the file");
            }
        }
        // Reset the position (advance() above only ran on failure).
        i_ = body;
    }
    pool_capacity_ = 2 * n_ + 64;
    pool_ = static_cast<char*>(archway::heap_alloc(pool_capacity_));
    if (!pool_) return fail(1, 1, "out of memory");

    int32_t stack[kMaxDepth];
    size_t depth = 0;
    bool root_seen = false;
    while (true) {
        if (depth == 0) {
            skip_space();
            if (i_ >= n_) break;
        }
        if (i_ >= n_) {
            const Element& open = elements[static_cast<size_t>(stack[depth - 1])];
            return fail(open.line, open.column, "element is not closed");
        }
        if (s_[i_] != '<') {
            if (depth == 0) return fail_here(root_seen ? "content after the root element" : "expected '<'");
            if (!text()) return false;
            continue;
        }
        if (at("<?")) {
            if (!skip_until("?>", "processing instruction is not closed")) return false;
            continue;
        }
        if (at("<!--")) {
            if (!skip_until("-->", "comment is not closed")) return false;
            continue;
        }
        if (at("<![CDATA[")) {
            if (depth == 0) return fail_here("CDATA outside the root element");
            if (!skip_until("]]>", "CDATA section is not closed")) return false;
            continue;
        }
        if (at("<!")) return fail_here("DTDs and declarations are not supported");
        if (at("</")) {
            if (depth == 0) return fail_here("end tag without a start tag");
            const uint32_t line = line_, column = column_;
            advance(2);
            const char* end_name = nullptr;
            if (!name(&end_name)) return false;
            skip_space();
            if (i_ >= n_ || s_[i_] != '>') return fail_here("expected '>'");
            advance(1);
            const Element& open = elements[static_cast<size_t>(stack[depth - 1])];
            if (!archway::equal(open.name, archway::length(open.name), end_name,
                                archway::length(end_name))) {
                return fail(line, column, "end tag does not match the open element");
            }
            --depth;
            continue;
        }
        if (depth == 0 && root_seen) return fail_here("content after the root element");
        bool empty = false;
        int32_t index = -1;
        if (!start_tag(depth ? stack[depth - 1] : -1, &empty, &index)) return false;
        root_seen = true;
        if (!empty) {
            if (depth == kMaxDepth) {
                const Element& e = elements[static_cast<size_t>(index)];
                return fail(e.line, e.column, "elements nested deeper than 64 levels");
            }
            stack[depth++] = index;
        }
    }
    if (!root_seen) return fail(line_, column_, "no root element");
    return true;
}

// ---------------------------------------------------------------------------------------------
// Reading the document.

namespace {

class Doc {
public:
    Doc(Xml& xml, ConfigError* error) : x_(xml), error_(error) {}

    const Element& at(int32_t i) const { return x_.elements[static_cast<size_t>(i)]; }
    bool is(int32_t i, const char* name) const {
        const char* n = at(i).name;
        return archway::equal(n, archway::length(n), name, archway::length(name));
    }
    // The next child of `parent` named `name` after `after` (-1: the first).
    int32_t child(int32_t parent, const char* name, int32_t after = -1) const {
        int32_t c = after >= 0 ? at(after).next_sibling : at(parent).first_child;
        for (; c >= 0; c = at(c).next_sibling)
            if (is(c, name)) return c;
        return -1;
    }
    const char* attr(int32_t e, const char* name, size_t* length = nullptr) const {
        const Element& el = at(e);
        for (uint32_t k = 0; k < el.attr_count; ++k) {
            const Attr& a = x_.attrs[el.attr_begin + k];
            if (archway::equal(a.name, archway::length(a.name), name, archway::length(name))) {
                if (length) *length = a.value_length;
                return a.value;
            }
        }
        return nullptr;
    }
    bool fail(int32_t e, archway::Utf8Builder& message) {
        if (e >= 0) {
            error_->line = at(e).line;
            error_->column = at(e).column;
        } else {
            error_->line = error_->column = 1;
        }
        archway::Utf8Builder m(error_->message, sizeof(error_->message));
        m.raw(message.c_str(), message.size());
        return false;
    }

private:
    Xml& x_;
    ConfigError* error_;
};

bool same_name(const char* a, const char* b) {  // IIS collection keys: case-insensitive
    return archway::equal_nocase(a, b);
}

uint32_t parse_u32(const char* s, bool* ok) {
    uint64_t v = 0;
    *ok = s && *s;
    for (const char* p = s; *ok && *p; ++p) {
        if (*p < '0' || *p > '9') *ok = false;
        else v = v * 10 + static_cast<uint32_t>(*p - '0');
        if (v > 0xFFFFFFFFull) *ok = false;
    }
    return static_cast<uint32_t>(v);
}

// "ip:port:host" (docs/iis.md §3.1). IPv4 or "*" only.
bool parse_binding(const char* info, size_t n, Binding* b, archway::Utf8Builder& why) {
    size_t last = n;
    while (last > 0 && info[last - 1] != ':') --last;
    if (last == 0) {
        why.raw("bindingInformation \"").raw(info, n).raw("\" is not <ip>:<port>:<host>");
        return false;
    }
    size_t second = last - 1;
    while (second > 0 && info[second - 1] != ':') --second;
    if (second == 0) {
        why.raw("bindingInformation \"").raw(info, n).raw("\" is not <ip>:<port>:<host>");
        return false;
    }
    const char* ip = info;
    const size_t ip_length = second - 1;
    const char* port = info + second;
    const size_t port_length = last - 1 - second;
    b->host = info + last;
    if (ip_length > 0 && ip[0] == '[') {
        why.raw("IPv6 binding \"").raw(info, n).raw("\" is not supported by archway_worker");
        return false;
    }
    if (port_length == 0 || port_length > 5) {
        why.raw("bindingInformation \"").raw(info, n).raw("\" has an invalid port");
        return false;
    }
    uint32_t p = 0;
    for (size_t k = 0; k < port_length; ++k) {
        if (port[k] < '0' || port[k] > '9') {
            why.raw("bindingInformation \"").raw(info, n).raw("\" has an invalid port");
            return false;
        }
        p = p * 10 + static_cast<uint32_t>(port[k] - '0');
    }
    if (p > 65535) {
        why.raw("bindingInformation \"").raw(info, n).raw("\" has a port above 65535");
        return false;
    }
    b->port = static_cast<uint16_t>(p);
    if (ip_length == 1 && ip[0] == '*') {
        b->ip = 0;
        return true;
    }
    uint32_t parts[4] = {};
    size_t part = 0, digits = 0;
    for (size_t k = 0; k <= ip_length; ++k) {
        if (k == ip_length || ip[k] == '.') {
            if (digits == 0 || part >= 4) part = 5;
            else ++part;
            digits = 0;
            if (part > 4) break;
            continue;
        }
        if (ip[k] < '0' || ip[k] > '9' || digits == 3) {
            part = 5;
            break;
        }
        parts[part] = parts[part] * 10 + static_cast<uint32_t>(ip[k] - '0');
        if (parts[part] > 255) {
            part = 5;
            break;
        }
        ++digits;
    }
    if (part != 4) {
        why.raw("bindingInformation \"").raw(info, n).raw("\" has an invalid IPv4 address (or *)");
        return false;
    }
    // Network byte order: the first octet in the lowest byte on little-endian Windows.
    b->ip = parts[0] | (parts[1] << 8) | (parts[2] << 16) | (parts[3] << 24);
    return true;
}

// Expanded physical path with a trailing backslash, in `arena`.
const wchar_t* physical_path(Arena* arena, const char* path) {
    const size_t n = archway::length(path);
    wchar_t* raw = arena->widen(path, n);
    if (!raw) return nullptr;
    wchar_t expanded[2048];
    DWORD k = ExpandEnvironmentStringsW(raw, expanded, 2048);
    const wchar_t* source = expanded;
    size_t length = 0;
    if (k == 0 || k > 2048) {
        source = raw;
        length = archway::length(raw);
    } else {
        length = k - 1;
    }
    wchar_t* out = static_cast<wchar_t*>(arena->alloc((length + 2) * sizeof(wchar_t)));
    if (!out) return nullptr;
    memcpy(out, source, length * sizeof(wchar_t));
    if (length == 0 || (out[length - 1] != L'\\' && out[length - 1] != L'/')) out[length++] = L'\\';
    out[length] = 0;
    return out;
}

}  // namespace

bool parse_config(const char* bytes, size_t size, const char* pool, Config* out,
                  ConfigError* error) {
    Xml xml(bytes, size, error);
    if (!xml.parse()) return false;
    Doc doc(xml, error);
    char text[512];
    archway::Utf8Builder m(text, sizeof(text));

    // Everything kept lives for the whole process.
    Arena* arena = new (archway::nothrow) Arena();
    if (!arena) {
        m.raw("out of memory");
        return doc.fail(-1, m);
    }
    const int32_t root = 0;
    if (!doc.is(root, "configuration")) {
        m.raw("the root element is <").raw(doc.at(root).name).raw(">, expected <configuration>");
        return doc.fail(root, m);
    }
    out->pool = arena->copy(pool, archway::length(pool));

    // 1. The application pool.
    int32_t first_pools = -1;
    bool pool_found = false;
    for (int32_t app = doc.child(root, "system.applicationHost"); app >= 0;
         app = doc.child(root, "system.applicationHost", app)) {
        for (int32_t pools = doc.child(app, "applicationPools"); pools >= 0;
             pools = doc.child(app, "applicationPools", pools)) {
            if (first_pools < 0) first_pools = pools;
            size_t count = 0;
            for (int32_t e = doc.at(pools).first_child; e >= 0; e = doc.at(e).next_sibling) {
                if (++count > kMaxCollection) {
                    m.raw("more than 4096 entries in <applicationPools>");
                    return doc.fail(e, m);
                }
                if (doc.is(e, "clear")) {
                    pool_found = false;
                    continue;
                }
                const bool add = doc.is(e, "add"), remove = doc.is(e, "remove");
                if (!add && !remove) continue;
                const char* name = doc.attr(e, "name");
                if (!name || !*name) {
                    m.raw("<").raw(doc.at(e).name).raw("> in <applicationPools> has no name attribute");
                    return doc.fail(e, m);
                }
                if (add) {
                    for (int32_t prev = doc.at(pools).first_child; prev != e;
                         prev = doc.at(prev).next_sibling) {
                        const char* other = doc.is(prev, "add") ? doc.attr(prev, "name") : nullptr;
                        if (other && same_name(other, name)) {
                            m.raw("application pool \"").raw(name).raw("\" is defined twice");
                            return doc.fail(e, m);
                        }
                    }
                }
                if (same_name(name, pool)) pool_found = add;
            }
        }
    }
    if (!pool_found) {
        m.raw("application pool \"").raw(pool).raw("\" is not defined in <applicationPools>");
        return doc.fail(first_pools, m);
    }

    // 2. The sites whose root application runs in the pool.
    Vec<Site> sites;
    int32_t first_sites = -1;
    for (int32_t app = doc.child(root, "system.applicationHost"); app >= 0;
         app = doc.child(root, "system.applicationHost", app)) {
        for (int32_t list = doc.child(app, "sites"); list >= 0; list = doc.child(app, "sites", list)) {
            if (first_sites < 0) first_sites = list;
            const int32_t list_defaults = doc.child(list, "applicationDefaults");
            const char* list_pool = list_defaults >= 0 ? doc.attr(list_defaults, "applicationPool") : nullptr;
            for (int32_t site = doc.child(list, "site"); site >= 0; site = doc.child(list, "site", site)) {
                const char* name = doc.attr(site, "name");
                if (!name || !*name) {
                    m.raw("<site> has no name attribute");
                    return doc.fail(site, m);
                }
                const int32_t site_defaults = doc.child(site, "applicationDefaults");
                const char* site_pool = site_defaults >= 0 ? doc.attr(site_defaults, "applicationPool") : nullptr;
                int32_t root_app = -1;
                for (int32_t a = doc.child(site, "application"); a >= 0; a = doc.child(site, "application", a)) {
                    const char* path = doc.attr(a, "path");
                    if (!path) {
                        m.raw("<application> of site \"").raw(name).raw("\" has no path attribute");
                        return doc.fail(a, m);
                    }
                    if (archway::equal(path, archway::length(path), "/", 1)) {
                        root_app = a;
                        break;
                    }
                }
                if (root_app < 0) continue;
                const char* app_pool = doc.attr(root_app, "applicationPool");
                if (!app_pool) app_pool = site_pool ? site_pool : (list_pool ? list_pool : "DefaultAppPool");
                if (!same_name(app_pool, pool)) continue;

                Site s = {};
                s.name = arena->copy(name, archway::length(name));
                s.name_w = arena->widen(name, archway::length(name));
                bool ok = false;
                const char* id = doc.attr(site, "id");
                s.id = parse_u32(id, &ok);
                if (!ok || s.id == 0) {
                    m.raw("site \"").raw(name).raw("\" has no valid id attribute");
                    return doc.fail(site, m);
                }
                int32_t vdir = -1;
                for (int32_t v = doc.child(root_app, "virtualDirectory"); v >= 0;
                     v = doc.child(root_app, "virtualDirectory", v)) {
                    const char* path = doc.attr(v, "path");
                    if (path && archway::equal(path, archway::length(path), "/", 1)) {
                        vdir = v;
                        break;
                    }
                }
                const char* physical = vdir >= 0 ? doc.attr(vdir, "physicalPath") : nullptr;
                if (!physical) {
                    m.raw("application \"/\" of site \"").raw(name)
                        .raw("\" has no <virtualDirectory path=\"/\" physicalPath=\"...\">");
                    return doc.fail(vdir >= 0 ? vdir : root_app, m);
                }
                s.physical_path = arena->copy(physical, archway::length(physical));
                s.physical_path_w = physical_path(arena, physical);
                {
                    wchar_t buffer[1024];
                    archway::WideBuilder p(buffer, 1024);
                    p.wide(L"MACHINE/WEBROOT/APPHOST/").wide(s.name_w);
                    s.config_path_w = arena->copy(p.c_str(), p.size());
                    char md[64];
                    archway::Utf8Builder mp(md, sizeof(md));
                    mp.raw("/LM/W3SVC/").u32(s.id).raw("/ROOT");
                    s.md_path = arena->copy(mp.c_str(), mp.size());
                }
                // The site's applications in this pool, the root first (IIS serves the others
                // from their own pools' workers).
                Vec<App> apps;
                {
                    App root = {"/", s.physical_path_w, s.config_path_w, s.md_path};
                    if (!apps.push(root)) {
                        m.raw("out of memory");
                        return doc.fail(site, m);
                    }
                }
                for (int32_t a = doc.child(site, "application"); a >= 0; a = doc.child(site, "application", a)) {
                    if (a == root_app) continue;
                    const char* path = doc.attr(a, "path");
                    size_t pn = archway::length(path);
                    while (pn > 1 && path[pn - 1] == '/') --pn;
                    if (!path || path[0] != '/' || pn < 2) {
                        m.raw("<application> of site \"").raw(name).raw("\" needs a path like \"/app\"");
                        return doc.fail(a, m);
                    }
                    const char* a_pool = doc.attr(a, "applicationPool");
                    if (!a_pool) a_pool = site_pool ? site_pool : (list_pool ? list_pool : "DefaultAppPool");
                    if (!same_name(a_pool, pool)) continue;
                    int32_t a_vdir = -1;
                    for (int32_t v = doc.child(a, "virtualDirectory"); v >= 0; v = doc.child(a, "virtualDirectory", v)) {
                        const char* vp = doc.attr(v, "path");
                        if (vp && archway::equal(vp, archway::length(vp), "/", 1)) {
                            a_vdir = v;
                            break;
                        }
                    }
                    const char* a_physical = a_vdir >= 0 ? doc.attr(a_vdir, "physicalPath") : nullptr;
                    if (!a_physical) {
                        m.raw("application \"").raw(path).raw("\" of site \"").raw(name)
                            .raw("\" has no <virtualDirectory path=\"/\" physicalPath=\"...\">");
                        return doc.fail(a_vdir >= 0 ? a_vdir : a, m);
                    }
                    App x = {};
                    x.path = arena->copy(path, pn);
                    x.physical_path_w = physical_path(arena, a_physical);
                    wchar_t buffer[1024];
                    archway::WideBuilder cp(buffer, 1024);
                    const wchar_t* app_w = arena->widen(path, pn);
                    cp.wide(s.config_path_w);
                    if (app_w) cp.wide(app_w);
                    x.config_path_w = arena->copy(cp.c_str(), cp.size());
                    char md[1024];
                    archway::Utf8Builder mp(md, sizeof(md));
                    mp.raw(s.md_path).raw(path, pn);
                    x.md_path = arena->copy(mp.c_str(), mp.size());
                    if (!x.path || !x.physical_path_w || !app_w || !x.config_path_w || !x.md_path ||
                        cp.overflow() || mp.overflow() || !apps.push(x)) {
                        m.raw("out of memory (or a path too long) for application \"").raw(path).raw("\"");
                        return doc.fail(a, m);
                    }
                }
                s.app_count = apps.size();
                s.apps = static_cast<App*>(arena->alloc(sizeof(App) * apps.size()));
                if (!s.apps) {
                    m.raw("out of memory");
                    return doc.fail(site, m);
                }
                memcpy(s.apps, apps.data(), sizeof(App) * apps.size());
                Vec<Binding> bindings;
                const int32_t list_b = doc.child(site, "bindings");
                for (int32_t b = list_b >= 0 ? doc.child(list_b, "binding") : -1; b >= 0;
                     b = doc.child(list_b, "binding", b)) {
                    const char* protocol = doc.attr(b, "protocol");
                    size_t info_length = 0;
                    const char* info = doc.attr(b, "bindingInformation", &info_length);
                    if (!protocol || !info) {
                        m.raw("<binding> needs protocol and bindingInformation attributes");
                        return doc.fail(b, m);
                    }
                    if (!archway::equal_nocase(protocol, "http")) continue;  // https etc.: not served
                    Binding parsed = {};
                    parsed.line = doc.at(b).line;
                    parsed.column = doc.at(b).column;
                    if (!parse_binding(info, info_length, &parsed, m)) return doc.fail(b, m);
                    parsed.host = arena->copy(parsed.host, archway::length(parsed.host));
                    if (!bindings.push(parsed)) {
                        m.raw("out of memory");
                        return doc.fail(b, m);
                    }
                }
                if (bindings.size() == 0) {
                    m.raw("site \"").raw(name).raw("\" has no http binding");
                    return doc.fail(site, m);
                }
                s.binding_count = bindings.size();
                s.bindings = static_cast<Binding*>(arena->alloc(sizeof(Binding) * bindings.size()));
                if (!s.bindings || !s.name || !s.name_w || !s.physical_path_w || !s.config_path_w ||
                    !s.md_path || !sites.push(s)) {
                    m.raw("out of memory");
                    return doc.fail(site, m);
                }
                memcpy(s.bindings, bindings.data(), sizeof(Binding) * bindings.size());
                sites[sites.size() - 1].bindings = s.bindings;
            }
        }
    }
    if (sites.size() == 0) {
        m.raw("no site's root application (path \"/\") uses application pool \"").raw(pool).raw("\"");
        return doc.fail(first_sites, m);
    }

    // 3. Global modules, in order (docs/iis.md §2.1).
    Vec<GlobalModuleEntry> modules;
    for (int32_t web = doc.child(root, "system.webServer"); web >= 0;
         web = doc.child(root, "system.webServer", web)) {
        for (int32_t list = doc.child(web, "globalModules"); list >= 0;
             list = doc.child(web, "globalModules", list)) {
            size_t count = 0;
            for (int32_t e = doc.at(list).first_child; e >= 0; e = doc.at(e).next_sibling) {
                if (++count > kMaxCollection) {
                    m.raw("more than 4096 entries in <globalModules>");
                    return doc.fail(e, m);
                }
                if (doc.is(e, "clear")) {
                    modules.clear();
                    continue;
                }
                const bool add = doc.is(e, "add"), remove = doc.is(e, "remove");
                if (!add && !remove) continue;
                const char* name = doc.attr(e, "name");
                if (!name || !*name) {
                    m.raw("<").raw(doc.at(e).name).raw("> in <globalModules> has no name attribute");
                    return doc.fail(e, m);
                }
                size_t found = modules.size();
                for (size_t k = 0; k < modules.size(); ++k)
                    if (same_name(modules[k].name, name)) found = k;
                if (remove) {
                    if (found < modules.size()) modules.erase(found);
                    continue;
                }
                if (found < modules.size()) {
                    m.raw("global module \"").raw(name).raw("\" is defined twice");
                    return doc.fail(e, m);
                }
                const char* image = doc.attr(e, "image");
                if (!image || !*image) {
                    m.raw("global module \"").raw(name).raw("\" has no image attribute");
                    return doc.fail(e, m);
                }
                const char* precondition = doc.attr(e, "preCondition");
                GlobalModuleEntry g = {};
                g.name = arena->copy(name, archway::length(name));
                g.image = arena->copy(image, archway::length(image));
                g.precondition = precondition ? arena->copy(precondition, archway::length(precondition))
                                              : "";
                g.line = doc.at(e).line;
                g.column = doc.at(e).column;
                if (!g.name || !g.image || !g.precondition || !modules.push(g)) {
                    m.raw("out of memory");
                    return doc.fail(e, m);
                }
            }
        }
    }

    out->site_count = sites.size();
    out->sites = static_cast<Site*>(arena->alloc(sizeof(Site) * sites.size()));
    out->module_count = modules.size();
    out->modules = static_cast<GlobalModuleEntry*>(arena->alloc(sizeof(GlobalModuleEntry) * (modules.size() + 1)));
    if (!out->sites || !out->modules || !out->pool) {
        m.raw("out of memory");
        return doc.fail(-1, m);
    }
    memcpy(out->sites, sites.data(), sizeof(Site) * sites.size());
    if (modules.size()) memcpy(out->modules, modules.data(), sizeof(GlobalModuleEntry) * modules.size());
    return true;
}

const App* app_for_path(const Site* site, const char* path, size_t length) {
    const App* best = &site->apps[0];
    size_t best_length = 0;
    for (size_t i = 1; i < site->app_count; ++i) {
        const App& a = site->apps[i];
        const size_t n = archway::length(a.path);
        if (n <= best_length || n > length || !archway::equal_nocase(path, n, a.path, n)) continue;
        if (n < length && path[n] != '/') continue;  // "/app" must not match "/apple"
        best = &a;
        best_length = n;
    }
    return best;
}

}  // namespace worker
