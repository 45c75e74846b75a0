/* Key distributions and arrival gaps (see dist.h). */
#include "dist.h"

#include <math.h>

void
lg_keys_init(struct lg_keys *k, uint64_t n, double s)
{
    k->n = n ? n : 1;
    k->s = s;
    if (s <= 0) {
        return;
    }
    double zetan = 0;
    for (uint64_t i = 1; i <= k->n; i++) {
        zetan += 1.0 / pow((double)i, s);
    }
    double zeta2 = 1.0 + 1.0 / pow(2.0, s);
    k->zetan = zetan;
    k->alpha = 1.0 / (1.0 - s);
    k->eta = (1.0 - pow(2.0 / (double)k->n, 1.0 - s)) / (1.0 - zeta2 / zetan);
    k->half_pow = 1.0 + pow(0.5, s);
}

uint64_t
lg_keys_next(const struct lg_keys *k, struct lg_rng *r)
{
    if (k->s <= 0) {
        return lg_rand(r) % k->n;
    }
    double u = lg_rand01(r), uz = u * k->zetan;
    if (uz < 1.0) {
        return 0;
    }
    if (uz < k->half_pow) {
        return 1 % k->n;
    }
    uint64_t v = (uint64_t)((double)k->n * pow(k->eta * u - k->eta + 1.0, k->alpha));
    return v < k->n ? v : k->n - 1;
}

uint64_t
lg_exp_ns(struct lg_rng *r, double mean_ns)
{
    double u = lg_rand01(r);
    return (uint64_t)(-log(1.0 - u) * mean_ns);
}
