// archway/websocket_frame.h: the pieces of RFC 6455 that the worker stand-in (tests/worker, as
// IIS's WebSocket module) and the test backend (tests/backend, as the application) share: the
// handshake's Sec-WebSocket-Accept (base64 of SHA-1, FIPS 180-4 §6.1, of the key and the
// protocol GUID) and frame headers (§5.2). Not for anything that needs a secure digest.
//
// Freestanding like text.h: nothing here allocates; every function works on the caller's bytes.
#pragma once

#include "archway/memory.h"
#include "archway/text.h"

namespace archway {
namespace ws {

enum : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// SHA-1 of `n` bytes into 20 bytes.
inline void sha1(const void* data, size_t n, uint8_t out[20]) {
    struct Block {
        static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
        static void compress(uint32_t h[5], const uint8_t* block) {
            uint32_t w[80];
            for (int i = 0; i < 16; ++i)
                w[i] = (static_cast<uint32_t>(block[i * 4]) << 24) | (static_cast<uint32_t>(block[i * 4 + 1]) << 16) |
                       (static_cast<uint32_t>(block[i * 4 + 2]) << 8) | block[i * 4 + 3];
            for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
            uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
            for (int i = 0; i < 80; ++i) {
                const uint32_t f = i < 20 ? (b & c) | (~b & d) : i < 40 ? b ^ c ^ d : i < 60 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d;
                const uint32_t k = i < 20 ? 0x5A827999u : i < 40 ? 0x6ED9EBA1u : i < 60 ? 0x8F1BBCDCu : 0xCA62C1D6u;
                const uint32_t t = rotl(a, 5) + f + e + k + w[i];
                e = d;
                d = c;
                c = rotl(b, 30);
                b = a;
                a = t;
            }
            h[0] += a;
            h[1] += b;
            h[2] += c;
            h[3] += d;
            h[4] += e;
        }
    };
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint8_t* p = static_cast<const uint8_t*>(data);
    size_t left = n;
    for (; left >= 64; p += 64, left -= 64) Block::compress(h, p);
    // The tail, 0x80, zeros and the length in bits (big-endian): one or two blocks.
    uint8_t tail[128] = {};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    const size_t blocks = left + 9 > 64 ? 2 : 1;
    const uint64_t bits = static_cast<uint64_t>(n) * 8;
    for (int i = 0; i < 8; ++i) tail[blocks * 64 - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
    for (size_t b = 0; b < blocks; ++b) Block::compress(h, tail + b * 64);
    for (int i = 0; i < 20; ++i) out[i] = static_cast<uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
}

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): 28 characters and a NUL.
// False for a key that is not 24 characters (16 bytes in base64).
inline bool accept_for(const char* key, size_t n, char out[29]) {
    static const char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    if (n != 24) return false;
    char joined[24 + sizeof(kGuid) - 1];
    memcpy(joined, key, 24);
    memcpy(joined + 24, kGuid, sizeof(kGuid) - 1);
    uint8_t d[21];
    sha1(joined, sizeof(joined), d);
    d[20] = 0;
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < 21; i += 3) {
        const uint32_t v = (static_cast<uint32_t>(d[i]) << 16) | (static_cast<uint32_t>(d[i + 1]) << 8) |
                           (i + 2 < 20 ? d[i + 2] : 0);
        out[o++] = kAlphabet[(v >> 18) & 63];
        out[o++] = kAlphabet[(v >> 12) & 63];
        out[o++] = i + 1 < 20 ? kAlphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < 20 ? kAlphabet[v & 63] : '=';
    }
    out[28] = 0;
    return true;
}

// A frame header (§5.2) for `length` payload bytes, FIN as given, unmasked (a server's frames):
// 2 to 10 bytes into `out`; returns how many.
inline size_t header(uint8_t opcode, bool fin, uint64_t length, uint8_t out[10]) {
    size_t k = 0;
    out[k++] = static_cast<uint8_t>((fin ? 0x80 : 0) | opcode);
    if (length < 126) {
        out[k++] = static_cast<uint8_t>(length);
    } else if (length < 65536) {
        out[k++] = 126;
        out[k++] = static_cast<uint8_t>(length >> 8);
        out[k++] = static_cast<uint8_t>(length);
    } else {
        out[k++] = 127;
        for (int i = 7; i >= 0; --i) out[k++] = static_cast<uint8_t>(length >> (8 * i));
    }
    return k;
}

// A received frame's header: 0 when `n` bytes are not enough yet, otherwise the header's size
// (mask included) with the fields filled.
struct Head {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t length;
};
inline size_t parse(const uint8_t* p, size_t n, Head* h) {
    if (n < 2) return 0;
    h->fin = (p[0] & 0x80) != 0;
    h->opcode = p[0] & 0x0F;
    h->masked = (p[1] & 0x80) != 0;
    size_t at = 2;
    h->length = p[1] & 0x7F;
    if (h->length == 126) {
        if (n < 4) return 0;
        h->length = (static_cast<uint64_t>(p[2]) << 8) | p[3];
        at = 4;
    } else if (h->length == 127) {
        if (n < 10) return 0;
        h->length = 0;
        for (int i = 0; i < 8; ++i) h->length = (h->length << 8) | p[2 + i];
        at = 10;
    }
    if (h->masked) {
        if (n < at + 4) return 0;
        memcpy(h->mask, p + at, 4);
        at += 4;
    }
    return at;
}

}  // namespace ws
}  // namespace archway
