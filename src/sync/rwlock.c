/* Read-write lock, FIFO and writer-fair.
 *
 * State under the spinlock: `readers` (read locks held), `writer` (the
 * holder's task id, 0 if none) and one queue in arrival order, each waiter
 * tagged with its mode in w->arg. A newcomer takes the lock directly only
 * when nobody is queued, so a waiting writer is never overtaken by a
 * stream of readers. Unlocks hand the lock over in queue order: one writer,
 * or the whole run of readers at the head (admit()). A waiter that leaves
 * the queue (cancelled) may unblock the ones behind it (readers behind a
 * cancelled writer), so it runs admit() in the same critical section. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

enum { MODE_READ, MODE_WRITE };

struct rwlock {
    struct sp__spin lock;
    uint32_t magic;
    uint32_t readers;
    uint64_t writer;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct rwlock, sp_rwlock_t);

int
sp_rwlock_init(sp_rwlock_t *lp)
{
    if (!lp) {
        return sp__sync_null("sp_rwlock_init", "rwlock");
    }
    struct rwlock *l = (struct rwlock *)lp;
    *l = (struct rwlock){.magic = SP_SYNC_LIVE};
    sp__waitq_init(&l->q);
    return 0;
}

int
sp_rwlock_destroy(sp_rwlock_t *lp)
{
    struct rwlock *l = (struct rwlock *)lp;
    int err = sp__sync_check(lp, SP_SYNC_MAGIC(l), "sp_rwlock_destroy", "rwlock");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&l->lock);
    int busy = l->readers || l->writer || !sp__waitq_is_empty(&l->q);
    return sp__sync_retire(&l->lock, &l->magic, busy, "sp_rwlock_destroy", "rwlock");
}

/* Lock held; returns with it released and the wakes delivered. */
static void
admit_and_unlock(struct rwlock *l)
{
    struct sp__wake_list wl = {.n = 0};
    struct sp__waiter *w;
    while (!l->writer) {
        sp__wake_list_make_room(&l->lock, &wl);
        if ((w = l->q.head) == NULL) {
            break;
        }
        if (w->arg == MODE_WRITE) {
            if (l->readers) {
                break;
            }
            l->writer = sp_load_relaxed(&w->task->id_bits);
        } else {
            l->readers++;
        }
        sp__waitq_grant(&l->q, w, 0, &wl);
    }
    sp__spin_unlock(&l->lock);
    sp__wake_list_flush(&wl);
}

static int
lock(sp_rwlock_t *lp, int mode, int block, const char *fn)
{
    struct rwlock *l = (struct rwlock *)lp;
    struct sp__task *self;
    int err = sp__sync_enter(lp, SP_SYNC_MAGIC(l), fn, "rwlock", &self);
    if (err < 0) {
        return err;
    }
    uint64_t me = sp_load_relaxed(&self->id_bits);
    sp__spin_lock(&l->lock);
    if (l->writer == me) {
        sp__spin_unlock(&l->lock);
        sp__log("%s: the calling task holds the write lock", fn);
        return -EDEADLK;
    }
    int free_now = !l->writer && sp__waitq_is_empty(&l->q) &&
                   (mode == MODE_READ || l->readers == 0);
    if (free_now) {
        if (mode == MODE_READ) {
            l->readers++;
        } else {
            l->writer = me;
        }
        sp__spin_unlock(&l->lock);
        return 0;
    }
    if (!block) {
        sp__spin_unlock(&l->lock);
        return -EAGAIN;
    }
    struct sp__waiter w = {.arg = (uint64_t)mode};
    sp__waitq_push(&l->q, &w, self);
    int r = sp__waiter_wait_ex(&l->lock, &l->q, &w, SP_WAIT_LOCKED_ON_ERROR);
    if (r < 0 && !w.done) {
        admit_and_unlock(l); /* those behind us may go now */
    }
    return r;
}

int
sp_rwlock_rdlock(sp_rwlock_t *l)
{
    return lock(l, MODE_READ, 1, "sp_rwlock_rdlock");
}

int
sp_rwlock_tryrdlock(sp_rwlock_t *l)
{
    return lock(l, MODE_READ, 0, "sp_rwlock_tryrdlock");
}

int
sp_rwlock_wrlock(sp_rwlock_t *l)
{
    return lock(l, MODE_WRITE, 1, "sp_rwlock_wrlock");
}

int
sp_rwlock_trywrlock(sp_rwlock_t *l)
{
    return lock(l, MODE_WRITE, 0, "sp_rwlock_trywrlock");
}

int
sp_rwlock_rdunlock(sp_rwlock_t *lp)
{
    struct rwlock *l = (struct rwlock *)lp;
    int err = sp__sync_check(lp, SP_SYNC_MAGIC(l), "sp_rwlock_rdunlock", "rwlock");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&l->lock);
    if (l->readers == 0) {
        sp__spin_unlock(&l->lock);
        sp__log("sp_rwlock_rdunlock: no read lock is held");
        return -EPERM;
    }
    l->readers--;
    admit_and_unlock(l);
    return 0;
}

int
sp_rwlock_wrunlock(sp_rwlock_t *lp)
{
    struct rwlock *l = (struct rwlock *)lp;
    struct sp__task *self;
    int err = sp__sync_enter(lp, SP_SYNC_MAGIC(l), "sp_rwlock_wrunlock", "rwlock", &self);
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&l->lock);
    if (l->writer != sp_load_relaxed(&self->id_bits)) {
        sp__spin_unlock(&l->lock);
        sp__log("sp_rwlock_wrunlock: the calling task does not hold the write lock");
        return -EPERM;
    }
    l->writer = 0;
    admit_and_unlock(l);
    return 0;
}
