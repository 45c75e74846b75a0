/* Blocking sections: sp_blocking_enter moves the calling task onto a pool
 * thread, sp_blocking_leave moves it back to a shard. The protocol, with
 * its memory orders, is in docs/design/blocking.md ("Sections").
 *
 * The pool thread acts as a scheduler for exactly one task: it resumes the
 * task's context from its own stack (sched_ctx) and, when the task calls
 * leave, gets control back and hands the task to a shard with
 * sp__runq_submit, as a move between shards does. No scheduler code
 * changes for this:
 *   - enter queues a request and parks (sp__park_nointr). The pool thread
 *     that takes the request claims the task with the same CAS a waker
 *     uses, PARKED -> ACTIVE; the scheduler publishes PARKED only once the
 *     task's stack is free (src/sched/wake.c), so the stack is never run
 *     by two threads. A waker that wins the CAS first (cancellation, or a
 *     stale wake) resumes the task on a shard instead; the task then
 *     withdraws its request, or, if a pool thread has taken it already,
 *     marks it ABANDONED and waits the few instructions until that thread
 *     lets go (RELEASED);
 *   - in the section the task is ACTIVE and on no shard: wakes only set
 *     NOTIFY, sp__shard_current() is NULL on the pool thread, so every
 *     task call there sees "not in a task" and returns -EPERM instead of
 *     touching a shard's state. */
#include <errno.h>
#include <sched.h>

#include "blocking/blocking.h"
#include "sched/sched.h"

/* Internal result of wait_enter: the claim was lost to a stale wake, so
 * queue again. */
#define RETRY 1

/* --- Pool thread side ------------------------------------------------------ */

static void
backoff(unsigned *spins)
{
    if (++*spins < 128) {
        sp_cpu_relax();
    } else {
        sched_yield(); /* the other side is off its CPU */
    }
}

/* Take the task of request r: 1 once it is ours (switched out, ACTIVE, in
 * no queue), 0 if it was woken on its shard and gave the request up. */
static int
claim_task(struct sp__blocking_req *r, struct sp__task *t)
{
    unsigned spins = 0;
    for (;;) {
        uint32_t s = sp_load_acquire(&t->state);
        if ((s & TS_MASK) == TS_PARKED) {
            /* acq_rel, as sp__wake's CAS: acquire pairs with the
             * scheduler's release CAS to PARKED, made after the task's
             * last switch, so its stack and writes are ours. Exactly one
             * of this CAS and a waker's succeeds. */
            if (sp_cas_acqrel(&t->state, &s, TS_ACTIVE)) {
                return 1;
            }
            continue;
        }
        /* ACTIVE: not switched out yet, or running on its shard after
         * another wake. Acquire pairs with the task's release of
         * ABANDONED. */
        if (sp_load_acquire(&r->state) == SP__BREQ_ABANDONED) {
            return 0;
        }
        backoff(&spins);
    }
}

/* Hand the task (ACTIVE, switched out, ours) to a shard: its home if it is
 * pinned, else where it last ran. */
static void
send_back(struct sp__task *t)
{
    int target = sp_load_relaxed(&t->home);
    if (target == SP_NO_SHARD) {
        target = sp_load_relaxed(&t->last_shard);
    }
    sp__runq_submit(t->rt, t, target);
}

void
sp__blocking_serve_enter(struct sp__blocking_worker *w, struct sp__blocking_req *r)
{
    struct sp__task *t = r->task;
    if (!claim_task(r, t)) {
        /* Release pairs with the task's acquire: after it, r is the
         * task's again (it may queue it anew or return). */
        sp_store_release(&r->state, SP__BREQ_RELEASED);
        return;
    }
    int err = sp__suspend_result(t);
    if (err < 0) {
        /* Cancelled or past its deadline while queued: back to a shard,
         * not into a section. */
        r->result = err;
        sp_store_release(&r->state, SP__BREQ_DECLINED);
        send_back(t);
        return;
    }
    /* Read by the task on this very thread, after the switch. */
    sp_store_relaxed(&r->state, SP__BREQ_ENTERED);
    w->task = t;
    sp__ctx_jump(&w->sched_ctx, &t->ctx, 0);
    /* The task called sp_blocking_leave and switched back here: its stack
     * is saved, and it is ours to queue. */
    w->task = NULL;
    sp__blocking_count_done(w->pool);
    send_back(t);
}

/* --- Task side ---------------------------------------------------------------- */

/* After ABANDONED: wait until the pool thread that claimed r lets go. It is
 * spinning on r->state itself, so this takes a few hundred ns unless that
 * thread is preempted; the shard waits meanwhile (the task must not park,
 * or the pool thread could claim it after all). */
static void
wait_released(struct sp__blocking_req *r)
{
    unsigned spins = 0;
    /* Acquire pairs with the release in sp__blocking_serve_enter. */
    while (sp_load_acquire(&r->state) != SP__BREQ_RELEASED) {
        backoff(&spins);
    }
}

/* On the shard, after a wake that did not come from the pool: withdraw r
 * if the task is cancelled (or past its deadline), else park again. Returns
 * 0 to park again, RETRY, or a negative errno. */
static int
woken_on_shard(struct sp__blocking_pool *p, struct sp__blocking_req *r,
               struct sp__task *t)
{
    int err = sp__suspend_result(t);
    pthread_mutex_lock(&p->lock);
    int st = sp_load_relaxed(&r->state);
    if (st == SP__BREQ_QUEUED) {
        if (err < 0) {
            sp__blocking_withdraw_locked(p, r);
        }
        pthread_mutex_unlock(&p->lock);
        return err;
    }
    if (st == SP__BREQ_FAILED) {
        pthread_mutex_unlock(&p->lock);
        return -EAGAIN;
    }
    SP_ASSERT(st == SP__BREQ_CLAIMED);
    /* Release pairs with claim_task's acquire. */
    sp_store_release(&r->state, SP__BREQ_ABANDONED);
    pthread_mutex_unlock(&p->lock);
    wait_released(r);
    return err < 0 ? err : RETRY;
}

/* 0 once the task runs on a pool thread; RETRY; or a negative errno with
 * the task on its shard. */
static int
wait_enter(struct sp__blocking_pool *p, struct sp__blocking_req *r, struct sp__task *t)
{
    for (;;) {
        sp__park_nointr();
        /* Acquire pairs with the release of DECLINED or FAILED (ENTERED
         * was stored on this same thread). */
        int st = sp_load_acquire(&r->state);
        if (st == SP__BREQ_ENTERED) {
            return 0;
        }
        if (st == SP__BREQ_DECLINED) {
            return (int)r->result;
        }
        if (st == SP__BREQ_FAILED) {
            return -EAGAIN;
        }
        int err = woken_on_shard(p, r, t);
        if (err != 0) {
            return err;
        }
    }
}

int
sp_blocking_enter(void)
{
    struct sp__blocking_worker *w = sp__blocking_worker_current();
    if (w && w->task) {
        sp__log("sp_blocking_enter: already inside a blocking section");
        return -EINVAL;
    }
    struct sp__task *t = sp__task_current();
    if (!t) {
        sp__log("sp_blocking_enter: not called from a task");
        return -EPERM;
    }
    int err = sp__suspend_result(t);
    if (err < 0) {
        return err;
    }
    struct sp__blocking_pool *p = sp__blocking_pool_get(t->rt);
    if (!p) {
        return -ENOMEM;
    }
    struct sp__blocking_req r = {.kind = SP__BREQ_ENTER, .task = t};
    do {
        err = sp__blocking_submit(p, &r);
        if (err == 0) {
            err = wait_enter(p, &r, t);
        }
    } while (err == RETRY);
    /* From here on, with 0, this runs on a pool thread. */
    return err;
}

int
sp_blocking_leave(void)
{
    struct sp__blocking_worker *w = sp__blocking_worker_current();
    struct sp__task *t = w ? w->task : NULL;
    if (!t) {
        if (sp__task_current()) {
            sp__log("sp_blocking_leave: not inside a blocking section");
            return -EINVAL;
        }
        sp__log("sp_blocking_leave: not called from a task");
        return -EPERM;
    }
    sp__ctx_jump(&t->ctx, &w->sched_ctx, 0);
    /* On a shard now: w and this thread's TLS belong to the pool thread
     * we left (DESIGN.md, hazard 1); only t is ours. */
    return sp__suspend_result(t);
}
