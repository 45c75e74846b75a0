/* The log-bucket histogram (see hist.h). */
#include "hist.h"

static unsigned
index_of(uint64_t v)
{
    if (v < LG_HIST_SUB) {
        return (unsigned)v;
    }
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 5 */
    unsigned sub = (unsigned)(v >> (e - 5)) & (LG_HIST_SUB - 1);
    unsigned i = (e - 4) * LG_HIST_SUB + sub;
    return i < LG_HIST_BUCKETS ? i : LG_HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket i. */
static uint64_t
upper_of(unsigned i)
{
    if (i < LG_HIST_SUB) {
        return i;
    }
    unsigned e = i / LG_HIST_SUB + 4, sub = i % LG_HIST_SUB;
    return ((uint64_t)(LG_HIST_SUB + sub + 1) << (e - 5)) - 1;
}

void
lg_hist_add(struct lg_hist *h, uint64_t ns)
{
    h->b[index_of(ns)]++;
    h->count++;
    if (ns > h->max) {
        h->max = ns;
    }
}

void
lg_hist_merge(struct lg_hist *into, const struct lg_hist *h)
{
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        into->b[i] += h->b[i];
    }
    into->count += h->count;
    if (h->max > into->max) {
        into->max = h->max;
    }
}

uint64_t
lg_hist_quantile(const struct lg_hist *h, double q)
{
    if (h->count == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count) {
        rank = h->count - 1;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            uint64_t u = upper_of(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}
