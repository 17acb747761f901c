// handlers/platform/src/util.h: what every part of the platform handler shares: growable
// buffers that report allocation failure instead of trapping, lock guards, the debug log, the
// ARCHWAY_DETAILED_ERRORS policy and small text helpers.
#pragma once

#include "archway/handler_abi.h"
#include "archway/memory.h"
#include "archway/text.h"

// kernel32 functions the shared headers do not declare (native/imports/kernel32.def has them):
// handle duplication for forwardWindowsAuthToken, change notifications and file attributes for
// recycleOnFileChange.
extern "C" {
__declspec(dllimport) BOOL WINAPI DuplicateHandle(HANDLE source_process, HANDLE source,
                                             HANDLE target_process, HANDLE* target, DWORD access,
                                             BOOL inherit, DWORD options);              // @28
__declspec(dllimport) HANDLE WINAPI FindFirstChangeNotificationW(PCWSTR path, BOOL subtree,
                                                            DWORD filter);              // @12
__declspec(dllimport) BOOL WINAPI FindNextChangeNotification(HANDLE change);                 // @4
__declspec(dllimport) BOOL WINAPI FindCloseChangeNotification(HANDLE change);                // @4
__declspec(dllimport) BOOL WINAPI GetFileAttributesExW(PCWSTR path, int level, void* data);  // @12
__declspec(dllimport) DWORD WINAPI WaitForMultipleObjects(DWORD count, const HANDLE* handles,
                                                     BOOL wait_all, DWORD ms);          // @16
}
#define ARCHWAY_DUPLICATE_SAME_ACCESS 0x00000002u
#define ARCHWAY_FILE_NOTIFY_CHANGE_FILE_NAME 0x00000001u
#define ARCHWAY_FILE_NOTIFY_CHANGE_SIZE 0x00000008u
#define ARCHWAY_FILE_NOTIFY_CHANGE_LAST_WRITE 0x00000010u
#define ARCHWAY_GET_FILE_EX_INFO_STANDARD 0  // GetFileExInfoStandard: WIN32_FILE_ATTRIBUTE_DATA
#define ARCHWAY_MAXIMUM_WAIT_OBJECTS 64u

namespace platform {

// WIN32_FILE_ATTRIBUTE_DATA (fileapi.h): attributes, three FILETIMEs, the size's two halves.
struct FileAttributeData {
    DWORD attributes;
    DWORD creation[2], last_access[2], last_write[2];
    DWORD size_high, size_low;
};

// A growable array of `T` (trivially copyable) on the process heap. Never traps: a failed
// growth sets `failed()` and later appends do nothing, so a builder can be checked once at the
// end. Text buffers stay NUL-terminated (a zero element after the last one).
template <typename T> class Buf {
public:
    Buf() = default;
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
    ~Buf() { archway::heap_free(data_); }

    bool reserve(size_t n) {
        if (failed_) return false;
        if (n + 1 <= cap_) return true;
        size_t cap = cap_ ? cap_ : 16;
        while (cap < n + 1) cap *= 2;
        T* grown = static_cast<T*>(archway::heap_alloc(cap * sizeof(T)));
        if (!grown) {
            failed_ = true;
            return false;
        }
        if (len_) memcpy(grown, data_, len_ * sizeof(T));
        archway::heap_free(data_);
        data_ = grown;
        cap_ = cap;
        memset(&data_[len_], 0, sizeof(T));
        return true;
    }
    Buf& push(T v) {
        if (reserve(len_ + 1)) {
            data_[len_++] = v;
            memset(&data_[len_], 0, sizeof(T));
        }
        return *this;
    }
    Buf& append(const T* p, size_t n) {
        if (n && reserve(len_ + n)) {
            memcpy(data_ + len_, p, n * sizeof(T));
            len_ += n;
            memset(&data_[len_], 0, sizeof(T));
        }
        return *this;
    }
    void clear() {
        len_ = 0;
        if (data_) memset(&data_[0], 0, sizeof(T));
    }
    void truncate(size_t n) {
        if (n < len_) {
            len_ = n;
            memset(&data_[len_], 0, sizeof(T));
        }
    }
    // Gives up the storage (NUL-terminated, or null when empty and never grown).
    T* take() {
        T* p = data_;
        data_ = nullptr;
        len_ = cap_ = 0;
        return p;
    }

    T* data() { return data_; }
    const T* data() const { return data_; }
    size_t size() const { return len_; }
    bool empty() const { return len_ == 0; }
    bool failed() const { return failed_; }
    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }

private:
    T* data_ = nullptr;
    size_t len_ = 0;
    size_t cap_ = 0;
    bool failed_ = false;
};

// Text in UTF-8 (`Str`) and UTF-16 (`WStr`) with the conversions the handler needs.
class Str : public Buf<char> {
public:
    const char* c_str() const { return data() ? data() : ""; }
    Str& push(char c) { Buf::push(c); return *this; }
    Str& add(const char* s) { append(s, archway::length(s)); return *this; }
    Str& add(const char* s, size_t n) { append(s, n); return *this; }
    Str& num(uint64_t v) {
        char digits[24];
        archway::Utf8Builder b(digits, sizeof(digits));
        b.u64(v);
        return add(b.c_str(), b.size());
    }
    // UTF-16 to UTF-8 (lone surrogates become U+FFFD).
    Str& utf16(const wchar_t* s, size_t n);
};

class WStr : public Buf<wchar_t> {
public:
    const wchar_t* c_str() const { return data() ? data() : L""; }
    WStr& push(wchar_t c) { Buf::push(c); return *this; }
    WStr& add(const wchar_t* s) { append(s, archway::length(s)); return *this; }
    WStr& add(const wchar_t* s, size_t n) { append(s, n); return *this; }
    WStr& num(uint64_t v) {
        wchar_t digits[24];
        archway::WideBuilder b(digits, 24);
        b.u64(v);
        return add(b.c_str(), b.size());
    }
    // UTF-8 to UTF-16 (invalid sequences become U+FFFD).
    WStr& utf8(const char* s, size_t n);
    WStr& utf8(const char* s) { return utf8(s, archway::length(s)); }
    // Bytes taken one to one as code units (ISO-8859-1): lossless for header bytes.
    WStr& latin1(const char* s, size_t n) {
        if (reserve(size() + n))
            for (size_t i = 0; i < n; ++i) push(static_cast<wchar_t>(static_cast<uint8_t>(s[i])));
        return *this;
    }
};

// A heap copy of `n` bytes plus a terminating NUL; null on failure.
char* copy_text(const char* s, size_t n);

class Exclusive {
public:
    explicit Exclusive(SRWLOCK* l) : l_(l) { AcquireSRWLockExclusive(l_); }
    ~Exclusive() { ReleaseSRWLockExclusive(l_); }
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

private:
    SRWLOCK* l_;
};

class Shared {
public:
    explicit Shared(SRWLOCK* l) : l_(l) { AcquireSRWLockShared(l_); }
    ~Shared() { ReleaseSRWLockShared(l_); }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;

private:
    SRWLOCK* l_;
};

// One line to the debug log (OutputDebugStringW), prefixed "archway platform: ".
void log_line(const char* utf8);
void log_line(const Str& utf8);

// ARCHWAY_DETAILED_ERRORS=1 or "true" in the worker's environment (the shim's policy, after
// ANCM's ASPNETCORE_DETAILEDERRORS): error pages carry the detail only then.
bool detailed_errors();

// Case-insensitive ASCII comparison of `s[0..n)` with the NUL-terminated `lit`.
inline bool is(const char* s, size_t n, const char* lit) {
    return archway::equal_nocase(s, n, lit, archway::length(lit));
}
inline bool starts_with_nocase(const char* s, size_t n, const char* lit) {
    const size_t k = archway::length(lit);
    return n >= k && archway::equal_nocase(s, k, lit, k);
}

// Unsigned decimal, all digits, no sign, at most `max`; false otherwise.
bool parse_u64(const char* s, size_t n, uint64_t max, uint64_t* out);

// Cryptographically random bytes (BCryptGenRandom); false when the RNG fails.
bool random_bytes(void* out, uint32_t n);

}  // namespace platform
