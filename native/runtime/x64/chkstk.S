// native/runtime/x64/chkstk.S: __chkstk for x86-64, the probing (non-allocating) kind.
//
// docs/toolchains.md §4.5: the prologue of a function with a frame larger than a page calls
// __chkstk with RAX = frame size, then subtracts RAX from RSP itself. We touch each page from
// the caller's RSP down to RSP - RAX so the guard page grows the stack in order. RSP is left as
// it was; every register but R10/R11 and the flags is preserved (RCX and RAX are saved here).

    .text
    .globl __chkstk
    .p2align 4
    .def __chkstk; .scl 2; .type 32; .endef
    .seh_proc __chkstk
__chkstk:
    pushq   %rcx
    .seh_pushreg %rcx
    pushq   %rax
    .seh_pushreg %rax
    .seh_endprologue
    leaq    24(%rsp), %rcx          // RCX = caller's RSP (2 pushes + return address above us)
    cmpq    $4096, %rax
    jb      2f
1:
    subq    $4096, %rcx
    testq   %rcx, (%rcx)            // touch one page
    subq    $4096, %rax
    cmpq    $4096, %rax
    jae     1b
2:
    subq    %rax, %rcx              // the lowest byte of the frame
    testq   %rcx, (%rcx)
    popq    %rax
    popq    %rcx
    retq
    .seh_endproc
