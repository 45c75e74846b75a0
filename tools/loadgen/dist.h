/* Random numbers for the load generator: a per-connection xorshift
 * generator, uniform and Zipf key choice, exponential gaps for Poisson
 * arrivals. */
#ifndef LG_DIST_H
#define LG_DIST_H

#include <stdint.h>

struct lg_rng {
    uint64_t s;
};

static inline uint64_t
lg_rand(struct lg_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
static inline double
lg_rand01(struct lg_rng *r)
{
    return (double)(lg_rand(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Keys 0 .. n-1: uniform (s == 0) or Zipf with exponent s (0 < s, s != 1),
 * key 0 the most popular (Gray et al.'s generator, as YCSB's). */
struct lg_keys {
    uint64_t n;
    double s;
    double zetan, alpha, eta, half_pow;
};

void lg_keys_init(struct lg_keys *k, uint64_t n, double s);
uint64_t lg_keys_next(const struct lg_keys *k, struct lg_rng *r);

/* An exponential gap with mean mean_ns. */
uint64_t lg_exp_ns(struct lg_rng *r, double mean_ns);

#endif
