// native/runtime/common/purecall.cpp: _purecall, the target of pure-virtual vtable slots.
//
// Every abstract class's vtable references it (docs/toolchains.md §4.4). Reaching it means a pure
// virtual function was called (e.g. during construction or on a dangling object): stop at once.
#include "archway/win32.h"

extern "C" int __cdecl _purecall(void) {
    ARCHWAY_TRAP();
    return 0;
}
