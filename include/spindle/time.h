/* Time: a monotonic clock in nanoseconds, sleeps, per-task deadlines and
 * intervals. Timers live in the shard where they were armed; a sleeping
 * stealable task resumes on that shard. A timer never fires early. */
#ifndef SPINDLE_TIME_H
#define SPINDLE_TIME_H

#include "common.h"

SP_EXTERN_C_BEGIN

#define SP_NSEC_PER_USEC 1000ull
#define SP_NSEC_PER_MSEC 1000000ull
#define SP_NSEC_PER_SEC 1000000000ull
#define SP_DEADLINE_NONE UINT64_MAX

/* CLOCK_MONOTONIC in nanoseconds. Suspends: no. Context: any thread. */
SP_API uint64_t sp_now_ns(void);

/* Sleep at least ns nanoseconds (0 just yields).
 * Suspends: yes. Context: any task.
 * Errors: -ECANCELED; -ETIMEDOUT the task's deadline came first;
 *         -EPERM not in a task; -ENOMEM no timer could be armed. */
SP_API int sp_sleep_ns(uint64_t ns);

/* Sleep until sp_now_ns() >= deadline_ns. Same contract as sp_sleep_ns. */
SP_API int sp_sleep_until(uint64_t deadline_ns);

/* Set the calling task's deadline (absolute, sp_now_ns() scale): every
 * suspension point that would return after it returns -ETIMEDOUT instead.
 * SP_DEADLINE_NONE clears it. Returns the previous deadline.
 * Suspends: no. Context: any task (outside a task it returns
 * SP_DEADLINE_NONE and does nothing). */
SP_API uint64_t sp_task_set_deadline(uint64_t deadline_ns);

/* The calling task's deadline, SP_DEADLINE_NONE if it has none. */
SP_API uint64_t sp_task_deadline(void);

/* A periodic ticker. Missed ticks are skipped, not bunched: after a stall
 * the next tick is the first period boundary still in the future. */
typedef struct sp_interval {
    uint64_t next_ns;   /* private */
    uint64_t period_ns; /* private */
} sp_interval_t;

/* Start an interval whose first tick is period_ns from now.
 * Errors: -EINVAL period 0 or iv NULL. */
SP_API int sp_interval_init(sp_interval_t *iv, uint64_t period_ns);

/* Sleep until the next tick. Returns the number of ticks that elapsed since
 * the previous call (1 unless ticks were skipped), or -ECANCELED,
 * -ETIMEDOUT, -EPERM, -EINVAL. Suspends: yes. */
SP_API int sp_interval_tick(sp_interval_t *iv);

SP_EXTERN_C_END

#endif
