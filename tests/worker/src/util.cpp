// tests/worker/src/util.cpp: the worker's output lines, Win32 error names, request arenas, UTF-8/16.
#include "worker.h"

namespace worker {

namespace {

SRWLOCK g_output_lock = SRWLOCK_INIT;

void write_all(DWORD which, const char* data, size_t length) {
    HANDLE handle = GetStdHandle(which);
    if (!handle || handle == INVALID_HANDLE_VALUE) return;
    while (length > 0) {
        DWORD written = 0;
        const DWORD chunk = length > 0x100000 ? 0x100000 : static_cast<DWORD>(length);
        if (!WriteFile(handle, data, chunk, &written, nullptr) || written == 0) return;
        data += written;
        length -= written;
    }
}

// One line: prefix + text + "\n", in a single WriteFile when it fits (pipes keep it whole).
void line(DWORD which, bool prefix, const char* text, size_t n) {
    char stack[2048];
    const char kPrefix[] = "archway_worker: ";
    const size_t prefix_length = prefix ? sizeof(kPrefix) - 1 : 0;
    const size_t total = prefix_length + n + 1;
    char* buffer = total <= sizeof(stack) ? stack : static_cast<char*>(archway::heap_alloc(total));
    AcquireSRWLockExclusive(&g_output_lock);
    if (buffer) {
        memcpy(buffer, kPrefix, prefix_length);
        memcpy(buffer + prefix_length, text, n);
        buffer[total - 1] = '\n';
        write_all(which, buffer, total);
    } else {
        write_all(which, kPrefix, prefix_length);
        write_all(which, text, n);
        write_all(which, "\n", 1);
    }
    ReleaseSRWLockExclusive(&g_output_lock);
    if (buffer && buffer != stack) archway::heap_free(buffer);
}

}  // namespace

void out_line(const char* utf8, size_t n) { line(STD_OUTPUT_HANDLE, true, utf8, n); }
void err_line(const char* utf8, size_t n) { line(STD_ERROR_HANDLE, true, utf8, n); }
void err_raw_line(const char* utf8, size_t n) { line(STD_ERROR_HANDLE, false, utf8, n); }

void append_win32_error(archway::Utf8Builder& out, DWORD error) {
    const char* name = nullptr;
    switch (error) {
    case 2: name = "ERROR_FILE_NOT_FOUND"; break;
    case 3: name = "ERROR_PATH_NOT_FOUND"; break;
    case 5: name = "ERROR_ACCESS_DENIED"; break;
    case 8: name = "ERROR_NOT_ENOUGH_MEMORY"; break;
    case 11: name = "ERROR_BAD_FORMAT"; break;
    case 14: name = "ERROR_OUTOFMEMORY"; break;
    case 87: name = "ERROR_INVALID_PARAMETER"; break;
    case 123: name = "ERROR_INVALID_NAME"; break;
    case 126: name = "ERROR_MOD_NOT_FOUND"; break;
    case 127: name = "ERROR_PROC_NOT_FOUND"; break;
    case 193: name = "ERROR_BAD_EXE_FORMAT"; break;
    case 206: name = "ERROR_FILENAME_EXCED_RANGE"; break;
    case 216: name = "ERROR_EXE_MACHINE_TYPE_MISMATCH"; break;
    case 1114: name = "ERROR_DLL_INIT_FAILED"; break;
    case 1455: name = "ERROR_COMMITMENT_LIMIT"; break;
    case 10048: name = "WSAEADDRINUSE"; break;
    case 10049: name = "WSAEADDRNOTAVAIL"; break;
    case 10013: name = "WSAEACCES"; break;
    default: break;
    }
    out.u32(error).raw(" (").hex(error, 1).raw(")");
    if (name) out.ch(' ').raw(name);
}

// ---------------------------------------------------------------------------------------------
// Arena.

void* Arena::alloc(size_t bytes) {
    bytes = (bytes + 15) & ~static_cast<size_t>(15);
    if (bytes == 0) bytes = 16;
    if (head_ && head_->size - head_->used >= bytes) {
        char* p = reinterpret_cast<char*>(head_) + head_->used;
        head_->used += bytes;
        return p;
    }
    const size_t header = (sizeof(Block) + 15) & ~static_cast<size_t>(15);
    size_t size = 16384;
    if (bytes + header > size) {
        if (bytes > static_cast<size_t>(0x40000000)) return nullptr;  // 1 GiB per allocation
        size = bytes + header;
    }
    Block* block = static_cast<Block*>(archway::heap_alloc_zeroed(size));
    if (!block) return nullptr;
    block->size = size;
    block->used = header + bytes;
    // A big one-off block goes behind the current one so small allocations keep filling it.
    if (head_ && size > 16384) {
        block->next = head_->next;
        head_->next = block;
    } else {
        block->next = head_;
        head_ = block;
    }
    return reinterpret_cast<char*>(block) + header;
}

void Arena::reset() {
    while (head_) {
        Block* next = head_->next;
        archway::heap_free(head_);
        head_ = next;
    }
}

char* Arena::copy(const char* s, size_t n) {
    char* p = static_cast<char*>(alloc(n + 1));
    if (!p) return nullptr;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

wchar_t* Arena::copy(const wchar_t* s, size_t n) {
    wchar_t* p = static_cast<wchar_t*>(alloc((n + 1) * sizeof(wchar_t)));
    if (!p) return nullptr;
    if (n) memcpy(p, s, n * sizeof(wchar_t));
    p[n] = 0;
    return p;
}

namespace {
// UTF-16 units needed for UTF-8 `s` (with U+FFFD for invalid sequences).
size_t wide_units(const char* s, size_t n) {
    size_t units = 0;
    for (size_t i = 0; i < n;) {
        const uint32_t c = archway::Utf8Builder::next_utf8(s, n, &i);
        units += c >= 0x10000 ? 2 : 1;
    }
    return units;
}
void widen_units(const char* s, size_t n, wchar_t* out) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = archway::Utf8Builder::next_utf8(s, n, &i);
        if (c >= 0x10000) {
            c -= 0x10000;
            out[k++] = static_cast<wchar_t>(0xD800 + (c >> 10));
            out[k++] = static_cast<wchar_t>(0xDC00 + (c & 0x3FF));
        } else {
            out[k++] = static_cast<wchar_t>(c);
        }
    }
    out[k] = 0;
}
}  // namespace

wchar_t* Arena::widen(const char* s, size_t n, size_t* out_length) {
    const size_t units = wide_units(s, n);
    wchar_t* p = static_cast<wchar_t*>(alloc((units + 1) * sizeof(wchar_t)));
    if (!p) return nullptr;
    widen_units(s, n, p);
    if (out_length) *out_length = units;
    return p;
}

char* Arena::narrow(const wchar_t* s, size_t n, size_t* out_length) {
    const size_t capacity = n * 3 + 1;
    char* p = static_cast<char*>(alloc(capacity));
    if (!p) return nullptr;
    archway::Utf8Builder b(p, capacity);
    b.utf16(s, n);
    if (out_length) *out_length = b.size();
    return p;
}

bool widen_into(const char* s, size_t n, wchar_t* out, size_t capacity) {
    if (wide_units(s, n) + 1 > capacity) return false;
    widen_units(s, n, out);
    return true;
}

}  // namespace worker
