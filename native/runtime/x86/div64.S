// native/runtime/x86/div64.S: the MSVC 64-bit division helpers (__alldiv, __aulldiv, ...) for i686.
//
// docs/toolchains.md §4.4: 32-bit x86 code compiles 64-bit `/` and `%` into calls to these. Contract:
// both operands on the stack (dividend then divisor, 8 bytes each, low dword first), result in
// EDX:EAX, callee pops 16 bytes; EAX, ECX, EDX and the flags may be clobbered. That is exactly
// a __stdcall function of two 64-bit arguments returning a 64-bit value, so each helper is a
// tail jump to the matching C function in udivmod64.cpp (decorated stdcall names: `@16` = 16
// bytes of arguments).

    .text

// SafeSEH: no exception handlers in this object (docs/toolchains.md §4.1).
    .globl "@feat.00"
"@feat.00" = 1

    .globl __aulldiv
    .p2align 4
__aulldiv:
    jmp     _archway_aulldiv@16

    .globl __aullrem
    .p2align 4
__aullrem:
    jmp     _archway_aullrem@16

    .globl __alldiv
    .p2align 4
__alldiv:
    jmp     _archway_alldiv@16

    .globl __allrem
    .p2align 4
__allrem:
    jmp     _archway_allrem@16
