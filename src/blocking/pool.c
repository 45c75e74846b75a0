/* The blocking pool: a per-runtime set of threads that run blocking
 * functions for tasks (sp_blocking_run, sp__blocking_call) and host tasks
 * in blocking sections (section.c).
 *
 * Invariants, all under the pool lock:
 *   - `queued` is the length of the FIFO head..tail; a request is linked
 *     only while its state is QUEUED;
 *   - `threads` counts workers that exist or are being started, and never
 *     exceeds max_threads; `idle` counts workers waiting on `work`;
 *   - a request that finds queued > idle starts a worker if the bound
 *     allows, so a queued request never waits while a thread could exist.
 * Workers that exit are joined by the next worker to exit (or by destroy),
 * so at most one exited thread is ever unjoined.
 *
 * Completion of a call (docs/design/blocking.md, "Run"): the worker takes
 * a reference on the waiting task, stores DONE with release, wakes the task
 * and drops the reference, as a wait-queue grant does (docs/design/sync.md):
 * once DONE is visible the task may return and its request vanish. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocking/blocking.h"
#include "sched/sched.h"

/* The pool thread's worker record, read only through an opaque call: a
 * task in a blocking section changes thread at enter and leave
 * (DESIGN.md, hazard 1). */
static __thread struct sp__blocking_worker *tls_worker;

SP_OPAQUE struct sp__blocking_worker *
sp__blocking_worker_current(void)
{
    return tls_worker;
}

SP_OPAQUE static void
worker_set_current(struct sp__blocking_worker *w)
{
    tls_worker = w;
}

/* --- Pool creation and teardown ------------------------------------------ */

static struct sp__blocking_pool *
pool_new(struct sp_runtime *rt)
{
    struct sp__blocking_pool *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->gone, NULL);
    pthread_mutex_init(&p->lock, NULL);
    p->rt = rt;
    p->max_threads = rt->cfg.blocking_max_threads;
    p->idle_ns = rt->cfg.blocking_idle_ns;
    return p;
}

static void
pool_free(struct sp__blocking_pool *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->gone);
    free(p);
}

/* The runtime's pool, made by the first caller. NULL if out of memory. */
struct sp__blocking_pool *
sp__blocking_pool_get(struct sp_runtime *rt)
{
    /* Acquire pairs with the acq_rel CAS below: the pool's fields are
     * initialised before it is published. */
    struct sp__blocking_pool *p = sp_load_acquire(&rt->blocking);
    if (sp_likely(p != NULL)) {
        return p;
    }
    struct sp__blocking_pool *mine = pool_new(rt);
    if (!mine) {
        return NULL;
    }
    for (;;) {
        p = NULL;
        if (sp_cas_acqrel(&rt->blocking, &p, mine)) {
            return mine;
        }
        if (p) { /* another task won: use its pool */
            pool_free(mine);
            return p;
        }
    }
}

void
sp__blocking_destroy(struct sp_runtime *rt)
{
    struct sp__blocking_pool *p = sp_load_acquire(&rt->blocking);
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    SP_ASSERT(p->head == NULL);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    while (p->threads > 0) {
        pthread_cond_wait(&p->gone, &p->lock);
    }
    struct sp__blocking_worker *last = p->dead;
    p->dead = NULL;
    pthread_mutex_unlock(&p->lock);
    if (last) {
        /* It joined the one before it, and so on down the chain. */
        pthread_join(last->thread, NULL);
        free(last);
    }
    sp_store_relaxed(&rt->blocking, NULL);
    pool_free(p);
}

/* --- The queue ------------------------------------------------------------ */

static void
queue_push(struct sp__blocking_pool *p, struct sp__blocking_req *r)
{
    r->next = NULL;
    r->prev = p->tail;
    if (p->tail) {
        p->tail->next = r;
    } else {
        p->head = r;
    }
    p->tail = r;
    p->queued++;
}

static void
queue_unlink(struct sp__blocking_pool *p, struct sp__blocking_req *r)
{
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        p->head = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    } else {
        p->tail = r->prev;
    }
    r->next = r->prev = NULL;
    p->queued--;
}

/* Lock held. Take the oldest request, or NULL. */
static struct sp__blocking_req *
queue_pop(struct sp__blocking_pool *p)
{
    struct sp__blocking_req *r = p->head;
    if (r) {
        queue_unlink(p, r);
    }
    return r;
}

/* Lock held. Withdraw r if no worker has taken it yet: 1 if withdrawn. */
int
sp__blocking_withdraw_locked(struct sp__blocking_pool *p, struct sp__blocking_req *r)
{
    if (sp_load_relaxed(&r->state) != SP__BREQ_QUEUED) {
        return 0;
    }
    queue_unlink(p, r);
    return 1;
}

int
sp__blocking_withdraw(struct sp__blocking_pool *p, struct sp__blocking_req *r)
{
    pthread_mutex_lock(&p->lock);
    int gone = sp__blocking_withdraw_locked(p, r);
    pthread_mutex_unlock(&p->lock);
    return gone;
}

/* --- Workers -------------------------------------------------------------- */

/* The worker's own stack, for switching back from a task in a section. */

void
sp__blocking_count_done(struct sp__blocking_pool *p)
{
    sp_fetch_add_relaxed(&p->completed, 1);
}

/* A call is done: hand the result over and wake the task (see the top). */
static void
finish_call(struct sp__blocking_pool *p, struct sp__blocking_req *r, intptr_t result)
{
    struct sp__task *t = r->task;
    sp__blocking_count_done(p);
    /* Relaxed: the task's own reference keeps refs above zero until it
     * sees DONE, which is stored after this. */
    sp_fetch_add_relaxed(&t->refs, 1);
    r->result = result;
    /* Release pairs with the task's acquire load of state: it then sees
     * the result. r must not be touched after this store. */
    sp_store_release(&r->state, SP__BREQ_DONE);
    sp__wake(t);
    sp__task_put(t);
}

/* Lock held on entry and on return; released while r is served. */
static void
serve(struct sp__blocking_pool *p, struct sp__blocking_worker *w,
      struct sp__blocking_req *r)
{
    int kind = r->kind;
    sp_store_relaxed(&r->state,
                     kind == SP__BREQ_CALL ? SP__BREQ_RUNNING : SP__BREQ_CLAIMED);
    pthread_mutex_unlock(&p->lock);
    if (kind == SP__BREQ_CALL) {
        finish_call(p, r, r->fn(r->arg));
    } else {
        sp__blocking_serve_enter(w, r);
    }
    pthread_mutex_lock(&p->lock);
}

static struct timespec
deadline_in(uint64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t sec = ns / 1000000000u;
    ts.tv_sec += (time_t)(sec > 86400 * 365 ? 86400 * 365 : sec);
    ts.tv_nsec += (long)(ns % 1000000000u);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Lock held. Wait for a request or stop; 0 if the idle timeout passed with
 * nothing to do (the worker then exits). */
static int
wait_for_work(struct sp__blocking_pool *p)
{
    struct timespec until = deadline_in(p->idle_ns);
    int timed_out = 0;
    p->idle++;
    while (!p->head && !p->stop && !timed_out) {
        timed_out = pthread_cond_timedwait(&p->work, &p->lock, &until) == ETIMEDOUT;
    }
    p->idle--;
    return p->head || p->stop;
}

/* Lock held on entry, released on return. */
static void
worker_exit(struct sp__blocking_pool *p, struct sp__blocking_worker *w)
{
    p->threads--;
    struct sp__blocking_worker *prev = p->dead;
    p->dead = w;
    if (p->threads == 0) {
        pthread_cond_broadcast(&p->gone);
    }
    pthread_mutex_unlock(&p->lock);
    if (prev) {
        pthread_join(prev->thread, NULL);
        free(prev);
    }
}

/* A thread inherits its creator's CPU affinity, and workers are started by
 * shard threads, which pin_threads ties to one CPU each. A worker stuck on
 * its shard's CPU waits out the shard's idle spin before it can run (a
 * section round trip measured 58 us instead of 7.5 us). Take the main
 * thread's set instead: the CPUs the process was given.
 * NOTE: a program that pins its main thread narrows the pool with it. */
static void
unpin_from_shard(void)
{
    cpu_set_t set;
    if (sched_getaffinity(getpid(), sizeof(set), &set) == 0) {
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
}

static void *
worker_main(void *arg)
{
    struct sp__blocking_worker *w = arg;
    struct sp__blocking_pool *p = w->pool;
    if (p->rt->cfg.pin_threads) {
        unpin_from_shard();
    }
    worker_set_current(w);
    sp__shard_init_thread_ctx(&w->sched_ctx);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct sp__blocking_req *r = queue_pop(p);
        if (r) {
            serve(p, w, r);
            continue;
        }
        if (p->stop || !wait_for_work(p)) {
            break;
        }
    }
    worker_set_current(NULL);
    worker_exit(p, w);
    return NULL;
}

static int
start_worker(struct sp__blocking_pool *p)
{
    struct sp__blocking_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        return -ENOMEM;
    }
    w->pool = p;
    int err = sp__thread_create(&w->thread, worker_main, w);
    if (err) {
        free(w);
        return -err;
    }
    return 0;
}

/* Lock held. Reserve a thread if r would otherwise wait: 1 if reserved. */
static int
need_thread(struct sp__blocking_pool *p)
{
    if (p->queued <= p->idle || p->threads >= p->max_threads) {
        return 0;
    }
    p->threads++;
    p->started++;
    if (p->threads > p->peak) {
        p->peak = p->threads;
    }
    return 1;
}

/* Lock held. With no thread left, every queued request would wait for
 * ever: fail them all (a wake each, with a reference, as finish_call),
 * except `own`, which the caller unlinks and reports itself. */
SP_COLD static void
fail_queued(struct sp__blocking_pool *p, struct sp__blocking_req *own)
{
    struct sp__blocking_req *r;
    while ((r = queue_pop(p))) {
        if (r == own) {
            continue;
        }
        struct sp__task *t = r->task;
        /* Relaxed: r is linked, so its task has not returned and holds
         * its own reference. */
        sp_fetch_add_relaxed(&t->refs, 1);
        sp_store_release(&r->state, SP__BREQ_FAILED);
        sp__wake(t);
        sp__task_put(t);
    }
}

/* A reserved thread could not be started (lock NOT held). If no thread is
 * left, nothing queued could ever run: -EAGAIN for r and for every queued
 * request; else 0 (the existing threads will serve r). */
SP_COLD static int
start_failed(struct sp__blocking_pool *p, struct sp__blocking_req *r, int err)
{
    pthread_mutex_lock(&p->lock);
    p->threads--;
    p->started--;
    int alone = p->threads == 0;
    if (alone) {
        int mine = sp_load_relaxed(&r->state) == SP__BREQ_QUEUED;
        fail_queued(p, r);
        alone = mine;
    }
    pthread_mutex_unlock(&p->lock);
    if (alone) {
        sp__log("blocking pool: no thread could be started (%s)", sp_err_name(err));
        return -EAGAIN;
    }
    return 0;
}

/* Queue r (state QUEUED) and make sure a worker will take it. 0, or
 * -EAGAIN (no worker exists and none could be started; r is not queued). */
int
sp__blocking_submit(struct sp__blocking_pool *p, struct sp__blocking_req *r)
{
    sp_store_relaxed(&r->state, SP__BREQ_QUEUED);
    pthread_mutex_lock(&p->lock);
    queue_push(p, r);
    int start = need_thread(p);
    if (p->idle > 0) {
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    /* pthread_create outside the lock: it maps a stack. */
    int err = start ? start_worker(p) : 0;
    return err < 0 ? start_failed(p, r, err) : 0;
}

/* --- Calls ------------------------------------------------------------------ */

static int
call_over(struct sp__blocking_req *r, int *st)
{
    /* Acquire pairs with finish_call's (or fail_queued's) release: the
     * result is visible. */
    *st = sp_load_acquire(&r->state);
    return *st == SP__BREQ_DONE || *st == SP__BREQ_FAILED;
}

/* Park until r is done. 0 if it ran without the task being cancelled or
 * timing out meanwhile; else the error, with *ran telling whether fn ran
 * (then the wait went on until it returned). */
static int
wait_call(struct sp__blocking_pool *p, struct sp__blocking_req *r, int *ran)
{
    int err = 0;
    int st;
    while (!call_over(r, &st)) {
        err = sp__park(SP_DEADLINE_NONE);
        if (err < 0) {
            if (sp__blocking_withdraw(p, r)) {
                return err; /* fn never started */
            }
            /* fn has started and cannot be interrupted: it may be using
             * memory on this stack. Wait for it, whatever happens to the
             * task meanwhile. */
            while (!call_over(r, &st)) {
                sp__park_nointr();
            }
            break;
        }
    }
    *ran = st == SP__BREQ_DONE;
    return *ran || err < 0 ? err : -EAGAIN;
}

/* The common path of sp_blocking_run and sp__blocking_call: 0 and *ran = 1
 * if fn ran (r->result holds its value), else a negative errno. The return
 * after a run is the task's sticky condition at that moment (0 if none). */
static int
call(sp_task_fn fn, void *arg, struct sp__blocking_req *r, int *ran, const char *who)
{
    *ran = 0;
    struct sp__blocking_worker *w = sp__blocking_worker_current();
    if (w && w->task) {
        /* Inside a blocking section: this thread may block already. */
        r->result = fn(arg);
        *ran = 1;
        return 0;
    }
    struct sp__task *t = sp__task_current();
    if (!t) {
        sp__log("%s: not called from a task", who);
        return -EPERM;
    }
    int err = sp__suspend_result(t);
    if (err < 0) {
        return err; /* a call that could not wait starts nothing */
    }
    struct sp__blocking_pool *p = sp__blocking_pool_get(t->rt);
    if (!p) {
        return -ENOMEM;
    }
    r->kind = SP__BREQ_CALL;
    r->task = t;
    r->fn = fn;
    r->arg = arg;
    err = sp__blocking_submit(p, r);
    if (err < 0) {
        return err;
    }
    err = wait_call(p, r, ran);
    return *ran ? sp__suspend_result(t) : err;
}

int
sp_blocking_run(sp_task_fn fn, void *arg, intptr_t *result)
{
    if (!fn) {
        sp__log("sp_blocking_run: fn is NULL");
        return -EINVAL;
    }
    struct sp__blocking_req r;
    int ran;
    int err = call(fn, arg, &r, &ran, "sp_blocking_run");
    if (ran && result) {
        *result = r.result;
    }
    return err;
}

long
sp__blocking_call(long (*fn)(void *), void *arg)
{
    struct sp__blocking_req r;
    int ran;
    int err = call(fn, arg, &r, &ran, "sp__blocking_call");
    return ran ? (long)r.result : err;
}

/* --- Statistics ------------------------------------------------------------ */

int
sp_blocking_stats(const sp_runtime_t *rt, sp_blocking_stats_t *out)
{
    if (!rt || !out) {
        sp__log("sp_blocking_stats: %s is NULL", rt ? "out" : "rt");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    struct sp__blocking_pool *p = sp_load_acquire(&rt->blocking);
    if (!p) {
        return 0;
    }
    pthread_mutex_lock(&p->lock);
    out->threads = p->threads;
    out->idle = p->idle;
    out->peak = p->peak;
    out->queued = p->queued;
    out->completed = sp_load_relaxed(&p->completed);
    out->started = p->started;
    pthread_mutex_unlock(&p->lock);
    return 0;
}
