/* Work-stealing deque: a fixed ring of 256 slots with one owner.
 *
 * The owner pushes at the tail and pops from the head; thieves take half of
 * the queue from the head. Both pop and steal claim with a CAS on head and
 * read the slots before the CAS. A fixed ring removes buffer reclamation;
 * overflow spills half to the runtime's injector. Protocol and orderings:
 * docs/design/deque.md. */
#ifndef SP_SCHED_DEQUE_H
#define SP_SCHED_DEQUE_H

#include <stdatomic.h>
#include <stdint.h>

#include "util/atomic.h"
#include "util/compiler.h"

#define SP_DEQUE_CAP 256u
#define SP_DEQUE_MASK (SP_DEQUE_CAP - 1)

struct sp__task;

struct sp__deque {
    SP_ALIGNED_CL _Atomic uint32_t head; /* CAS by owner and thieves */
    SP_ALIGNED_CL _Atomic uint32_t tail; /* written by the owner only */
    _Atomic(struct sp__task *) slot[SP_DEQUE_CAP];
};

/* Owner only. Claims half of a full deque for the injector: returns the
 * number claimed and links them head..tail through ->next. */
uint32_t sp__deque_claim_half(struct sp__deque *dq, struct sp__task **head,
                              struct sp__task **tail);
/* Any thread: move half of victim's tasks into the caller's own deque `own`
 * (which must be empty). Returns the number moved. */
uint32_t sp__deque_steal(struct sp__deque *victim, struct sp__deque *own);

/* Push, pop, peek and len are inline: the scheduler calls them on every
 * switch. */

/* Owner only. Returns 0, or -1 when full (nothing was pushed). */
static inline int
sp__deque_push(struct sp__deque *dq, struct sp__task *t)
{
    uint32_t tail = sp_load_relaxed(&dq->tail);
    /* Acquire pairs with the release CAS of pop/steal: once we see their
     * head, their reads of the slots we are about to overwrite are done. */
    uint32_t head = sp_load_acquire(&dq->head);
    if (tail - head >= SP_DEQUE_CAP) {
        return -1;
    }
    sp_store_relaxed(&dq->slot[tail & SP_DEQUE_MASK], t);
    /* Release pairs with the thieves' acquire load of tail: the slot is
     * written. The park/wake Dekker pair needs this store ordered before
     * the pusher's load of the sleeper count too, but the pusher loads it
     * only when it has surplus work: deque_push (runq.h) puts a seq_cst
     * fence there, so a push that wakes nobody costs no fence. */
    sp_store_release(&dq->tail, tail + 1);
    return 0;
}

/* Owner only. NULL when empty. */
static inline struct sp__task *
sp__deque_pop(struct sp__deque *dq)
{
    uint32_t tail = sp_load_relaxed(&dq->tail);
    for (;;) {
        uint32_t head = sp_load_acquire(&dq->head);
        if (head == tail) {
            return NULL;
        }
        struct sp__task *t = sp_load_relaxed(&dq->slot[head & SP_DEQUE_MASK]);
        /* Release pairs with the pusher's acquire of head (deque.md). */
        if (sp_cas_release(&dq->head, &head, head + 1)) {
            return t;
        }
    }
}

/* Owner only: the task pop would return now, without taking it. */
static inline struct sp__task *
sp__deque_peek(struct sp__deque *dq)
{
    uint32_t tail = sp_load_relaxed(&dq->tail);
    uint32_t head = sp_load_acquire(&dq->head);
    return head == tail ? NULL : sp_load_relaxed(&dq->slot[head & SP_DEQUE_MASK]);
}

/* Any thread; a snapshot. */
static inline uint32_t
sp__deque_len(struct sp__deque *dq)
{
    /* seq_cst: the parker's re-check (docs/design/park-wake.md) relies on
     * these loads being ordered after its seq_cst store of `sleeping`; on
     * x86-64 and AArch64 they compile to the same loads as acquire. */
    uint32_t head = sp_load_seqcst(&dq->head);
    uint32_t tail = sp_load_seqcst(&dq->tail);
    return tail - head;
}

#endif
