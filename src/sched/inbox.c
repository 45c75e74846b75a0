/* The shard inbox: a multi-producer, single-consumer queue of tasks that
 * other threads hand to this shard (remote wakes of pinned tasks, remote
 * spawns, moves, wakes routed to a timer's shard).
 *
 * Producers push on a Treiber stack with a seq_cst CAS; the owner takes the
 * whole stack with one exchange and reverses it, so tasks run in the order
 * they were posted. No ABA problem: the only pop is the take-all exchange.
 * After pushing, the producer rings the shard's doorbell if it sleeps
 * (docs/design/park-wake.md). */
#include "sched/runq.h"

void
sp__inbox_post(struct sp__shard *to, struct sp__task *t)
{
    struct sp__task *head = sp_load_relaxed(&to->inbox);
    do {
        t->next = head;
        /* seq_cst: orders the push before the load of to->sleeping in
         * sp__park_notify (Dekker pair with the parker's store of
         * sleeping and its re-check of the inbox). Release alone would let
         * the sleeping check pass the push: a lost wakeup. */
    } while (!sp_cas_seqcst(&to->inbox, &head, t));
    sp__park_notify(to);
}

size_t
sp__inbox_drain(struct sp__shard *sh)
{
    if (sp_load_relaxed(&sh->inbox) == NULL) {
        return 0;
    }
    /* Acquire pairs with the producers' CAS: their writes to the task (its
     * next link, its placement) are visible. */
    struct sp__task *t = sp_xchg_acqrel(&sh->inbox, NULL);
    struct sp__task *rev = NULL;
    size_t n = 0;
    while (t) {
        struct sp__task *next = t->next;
        t->next = rev;
        rev = t;
        t = next;
        n++;
    }
    while (rev) {
        struct sp__task *next = rev->next;
        sp__runq_push_local(sh, rev);
        rev = next;
    }
    sp_counter_add(&sh->stats.messages, n);
    return n;
}
