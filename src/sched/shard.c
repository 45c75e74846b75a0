/* The shard: its thread, its loop, and the switch between tasks and the
 * loop.
 *
 * The loop is a list of steps (docs/design/loop.md):
 *   1. drain the inbox   — tasks handed over by other threads;
 *   2. run up to BATCH tasks from the run queues — the fairness tick: after
 *                          BATCH switches the loop comes back to steps 3-4
 *                          even if the queues never empty. The batch first
 *                          refills a half-empty deque from the injector,
 *                          and checks the inbox before every switch, so a
 *                          remote wake waits behind one task, not a batch;
 *   3. poll the backend  — submit prepared SQEs once per iteration, reap
 *                          completions (no syscall when nothing is in flight);
 *   4. expire timers     — after I/O, so a completion that raced its timeout
 *                          wins;
 *   5. with nothing runnable: steal, and failing that, park (spin, then
 *                          sleep in the backend until the nearest timer). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "sched/runq.h"

#define BATCH 64

/* initial-exec: the library is linked at start-up, never dlopen'ed late,
 * and the default model under -fPIC would call __tls_get_addr on every
 * access. */
static __thread struct sp__shard *tls_shard __attribute__((tls_model("initial-exec")));

SP_OPAQUE struct sp__shard *
sp__shard_current(void)
{
    return tls_shard;
}

SP_OPAQUE void
sp__shard_set_current(struct sp__shard *sh)
{
    tls_shard = sh;
}

static void
after_switch(struct sp__shard *sh, struct sp__task *t)
{
    switch (t->yield_reason) {
    case YIELD_REQUEUE:
        sp__runq_requeue(sh, t);
        break;
    case YIELD_PARK:
        sp__wake_after_park(sh, t);
        break;
    case YIELD_MOVE:
        sp__runq_submit(sh->rt, t, t->move_target);
        break;
    case YIELD_DONE:
        sp__task_finish(sh, t);
        break;
    case YIELD_HELD:
        break;
    }
}

static inline void
run_task(struct sp__shard *sh, struct sp__task *t)
{
    if (sp_unlikely(t->stack_map == NULL) && sp__task_first_run(sh, t) < 0) {
        return;
    }
    /* Release (a plain move on x86): the stall detector reads the task
     * through it. */
    sp_store_release(&sh->current, t);
    sp_store_relaxed(&t->last_shard, sh->index);
    sp_counter_add(&sh->stats.switches, 1);
    sp__ctx_jump(&sh->sched_ctx, &t->ctx, 0);
    sp_store_relaxed(&sh->current, NULL);
    after_switch(sh, t);
}

static inline void
run_batch(struct sp__shard *sh)
{
    /* Refill from the injector while the deque is less than half full, so
     * tasks that overflowed there keep their turn (see requeue). */
    if (sp_unlikely(sp_load_relaxed(&sh->rt->inj.len) > 0) &&
        sp__deque_len(&sh->deque) < SP_DEQUE_CAP / 2) {
        sp__injector_take(sh);
    }
    for (int i = 0; i < BATCH; i++) {
        /* A relaxed load of a line that is ours unless someone posted: so a
         * remote wake waits behind one task, not behind a whole batch. */
        if (sp_unlikely(sp_load_relaxed(&sh->inbox) != NULL)) {
            sp__inbox_drain(sh);
        }
        struct sp__task *t = sp__runq_next(sh);
        if (!t) {
            return;
        }
        run_task(sh, t);
    }
}

static inline void
expire_timers(struct sp__shard *sh)
{
    if (sh->timers.n == 0 || !sp__time_reached(sp__timer_next(&sh->timers))) {
        return;
    }
    uint64_t now = sp__now();
    struct sp__timer *tm;
    while ((tm = sp__timer_pop_due(&sh->timers, now))) {
        sp_counter_add(&sh->stats.timers_fired, 1);
        sp__wake(tm->task);
    }
}

static void
shard_loop(struct sp__shard *sh)
{
    struct sp_runtime *rt = sh->rt;
    while (!sp_load_acquire(&rt->stop)) {
        if (rt->nshards > 1) {
            int cpu = sched_getcpu();
            if (cpu != sp_load_relaxed(&sh->cpu)) {
                sp_store_relaxed(&sh->cpu, cpu);
            }
        }
        if (sp_load_relaxed(&sh->inbox) != NULL) {
            sp__inbox_drain(sh);
        }
        run_batch(sh);
        rt->be->poll(sh);
        expire_timers(sh);
        if (sp__runq_has_work(sh) || sp__steal(sh)) {
            continue;
        }
        sp__park_idle(sh);
    }
}

static void
pin_to_cpu(struct sp__shard *sh)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        return;
    }
    int seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) {
            continue;
        }
        if (seen++ == sh->index % CPU_COUNT(&allowed)) {
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
            return;
        }
    }
}

void
sp__shard_init_thread_ctx(struct sp__ctx *ctx)
{
    pthread_attr_t attr;
    void *lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, &size);
        pthread_attr_destroy(&attr);
    }
    ctx->stack_lo = lo;
    ctx->stack_size = size;
#ifdef SP_TSAN
    ctx->tsan_fiber = __tsan_get_current_fiber();
#endif
}

static void
report_started(struct sp_runtime *rt, int err)
{
    pthread_mutex_lock(&rt->start_lock);
    rt->started++;
    if (err < 0 && rt->start_err == 0) {
        rt->start_err = err;
    }
    pthread_cond_broadcast(&rt->start_cond);
    pthread_mutex_unlock(&rt->start_lock);
}

static void *
shard_thread(void *arg)
{
    struct sp__shard *sh = arg;
    struct sp_runtime *rt = sh->rt;
    sp__shard_set_current(sh);
    sp_store_relaxed(&sh->tid, (int)gettid());
    if (rt->cfg.pin_threads) {
        pin_to_cpu(sh);
    }
    sp__shard_init_thread_ctx(&sh->sched_ctx);
    int err = sp__overflow_thread_init(&sh->altstack);
    if (err == 0) {
        err = rt->be->init(sh);
        if (err < 0) {
            sp__log("shard %d: %s backend setup failed: %s (%s)", sh->index, rt->be->name,
                    sp_strerror(err), sp_err_name(err));
        }
    }
    report_started(rt, err);
    if (err == 0) {
        shard_loop(sh);
    }
    sp__stack_pool_drain(sh);
    sp__overflow_thread_fini(sh->altstack);
    sh->altstack = NULL;
    sp__shard_set_current(NULL);
    return NULL;
}

struct sp__shard *
sp__shard_alloc(struct sp_runtime *rt, int index)
{
    struct sp__shard *sh = aligned_alloc(SP_CACHELINE, sizeof(*sh));
    if (!sh) {
        return NULL;
    }
    memset(sh, 0, sizeof(*sh));
    sh->index = index;
    sh->rt = rt;
    sh->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(index + 1);
    sh->wake_fd = -1;
    sh->ring_fd = -1;
    sh->cpu = -1;
    return sh;
}

/* All shards of the runtime must exist before the first starts: a running
 * shard looks at the others' deques. */
int
sp__shard_start(struct sp__shard *sh)
{
    int err = sp__thread_create(&sh->thread, shard_thread, sh);
    sh->running = err == 0;
    return -err;
}

void
sp__shard_join(struct sp__shard *sh)
{
    if (sh->running) {
        pthread_join(sh->thread, NULL);
        sh->running = 0;
    }
}

/* After the thread is joined: the doorbell fd stays open until no thread
 * can ring it any more. */
void
sp__shard_free(struct sp__shard *sh)
{
    if (sh->backend) {
        sh->rt->be->fini(sh);
    }
    sp__timer_heap_free(&sh->timers);
    free(sh->pool);
    free(sh);
}
