/* Work-stealing deque (see deque.h; protocol in docs/design/deque.md).
 *
 * Invariants: tail - head <= SP_DEQUE_CAP; only the owner writes tail and
 * the slots; a slot index i is written only while i >= tail, i.e. outside
 * [head, tail), so a thief that read slots [h, h+n) and then wins the CAS
 * head: h -> h+n took exactly what it read. A thief that loses the CAS
 * discards what it read; the owner may have reused those slots meanwhile,
 * which is why slots are read BEFORE the CAS and their content is only
 * trusted after it succeeds. */
#include "core/core.h"
#include "sched/deque.h"
#include "util/atomic.h"

#define MASK SP_DEQUE_MASK

uint32_t
sp__deque_claim_half(struct sp__deque *dq, struct sp__task **head_out,
                     struct sp__task **tail_out)
{
    uint32_t tail = sp_load_relaxed(&dq->tail);
    for (;;) {
        uint32_t head = sp_load_acquire(&dq->head);
        uint32_t n = (tail - head) / 2;
        if (n == 0) {
            return 0;
        }
        /* Claim first, link after: before the CAS succeeds a thief may own
         * some of these tasks, and writing their ->next would race with
         * it. Only the owner writes slots, so they still hold what the
         * claimed range had. */
        if (!sp_cas_acqrel(&dq->head, &head, head + n)) {
            continue;
        }
        struct sp__task *first = sp_load_relaxed(&dq->slot[head & MASK]);
        struct sp__task *prev = first;
        for (uint32_t i = 1; i < n; i++) {
            struct sp__task *t = sp_load_relaxed(&dq->slot[(head + i) & MASK]);
            prev->next = t;
            prev = t;
        }
        prev->next = NULL;
        *head_out = first;
        *tail_out = prev;
        return n;
    }
}

uint32_t
sp__deque_steal(struct sp__deque *victim, struct sp__deque *own)
{
    uint32_t own_tail = sp_load_relaxed(&own->tail);
    for (;;) {
        uint32_t head = sp_load_acquire(&victim->head);
        /* Acquire pairs with the owner's tail store: slots below it are
         * written. */
        uint32_t tail = sp_load_acquire(&victim->tail);
        uint32_t n = tail - head;
        n -= n / 2;
        if (n == 0) {
            return 0;
        }
        if (n > SP_DEQUE_CAP / 2) {
            continue; /* head and tail read at different moments; retry */
        }
        for (uint32_t i = 0; i < n; i++) {
            struct sp__task *t = sp_load_relaxed(&victim->slot[(head + i) & MASK]);
            sp_store_relaxed(&own->slot[(own_tail + i) & MASK], t);
        }
        if (sp_cas_release(&victim->head, &head, head + n)) {
            sp_store_seqcst(&own->tail, own_tail + n);
            return n;
        }
    }
}
