// native/runtime/x86/udivmod64.cpp: 64-bit division in plain C++ for the i686 helpers in div64.S.
//
// These bodies must never themselves compile into calls to __aulldiv and friends, so they use
// only comparisons, subtractions and shifts by the constant 1 (MSVC turns variable 64-bit
// shifts into __allshl/__aullshr calls, which we do not provide; clang inlines both). The
// __stdcall signature matches the helpers' contract (docs/toolchains.md §4.4), see div64.S.
#include "archway/win32.h"

#if !defined(_M_IX86)
#error "udivmod64.cpp is for x86 only"
#endif

namespace {

// Unsigned restoring division, one quotient bit per step.
uint64_t udivmod(uint64_t n, uint64_t d, uint64_t* remainder) {
    if (d == 0) ARCHWAY_TRAP();  // what the hardware DIV instruction would do: fault
    if (static_cast<uint32_t>(n >> 32) == 0 && static_cast<uint32_t>(d >> 32) == 0) {
        // Both fit in 32 bits: one hardware 32-bit DIV each (no helper involved).
        const uint32_t n32 = static_cast<uint32_t>(n);
        const uint32_t d32 = static_cast<uint32_t>(d);
        *remainder = n32 % d32;
        return n32 / d32;
    }
    if (d > n) {
        *remainder = n;
        return 0;
    }
    if (d >> 63) {
        // d >= 2^63 and d <= n: the quotient is exactly 1 (and the loop below could overflow r).
        *remainder = n - d;
        return 1;
    }
    uint64_t q = 0;
    uint64_t r = 0;
    for (int i = 0; i < 64; ++i) {
        r = (r << 1) | (n >> 63);  // r < d < 2^63 before the shift, so it cannot overflow
        n <<= 1;
        q <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1;
        }
    }
    *remainder = r;
    return q;
}

uint64_t magnitude(int64_t v) {
    return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
}

}  // namespace

extern "C" {

uint64_t __stdcall archway_aulldiv(uint64_t n, uint64_t d) {
    uint64_t r;
    return udivmod(n, d, &r);
}

uint64_t __stdcall archway_aullrem(uint64_t n, uint64_t d) {
    uint64_t r;
    udivmod(n, d, &r);
    return r;
}

// Signed: truncates toward zero; the remainder takes the dividend's sign (C semantics).
int64_t __stdcall archway_alldiv(int64_t n, int64_t d) {
    uint64_t r;
    const uint64_t q = udivmod(magnitude(n), magnitude(d), &r);
    return ((n < 0) != (d < 0)) ? static_cast<int64_t>(0 - q) : static_cast<int64_t>(q);
}

int64_t __stdcall archway_allrem(int64_t n, int64_t d) {
    uint64_t r;
    udivmod(magnitude(n), magnitude(d), &r);
    return n < 0 ? static_cast<int64_t>(0 - r) : static_cast<int64_t>(r);
}

}  // extern "C"
