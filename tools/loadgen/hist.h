/* A log-bucket latency histogram (HdrHistogram's layout, coarse): values
 * below 32 ns have a bucket each; above, every power of two is split into
 * 32 linear sub-buckets, so a reported percentile is within ~3% of the
 * true value. Not thread-safe: one per connection, merged at the end. */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define LG_HIST_SUB 32
#define LG_HIST_BUCKETS (60 * LG_HIST_SUB)

struct lg_hist {
    uint64_t count;
    uint64_t max;
    uint64_t b[LG_HIST_BUCKETS];
};

void lg_hist_add(struct lg_hist *h, uint64_t ns);
void lg_hist_merge(struct lg_hist *into, const struct lg_hist *h);
/* The value at quantile q (0..1): the upper edge of its bucket, capped at
 * the maximum seen. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

#endif
