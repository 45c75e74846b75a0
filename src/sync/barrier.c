/* Barrier for a fixed number of tasks, reusable round after round. State
 * under the spinlock: `arrived` in the current round and the queue (every
 * waiter in it belongs to the current round: the last arrival releases
 * them all before anyone can queue for the next). A waiter that is
 * cancelled leaves the round in the same critical section in which it
 * unlinks itself (SP_WAIT_LOCKED_ON_ERROR), so the count never includes a
 * task that is not there. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

struct barrier {
    struct sp__spin lock;
    uint32_t magic;
    uint32_t count;
    uint32_t arrived;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct barrier, sp_barrier_t);

int
sp_barrier_init(sp_barrier_t *bp, unsigned count)
{
    if (!bp) {
        return sp__sync_null("sp_barrier_init", "barrier");
    }
    if (count == 0) {
        sp__log("sp_barrier_init: count is 0");
        return -EINVAL;
    }
    struct barrier *b = (struct barrier *)bp;
    *b = (struct barrier){.magic = SP_SYNC_LIVE, .count = count};
    sp__waitq_init(&b->q);
    return 0;
}

int
sp_barrier_destroy(sp_barrier_t *bp)
{
    struct barrier *b = (struct barrier *)bp;
    int err = sp__sync_check_obj(bp, SP_SYNC_MAGIC(b), 0, "sp_barrier_destroy", "barrier");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&b->lock);
    return sp__sync_retire(&b->lock, &b->magic, !sp__waitq_is_empty(&b->q),
                           "sp_barrier_destroy", "barrier");
}

int
sp_barrier_wait(sp_barrier_t *bp)
{
    struct barrier *b = (struct barrier *)bp;
    struct sp__task *self;
    int err = sp__sync_check_obj(bp, SP_SYNC_MAGIC(b), 0, "sp_barrier_wait", "barrier");
    if (err < 0) {
        return err;
    }
    if (!(self = sp__sync_self("sp_barrier_wait"))) {
        return -EPERM;
    }
    sp__spin_lock(&b->lock);
    if (++b->arrived == b->count) {
        struct sp__wake_list wl = {.n = 0};
        b->arrived = 0;
        sp__waitq_grant_all(&b->lock, &b->q, b->q.seq, 0, &wl);
        sp__spin_unlock(&b->lock);
        sp__wake_list_flush(&wl);
        return SP_BARRIER_LEADER;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&b->q, &w, self);
    int r = sp__waiter_wait_ex(&b->lock, &b->q, &w, SP_WAIT_LOCKED_ON_ERROR);
    if (r < 0 && !w.done) {
        b->arrived--; /* still under the lock: leave the round */
        sp__spin_unlock(&b->lock);
    }
    return r;
}
