// archway/text.h: freestanding string helpers and fixed-buffer builders (UTF-16 and UTF-8/JSON).
//
// Shared by the shim, the handlers and the test programs so none of it is written twice. Builders
// never allocate: they write into a caller-supplied buffer, always keep it NUL-terminated, and
// set `overflow` (dropping the rest) when it is too small.
#pragma once

#include "archway/win32.h"

#define ARCHWAY_WIDEN2(x) L##x
#define ARCHWAY_WIDEN(x) ARCHWAY_WIDEN2(x)
#define ARCHWAY_ARCH_NAME_W ARCHWAY_WIDEN(ARCHWAY_ARCH_NAME)

namespace archway {

// ---------------------------------------------------------------------------------------------
// Plain string helpers.

template <typename C> inline size_t length(const C* s) {
    size_t n = 0;
    if (s)
        while (s[n]) ++n;
    return n;
}

template <typename C> inline C ascii_lower(C c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<C>(c - 'A' + 'a') : c;
}

// Case-insensitive for ASCII letters only (enough for file names we generate and for header
// names); other characters must match exactly.
template <typename A, typename B>
inline bool equal_nocase(const A* a, size_t an, const B* b, size_t bn) {
    if (an != bn) return false;
    for (size_t i = 0; i < an; ++i) {
        if (static_cast<uint32_t>(ascii_lower(a[i])) != static_cast<uint32_t>(ascii_lower(b[i])))
            return false;
    }
    return true;
}

template <typename A, typename B> inline bool equal_nocase(const A* a, const B* b) {
    return equal_nocase(a, length(a), b, length(b));
}

template <typename A, typename B> inline bool equal(const A* a, size_t an, const B* b, size_t bn) {
    if (an != bn) return false;
    for (size_t i = 0; i < an; ++i) {
        if (static_cast<uint32_t>(a[i]) != static_cast<uint32_t>(b[i])) return false;
    }
    return true;
}

// Length of the folder part of a path including its trailing separator ("C:\x\a.dll" -> 5),
// 0 if there is no separator.
inline size_t folder_length(const wchar_t* path, size_t len) {
    while (len > 0 && path[len - 1] != L'\\' && path[len - 1] != L'/') --len;
    return len;
}

// ---------------------------------------------------------------------------------------------
// What both builders share: one code unit at a time into the caller's buffer, numbers, and
// the bookkeeping. `Self` is the derived builder, so every call chains on it.
template <typename Char, typename Self> class BufferBuilder {
public:
    BufferBuilder(Char* buffer, size_t capacity) : buf_(buffer), cap_(capacity) {
        if (cap_) buf_[0] = 0;
    }

    Self& ch(Char c) {
        if (len_ + 1 < cap_) {
            buf_[len_++] = c;
            buf_[len_] = 0;
        } else {
            overflow_ = true;
        }
        return self();
    }
    Self& units(const Char* s, size_t n) {
        for (size_t i = 0; i < n; ++i) ch(s[i]);
        return self();
    }
    Self& u64(uint64_t v) {
        Char digits[20];
        size_t n = 0;
        do {
            digits[n++] = static_cast<Char>('0' + static_cast<uint32_t>(v % 10));
            v /= 10;
        } while (v);
        while (n) ch(digits[--n]);
        return self();
    }
    Self& u32(uint32_t v) { return u64(v); }
    // "0x" then at least `min_digits` upper-case hex digits ("0x7E", "0x8007051A").
    Self& hex(uint32_t v, int min_digits) {
        static const char kHex[] = "0123456789ABCDEF";
        ch(static_cast<Char>('0')).ch(static_cast<Char>('x'));
        bool started = false;
        for (int i = 7; i >= 0; --i) {
            uint32_t nibble = (v >> (i * 4)) & 0xF;
            if (nibble || started || i < min_digits) {
                ch(static_cast<Char>(kHex[nibble]));
                started = true;
            }
        }
        return self();
    }

    const Char* c_str() const { return buf_; }
    size_t size() const { return len_; }
    bool overflow() const { return overflow_; }
    void truncate(size_t n) {
        if (n < len_) {
            len_ = n;
            buf_[len_] = 0;
        }
    }

private:
    Self& self() { return static_cast<Self&>(*this); }

    Char* buf_;
    size_t cap_;
    size_t len_ = 0;
    bool overflow_ = false;
};

// ---------------------------------------------------------------------------------------------
// UTF-16 builder (file names, debug messages).
class WideBuilder : public BufferBuilder<wchar_t, WideBuilder> {
public:
    using BufferBuilder::BufferBuilder;

    WideBuilder& wide(const wchar_t* s, size_t n) { return units(s, n); }
    WideBuilder& wide(const wchar_t* s) { return wide(s, length(s)); }
    // Bytes taken as Latin-1/ASCII code units (callers pass ASCII).
    WideBuilder& ascii(const char* s, size_t n) {
        for (size_t i = 0; i < n; ++i) ch(static_cast<wchar_t>(static_cast<uint8_t>(s[i])));
        return *this;
    }
    WideBuilder& ascii(const char* s) { return ascii(s, length(s)); }
};

// ---------------------------------------------------------------------------------------------
// UTF-8 builder with JSON string escaping.
class Utf8Builder : public BufferBuilder<char, Utf8Builder> {
public:
    using BufferBuilder::BufferBuilder;

    // Raw bytes, copied as they are.
    Utf8Builder& raw(const char* s, size_t n) { return units(s, n); }
    Utf8Builder& raw(const char* s) { return raw(s, length(s)); }

    // UTF-16 converted to UTF-8, unescaped (lone surrogates become U+FFFD).
    Utf8Builder& utf16(const wchar_t* s, size_t n) {
        for (size_t i = 0; i < n;) code_point(next_utf16(s, n, &i));
        return *this;
    }
    Utf8Builder& utf16(const wchar_t* s) { return utf16(s, length(s)); }

    Utf8Builder& i64(int64_t v) {
        if (v < 0) {
            ch('-');
            return u64(0 - static_cast<uint64_t>(v));
        }
        return u64(static_cast<uint64_t>(v));
    }

    // JSON values.
    Utf8Builder& json_null() { return raw("null"); }
    Utf8Builder& json_bool(bool v) { return raw(v ? "true" : "false"); }
    // A JSON string from UTF-8 bytes; invalid UTF-8 sequences become U+FFFD, so the output is
    // always valid JSON even for ANSI input.
    Utf8Builder& json_string(const char* s, size_t n) {
        ch('"');
        for (size_t i = 0; i < n;) json_code_point(next_utf8(s, n, &i));
        ch('"');
        return *this;
    }
    Utf8Builder& json_string(const char* s) { return json_string(s, length(s)); }
    // A JSON string from UTF-16.
    Utf8Builder& json_string(const wchar_t* s, size_t n) {
        ch('"');
        for (size_t i = 0; i < n;) json_code_point(next_utf16(s, n, &i));
        ch('"');
        return *this;
    }
    Utf8Builder& json_string(const wchar_t* s) { return json_string(s, length(s)); }

    // Decoders, public so other code can walk text the same way.
    static uint32_t next_utf16(const wchar_t* s, size_t n, size_t* i) {
        uint32_t c = static_cast<uint16_t>(s[(*i)++]);
        if (c >= 0xD800 && c <= 0xDBFF) {
            if (*i < n) {
                uint32_t d = static_cast<uint16_t>(s[*i]);
                if (d >= 0xDC00 && d <= 0xDFFF) {
                    ++*i;
                    return 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
                }
            }
            return 0xFFFD;
        }
        if (c >= 0xDC00 && c <= 0xDFFF) return 0xFFFD;
        return c;
    }
    static uint32_t next_utf8(const char* s, size_t n, size_t* i) {
        const uint8_t* p = reinterpret_cast<const uint8_t*>(s);
        uint32_t c = p[*i];
        ++*i;
        if (c < 0x80) return c;
        size_t extra;
        uint32_t minimum;
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            minimum = 0x80;
            c &= 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            minimum = 0x800;
            c &= 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            minimum = 0x10000;
            c &= 0x07;
        } else {
            return 0xFFFD;  // continuation byte without a lead, or an invalid lead byte
        }
        if (n - *i < extra) return 0xFFFD;
        for (size_t k = 0; k < extra; ++k) {
            uint32_t b = p[*i + k];
            if ((b & 0xC0) != 0x80) return 0xFFFD;  // resync at the offending byte
            c = (c << 6) | (b & 0x3F);
        }
        *i += extra;
        if (c < minimum || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0xFFFD;
        return c;
    }

private:
    void code_point(uint32_t c) {
        if (c < 0x80) {
            ch(static_cast<char>(c));
        } else if (c < 0x800) {
            ch(static_cast<char>(0xC0 | (c >> 6)));
            ch(static_cast<char>(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            ch(static_cast<char>(0xE0 | (c >> 12)));
            ch(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            ch(static_cast<char>(0x80 | (c & 0x3F)));
        } else {
            ch(static_cast<char>(0xF0 | (c >> 18)));
            ch(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
            ch(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            ch(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    void json_code_point(uint32_t c) {
        switch (c) {
        case '"': raw("\\\""); return;
        case '\\': raw("\\\\"); return;
        case '\n': raw("\\n"); return;
        case '\r': raw("\\r"); return;
        case '\t': raw("\\t"); return;
        case '\b': raw("\\b"); return;
        case '\f': raw("\\f"); return;
        default: break;
        }
        if (c < 0x20) {
            static const char kHex[] = "0123456789abcdef";
            raw("\\u00");
            ch(kHex[c >> 4]);
            ch(kHex[c & 0xF]);
            return;
        }
        code_point(c);
    }
};

}  // namespace archway
