// tests/worker/src/xml.h: the worker stand-in's safe XML subset parser (config.cpp), shared by
// the applicationHost.config reader and the configuration API (admin.cpp), which reads web.config
// files with it too. See config.cpp for the subset and the limits.
#pragma once

#include "worker.h"

namespace worker {

constexpr size_t kMaxFileSize = 16u << 20;
constexpr size_t kMaxDepth = 64;
constexpr size_t kMaxElements = 200000;
constexpr uint32_t kMaxAttributes = 256;

struct Attr {
    const char* name;
    const char* value;
    size_t value_length;
};

struct Element {
    const char* name;
    uint32_t line, column;
    int32_t parent, first_child, last_child, next_sibling;
    uint32_t attr_begin, attr_count;
};

class Xml {
public:
    Xml(const char* s, size_t n, ConfigError* error) : s_(s), n_(n), error_(error) {}
    ~Xml() { archway::heap_free(pool_); }

    bool parse();

    Vec<Element> elements;
    Vec<Attr> attrs;

private:
    bool fail_here(const char* what) { return fail(line_, column_, what); }
    bool fail(uint32_t line, uint32_t column, const char* what) {
        error_->line = line;
        error_->column = column;
        archway::Utf8Builder m(error_->message, sizeof(error_->message));
        m.raw(what);
        return false;
    }
    bool at(const char* lit) const {
        const size_t k = archway::length(lit);
        return n_ - i_ >= k && archway::equal(s_ + i_, k, lit, k);
    }
    void advance(size_t k) {
        while (k-- > 0 && i_ < n_) {
            const uint8_t b = static_cast<uint8_t>(s_[i_++]);
            if (b == '\n') {
                ++line_;
                column_ = 1;
            } else if (b == '\r') {
                if (i_ >= n_ || s_[i_] != '\n') {
                    ++line_;
                    column_ = 1;
                }
            } else if ((b & 0xC0) != 0x80) {
                ++column_;
            }
        }
    }
    static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
    void skip_space() {
        while (i_ < n_ && space(s_[i_])) advance(1);
    }
    static bool name_start(uint8_t c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' ||
               c >= 0x80;
    }
    static bool name_char(uint8_t c) {
        return name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
    }
    char* pool_copy(const char* s, size_t n) {
        if (pool_used_ + n + 1 > pool_capacity_) return nullptr;  // cannot happen (sized 2n)
        char* p = pool_ + pool_used_;
        memcpy(p, s, n);
        p[n] = 0;
        pool_used_ += n + 1;
        return p;
    }
    bool name(const char** out);
    bool skip_until(const char* end, const char* what);
    bool entity(char* out, size_t* out_length);
    bool attribute_value(const char** out, size_t* out_length);
    bool start_tag(int32_t parent, bool* empty, int32_t* index);
    bool text();

    const char* s_;
    size_t n_;
    size_t i_ = 0;
    uint32_t line_ = 1, column_ = 1;
    ConfigError* error_;
    char* pool_ = nullptr;
    size_t pool_used_ = 0, pool_capacity_ = 0;
};

}  // namespace worker
