/* Condition variable over an sp_mutex_t.
 *
 * wait: the task queues itself under the condition's lock, then unlocks
 * the mutex, then parks (the two spinlocks are never held together). A signal that comes between the unlock and
 * the park is not lost: the waiter is already queued, and the grant/wake
 * protocol of docs/design/sync.md covers a wake before the park. After
 * waking, or being cancelled, it takes the mutex back, waiting in line and
 * ignoring cancellation, so the caller always holds the mutex again. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

struct cond {
    struct sp__spin lock;
    uint32_t magic;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct cond, sp_cond_t);

int
sp_cond_init(sp_cond_t *cp)
{
    if (!cp) {
        return sp__sync_null("sp_cond_init", "condition variable");
    }
    struct cond *c = (struct cond *)cp;
    *c = (struct cond){.magic = SP_SYNC_LIVE};
    sp__waitq_init(&c->q);
    return 0;
}

int
sp_cond_destroy(sp_cond_t *cp)
{
    struct cond *c = (struct cond *)cp;
    int err = sp__sync_check(cp, SP_SYNC_MAGIC(c), "sp_cond_destroy", "condition variable");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&c->lock);
    return sp__sync_retire(&c->lock, &c->magic, !sp__waitq_is_empty(&c->q),
                           "sp_cond_destroy", "condition variable");
}

int
sp_cond_wait(sp_cond_t *cp, sp_mutex_t *m)
{
    struct cond *c = (struct cond *)cp;
    struct sp__task *self;
    int err = sp__sync_enter(cp, SP_SYNC_MAGIC(c), "sp_cond_wait", "condition variable",
                             &self);
    if (err < 0) {
        return err;
    }
    if ((err = sp__mutex_check(m, "sp_cond_wait")) < 0) {
        return err;
    }
    if (!sp__mutex_is_held_by(m, self)) {
        sp__log("sp_cond_wait: the calling task does not hold the mutex");
        return -EPERM;
    }
    struct sp__waiter w = {0};
    sp__spin_lock(&c->lock);
    sp__waitq_push(&c->q, &w, self);
    sp__spin_unlock(&c->lock);
    /* Queued first, so a signal sent once the mutex is free finds us. The
     * unlock may wake a task: not under our spinlock. */
    sp_mutex_unlock(m);
    sp__spin_lock(&c->lock);
    int r = sp__waiter_wait(&c->lock, &c->q, &w);
    sp__mutex_relock(m, self);
    return r;
}

static int
wake(sp_cond_t *cp, const char *fn, int all)
{
    struct cond *c = (struct cond *)cp;
    int err = sp__sync_check(cp, SP_SYNC_MAGIC(c), fn, "condition variable");
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&c->lock);
    if (all) {
        sp__waitq_grant_all(&c->lock, &c->q, c->q.seq, 0, &wl);
    } else {
        struct sp__waiter *w = sp__waitq_claim(&c->q);
        if (w) {
            sp__waitq_grant(&c->q, w, 0, &wl);
        }
    }
    sp__spin_unlock(&c->lock);
    sp__wake_list_flush(&wl);
    return 0;
}

int
sp_cond_signal(sp_cond_t *c)
{
    return wake(c, "sp_cond_signal", 0);
}

int
sp_cond_broadcast(sp_cond_t *c)
{
    return wake(c, "sp_cond_broadcast", 1);
}
