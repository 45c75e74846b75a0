/* The per-shard timer heap (see timer.h for the ownership rule).
 *
 * A binary heap keyed by (when, seq) with each record's slot kept current,
 * so cancelling an armed timer (a task woken early) costs O(log n). */
#include <stdlib.h>
#include <time.h>

#include "time/timer.h"
#include "util/atomic.h"
#include "util/compiler.h"

static int
earlier(const struct sp__timer *a, const struct sp__timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
place(struct sp__timer_heap *h, size_t i, struct sp__timer *tm)
{
    h->v[i] = tm;
    tm->slot = i;
}

static void
sift_up(struct sp__timer_heap *h, size_t i)
{
    struct sp__timer *tm = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(tm, h->v[parent])) {
            break;
        }
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, tm);
}

static void
sift_down(struct sp__timer_heap *h, size_t i)
{
    struct sp__timer *tm = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) {
            break;
        }
        if (c + 1 < h->n && earlier(h->v[c + 1], h->v[c])) {
            c++;
        }
        if (!earlier(h->v[c], tm)) {
            break;
        }
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, tm);
}

int
sp__timer_arm(struct sp__timer_heap *h, struct sp__timer *tm)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct sp__timer **v = realloc(h->v, cap * sizeof(*v));
        if (!v) {
            return -1;
        }
        h->v = v;
        h->cap = cap;
    }
    tm->seq = h->seq++;
    tm->fired = 0;
    h->v[h->n] = tm;
    tm->slot = h->n++;
    sift_up(h, tm->slot);
    return 0;
}

void
sp__timer_cancel(struct sp__timer_heap *h, struct sp__timer *tm)
{
    size_t i = tm->slot;
    if (i == (size_t)-1) {
        return;
    }
    tm->slot = (size_t)-1;
    struct sp__timer *last = h->v[--h->n];
    if (i == h->n) {
        return;
    }
    place(h, i, last);
    if (i > 0 && earlier(last, h->v[(i - 1) / 2])) {
        sift_up(h, i);
    } else {
        sift_down(h, i);
    }
}

uint64_t
sp__timer_next(const struct sp__timer_heap *h)
{
    return h->n ? h->v[0]->when : UINT64_MAX;
}

struct sp__timer *
sp__timer_pop_due(struct sp__timer_heap *h, uint64_t now)
{
    if (h->n == 0 || h->v[0]->when > now) {
        return NULL;
    }
    struct sp__timer *tm = h->v[0];
    sp__timer_cancel(h, tm);
    tm->fired = 1;
    return tm;
}

void
sp__timer_heap_free(struct sp__timer_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

uint64_t
sp__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* How far from `when` the coarse clock is trusted to answer alone: two of
 * its ticks, and a millisecond to spare. 0 until first computed (racing
 * threads store the same value). */
static _Atomic uint64_t coarse_margin;

static uint64_t
margin(void)
{
    uint64_t m = sp_load_relaxed(&coarse_margin);
    if (sp_unlikely(m == 0)) {
        struct timespec res;
        uint64_t tick = clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0
                            ? (uint64_t)res.tv_sec * 1000000000ull + (uint64_t)res.tv_nsec
                            : 10000000ull;
        m = 2 * tick + 1000000ull;
        sp_store_relaxed(&coarse_margin, m);
    }
    return m;
}

int
sp__time_reached(uint64_t when)
{
    if (when == UINT64_MAX) {
        return 0;
    }
    /* The coarse clock is the precise one as of the kernel's last tick:
     * never ahead of it, behind by about a tick. A deadline at or before it
     * has passed; one well beyond it has not. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t coarse = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (coarse >= when) {
        return 1;
    }
    if (when - coarse > margin()) {
        return 0;
    }
    return sp__now() >= when;
}
