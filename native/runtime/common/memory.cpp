// native/runtime/common/memory.cpp: memset, memcpy, memmove and memcmp for freestanding binaries.
//
// The compiler emits calls to these by itself (struct copies, zeroing, loops; docs/toolchains.md
// §4.4), so every binary must define them. Each body works through `volatile` byte pointers:
// that stops the optimiser from recognising the loop as a memset/memcpy idiom and compiling it
// back into a call to the very function being defined (infinite recursion). Speed is not a
// goal here; archway only moves a few kilobytes per request.
#include "archway/memory.h"  // declares them

// MSVC treats these as intrinsics and refuses a definition unless told otherwise.
#if defined(_MSC_VER) && !defined(__clang__)
#pragma function(memset, memcpy, memmove, memcmp)
#endif

extern "C" void* __cdecl memset(void* dest, int value, size_t count) {
    volatile uint8_t* d = static_cast<volatile uint8_t*>(dest);
    const uint8_t v = static_cast<uint8_t>(value);
    while (count--) *d++ = v;
    return dest;
}

extern "C" void* __cdecl memcpy(void* dest, const void* src, size_t count) {
    volatile uint8_t* d = static_cast<volatile uint8_t*>(dest);
    const volatile uint8_t* s = static_cast<const volatile uint8_t*>(src);
    while (count--) *d++ = *s++;
    return dest;
}

extern "C" void* __cdecl memmove(void* dest, const void* src, size_t count) {
    volatile uint8_t* d = static_cast<volatile uint8_t*>(dest);
    const volatile uint8_t* s = static_cast<const volatile uint8_t*>(src);
    if (reinterpret_cast<uintptr_t>(d) <= reinterpret_cast<uintptr_t>(s) ||
        reinterpret_cast<uintptr_t>(d) >= reinterpret_cast<uintptr_t>(s) + count) {
        while (count--) *d++ = *s++;  // no harmful overlap: copy forwards
    } else {
        d += count;  // destination overlaps the tail of the source: copy backwards
        s += count;
        while (count--) *--d = *--s;
    }
    return dest;
}

extern "C" int __cdecl memcmp(const void* a, const void* b, size_t count) {
    const volatile uint8_t* p = static_cast<const volatile uint8_t*>(a);
    const volatile uint8_t* q = static_cast<const volatile uint8_t*>(b);
    for (; count; --count, ++p, ++q) {
        const uint8_t x = *p;
        const uint8_t y = *q;
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}
