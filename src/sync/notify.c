/* Notify: a wake-up signal without data, with at most one stored permit
 * (tokio's Notify). State under the spinlock: `permit` and the queue. */
#include <errno.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

struct notify {
    struct sp__spin lock;
    uint32_t magic;
    uint32_t permit;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct notify, sp_notify_t);

int
sp_notify_init(sp_notify_t *np)
{
    if (!np) {
        return sp__sync_null("sp_notify_init", "notify");
    }
    struct notify *n = (struct notify *)np;
    *n = (struct notify){.magic = SP_SYNC_LIVE};
    sp__waitq_init(&n->q);
    return 0;
}

int
sp_notify_destroy(sp_notify_t *np)
{
    struct notify *n = (struct notify *)np;
    int err = sp__sync_check(np, SP_SYNC_MAGIC(n), "sp_notify_destroy", "notify");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&n->lock);
    return sp__sync_retire(&n->lock, &n->magic, !sp__waitq_is_empty(&n->q),
                           "sp_notify_destroy", "notify");
}

static int
wait(sp_notify_t *np, const char *fn, int block)
{
    struct notify *n = (struct notify *)np;
    struct sp__task *self;
    int err = sp__sync_enter(np, SP_SYNC_MAGIC(n), fn, "notify", &self);
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&n->lock);
    if (n->permit) {
        n->permit = 0;
        sp__spin_unlock(&n->lock);
        return 0;
    }
    if (!block) {
        sp__spin_unlock(&n->lock);
        return -EAGAIN;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&n->q, &w, self);
    return sp__waiter_wait(&n->lock, &n->q, &w);
}

int
sp_notify_wait(sp_notify_t *n)
{
    return wait(n, "sp_notify_wait", 1);
}

int
sp_notify_try_wait(sp_notify_t *n)
{
    return wait(n, "sp_notify_try_wait", 0);
}

int
sp_notify_one(sp_notify_t *np)
{
    struct notify *n = (struct notify *)np;
    int err = sp__sync_check(np, SP_SYNC_MAGIC(n), "sp_notify_one", "notify");
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&n->lock);
    struct sp__waiter *w = sp__waitq_claim(&n->q);
    if (w) {
        sp__waitq_grant(&n->q, w, 0, &wl);
    } else {
        n->permit = 1;
    }
    sp__spin_unlock(&n->lock);
    sp__wake_list_flush(&wl);
    return 0;
}

int
sp_notify_all(sp_notify_t *np)
{
    struct notify *n = (struct notify *)np;
    int err = sp__sync_check(np, SP_SYNC_MAGIC(n), "sp_notify_all", "notify");
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&n->lock);
    int woken = sp__waitq_grant_all(&n->lock, &n->q, n->q.seq, 0, &wl);
    sp__spin_unlock(&n->lock);
    sp__wake_list_flush(&wl);
    return woken;
}
