/* A growable output buffer for replies. A failed allocation sets oom and
 * drops the bytes; the connection then closes (examples/kv/conn.c). */
#ifndef KV_OUT_H
#define KV_OUT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct kv_out {
    char *buf;
    size_t len;
    size_t cap;
    int oom;
};

static inline int
kv_out_reserve(struct kv_out *o, size_t n)
{
    if (o->cap - o->len >= n) {
        return 0;
    }
    size_t cap = o->cap ? o->cap : 1024;
    while (cap - o->len < n) {
        cap *= 2;
    }
    char *b = realloc(o->buf, cap);
    if (b == NULL) {
        o->oom = 1;
        return -1;
    }
    o->buf = b;
    o->cap = cap;
    return 0;
}

static inline void
kv_out_put(struct kv_out *o, const void *p, size_t n)
{
    if (kv_out_reserve(o, n) == 0) {
        memcpy(o->buf + o->len, p, n);
        o->len += n;
    }
}

static inline void
kv_out_str(struct kv_out *o, const char *s)
{
    kv_out_put(o, s, strlen(s));
}

/* Decimal digits of v at p (room for 20); returns the count. */
static inline size_t
kv_fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        p[i] = tmp[n - 1 - i];
    }
    return n;
}

static inline void
kv_out_u64(struct kv_out *o, uint64_t v)
{
    char b[20];
    kv_out_put(o, b, kv_fmt_u64(b, v));
}

/* Forget the contents; give back a buffer grown beyond keep bytes. */
static inline void
kv_out_reset(struct kv_out *o, size_t keep)
{
    o->len = 0;
    if (o->cap > keep) {
        free(o->buf);
        o->buf = NULL;
        o->cap = 0;
    }
}

#endif
