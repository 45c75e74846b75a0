/* Per-shard timers: a binary min-heap of timer records that live on the
 * waiting task's stack. Owner-only: a timer is armed, fired and removed by
 * the shard that holds it (a stealable task with an armed timer resumes on
 * that shard, see wake.c). Ties fire in arming order. */
#ifndef SP_TIME_TIMER_H
#define SP_TIME_TIMER_H

#include <stddef.h>
#include <stdint.h>

struct sp__task;

struct sp__timer {
    uint64_t when;        /* absolute CLOCK_MONOTONIC ns */
    uint64_t seq;         /* arming order, breaks ties */
    struct sp__task *task;
    size_t slot;          /* index in the heap, (size_t)-1 when not armed */
    int fired;
};

struct sp__timer_heap {
    struct sp__timer **v;
    size_t n, cap;
    uint64_t seq;
};

int sp__timer_arm(struct sp__timer_heap *h, struct sp__timer *tm);
void sp__timer_cancel(struct sp__timer_heap *h, struct sp__timer *tm);
/* The earliest deadline, UINT64_MAX if none. */
uint64_t sp__timer_next(const struct sp__timer_heap *h);
/* Remove and return the earliest timer due at `now`, or NULL. */
struct sp__timer *sp__timer_pop_due(struct sp__timer_heap *h, uint64_t now);
void sp__timer_heap_free(struct sp__timer_heap *h);

uint64_t sp__now(void);

/* Has sp__now() reached `when` (UINT64_MAX: never)? Exact, but a `when`
 * far from now costs a read of CLOCK_MONOTONIC_COARSE (~9 ns here) instead
 * of CLOCK_MONOTONIC (~43 ns): for the checks of deadlines and timers that
 * every suspension point and loop iteration makes (an HTTP server with a
 * deadline per request made 6% of its CPU time clock reads). */
int sp__time_reached(uint64_t when);

#endif
