// tests/worker/src/admin.cpp: IAppHostAdminManager over the stand-in's configuration files.
//
// GetAdminSection(section, config path) merges the section the way IIS does, shallow to deep:
//   1. applicationHost.config's own <configuration><system.webServer>...<section> elements;
//   2. its <location path="..."> elements that cover the path ("" and "." cover everything,
//      "Site" covers the site and its applications, "Site/app" the application), fewer path
//      segments first;
//   3. the web.config in the site's root folder, then the one in the application's folder.
// Deeper wins per attribute. Collections take <add> (or any entry element), <remove> and
// <clear>; an entry's key is its `name` attribute (else `key`, `path`, else its first attribute)
// and a later entry with the same key replaces the earlier one (IIS would reject the duplicate).
// A section is known only when applicationHost.config declares it in <configSections> (as real
// IIS needs its schema); an unknown one fails with HRESULT_FROM_WIN32(ERROR_NOT_FOUND).
// Without a schema, what is a collection is decided by shape: children named add/remove/clear,
// and the attribute-only children of any element below the section element, are entries; other
// children are child elements. Only what the files set is reported (no schema defaults).
//
// web.config files are read on every call (a changed file is seen at once). One that is not
// well-formed XML fails the request with 500.19 before any module runs (check_web_configs).
//
// COM objects: every object holds a reference on the merged tree it points into; methods are
// STDMETHODCALLTYPE (archway/ahadmin.h). What is not implemented returns E_NOTIMPL.
#include "admin.h"

#include "xml.h"

namespace worker {
namespace {

// ---------------------------------------------------------------------------------------------
// The merged tree.

struct Pair {
    const char* name;
    const char* value;
};

struct Node {
    const char* name;
    Vec<Pair> attrs;
    Vec<Node*> children;  // child elements, by name
    Vec<Node*> entries;   // collection entries, in order
    bool collection;
};

class Tree {
public:
    Tree() = default;
    Tree(const Tree&) = delete;
    Tree& operator=(const Tree&) = delete;
    ~Tree() {
        for (size_t i = 0; i < nodes_.size(); ++i) delete nodes_[i];
    }
    void add_ref() { _InterlockedIncrement(&refs_); }
    void release() {
        if (_InterlockedDecrement(&refs_) == 0) delete this;
    }
    Node* node(const char* name) {
        Node* n = new (archway::nothrow) Node();
        if (!n) return nullptr;
        n->name = arena_.copy(name, archway::length(name));
        if (!n->name || !nodes_.push(n)) {
            delete n;
            return nullptr;
        }
        return n;
    }
    const char* copy(const char* s) { return arena_.copy(s, archway::length(s)); }
    Node* root = nullptr;

private:
    volatile long refs_ = 1;
    Arena arena_;
    Vec<Node*> nodes_;  // owned
};

const char* attr_of(const Node* n, const char* name) {
    for (size_t i = 0; i < n->attrs.size(); ++i)
        if (archway::equal(n->attrs[i].name, archway::length(n->attrs[i].name), name, archway::length(name)))
            return n->attrs[i].value;
    return nullptr;
}

// The key attribute's name for an entry element of `x`.
const char* key_name(Xml& x, const Element& e) {
    static const char* const kKeys[] = {"name", "key", "path"};
    for (const char* k : kKeys)
        for (uint32_t i = 0; i < e.attr_count; ++i)
            if (archway::equal(x.attrs[e.attr_begin + i].name, archway::length(x.attrs[e.attr_begin + i].name), k, archway::length(k)))
                return k;
    return e.attr_count ? x.attrs[e.attr_begin].name : nullptr;
}

const char* xml_attr(Xml& x, const Element& e, const char* name) {
    if (!name) return nullptr;
    for (uint32_t i = 0; i < e.attr_count; ++i) {
        const Attr& a = x.attrs[e.attr_begin + i];
        if (archway::equal(a.name, archway::length(a.name), name, archway::length(name))) return a.value;
    }
    return nullptr;
}

bool set_attr(Tree* t, Node* n, const char* name, const char* value) {
    for (size_t i = 0; i < n->attrs.size(); ++i) {
        if (archway::equal(n->attrs[i].name, archway::length(n->attrs[i].name), name, archway::length(name))) {
            n->attrs[i].value = t->copy(value);
            return n->attrs[i].value != nullptr;
        }
    }
    Pair p = {t->copy(name), t->copy(value)};
    return p.name && p.value && n->attrs.push(p);
}

bool is_named(const char* a, const char* b) { return archway::equal(a, archway::length(a), b, archway::length(b)); }

// Merges element `index` of `x` into `n` (`top`: n is the section element itself).
bool apply(Tree* t, Node* n, Xml& x, int32_t index, bool top) {
    const Element& e = x.elements[static_cast<size_t>(index)];
    for (uint32_t i = 0; i < e.attr_count; ++i) {
        const Attr& a = x.attrs[e.attr_begin + i];
        if (!set_attr(t, n, a.name, a.value)) return false;
    }
    for (int32_t c = e.first_child; c >= 0; c = x.elements[static_cast<size_t>(c)].next_sibling) {
        const Element& ce = x.elements[static_cast<size_t>(c)];
        if (is_named(ce.name, "clear")) {
            n->collection = true;
            n->entries.clear();
            continue;
        }
        if (is_named(ce.name, "remove")) {
            n->collection = true;
            const char* key = key_name(x, ce);
            const char* value = xml_attr(x, ce, key);
            for (size_t k = 0; value && k < n->entries.size();) {
                const char* have = attr_of(n->entries[k], key);
                if (have && archway::equal_nocase(have, value)) n->entries.erase(k);
                else ++k;
            }
            continue;
        }
        const bool entry = is_named(ce.name, "add") || (!top && ce.first_child < 0);
        if (entry) {
            n->collection = true;
            Node* item = t->node(ce.name);
            if (!item || !apply(t, item, x, c, false)) return false;
            const char* key = key_name(x, ce);
            const char* value = attr_of(item, key ? key : "");
            bool replaced = false;
            for (size_t k = 0; value && k < n->entries.size() && !replaced; ++k) {
                const char* have = attr_of(n->entries[k], key);
                if (have && archway::equal_nocase(have, value)) {
                    n->entries[k] = item;
                    replaced = true;
                }
            }
            if (!replaced && !n->entries.push(item)) return false;
            continue;
        }
        Node* child = nullptr;
        for (size_t k = 0; k < n->children.size() && !child; ++k)
            if (is_named(n->children[k]->name, ce.name)) child = n->children[k];
        if (!child) {
            child = t->node(ce.name);
            if (!child || !n->children.push(child)) return false;
        }
        if (!apply(t, child, x, c, false)) return false;
    }
    return true;
}

// The child of `parent` named `name` (n bytes), after `after` (-1: the first).
int32_t child_named(Xml& x, int32_t parent, const char* name, size_t n, int32_t after = -1) {
    int32_t c = after >= 0 ? x.elements[static_cast<size_t>(after)].next_sibling
                           : x.elements[static_cast<size_t>(parent)].first_child;
    for (; c >= 0; c = x.elements[static_cast<size_t>(c)].next_sibling) {
        const char* cn = x.elements[static_cast<size_t>(c)].name;
        if (archway::equal(cn, archway::length(cn), name, n)) return c;
    }
    return -1;
}

// Applies every occurrence of `section` ("a/b/c") under element `base`.
bool apply_section_under(Tree* t, Xml& x, int32_t base, const char* section) {
    const char* slash = section;
    while (*slash && *slash != '/') ++slash;
    const size_t n = static_cast<size_t>(slash - section);
    for (int32_t c = child_named(x, base, section, n); c >= 0; c = child_named(x, base, section, n, c)) {
        if (*slash) {
            if (!apply_section_under(t, x, c, slash + 1)) return false;
        } else if (!apply(t, t->root, x, c, true)) {
            return false;
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// The files.

struct Host {
    char* bytes;
    size_t size;
    const char* path;
    Xml* xml;
};
Host g_host;

// Whether <configSections> declares `section` (nested <sectionGroup name=> and <section name=>).
bool declared_in(Xml& x, int32_t group, const char* section) {
    const char* slash = section;
    while (*slash && *slash != '/') ++slash;
    const size_t n = static_cast<size_t>(slash - section);
    for (int32_t c = x.elements[static_cast<size_t>(group)].first_child; c >= 0;
         c = x.elements[static_cast<size_t>(c)].next_sibling) {
        const Element& e = x.elements[static_cast<size_t>(c)];
        const char* name = xml_attr(x, e, "name");
        if (!name || !archway::equal(name, archway::length(name), section, n)) continue;
        if (*slash && is_named(e.name, "sectionGroup") && declared_in(x, c, slash + 1)) return true;
        if (!*slash && is_named(e.name, "section")) return true;
    }
    return false;
}

bool declared(const char* section) {
    Xml& x = *g_host.xml;
    for (int32_t cs = child_named(x, 0, "configSections", 14); cs >= 0;
         cs = child_named(x, 0, "configSections", 14, cs))
        if (declared_in(x, cs, section)) return true;
    return false;
}

// Reads and parses `path` (UTF-16). kMissing when there is no such file.
enum class Load { kOk, kMissing, kBad };
Load load_file(const wchar_t* path, Vec<char>* bytes, Xml** xml, ConfigError* error) {
    HANDLE file = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                              OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) {
        const DWORD e = GetLastError();
        if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) return Load::kMissing;
        archway::Utf8Builder m(error->message, sizeof(error->message));
        m.raw("cannot read the file: ");
        append_win32_error(m, e);
        return Load::kBad;
    }
    bool ok = true;
    while (ok && bytes->size() <= kMaxFileSize) {
        const size_t before = bytes->size();
        DWORD read = 0;
        ok = bytes->resize(before + 65536) && ReadFile(file, bytes->data() + before, 65536, &read, nullptr);
        bytes->resize(ok ? before + read : before);
        if (read == 0) break;
    }
    CloseHandle(file);
    if (!ok) {
        archway::Utf8Builder m(error->message, sizeof(error->message));
        m.raw("cannot read the file");
        return Load::kBad;
    }
    *xml = new (archway::nothrow) Xml(bytes->data() ? bytes->data() : "", bytes->size(), error);
    if (!*xml) return Load::kBad;
    if (!(*xml)->parse()) {
        delete *xml;
        *xml = nullptr;
        return Load::kBad;
    }
    return Load::kOk;
}

// "<folder>web.config" for a folder with a trailing backslash.
bool web_config_path(const wchar_t* folder, wchar_t* out, size_t capacity) {
    archway::WideBuilder b(out, capacity);
    b.wide(folder).wide(L"web.config");
    return !b.overflow();
}

// The site and application a config path names (null when not served by this worker).
void resolve(const wchar_t* path, const Site** site, const App** app, const wchar_t** rest) {
    *site = nullptr;
    *app = nullptr;
    static const wchar_t kPrefix[] = L"MACHINE/WEBROOT/APPHOST";
    const size_t p = sizeof(kPrefix) / sizeof(wchar_t) - 1;
    *rest = L"";
    if (!archway::equal_nocase(path, archway::length(path) < p ? archway::length(path) : p, kPrefix, p)) return;
    const wchar_t* r = path + p;
    while (*r == L'/') ++r;
    *rest = r;
    const wchar_t* end = r;
    while (*end && *end != L'/') ++end;
    const Config& c = g_process.config;
    for (size_t i = 0; i < c.site_count; ++i) {
        if (!archway::equal_nocase(c.sites[i].name_w, archway::length(c.sites[i].name_w), r,
                                   static_cast<size_t>(end - r)))
            continue;
        *site = &c.sites[i];
        char app_path[1024];
        archway::Utf8Builder b(app_path, sizeof(app_path));
        b.utf16(*end ? end : L"/");
        *app = app_for_path(*site, b.c_str(), b.size());
        return;
    }
}

// Whether <location path=L> covers `rest` ("Site/app"), and L's segment count.
bool covers(const char* location, const wchar_t* rest, size_t* depth) {
    while (*location == '/') ++location;
    size_t n = archway::length(location);
    while (n > 0 && location[n - 1] == '/') --n;
    if (n == 0 || (n == 1 && location[0] == '.')) {
        *depth = 0;
        return true;
    }
    size_t rn = archway::length(rest);
    while (rn > 0 && rest[rn - 1] == L'/') --rn;
    if (n > rn || !archway::equal_nocase(rest, n, location, n)) return false;
    if (n < rn && rest[n] != L'/') return false;
    *depth = 1;
    for (size_t i = 0; i < n; ++i)
        if (location[i] == '/') ++*depth;
    return true;
}

HRESULT build(const char* section, const wchar_t* path, Tree* t) {
    Xml& x = *g_host.xml;
    const char* leaf = section;
    for (const char* p = section; *p; ++p)
        if (*p == '/') leaf = p + 1;
    t->root = t->node(leaf);
    if (!t->root) return E_OUTOFMEMORY;
    // 1. applicationHost.config's own sections.
    if (!apply_section_under(t, x, 0, section)) return E_OUTOFMEMORY;
    // 2. <location> elements, fewer segments first.
    const Site* site = nullptr;
    const App* app = nullptr;
    const wchar_t* rest = L"";
    resolve(path, &site, &app, &rest);
    for (size_t depth = 0; depth < 16; ++depth) {
        for (int32_t l = child_named(x, 0, "location", 8); l >= 0; l = child_named(x, 0, "location", 8, l)) {
            const char* lp = xml_attr(x, x.elements[static_cast<size_t>(l)], "path");
            size_t d = 0;
            if (covers(lp ? lp : "", rest, &d) && d == depth && !apply_section_under(t, x, l, section))
                return E_OUTOFMEMORY;
        }
    }
    // 3. web.config files: the site's root folder, then the application's.
    if (!site) return S_OK;
    const wchar_t* folders[2] = {site->physical_path_w, nullptr};
    if (app && !archway::equal_nocase(app->physical_path_w, site->physical_path_w)) folders[1] = app->physical_path_w;
    for (const wchar_t* folder : folders) {
        if (!folder) continue;
        wchar_t file[2048];
        if (!web_config_path(folder, file, 2048)) return HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER);
        Vec<char> bytes;
        Xml* wx = nullptr;
        ConfigError error;
        const Load load = load_file(file, &bytes, &wx, &error);
        if (load == Load::kMissing) continue;
        if (load == Load::kBad) return E_FAIL;  // a request for it would get 500.19 first
        const bool ok = apply_section_under(t, *wx, 0, section);
        delete wx;
        if (!ok) return E_OUTOFMEMORY;
    }
    return S_OK;
}

// ---------------------------------------------------------------------------------------------
// COM objects.

BSTR bstr(const char* utf8) {
    const size_t n = archway::length(utf8);
    Arena a;
    size_t units = 0;
    wchar_t* w = a.widen(utf8, n, &units);
    return w ? SysAllocStringLen(w, static_cast<UINT>(units)) : nullptr;
}

bool utf8_of(const wchar_t* s, char* out, size_t capacity) {
    archway::Utf8Builder b(out, capacity);
    b.utf16(s ? s : L"");
    return !b.overflow();
}

// Index from a get_Item VARIANT: a number, or a name matched by `match`.
template <typename F> HRESULT index_of(const VARIANT& v, size_t count, F match, size_t* out) {
    if (v.vt == VT_UI4 || v.vt == VT_I4) {
        if (v.vt == VT_I4 && v.lVal < 0) return DISP_E_BADINDEX;
        *out = v.ulVal;
        return *out < count ? S_OK : DISP_E_BADINDEX;
    }
    if (v.vt != VT_BSTR) return DISP_E_TYPEMISMATCH;
    char name[512];
    if (!utf8_of(v.bstrVal, name, sizeof(name))) return DISP_E_BADINDEX;
    for (size_t i = 0; i < count; ++i)
        if (match(i, name)) {
            *out = i;
            return S_OK;
        }
    return DISP_E_BADINDEX;
}

template <typename I> class Object : public I {
public:
    explicit Object(Tree* tree) : tree_(tree) { tree_->add_ref(); }
    virtual ~Object() { tree_->release(); }
    HRESULT STDMETHODCALLTYPE QueryInterface(const IID& iid, void** out) override {
        if (!out) return E_POINTER;
        if (iid == archway::kIID_IUnknown || iid == own_iid()) {
            *out = this;
            this->AddRef();
            return S_OK;
        }
        *out = nullptr;
        return E_NOINTERFACE;
    }
    ULONG STDMETHODCALLTYPE AddRef() override { return static_cast<ULONG>(_InterlockedIncrement(&refs_)); }
    ULONG STDMETHODCALLTYPE Release() override {
        const long n = _InterlockedDecrement(&refs_);
        if (n == 0) delete this;
        return static_cast<ULONG>(n);
    }

protected:
    virtual const IID& own_iid() const = 0;
    Tree* tree_;

private:
    volatile long refs_ = 1;
};

class PropertyObj final : public Object<IAppHostProperty> {
public:
    PropertyObj(Tree* t, const Pair* p) : Object(t), p_(p) {}
    HRESULT STDMETHODCALLTYPE get_Name(BSTR* out) override {
        if (!out) return E_POINTER;
        *out = bstr(p_->name);
        return *out ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE get_Value(VARIANT* out) override {
        if (!out) return E_POINTER;
        *out = VARIANT{};
        out->vt = VT_BSTR;  // no schema: every value is its string
        out->bstrVal = bstr(p_->value);
        return out->bstrVal ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE put_Value(VARIANT) override { return E_NOTIMPL; }  // read-only
    HRESULT STDMETHODCALLTYPE Clear() override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE get_StringValue(BSTR* out) override {
        if (!out) return E_POINTER;
        *out = bstr(p_->value);
        return *out ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE get_Exception(IAppHostPropertyException** out) override {
        if (out) *out = nullptr;
        return S_OK;  // no exception: the value was read
    }
    HRESULT STDMETHODCALLTYPE GetMetadata(BSTR, VARIANT*) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE SetMetadata(BSTR, VARIANT) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE get_Schema(IAppHostPropertySchema** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }

private:
    const IID& own_iid() const override { return archway::kIID_IAppHostProperty; }
    const Pair* p_;
};

class PropertiesObj final : public Object<IAppHostPropertyCollection> {
public:
    PropertiesObj(Tree* t, Node* n) : Object(t), n_(n) {}
    HRESULT STDMETHODCALLTYPE get_Count(DWORD* out) override {
        if (!out) return E_POINTER;
        *out = static_cast<DWORD>(n_->attrs.size());
        return S_OK;
    }
    HRESULT STDMETHODCALLTYPE get_Item(VARIANT index, IAppHostProperty** out) override {
        if (!out) return E_POINTER;
        *out = nullptr;
        size_t i = 0;
        const HRESULT hr = index_of(index, n_->attrs.size(),
                                    [&](size_t k, const char* name) { return is_named(n_->attrs[k].name, name); }, &i);
        if (FAILED(hr)) return hr;
        *out = new (archway::nothrow) PropertyObj(tree_, &n_->attrs[i]);
        return *out ? S_OK : E_OUTOFMEMORY;
    }

private:
    const IID& own_iid() const override { return archway::kIID_IAppHostPropertyCollection; }
    Node* n_;
};

class ElementObj;
IAppHostElement* element_of(Tree* t, Node* n);

// What a node's child elements (IAppHostChildElementCollection) and its collection entries
// (IAppHostElementCollection) share: both are lists of nodes, counted and indexed the same way.
template <typename I> class ElementListObj : public Object<I> {
public:
    ElementListObj(Tree* t, const Vec<Node*>* list) : Object<I>(t), list_(list) {}
    HRESULT STDMETHODCALLTYPE get_Count(DWORD* out) override {
        if (!out) return E_POINTER;
        *out = static_cast<DWORD>(list_->size());
        return S_OK;
    }
    HRESULT STDMETHODCALLTYPE get_Item(VARIANT index, IAppHostElement** out) override {
        if (!out) return E_POINTER;
        *out = nullptr;
        size_t i = 0;
        const HRESULT hr = index_of(index, list_->size(),
                                    [&](size_t k, const char* name) { return is_named((*list_)[k]->name, name); }, &i);
        if (FAILED(hr)) return hr;
        *out = element_of(this->tree_, (*list_)[i]);
        return *out ? S_OK : E_OUTOFMEMORY;
    }

private:
    const Vec<Node*>* list_;
};

class ChildrenObj final : public ElementListObj<IAppHostChildElementCollection> {
public:
    ChildrenObj(Tree* t, Node* n) : ElementListObj(t, &n->children) {}

private:
    const IID& own_iid() const override { return archway::kIID_IAppHostChildElementCollection; }
};

class EntriesObj final : public ElementListObj<IAppHostElementCollection> {
public:
    EntriesObj(Tree* t, Node* n) : ElementListObj(t, &n->entries) {}
    HRESULT STDMETHODCALLTYPE AddElement(IAppHostElement*, int) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE DeleteElement(VARIANT) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE Clear() override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE CreateNewElement(BSTR, IAppHostElement** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT STDMETHODCALLTYPE get_Schema(IAppHostCollectionSchema** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }

private:
    const IID& own_iid() const override { return archway::kIID_IAppHostElementCollection; }
};

class ElementObj final : public Object<IAppHostElement> {
public:
    ElementObj(Tree* t, Node* n) : Object(t), n_(n) {}
    HRESULT STDMETHODCALLTYPE get_Name(BSTR* out) override {
        if (!out) return E_POINTER;
        *out = bstr(n_->name);
        return *out ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE get_Collection(IAppHostElementCollection** out) override {
        if (!out) return E_POINTER;
        *out = nullptr;
        if (!n_->collection) return S_OK;  // not a collection: null, as IIS
        *out = new (archway::nothrow) EntriesObj(tree_, n_);
        return *out ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE get_Properties(IAppHostPropertyCollection** out) override {
        if (!out) return E_POINTER;
        *out = new (archway::nothrow) PropertiesObj(tree_, n_);
        return *out ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE get_ChildElements(IAppHostChildElementCollection** out) override {
        if (!out) return E_POINTER;
        *out = new (archway::nothrow) ChildrenObj(tree_, n_);
        return *out ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE GetMetadata(BSTR, VARIANT*) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE SetMetadata(BSTR, VARIANT) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE get_Schema(IAppHostElementSchema** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
    HRESULT STDMETHODCALLTYPE GetElementByName(BSTR name, IAppHostElement** out) override {
        if (!out) return E_POINTER;
        *out = nullptr;
        char n[512];
        if (!utf8_of(name, n, sizeof(n))) return E_INVALIDARG;
        for (size_t i = 0; i < n_->children.size(); ++i) {
            if (is_named(n_->children[i]->name, n)) {
                *out = element_of(tree_, n_->children[i]);
                return *out ? S_OK : E_OUTOFMEMORY;
            }
        }
        return HRESULT_FROM_WIN32(ERROR_INVALID_INDEX);  // no schema: only what the files set
    }
    HRESULT STDMETHODCALLTYPE GetPropertyByName(BSTR name, IAppHostProperty** out) override {
        if (!out) return E_POINTER;
        *out = nullptr;
        char n[512];
        if (!utf8_of(name, n, sizeof(n))) return E_INVALIDARG;
        for (size_t i = 0; i < n_->attrs.size(); ++i) {
            if (is_named(n_->attrs[i].name, n)) {
                *out = new (archway::nothrow) PropertyObj(tree_, &n_->attrs[i]);
                return *out ? S_OK : E_OUTOFMEMORY;
            }
        }
        return HRESULT_FROM_WIN32(ERROR_INVALID_INDEX);  // no schema: only what the files set
    }
    HRESULT STDMETHODCALLTYPE Clear() override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE get_Methods(IAppHostMethodCollection** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }

private:
    const IID& own_iid() const override { return archway::kIID_IAppHostElement; }
    Node* n_;
};

IAppHostElement* element_of(Tree* t, Node* n) { return new (archway::nothrow) ElementObj(t, n); }

class AdminManager final : public IAppHostAdminManager {
public:
    HRESULT STDMETHODCALLTYPE QueryInterface(const IID& iid, void** out) override {
        if (!out) return E_POINTER;
        if (iid == archway::kIID_IUnknown || iid == archway::kIID_IAppHostAdminManager) {
            *out = this;
            return S_OK;
        }
        *out = nullptr;
        return E_NOINTERFACE;
    }
    // Lives as long as the process (IIS's admin manager is owned by the server, too).
    ULONG STDMETHODCALLTYPE AddRef() override { return 2; }
    ULONG STDMETHODCALLTYPE Release() override { return 1; }
    HRESULT STDMETHODCALLTYPE GetAdminSection(BSTR section, BSTR path, IAppHostElement** out) override {
        if (!out) return E_POINTER;
        *out = nullptr;
        if (!section || !path) return E_INVALIDARG;
        char name[512];
        if (!utf8_of(section, name, sizeof(name)) || !*name) return E_INVALIDARG;
        if (!declared(name)) return HRESULT_FROM_WIN32(ERROR_NOT_FOUND);
        Tree* t = new (archway::nothrow) Tree();
        if (!t) return E_OUTOFMEMORY;
        const HRESULT hr = build(name, path, t);
        if (SUCCEEDED(hr)) *out = element_of(t, t->root);
        t->release();  // the element holds its own reference
        if (FAILED(hr)) return hr;
        return *out ? S_OK : E_OUTOFMEMORY;
    }
    HRESULT STDMETHODCALLTYPE GetMetadata(BSTR, VARIANT*) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE SetMetadata(BSTR, VARIANT) override { return E_NOTIMPL; }
    HRESULT STDMETHODCALLTYPE get_ConfigManager(IAppHostConfigManager** out) override {
        if (out) *out = nullptr;
        return E_NOTIMPL;
    }
};

AdminManager* g_admin;

}  // namespace

bool admin_init(const char* bytes, size_t size, const char* path) {
    g_host.bytes = static_cast<char*>(archway::heap_alloc(size + 1));
    if (!g_host.bytes) return false;
    if (size) memcpy(g_host.bytes, bytes, size);
    g_host.bytes[size] = 0;
    g_host.size = size;
    g_host.path = path;
    static ConfigError error;  // parse_config already accepted these bytes
    g_host.xml = new (archway::nothrow) Xml(g_host.bytes, size, &error);
    g_admin = new (archway::nothrow) AdminManager();
    return g_host.xml && g_admin && g_host.xml->parse();
}

IAppHostAdminManager* admin_manager() { return g_admin; }

bool check_web_configs(const Site* site, const App* app, WebConfigError* error) {
    const wchar_t* folders[2] = {site->physical_path_w, nullptr};
    if (app && !archway::equal_nocase(app->physical_path_w, site->physical_path_w)) folders[1] = app->physical_path_w;
    for (const wchar_t* folder : folders) {
        if (!folder) continue;
        wchar_t file[2048];
        if (!web_config_path(folder, file, 2048)) continue;
        Vec<char> bytes;
        Xml* x = nullptr;
        ConfigError ce;
        const Load load = load_file(file, &bytes, &x, &ce);
        delete x;
        if (load != Load::kBad) continue;
        archway::Utf8Builder f(error->file, sizeof(error->file));
        f.utf16(file);
        error->line = ce.line;
        error->column = ce.column;
        archway::Utf8Builder m(error->message, sizeof(error->message));
        m.raw(ce.message);
        return false;
    }
    return true;
}

}  // namespace worker
