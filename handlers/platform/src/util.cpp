// handlers/platform/src/util.cpp: the shared helpers declared in util.h.
#include "util.h"

#include "archway/process.h"

namespace platform {

Str& Str::utf16(const wchar_t* s, size_t n) {
    for (size_t i = 0; i < n;) {
        const uint32_t c = archway::Utf8Builder::next_utf16(s, n, &i);
        char b[4];
        size_t k;
        if (c < 0x80) {
            b[0] = static_cast<char>(c);
            k = 1;
        } else if (c < 0x800) {
            b[0] = static_cast<char>(0xC0 | (c >> 6));
            b[1] = static_cast<char>(0x80 | (c & 0x3F));
            k = 2;
        } else if (c < 0x10000) {
            b[0] = static_cast<char>(0xE0 | (c >> 12));
            b[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            b[2] = static_cast<char>(0x80 | (c & 0x3F));
            k = 3;
        } else {
            b[0] = static_cast<char>(0xF0 | (c >> 18));
            b[1] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            b[2] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            b[3] = static_cast<char>(0x80 | (c & 0x3F));
            k = 4;
        }
        append(b, k);
    }
    return *this;
}

WStr& WStr::utf8(const char* s, size_t n) {
    for (size_t i = 0; i < n;) {
        const uint32_t c = archway::Utf8Builder::next_utf8(s, n, &i);
        if (c >= 0x10000) {
            push(static_cast<wchar_t>(0xD800 + ((c - 0x10000) >> 10)));
            push(static_cast<wchar_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
        } else {
            push(static_cast<wchar_t>(c));
        }
    }
    return *this;
}

char* copy_text(const char* s, size_t n) {
    char* p = static_cast<char*>(archway::heap_alloc(n + 1));
    if (!p) return nullptr;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void log_line(const char* utf8) {
    WStr line;
    line.add(L"archway platform: ").utf8(utf8).push(L'\n');
    if (!line.failed()) OutputDebugStringW(line.c_str());
}

void log_line(const Str& utf8) { log_line(utf8.c_str()); }

bool detailed_errors() {
    wchar_t value[8];
    const DWORD n = GetEnvironmentVariableW(L"ARCHWAY_DETAILED_ERRORS", value, 8);
    if (n == 0 || n >= 8) return false;
    return archway::equal_nocase(value, n, L"1", 1) || archway::equal_nocase(value, n, L"true", 4);
}

bool parse_u64(const char* s, size_t n, uint64_t max, uint64_t* out) {
    if (n == 0 || n > 19) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    if (v > max) return false;
    *out = v;
    return true;
}

bool random_bytes(void* out, uint32_t n) {
    return BCryptGenRandom(nullptr, static_cast<uint8_t*>(out), n,
                           BCRYPT_USE_SYSTEM_PREFERRED_RNG) >= 0;
}

}  // namespace platform
