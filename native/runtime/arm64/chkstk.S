// native/runtime/arm64/chkstk.S: __chkstk for ARM64 (and, via arm64ec/chkstk.S, ARM64EC).
//
// docs/toolchains.md §4.5: called from a prologue with X15 = frame size / 16. Touches each page from
// SP down to SP - X15*16 so the guard page grows the stack in order, leaves SP unchanged and
// may clobber only X16 and X17 (and the flags). A leaf function that keeps SP: no unwind data.
//
// ARM64EC code calls the same routine under the name #__chkstk_arm64ec: arm64ec/chkstk.S
// defines ARCHWAY_CHKSTK_SYMBOL and includes this file.

#ifndef ARCHWAY_CHKSTK_SYMBOL
#define ARCHWAY_CHKSTK_SYMBOL __chkstk
#endif

    .text
    .globl ARCHWAY_CHKSTK_SYMBOL
    .p2align 2
ARCHWAY_CHKSTK_SYMBOL:
    mov     x16, sp
    sub     x17, x16, x15, lsl #4   // X17 = lowest address of the new frame
1:
    sub     x16, x16, #4096         // next page down
    cmp     x16, x17
    b.ls    2f                      // at or below the frame's end: only the last probe is left
    ldr     xzr, [x16]              // touch it
    b       1b
2:
    ldr     xzr, [x17]              // touch the page holding the lowest byte
    ret
