/* Counting semaphore, FIFO.
 *
 * State, under the spinlock: `count` (free permits) and the wait queue.
 * Invariant: count > 0 only while nobody waits, because a release hands
 * permits to waiters before it adds any to the count, and an acquire takes
 * a permit directly only when nobody is queued (no barging past waiters).
 * Releases may come from any thread: granting only needs sp__wake. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

struct sem {
    struct sp__spin lock;
    uint32_t magic;
    uint32_t count;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct sem, sp_sem_t);

int
sp_sem_init(sp_sem_t *sp, unsigned value)
{
    if (!sp) {
        return sp__sync_null("sp_sem_init", "semaphore");
    }
    if (value > SP_SEM_MAX) {
        sp__log("sp_sem_init: value %u is above SP_SEM_MAX", value);
        return -EINVAL;
    }
    struct sem *s = (struct sem *)sp;
    *s = (struct sem){.magic = SP_SYNC_LIVE, .count = value};
    sp__waitq_init(&s->q);
    return 0;
}

int
sp_sem_destroy(sp_sem_t *sp)
{
    struct sem *s = (struct sem *)sp;
    int err = sp__sync_check_obj(sp, SP_SYNC_MAGIC(s), 0, "sp_sem_destroy", "semaphore");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&s->lock);
    return sp__sync_retire(&s->lock, &s->magic, !sp__waitq_is_empty(&s->q),
                           "sp_sem_destroy", "semaphore");
}

static int
acquire(sp_sem_t *sp, const char *fn, int wait)
{
    struct sem *s = (struct sem *)sp;
    struct sp__task *self;
    int err = sp__sync_check_obj(sp, SP_SYNC_MAGIC(s), 0, fn, "semaphore");
    if (err < 0) {
        return err;
    }
    if (!(self = sp__sync_self(fn))) {
        return -EPERM;
    }
    sp__spin_lock(&s->lock);
    if (s->count > 0) {
        s->count--;
        sp__spin_unlock(&s->lock);
        return 0;
    }
    if (!wait) {
        sp__spin_unlock(&s->lock);
        return -EAGAIN;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&s->q, &w, self);
    return sp__waiter_wait(&s->lock, &s->q, &w);
}

int
sp_sem_acquire(sp_sem_t *s)
{
    return acquire(s, "sp_sem_acquire", 1);
}

int
sp_sem_try_acquire(sp_sem_t *s)
{
    return acquire(s, "sp_sem_try_acquire", 0);
}

int
sp_sem_release(sp_sem_t *sp, unsigned n)
{
    struct sem *s = (struct sem *)sp;
    int err = sp__sync_check_obj(sp, SP_SYNC_MAGIC(s), 0, "sp_sem_release", "semaphore");
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&s->lock);
    if (n > SP_SEM_MAX - s->count) {
        sp__spin_unlock(&s->lock);
        sp__log("sp_sem_release: %u more permits would pass SP_SEM_MAX", n);
        return -EOVERFLOW;
    }
    struct sp__waiter *w;
    while (n > 0) {
        sp__wake_list_make_room(&s->lock, &wl);
        if ((w = sp__waitq_claim(&s->q)) == NULL) {
            break;
        }
        sp__waitq_grant(&s->q, w, 0, &wl);
        n--;
    }
    s->count += n;
    sp__spin_unlock(&s->lock);
    sp__wake_list_flush(&wl);
    return 0;
}

long
sp_sem_value(sp_sem_t *sp)
{
    struct sem *s = (struct sem *)sp;
    int err = sp__sync_check_obj(sp, SP_SYNC_MAGIC(s), 0, "sp_sem_value", "semaphore");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&s->lock);
    long v = s->count;
    sp__spin_unlock(&s->lock);
    return v;
}
