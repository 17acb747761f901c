// native/runtime/common/fltused.cpp: the _fltused marker that x86/x64 floating-point code needs.
//
// docs/toolchains.md §4.4: any float/double use on x86 and x64 references `_fltused` (the CRT's
// "floating point is used" flag); ARM64 and ARM64EC do not. ARM64EC also defines _M_X64, so it
// is excluded explicitly.
#include "archway/win32.h"

#if defined(_M_IX86) || (defined(_M_X64) && !defined(_M_ARM64EC))
extern "C" int _fltused = 0x9875;  // the CRT's value; nothing reads it
#endif
