// archway/memory.h: process-heap allocation and the non-throwing `new (archway::nothrow)` form.
//
// The runtime (native/runtime/common/new.cpp) defines the global operator new/delete on
// GetProcessHeap/HeapAlloc/HeapFree (docs/toolchains.md §4.5). Without exceptions a plain `new`
// cannot report failure, and the compiler assumes its result is never null, so plain `new`
// fails fast (traps) when the heap is exhausted. Code that must survive allocation failure
// uses `new (archway::nothrow) T(...)`, whose result may be null and must be checked.
#pragma once

#include "archway/win32.h"

// The memory functions every binary links from the runtime (native/runtime/common/memory.cpp);
// the compiler also calls them by itself for struct copies and zeroing (docs/toolchains.md §4.4).
// Declared here once for all our native code.
extern "C" {
void* __cdecl memset(void* dest, int value, size_t count);
void* __cdecl memcpy(void* dest, const void* src, size_t count);
void* __cdecl memmove(void* dest, const void* src, size_t count);
int __cdecl memcmp(const void* a, const void* b, size_t count);
}

namespace archway {

struct nothrow_t {
    explicit constexpr nothrow_t() {}
};
inline constexpr nothrow_t nothrow{};  // constant-initialised: no static constructor

// Raw process-heap memory; `heap_alloc` returns null on failure, `heap_free(null)` is a no-op.
inline void* heap_alloc(size_t bytes) { return HeapAlloc(GetProcessHeap(), 0, bytes ? bytes : 1); }
inline void* heap_alloc_zeroed(size_t bytes) {
    return HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, bytes ? bytes : 1);
}
inline void heap_free(void* p) {
    if (p) HeapFree(GetProcessHeap(), 0, p);
}

}  // namespace archway

// Defined in native/runtime/common/new.cpp. A noexcept allocation function may return null;
// the new-expression then skips the constructor and yields null.
void* operator new(size_t bytes, const archway::nothrow_t&) noexcept;
void* operator new[](size_t bytes, const archway::nothrow_t&) noexcept;
// Matching placement deallocation functions (only called if a constructor throws, which cannot
// happen without exceptions; declared so the pairing rules are satisfied).
void operator delete(void* p, const archway::nothrow_t&) noexcept;
void operator delete[](void* p, const archway::nothrow_t&) noexcept;
