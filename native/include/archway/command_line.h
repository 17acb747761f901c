// archway/command_line.h: a Windows command line split into arguments the way
// CommandLineToArgvW does, for programs without shell32 (the worker stand-in, the test backend).
//
// Rules (Microsoft's "Parsing C++ command-line arguments"): the program name ends at the next
// quote when it starts with one, else at the first blank, and is skipped; arguments are
// separated by blanks outside quotes; 2n backslashes before a quote give n backslashes and the
// quote toggles quoting, 2n+1 give n backslashes and a literal quote; a doubled quote inside
// quotes is a literal quote; other backslashes are literal.
//
// Freestanding: no allocation of its own. `alloc(bytes)` returns storage for one argument (or
// null, which ends the split); the caller decides where it lives (an arena, the process heap).
#pragma once

#include "archway/text.h"

namespace archway {

// Fills `argv` with at most `max` NUL-terminated arguments of `line` (the program name
// skipped); returns how many.
template <typename Alloc>
size_t split_command_line(const wchar_t* line, const wchar_t** argv, size_t max, Alloc alloc) {
    size_t argc = 0;
    const wchar_t* p = line;
    if (*p == L'"') {
        ++p;
        while (*p && *p != L'"') ++p;
        if (*p) ++p;
    } else {
        while (*p && *p != L' ' && *p != L'\t') ++p;
    }
    while (true) {
        while (*p == L' ' || *p == L'\t') ++p;
        if (!*p || argc == max) break;
        // An argument is never longer than what is left of the line.
        wchar_t* out = static_cast<wchar_t*>(alloc((length(p) + 1) * sizeof(wchar_t)));
        if (!out) break;
        size_t k = 0;
        bool quoted = false;
        while (*p && (quoted || (*p != L' ' && *p != L'\t'))) {
            size_t slashes = 0;
            while (*p == L'\\') {
                ++slashes;
                ++p;
            }
            if (*p == L'"') {
                for (size_t i = 0; i < slashes / 2; ++i) out[k++] = L'\\';
                if (slashes % 2) {
                    out[k++] = L'"';
                    ++p;
                } else if (quoted && p[1] == L'"') {
                    out[k++] = L'"';
                    p += 2;
                } else {
                    quoted = !quoted;
                    ++p;
                }
            } else {
                for (size_t i = 0; i < slashes; ++i) out[k++] = L'\\';
                if (*p && (quoted || (*p != L' ' && *p != L'\t'))) out[k++] = *p++;
            }
        }
        out[k] = 0;
        argv[argc++] = out;
    }
    return argc;
}

}  // namespace archway
