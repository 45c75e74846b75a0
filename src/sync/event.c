/* Event: a flag that tasks wait for. set releases every waiter and lets
 * later waits through until reset. The flag is also read without the lock
 * (acquire, pairing with the release store in sp_event_set), so a wait on
 * a set event costs one load. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

struct event {
    struct sp__spin lock;
    uint32_t magic;
    _Atomic uint32_t set;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct event, sp_event_t);

int
sp_event_init(sp_event_t *ep)
{
    if (!ep) {
        return sp__sync_null("sp_event_init", "event");
    }
    struct event *e = (struct event *)ep;
    *e = (struct event){.magic = SP_SYNC_LIVE};
    sp__waitq_init(&e->q);
    return 0;
}

int
sp_event_destroy(sp_event_t *ep)
{
    struct event *e = (struct event *)ep;
    int err = sp__sync_check(ep, SP_SYNC_MAGIC(e), "sp_event_destroy", "event");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&e->lock);
    return sp__sync_retire(&e->lock, &e->magic, !sp__waitq_is_empty(&e->q),
                           "sp_event_destroy", "event");
}

int
sp_event_wait(sp_event_t *ep)
{
    struct event *e = (struct event *)ep;
    struct sp__task *self;
    int err = sp__sync_enter(ep, SP_SYNC_MAGIC(e), "sp_event_wait", "event", &self);
    if (err < 0) {
        return err;
    }
    if (sp_load_acquire(&e->set)) {
        return 0;
    }
    sp__spin_lock(&e->lock);
    if (sp_load_relaxed(&e->set)) {
        sp__spin_unlock(&e->lock);
        return 0;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&e->q, &w, self);
    return sp__waiter_wait(&e->lock, &e->q, &w);
}

int
sp_event_set(sp_event_t *ep)
{
    struct event *e = (struct event *)ep;
    int err = sp__sync_check(ep, SP_SYNC_MAGIC(e), "sp_event_set", "event");
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&e->lock);
    /* release: pairs with the lock-free acquire load in sp_event_wait, so
     * a waiter that sees the flag also sees what the setter wrote before. */
    sp_store_release(&e->set, 1);
    sp__waitq_grant_all(&e->lock, &e->q, e->q.seq, 0, &wl);
    sp__spin_unlock(&e->lock);
    sp__wake_list_flush(&wl);
    return 0;
}

int
sp_event_reset(sp_event_t *ep)
{
    struct event *e = (struct event *)ep;
    int err = sp__sync_check(ep, SP_SYNC_MAGIC(e), "sp_event_reset", "event");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&e->lock);
    sp_store_relaxed(&e->set, 0);
    sp__spin_unlock(&e->lock);
    return 0;
}

int
sp_event_is_set(sp_event_t *ep)
{
    struct event *e = (struct event *)ep;
    int err = sp__sync_check(ep, SP_SYNC_MAGIC(e), "sp_event_is_set", "event");
    return err < 0 ? err : (int)sp_load_acquire(&e->set);
}
