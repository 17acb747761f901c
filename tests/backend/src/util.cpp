// tests/backend/src/util.cpp: output lines, the growable buffer, JSON writing, number parsing.
#include "backend.h"

namespace backend {

namespace {
SRWLOCK g_output_lock = SRWLOCK_INIT;

void write_line(DWORD which, const char* utf8, size_t n) {
    static const char kPrefix[] = "archway_backend: ";
    Bytes line;
    line.append(kPrefix, sizeof(kPrefix) - 1);
    line.append(utf8, n);
    line.append("\r\n", 2);
    if (!line.ok()) return;
    AcquireSRWLockExclusive(&g_output_lock);
    HANDLE h = GetStdHandle(which);
    if (h && h != INVALID_HANDLE_VALUE) {
        DWORD written = 0;
        WriteFile(h, line.data(), static_cast<DWORD>(line.size()), &written, nullptr);
    }
    ReleaseSRWLockExclusive(&g_output_lock);
}
}  // namespace

void out_line(const char* utf8, size_t n) { write_line(STD_OUTPUT_HANDLE, utf8, n); }
void err_line(const char* utf8, size_t n) { write_line(STD_ERROR_HANDLE, utf8, n); }

bool Bytes::reserve(size_t n) {
    if (n <= cap_) return true;
    size_t cap = cap_ ? cap_ : 256;
    while (cap < n) {
        if (cap > static_cast<size_t>(-1) / 2) {
            ok_ = false;
            return false;
        }
        cap *= 2;
    }
    char* p = static_cast<char*>(archway::heap_alloc(cap));
    if (!p) {
        ok_ = false;
        return false;
    }
    if (size_) memcpy(p, data_, size_);
    archway::heap_free(data_);
    data_ = p;
    cap_ = cap;
    return true;
}

bool Bytes::append(const char* s, size_t n) {
    if (n == 0) return ok_;
    if (size_ + n < size_ || !reserve(size_ + n)) return false;
    memcpy(data_ + size_, s, n);
    size_ += n;
    return ok_;
}

void Bytes::erase_front(size_t n) {
    if (n >= size_) {
        size_ = 0;
        return;
    }
    memmove(data_, data_ + n, size_ - n);
    size_ -= n;
}

Json& Json::str(const char* s, size_t n) {
    out_->append("\"", 1);
    for (size_t i = 0; i < n;) {
        const uint32_t c = archway::Utf8Builder::next_utf8(s, n, &i);
        char piece[8];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            piece[k++] = '\\';
            piece[k++] = static_cast<char>(c);
        } else if (c < 0x20) {
            static const char kHex[] = "0123456789abcdef";
            piece[k++] = '\\';
            piece[k++] = 'u';
            piece[k++] = '0';
            piece[k++] = '0';
            piece[k++] = kHex[c >> 4];
            piece[k++] = kHex[c & 0xF];
        } else if (c < 0x80) {
            piece[k++] = static_cast<char>(c);
        } else if (c < 0x800) {
            piece[k++] = static_cast<char>(0xC0 | (c >> 6));
            piece[k++] = static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            piece[k++] = static_cast<char>(0xE0 | (c >> 12));
            piece[k++] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            piece[k++] = static_cast<char>(0x80 | (c & 0x3F));
        } else {
            piece[k++] = static_cast<char>(0xF0 | (c >> 18));
            piece[k++] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            piece[k++] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            piece[k++] = static_cast<char>(0x80 | (c & 0x3F));
        }
        out_->append(piece, k);
    }
    out_->append("\"", 1);
    return *this;
}

Json& Json::wstr(const wchar_t* s) {
    // UTF-16 -> UTF-8 first, then escaped like any other string.
    Bytes utf8;
    char buffer[512];
    const size_t n = archway::length(s);
    size_t i = 0;
    while (i < n) {
        archway::Utf8Builder b(buffer, sizeof(buffer));
        while (i < n && b.size() < sizeof(buffer) - 8) {
            const size_t before = i;
            archway::Utf8Builder::next_utf16(s, n, &i);
            b.utf16(s + before, i - before);
        }
        utf8.append(b.c_str(), b.size());
    }
    return str(utf8.data() ? utf8.data() : "", utf8.size());
}

Json& Json::num(uint64_t v) {
    char buffer[24];
    archway::Utf8Builder b(buffer, sizeof(buffer));
    b.u64(v);
    out_->append(b.c_str(), b.size());
    return *this;
}

bool parse_u64(const char* s, size_t n, uint64_t* out) {
    if (n == 0 || n > 19) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    *out = v;
    return true;
}

bool parse_u64(const wchar_t* s, uint64_t* out) {
    char narrow[24];
    const size_t n = archway::length(s);
    if (n == 0 || n > 19) return false;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < L'0' || s[i] > L'9') return false;
        narrow[i] = static_cast<char>(s[i]);
    }
    return parse_u64(narrow, n, out);
}

}  // namespace backend
