/* Cross-shard calls (sp_shard_call): run fn(arg) as a task pinned to
 * another shard and wait for its result, with flow control per ordered
 * pair of shards.
 *
 * How the request travels: the callee is an ordinary task spawned with
 * SP_PLACE_ON. sp__task_spawn_on hands it to sp__runq_submit, which posts
 * it to the target shard's inbox (an MPSC stack, src/sched/inbox.c) and
 * rings the target's doorbell if that shard sleeps (MSG_RING or eventfd,
 * docs/design/park-wake.md); the target drains its inbox at the top of its
 * next loop iteration and runs the callee from its pinned FIFO. The result
 * comes back through sp_task_join: the callee's finish wakes the caller,
 * which is queued on its home shard (pinned caller) or on the callee's shard
 * (stealable caller: wakes route to the waker's shard). A call to the
 * caller's own shard never leaves it. bench/xshard_call.c measures the
 * round trip against a bare park/unpark ping-pong.
 *
 * Flow control: at most SP_SHARD_CALL_MAX_INFLIGHT calls in flight per
 * (caller shard, target shard) pair; the caller shard is the one it runs on
 * when it calls. A slot is a counter under a spinlock with a FIFO wait queue
 * (src/sync/waitq.c): a returning call hands its slot straight to the first
 * waiter, so a burst of callers is served in order and the target never has
 * more than the limit of one caller shard's callees. The table of pairs is
 * made by the first call and hangs off the runtime (rt->calls).
 *
 * Cancellation: the caller's deadline is copied into the callee before fn
 * runs. If the caller's join of the callee ends with -ECANCELED or
 * -ETIMEDOUT, the callee is cancelled and joined again with the caller's
 * own conditions masked (sp__call_join_nointr), because fn may use memory
 * on the caller's stack. docs/design/sync.md, "Cross-shard calls", has the
 * steps. */
#include <errno.h>
#include <stdlib.h>

#include "spindle/group.h"
#include "sync/sync.h"

/* One ordered pair of shards. All fields under `lock`. */
struct pair {
    struct sp__spin lock;
    uint32_t inflight;   /* slots taken (a granted waiter holds one too) */
    struct sp__waitq q;  /* callers waiting for a slot, FIFO */
} SP_ALIGNED_CL;

/* What the callee needs; on the caller's stack, which outlives the callee. */
struct request {
    sp_task_fn fn;
    void *arg;
    uint64_t deadline;   /* the caller's, at the call */
    int started;         /* written by the callee before fn; read by the
                          * caller after the join (which orders it) */
};

/* The runtime's table of pairs, made on first use. NULL: out of memory. */
static struct pair *
pair_table(struct sp_runtime *rt)
{
    /* acquire: pairs with the acq_rel CAS below, so the initialised
     * table is seen. */
    struct pair *tab = sp_load_acquire(&rt->calls);
    if (sp_likely(tab != NULL)) {
        return tab;
    }
    size_t n = (size_t)rt->nshards * (size_t)rt->nshards;
    struct pair *fresh = aligned_alloc(SP_CACHELINE, n * sizeof(*fresh));
    if (!fresh) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        fresh[i] = (struct pair){.inflight = 0};
        sp__waitq_init(&fresh[i].q);
    }
    void *none = NULL;
    if (!sp_cas_acqrel(&rt->calls, &none, (void *)fresh)) {
        free(fresh); /* another caller won the race: use its table */
        return none;
    }
    return fresh;
}

/* Take a slot, waiting in line. 0, or -ECANCELED / -ETIMEDOUT (no slot). */
static int
slot_take(struct pair *p, struct sp__task *self)
{
    sp__spin_lock(&p->lock);
    if (p->inflight < SP_SHARD_CALL_MAX_INFLIGHT && sp__waitq_is_empty(&p->q)) {
        p->inflight++;
        sp__spin_unlock(&p->lock);
        return 0;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&p->q, &w, self);
    /* A grant hands over a slot that stays counted in inflight. */
    return sp__waiter_wait(&p->lock, &p->q, &w);
}

/* Return a slot: to the first waiter if there is one. */
static void
slot_give(struct pair *p)
{
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&p->lock);
    struct sp__waiter *w = sp__waitq_claim(&p->q);
    if (w) {
        sp__waitq_grant(&p->q, w, 0, &wl);
    } else {
        p->inflight--;
    }
    sp__spin_unlock(&p->lock);
    sp__wake_list_flush(&wl);
}

static intptr_t
callee_main(void *arg)
{
    struct request *rq = arg;
    sp_task_set_deadline(rq->deadline);
    rq->started = 1;
    return rq->fn(rq->arg);
}

int
sp__call_join_nointr(sp_task_t h, intptr_t *result)
{
    struct sp__task *self = sp__task_current();
    /* Mask the caller's sticky conditions for the duration of the join:
     * both fields belong to the calling task, and nobody else reads them
     * while it is parked in here. A cancellation that arrives meanwhile
     * sets the flag again and ends the join early: fold it in and retry. */
    uint64_t deadline = self->deadline;
    self->deadline = SP_DEADLINE_NONE;
    int cancelled = sp_xchg_seqcst(&self->cancelled, 0);
    int err;
    while ((err = sp_task_join(h, result)) == -ECANCELED) {
        cancelled |= sp_xchg_seqcst(&self->cancelled, 0);
    }
    if (cancelled) {
        sp_store_seqcst(&self->cancelled, 1);
    }
    self->deadline = deadline;
    return err;
}

/* Validate the call; 0 or the error (logged). */
static int
call_check(struct sp__task *self, int shard, sp_task_fn fn)
{
    if (!self) {
        return -EPERM;
    }
    if (!fn) {
        sp__log("sp_shard_call: fn is NULL");
        return -EINVAL;
    }
    if (shard < 0 || shard >= self->rt->nshards) {
        sp__log("sp_shard_call: shard %d does not exist (runtime has %d)", shard,
                self->rt->nshards);
        return -EINVAL;
    }
    /* seq_cst: as in sp__task_spawn_on; only a fast refusal, spawn checks
     * again. */
    if (sp_load_seqcst(&self->rt->stopping)) {
        return -ESHUTDOWN;
    }
    /* A caller that cannot wait starts nothing. */
    return sp__suspend_result(self);
}

/* Spawn the callee on `shard` and join it to the end. 0 or the caller's
 * -ECANCELED / -ETIMEDOUT with *r written, or a spawn error. */
static int
run_callee(int shard, struct request *rq, intptr_t *r)
{
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = SP_PLACE_ON;
    attr.shard = shard;
    attr.name = "shard-call";
    sp_task_t h;
    int err = sp_task_spawn(&h, &attr, callee_main, rq);
    if (err < 0) {
        return err;
    }
    err = sp_task_join(h, r);
    if (err == 0) {
        /* The callee may have returned because of the deadline it shares
         * with the caller, or just as the caller was cancelled, and so
         * woken a join that then finds it done: the caller's condition
         * still decides what the call reports. */
        return sp__suspend_result(sp__task_current());
    }
    if (err != -ECANCELED && err != -ETIMEDOUT) {
        return err;
    }
    sp_task_cancel(h);
    int jerr = sp__call_join_nointr(h, r);
    return jerr < 0 ? jerr : err;
}

int
sp_shard_call(int shard, sp_task_fn fn, void *arg, intptr_t *result)
{
    struct sp__task *self = sp__sync_self("sp_shard_call");
    int err = call_check(self, shard, fn);
    if (err < 0) {
        return err;
    }
    struct sp_runtime *rt = self->rt;
    struct pair *tab = pair_table(rt);
    if (!tab) {
        return -ENOMEM;
    }
    struct pair *p = &tab[(size_t)sp_shard_id() * (size_t)rt->nshards + (size_t)shard];
    err = slot_take(p, self);
    if (err < 0) {
        return err;
    }
    /* A slot granted just as the caller was cancelled: the grant won, but
     * starting a callee that is cancelled at once would be wasted work. */
    err = sp__suspend_result(self);
    if (err == 0) {
        struct request rq = {.fn = fn, .arg = arg, .deadline = self->deadline};
        intptr_t r = 0;
        err = run_callee(shard, &rq, &r);
        if (rq.started) {
            if (result) {
                *result = r;
            }
        } else if (err == 0) {
            err = (int)r; /* the callee got no stack (-ENOMEM): fn never ran */
        }
    }
    slot_give(p);
    return err;
}
