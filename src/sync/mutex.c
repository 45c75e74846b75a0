/* Task mutex with FIFO hand-off.
 *
 * State, under the spinlock: `owner` (the holder's task id, 0 when free)
 * and the wait queue. Unlock with waiters does not free the mutex: it
 * makes the first waiter the owner and wakes it, so a task that arrives
 * later can never take the lock ahead of one that is already waiting
 * (no barging, no starvation; Go's "starvation mode", always on). The
 * price is a hand-off through the scheduler on every contended unlock;
 * bench/mutex_contended.c measures it. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

struct mutex {
    struct sp__spin lock;
    uint32_t magic;
    uint64_t owner;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct mutex, sp_mutex_t);

static int
lock_as(struct mutex *m, struct sp__task *self, unsigned wait_flags)
{
    uint64_t me = sp_load_relaxed(&self->id_bits);
    sp__spin_lock(&m->lock);
    if (sp_likely(m->owner == 0)) {
        m->owner = me;
        sp__spin_unlock(&m->lock);
        return 0;
    }
    if (m->owner == me) {
        sp__spin_unlock(&m->lock);
        sp__log("sp_mutex_lock: the calling task already holds the mutex");
        return -EDEADLK;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&m->q, &w, self);
    /* The unlocker sets owner to our id before granting, so success needs
     * nothing more here. */
    return sp__waiter_wait_ex(&m->lock, &m->q, &w, wait_flags);
}

int
sp__mutex_check(sp_mutex_t *mp, const char *fn)
{
    return sp__sync_check(mp, SP_SYNC_MAGIC((struct mutex *)mp), fn, "mutex");
}

int
sp__mutex_is_held_by(sp_mutex_t *mp, struct sp__task *t)
{
    struct mutex *m = (struct mutex *)mp;
    sp__spin_lock(&m->lock);
    int held = m->owner == sp_load_relaxed(&t->id_bits);
    sp__spin_unlock(&m->lock);
    return held;
}

void
sp__mutex_relock(sp_mutex_t *mp, struct sp__task *self)
{
    int err = lock_as((struct mutex *)mp, self, SP_WAIT_NOINTR);
    SP_ASSERT(err == 0);
    (void)err;
}

int
sp_mutex_init(sp_mutex_t *mp)
{
    if (!mp) {
        return sp__sync_null("sp_mutex_init", "mutex");
    }
    struct mutex *m = (struct mutex *)mp;
    *m = (struct mutex){.magic = SP_SYNC_LIVE};
    sp__waitq_init(&m->q);
    return 0;
}

int
sp_mutex_destroy(sp_mutex_t *mp)
{
    struct mutex *m = (struct mutex *)mp;
    int err = sp__sync_check(mp, SP_SYNC_MAGIC(m), "sp_mutex_destroy", "mutex");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&m->lock);
    int busy = m->owner || !sp__waitq_is_empty(&m->q);
    return sp__sync_retire(&m->lock, &m->magic, busy, "sp_mutex_destroy", "mutex");
}

int
sp_mutex_lock(sp_mutex_t *mp)
{
    struct mutex *m = (struct mutex *)mp;
    struct sp__task *self;
    int err = sp__sync_enter(mp, SP_SYNC_MAGIC(m), "sp_mutex_lock", "mutex", &self);
    if (err < 0) {
        return err;
    }
    return lock_as(m, self, 0);
}

int
sp_mutex_trylock(sp_mutex_t *mp)
{
    struct mutex *m = (struct mutex *)mp;
    struct sp__task *self;
    int err = sp__sync_enter(mp, SP_SYNC_MAGIC(m), "sp_mutex_trylock", "mutex", &self);
    if (err < 0) {
        return err;
    }
    uint64_t me = sp_load_relaxed(&self->id_bits);
    sp__spin_lock(&m->lock);
    int r = m->owner == 0 ? 0 : m->owner == me ? -EDEADLK : -EAGAIN;
    if (r == 0) {
        m->owner = me;
    }
    sp__spin_unlock(&m->lock);
    return r;
}

int
sp_mutex_unlock(sp_mutex_t *mp)
{
    struct mutex *m = (struct mutex *)mp;
    struct sp__task *self;
    int err = sp__sync_enter(mp, SP_SYNC_MAGIC(m), "sp_mutex_unlock", "mutex", &self);
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&m->lock);
    if (m->owner != sp_load_relaxed(&self->id_bits)) {
        sp__spin_unlock(&m->lock);
        sp__log("sp_mutex_unlock: the calling task does not hold the mutex");
        return -EPERM;
    }
    struct sp__waiter *w = sp__waitq_claim(&m->q);
    if (w) {
        m->owner = sp_load_relaxed(&w->task->id_bits);
        sp__waitq_grant(&m->q, w, 0, &wl);
    } else {
        m->owner = 0;
    }
    sp__spin_unlock(&m->lock);
    sp__wake_list_flush(&wl);
    return 0;
}
