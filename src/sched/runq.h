/* Run queues of one shard and the rule for where a runnable task goes;
 * inline, since every task switch goes through here.
 *
 * A pinned task, or any task that must resume here because its timer lives
 * here, goes to the shard-private FIFO (no atomics). A stealable task goes
 * to the shard's work-stealing deque; when the deque is full, half of it
 * spills to the runtime's injector. A task for another shard travels
 * through that shard's inbox.
 *
 * Both local queues are FIFO, and every task queued by this shard gets a
 * stamp: the next task to run is the older of the two heads. So a yield
 * lets every task that was runnable before it run first, whichever queue
 * it is in, and neither queue can starve the other.
 *
 * The next slot (Go's runnext, tokio's LIFO slot): a stealable task woken
 * by the task running on this shard waits in sh->next_slot, where thieves
 * cannot see it, and runs as soon as the waker switches out. Two tasks
 * that hand work back and forth (a request and its reply, a channel
 * ping-pong) so stay on one shard, where each hand-off is a local queue
 * operation, instead of an idle shard stealing every woken task and
 * making each exchange a cross-shard wake (steady_ping_pong_rtt 313-369 us
 * -> 47-51 us). The first task woken takes the slot; later ones queue
 * behind it as usual, so a batch of wakes (a semaphore release, a
 * broadcast) still runs in grant order (Go's runnext lets the newest
 * overtake instead). After NEXT_STREAK_MAX slot runs in a row while others wait,
 * the slot's task goes to the back of the deque instead, so a ping-pong
 * pair cannot starve the rest. The price: while the waker keeps running,
 * the slot's task waits even if another shard is idle. */
#ifndef SP_SCHED_RUNQ_H
#define SP_SCHED_RUNQ_H

#include "sched/sched.h"

static inline void
fifo_push(struct sp__fifo *q, struct sp__task *t)
{
    t->next = NULL;
    if (q->tail) {
        q->tail->next = t;
    } else {
        q->head = t;
    }
    q->tail = t;
    q->len++;
}

static inline struct sp__task *
fifo_pop(struct sp__fifo *q)
{
    struct sp__task *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head) {
            q->tail = NULL;
        }
        q->len--;
    }
    return t;
}

static inline void
deque_push(struct sp__shard *sh, struct sp__task *t)
{
    while (sp__deque_push(&sh->deque, t) < 0) {
        struct sp__task *head, *tail;
        uint32_t n = sp__deque_claim_half(&sh->deque, &head, &tail);
        if (n) {
            sp__injector_push_batch(sh->rt, head, tail, n);
        }
    }
    /* Another shard may be asleep while this one has surplus work: more
     * queued than the one task it will run next, counting the task that is
     * running now (a spawner that goes on computing is load too). Without
     * the running task in the count, a spawn-then-compute would leave its
     * child queued while the other shard sleeps (model
     * park-wake-broken-surplus-only). */
    if (sp__deque_len(&sh->deque) + (sp_load_relaxed(&sh->current) != NULL) + sh->fifo.len > 1 &&
        sh->rt->nshards > 1) {
        /* seq_cst fence: orders the push's tail store (release) before the
         * load of the sleeper count in sp__park_notify_idle; it pairs with
         * the parker's seq_cst store of `sleeping` and re-check of our tail
         * (the Dekker pair of docs/design/park-wake.md). Without it the
         * load could pass the store (store-load reordering, even on x86):
         * the parker misses the task and we miss the parker. A push that
         * wakes nobody needs no order, so it pays no fence; nor does a
         * single shard, which has nobody to wake. */
        sp_fence_seqcst_before(&sh->rt->sleepers);
        sp__park_notify_idle(sh->rt);
    }
}

/* May t run on any shard now? Not if pinned, nor while a timer of it is
 * armed on one shard (resume). */
static inline int
runq_stealable(struct sp__task *t)
{
    return sp_load_relaxed(&t->home) == SP_NO_SHARD &&
           sp_load_relaxed(&t->resume) == SP_NO_SHARD;
}

static inline void
runq_push_local(struct sp__shard *sh, struct sp__task *t, int stealable)
{
    sp_store_relaxed(&t->enq_seq, ++sh->enq_seq);
    if (stealable) {
        deque_push(sh, t);
    } else {
        fifo_push(&sh->fifo, t);
    }
}

static inline void
sp__runq_push_local(struct sp__shard *sh, struct sp__task *t)
{
    runq_push_local(sh, t, runq_stealable(t));
}

/* t, stealable or not, was just woken on its own shard sh. */
static inline void
sp__runq_push_woken(struct sp__shard *sh, struct sp__task *t)
{
    if (sh->next_slot == NULL && sp_load_relaxed(&sh->current) != NULL && runq_stealable(t)) {
        sh->next_slot = t;
        return;
    }
    sp__runq_push_local(sh, t);
}

static inline void
sp__runq_requeue(struct sp__shard *sh, struct sp__task *t)
{
    struct sp_runtime *rt = sh->rt;
    int stealable = runq_stealable(t);
    if (sp_unlikely(rt->cfg.force_migrate) && rt->nshards > 1 && stealable) {
        sp__inbox_post(rt->shards[(sh->index + 1) % rt->nshards], t);
        return;
    }
    /* Overloaded (the injector holds tasks): a yielding stealable task goes
     * behind them, so that all runnable stealable tasks take turns in one
     * FIFO order (Go's Gosched does the same with its global queue).
     * Requeued locally it would cycle in the deque while older tasks wait
     * in the injector. */
    if (stealable && sp_unlikely(sp_load_relaxed(&rt->inj.len) > 0)) {
        t->next = NULL;
        sp__injector_push_batch(rt, t, t, 1);
        return;
    }
    runq_push_local(sh, t, stealable);
}

#define NEXT_STREAK_MAX 3

static inline struct sp__task *
sp__runq_next(struct sp__shard *sh)
{
    struct sp__task *n = sh->next_slot;
    if (n != NULL) {
        sh->next_slot = NULL;
        if (sh->next_streak < NEXT_STREAK_MAX ||
            (sh->fifo.head == NULL && sp__deque_len(&sh->deque) == 0)) {
            sh->next_streak++;
            return n;
        }
        runq_push_local(sh, n, 1); /* others wait: take turns with them */
    }
    sh->next_streak = 0;
    struct sp__task *f = sh->fifo.head;
    if (!f) {
        return sp__deque_pop(&sh->deque);
    }
    struct sp__task *d = sp__deque_peek(&sh->deque);
    /* Signed difference: stamps wrap. Stolen and injected tasks are
     * stamped again on arrival (steal.c), so all stamps here are ours. */
    if (d && (int32_t)(sp_load_relaxed(&d->enq_seq) - sp_load_relaxed(&f->enq_seq)) < 0) {
        struct sp__task *t = sp__deque_pop(&sh->deque);
        if (t) {
            return t;
        }
    }
    return fifo_pop(&sh->fifo);
}

#endif
