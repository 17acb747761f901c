// native/runtime/x86/chkstk.S: __chkstk (alias __alloca_probe) for i686, the allocating kind.
//
// docs/toolchains.md §4.5: on x86 the compiler calls __chkstk with EAX = frame size (> 4 KiB) and
// expects it to touch every page from the current stack pointer down AND move ESP down by EAX
// (it allocates). All registers but EAX and the flags must survive: ECX may hold `this`
// (thiscall) and EDX a fastcall argument when the prologue calls us.
//
// Stack on entry:  [esp] = return address; the caller's ESP before the call was esp+4.
// On return:       ESP = (caller's ESP) - EAX(in).

    .text

// SafeSEH: mark this hand-written object as containing no exception handlers, otherwise
// lld-link's default /safeseh rejects it (docs/toolchains.md §4.1, §4.3).
    .globl "@feat.00"
"@feat.00" = 1

    .globl __chkstk
    .globl __alloca_probe
    .p2align 4
__chkstk:
__alloca_probe:
    pushl   %ecx                    // [esp] = saved ECX, [esp+4] = return address
    leal    4(%esp), %ecx           // ECX = address of the return-address slot
    subl    %eax, %ecx              // ECX = final ESP - 4: the return address is copied there
    jae     1f
    xorl    %ecx, %ecx              // size > address: probing will fault, as it should
1:
    movl    %esp, %eax
    andl    $-4096, %eax            // EAX = start of the page ESP is on (already touched)
2:
    cmpl    %eax, %ecx
    jae     3f                      // the target lies in a page that has been touched
    subl    $4096, %eax
    testl   %eax, (%eax)            // touch the next page down (grows the stack via its guard page)
    jmp     2b
3:
    movl    %ecx, %eax              // EAX = new stack top
    popl    %ecx                    // restore ECX; ESP now points at the return address
    xchgl   %eax, %esp              // ESP = new top, EAX = where the return address is
    movl    (%eax), %eax
    movl    %eax, (%esp)            // return address onto the new top
    ret                             // pops it: ESP = caller's ESP - size
