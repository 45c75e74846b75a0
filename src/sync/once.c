/* Once: fn runs exactly once; callers that arrive while it runs wait.
 * `state` goes NEW -> RUNNING (under the lock, by the caller that will run
 * fn) -> DONE (release, under the lock, after fn returned). A caller that
 * reads DONE without the lock (acquire) sees everything fn wrote. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

enum { ONCE_NEW, ONCE_RUNNING, ONCE_DONE };

struct once {
    struct sp__spin lock;
    _Atomic uint32_t state;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct once, sp_once_t);

int
sp_once(sp_once_t *op, void (*fn)(void *arg), void *arg)
{
    struct once *o = (struct once *)op;
    if (!op || !fn) {
        return sp__sync_null("sp_once", op ? "fn" : "once");
    }
    if (sp_load_acquire(&o->state) == ONCE_DONE) {
        return 0;
    }
    struct sp__task *self = sp__sync_self("sp_once");
    if (!self) {
        return -EPERM;
    }
    sp__spin_lock(&o->lock);
    uint32_t st = sp_load_relaxed(&o->state);
    if (st == ONCE_DONE) {
        sp__spin_unlock(&o->lock);
        return 0;
    }
    if (st == ONCE_RUNNING) {
        struct sp__waiter w = {0};
        sp__waitq_push(&o->q, &w, self);
        return sp__waiter_wait(&o->lock, &o->q, &w);
    }
    sp_store_relaxed(&o->state, ONCE_RUNNING);
    sp__spin_unlock(&o->lock);
    fn(arg);
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&o->lock);
    /* release: pairs with the lock-free acquire load above. */
    sp_store_release(&o->state, ONCE_DONE);
    sp__waitq_grant_all(&o->lock, &o->q, o->q.seq, 0, &wl);
    sp__spin_unlock(&o->lock);
    sp__wake_list_flush(&wl);
    return 0;
}
