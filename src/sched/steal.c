/* Finding work elsewhere: steal half of another shard's deque, or take a
 * batch from the runtime's injector (where full deques spill).
 *
 * Called only when the caller's own queues are empty, which is what
 * sp__deque_steal requires of its destination. */
#include "sched/sched.h"

#define INJECTOR_BATCH (SP_DEQUE_CAP / 2)

static uint64_t
next_random(struct sp__shard *sh)
{
    /* xorshift64: victim choice only needs to avoid lockstep patterns. */
    uint64_t x = sh->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sh->rng = x;
    return x;
}

/* Give the tasks now in the (otherwise empty) own deque this shard's
 * stamps: a stamp from another shard's counter would order them
 * arbitrarily against this shard's FIFO (see runq.h). Owner-only. */
static void
restamp(struct sp__shard *sh)
{
    uint32_t head = sp_load_acquire(&sh->deque.head);
    uint32_t tail = sp_load_relaxed(&sh->deque.tail);
    for (uint32_t i = head; i != tail; i++) {
        struct sp__task *t = sp_load_relaxed(&sh->deque.slot[i & (SP_DEQUE_CAP - 1)]);
        sp_store_relaxed(&t->enq_seq, ++sh->enq_seq);
    }
}

int
sp__injector_push_batch(struct sp_runtime *rt, struct sp__task *head,
                        struct sp__task *tail, long n)
{
    struct sp__injector *inj = &rt->inj;
    tail->next = NULL;
    pthread_mutex_lock(&inj->lock);
    if (inj->tail) {
        inj->tail->next = head;
    } else {
        inj->head = head;
    }
    inj->tail = tail;
    /* seq_cst: the injector is one of the places a parking shard re-checks
     * after publishing `sleeping` (docs/design/park-wake.md). */
    sp_fetch_add_seqcst(&inj->len, n);
    pthread_mutex_unlock(&inj->lock);
    sp__park_notify_idle(rt);
    return 0;
}

int
sp__injector_take(struct sp__shard *sh)
{
    struct sp__injector *inj = &sh->rt->inj;
    if (sp_load_seqcst(&inj->len) == 0) {
        return 0;
    }
    int n = 0;
    int room = (int)(SP_DEQUE_CAP - sp__deque_len(&sh->deque));
    int batch = room < (int)INJECTOR_BATCH ? room : (int)INJECTOR_BATCH;
    pthread_mutex_lock(&inj->lock);
    while (inj->head && n < batch) {
        struct sp__task *t = inj->head;
        inj->head = t->next;
        sp_store_relaxed(&t->enq_seq, ++sh->enq_seq);
        if (sp__deque_push(&sh->deque, t) < 0) {
            inj->head = t;
            break;
        }
        n++;
    }
    if (!inj->head) {
        inj->tail = NULL;
    }
    sp_fetch_add_seqcst(&inj->len, -n);
    pthread_mutex_unlock(&inj->lock);
    return n;
}

int
sp__steal(struct sp__shard *sh)
{
    struct sp_runtime *rt = sh->rt;
    int n = rt->nshards;
    if (n > 1) {
        sp_counter_add(&sh->stats.steal_attempts, 1);
        int start = (int)(next_random(sh) % (uint64_t)n);
        for (int i = 0; i < n; i++) {
            struct sp__shard *victim = rt->shards[(start + i) % n];
            if (victim == sh) {
                continue;
            }
            uint32_t got = sp__deque_steal(&victim->deque, &sh->deque);
            if (got) {
                restamp(sh);
                sp_counter_add(&sh->stats.stolen, got);
                return 1;
            }
        }
    }
    return sp__injector_take(sh) > 0;
}

/* Is there stealable work this shard could take? A snapshot. */
int
sp__steal_visible(struct sp__shard *sh)
{
    struct sp_runtime *rt = sh->rt;
    if (sp_load_seqcst(&rt->inj.len) > 0) {
        return 1;
    }
    for (int i = 0; i < rt->nshards; i++) {
        struct sp__shard *victim = rt->shards[i];
        if (victim != sh && sp__deque_len(&victim->deque) > 0) {
            return 1;
        }
    }
    return 0;
}
