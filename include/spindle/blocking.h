/* The blocking pool: threads that run blocking code (DNS lookups, CPU-heavy
 * work, libraries that block) while the calling task parks, so that its
 * shard keeps running other tasks (DESIGN.md, hazard 3).
 *
 * Each runtime has one pool, started on first use: at most
 * cfg.blocking_max_threads threads (SPINDLE_BLOCKING_THREADS), started when
 * a request finds every thread busy; requests beyond that wait in a FIFO
 * queue. A thread with nothing to do for cfg.blocking_idle_ns exits.
 * sp_runtime_destroy() waits for every running function and joins every
 * pool thread.
 *
 * Two ways in:
 *   sp_blocking_run(fn, arg, &r)  runs one function on a pool thread;
 *   sp_blocking_enter() ... sp_blocking_leave()
 *                                 moves the calling task itself onto a pool
 *                                 thread for a stretch of code, so that a
 *                                 blocking library can be called without
 *                                 wrapping every call.
 * Inside a blocking section the task is on a thread that is not a shard:
 * spindle's task calls (sleeps, yield, join, spawn, locks, channels,
 * task-local storage) return -EPERM there, sp_shard_id() returns -1, and
 * sp_blocking_run() runs its function at once on the same thread. */
#ifndef SPINDLE_BLOCKING_H
#define SPINDLE_BLOCKING_H

#include "common.h"
#include "runtime.h"
#include "task.h"

SP_EXTERN_C_BEGIN

/* Pool counters. Gauges (threads, idle, queued) are a snapshot; the rest
 * count since the runtime was created. */
typedef struct sp_blocking_stats {
    unsigned threads;   /* pool threads alive now */
    unsigned idle;      /* of those, waiting for work */
    unsigned peak;      /* most threads alive at once */
    unsigned queued;    /* requests waiting for a thread now */
    uint64_t completed; /* functions run and blocking sections ended */
    uint64_t started;   /* threads started */
} sp_blocking_stats_t;

/* Run fn(arg) on a pool thread while the calling task parks; return once
 * fn has returned. *result (may be NULL) receives fn's return value.
 * fn runs on the pool thread's own stack and may block as it likes; it may
 * use the caller's stack memory (arg), which stays valid until the call
 * returns. fn must not call spindle task functions (it is not in a task).
 * Cancellation and the deadline, in detail:
 *   - cancelled or past its deadline before the call: -ECANCELED /
 *     -ETIMEDOUT, fn never runs;
 *   - cancelled or past its deadline while fn waits in the queue: the
 *     request is withdrawn, fn never runs, -ECANCELED / -ETIMEDOUT;
 *   - once fn has started it cannot be interrupted: the call waits for it
 *     to return, writes *result, and then returns -ECANCELED / -ETIMEDOUT
 *     if the task is cancelled / past its deadline at that moment, else 0.
 *   So after -ECANCELED or -ETIMEDOUT, fn ran if and only if *result was
 *   written (preset it to a value fn never returns to tell).
 * Inside a blocking section (sp_blocking_enter), fn runs at once on the
 * calling thread and the call returns 0.
 * Suspends: yes. Context: any task.
 * Memory: arg and result are borrowed until the call returns; nothing is
 *         allocated per call (the request lives on the caller's stack).
 * Errors: -EINVAL fn is NULL; -EPERM not called from a task;
 *         -ECANCELED / -ETIMEDOUT see above; -EAGAIN the pool has no
 *         thread and none could be started; -ENOMEM the pool could not be
 *         created (first use). */
SP_API int sp_blocking_run(sp_task_fn fn, void *arg, intptr_t *result);

/* Move the calling task onto a pool thread: when this returns 0, the task
 * runs on a pool thread (not a shard) until it calls sp_blocking_leave().
 * Its shard runs other tasks meanwhile. The task must call
 * sp_blocking_leave() before it returns from its entry function.
 * Waiting for a free pool thread is a suspension point: a cancellation
 * ends it (-ECANCELED, the task stays on its shard); the deadline is
 * checked on entry and when a pool thread takes the task, not while it
 * waits in the queue.
 * Suspends: yes. Context: any task, not inside a blocking section.
 * Memory: nothing is allocated per call.
 * Errors: -EPERM not called from a task; -EINVAL already inside a
 *         blocking section; -ECANCELED / -ETIMEDOUT (the task stays on its
 *         shard, not in a section); -EAGAIN / -ENOMEM as sp_blocking_run. */
SP_API int sp_blocking_enter(void);

/* End the blocking section: the task goes back to a shard (its home shard
 * if it is pinned, else the shard it last ran on, from where idle shards
 * may steal it) and this returns there.
 * Suspends: yes. Context: inside a blocking section.
 * Errors: -ECANCELED / -ETIMEDOUT the task was cancelled / is past its
 *         deadline (it is back on a shard all the same); -EINVAL called
 *         from a task that is not in a blocking section; -EPERM not called
 *         from a task. */
SP_API int sp_blocking_leave(void);

/* Copy the pool's counters of rt to *out (all zero before first use).
 * Suspends: no. Context: any thread.
 * Errors: -EINVAL rt or out is NULL. */
SP_API int sp_blocking_stats(const sp_runtime_t *rt, sp_blocking_stats_t *out);

SP_EXTERN_C_END

#endif
