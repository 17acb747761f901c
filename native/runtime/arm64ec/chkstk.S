// native/runtime/arm64ec/chkstk.S: #__chkstk_arm64ec, the ARM64EC name of the ARM64 __chkstk.
//
// docs/toolchains.md §4.4: ARM64EC code references "#__chkstk_arm64ec" (EC symbols carry a '#'
// prefix); the body and contract are those of ARM64 (X15 = size/16, clobbers X16/X17 only), so
// the ARM64 source is reused rather than duplicated.
#define ARCHWAY_CHKSTK_SYMBOL "#__chkstk_arm64ec"
#include "../arm64/chkstk.S"
