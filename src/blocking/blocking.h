/* Private header of the blocking pool: what other layers call, and what
 * pool.c shares with section.c. The protocol is in docs/design/blocking.md.
 *
 * A request record lives on the waiting task's stack; the pool's FIFO links
 * it. Every field but `state` is read and written under the pool lock
 * while the record is linked, and afterwards only by the thread that owns
 * the step named in `state`. */
#ifndef SP_BLOCKING_BLOCKING_H
#define SP_BLOCKING_BLOCKING_H

#include <pthread.h>

#include "core/core.h"

/* --- For other layers ---------------------------------------------------- */

/* Run fn(arg) on a pool thread while the calling task parks (for the epoll
 * backend's file system calls and the like). Returns fn's value whenever
 * fn ran, even if the task was cancelled or its deadline passed meanwhile
 * (the operation happened: its result must not be lost; the sticky
 * condition shows at the next suspension point). Returns -ECANCELED /
 * -ETIMEDOUT if fn never started, -EPERM outside a task, -EAGAIN / -ENOMEM
 * as sp_blocking_run. Inside a blocking section fn runs at once.
 * Suspends: yes. Context: any task. */
long sp__blocking_call(long (*fn)(void *), void *arg);

/* Join every pool thread and free the pool. Called by free_runtime once no
 * task is left (so nothing is queued or running), before the shards' fds
 * are closed: a pool thread may still be finishing a wake into a shard. */
void sp__blocking_destroy(struct sp_runtime *rt);

/* --- Between pool.c and section.c ---------------------------------------- */

enum { SP__BREQ_CALL, SP__BREQ_ENTER };

/* Request states. CALL: QUEUED -> RUNNING -> DONE. ENTER: QUEUED ->
 * CLAIMED -> ENTERED (the task runs on the pool thread) or DECLINED (sent
 * back to a shard: cancelled or past its deadline when taken) or, if the
 * task was woken on its shard first, ABANDONED (by the task) -> RELEASED
 * (by the pool thread). Either kind goes from QUEUED to FAILED if the pool
 * has no thread and none could be started. */
enum {
    SP__BREQ_QUEUED,
    SP__BREQ_RUNNING,
    SP__BREQ_DONE,
    SP__BREQ_CLAIMED,
    SP__BREQ_ENTERED,
    SP__BREQ_DECLINED,
    SP__BREQ_ABANDONED,
    SP__BREQ_RELEASED,
    SP__BREQ_FAILED, /* unlinked unserved: no thread could be started */
};

struct sp__blocking_req {
    struct sp__blocking_req *next, *prev; /* queue links, under the lock */
    int kind;                             /* SP__BREQ_CALL or _ENTER */
    struct sp__task *task;                /* the task that waits */
    sp_task_fn fn;                        /* CALL */
    void *arg;
    intptr_t result;  /* CALL: fn's value; ENTER: the DECLINED error.
                       * Written before the release store of state. */
    _Atomic int state; /* SP__BREQ_*; see above and the design note */
};

struct sp__blocking_worker;

struct sp__blocking_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* idle workers wait here (CLOCK_MONOTONIC) */
    pthread_cond_t gone;  /* destroy waits here for threads == 0 */
    struct sp_runtime *rt;
    unsigned max_threads; /* from the config, fixed */
    uint64_t idle_ns;

    /* Under the lock. */
    struct sp__blocking_req *head, *tail;
    unsigned queued, threads, idle, peak;
    uint64_t started;
    /* Counted before the task learns it is done (relaxed; the task's
     * acquire of its request's state orders it), so whoever joined the
     * task sees it in the stats. */
    _Atomic uint64_t completed;
    struct sp__blocking_worker *dead; /* exited, not yet joined */
    int stop;
};

/* A pool thread. */
struct sp__blocking_worker {
    struct sp__blocking_pool *pool;
    pthread_t thread;
    struct sp__ctx sched_ctx; /* this thread's own stack, while a task runs
                               * here in a blocking section */
    struct sp__task *task;    /* that task, or NULL; only this thread and
                               * the task (on this thread) touch it */
};

/* pool.c */
struct sp__blocking_pool *sp__blocking_pool_get(struct sp_runtime *rt);
struct sp__blocking_worker *sp__blocking_worker_current(void);
int sp__blocking_submit(struct sp__blocking_pool *p, struct sp__blocking_req *r);
/* Withdraw r if no worker has taken it yet (state QUEUED): 1 if withdrawn.
 * The _locked form with the pool lock held. */
int sp__blocking_withdraw(struct sp__blocking_pool *p, struct sp__blocking_req *r);
int sp__blocking_withdraw_locked(struct sp__blocking_pool *p, struct sp__blocking_req *r);
void sp__blocking_count_done(struct sp__blocking_pool *p);

/* section.c: on worker w, serve ENTER request r (taken from the queue,
 * state CLAIMED). */
void sp__blocking_serve_enter(struct sp__blocking_worker *w, struct sp__blocking_req *r);

#endif
