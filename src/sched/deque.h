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

#include "util/compiler.h"

#define SP_DEQUE_CAP 256u

struct sp__task;

struct sp__deque {
    SP_ALIGNED_CL _Atomic uint32_t head; /* CAS by owner and thieves */
    SP_ALIGNED_CL _Atomic uint32_t tail; /* written by the owner only */
    _Atomic(struct sp__task *) slot[SP_DEQUE_CAP];
};

/* Owner only. Returns 0, or -1 when full (nothing was pushed). */
int sp__deque_push(struct sp__deque *dq, struct sp__task *t);
/* Owner only. Claims half of a full deque for the injector: returns the
 * number claimed and links them head..tail through ->next. */
uint32_t sp__deque_claim_half(struct sp__deque *dq, struct sp__task **head,
                              struct sp__task **tail);
/* Owner only. NULL when empty. */
struct sp__task *sp__deque_pop(struct sp__deque *dq);
/* Any thread: move half of victim's tasks into the caller's own deque `own`
 * (which must be empty). Returns the number moved. */
uint32_t sp__deque_steal(struct sp__deque *victim, struct sp__deque *own);
/* Owner only: the task pop would return now, without taking it. */
struct sp__task *sp__deque_peek(struct sp__deque *dq);
/* Any thread; a snapshot. */
uint32_t sp__deque_len(struct sp__deque *dq);

#endif
