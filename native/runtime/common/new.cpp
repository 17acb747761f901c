// native/runtime/common/new.cpp: global operator new/delete (all forms) on the process heap.
//
// docs/toolchains.md §4.4/§4.5: the compiler references the plain, array and sized forms (the
// deleting destructor of a class with a virtual destructor calls sized delete). Plain `new`
// must not return null (the optimiser assumes it cannot), and there are no exceptions to throw,
// so it traps on exhaustion; `new (archway::nothrow)` returns null instead (memory.h).
#include "archway/memory.h"

namespace {
void* allocate_or_trap(size_t bytes) {
    void* p = archway::heap_alloc(bytes);
    if (!p) ARCHWAY_TRAP();
    return p;
}
}  // namespace

void* operator new(size_t bytes) { return allocate_or_trap(bytes); }
void* operator new[](size_t bytes) { return allocate_or_trap(bytes); }
void* operator new(size_t bytes, const archway::nothrow_t&) noexcept {
    return archway::heap_alloc(bytes);
}
void* operator new[](size_t bytes, const archway::nothrow_t&) noexcept {
    return archway::heap_alloc(bytes);
}

void operator delete(void* p) noexcept { archway::heap_free(p); }
void operator delete[](void* p) noexcept { archway::heap_free(p); }
void operator delete(void* p, size_t) noexcept { archway::heap_free(p); }
void operator delete[](void* p, size_t) noexcept { archway::heap_free(p); }
void operator delete(void* p, const archway::nothrow_t&) noexcept { archway::heap_free(p); }
void operator delete[](void* p, const archway::nothrow_t&) noexcept { archway::heap_free(p); }
