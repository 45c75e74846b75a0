/* Wait group (Go's sync.WaitGroup): a counter; waiters are released when
 * it reaches zero. State under the spinlock: `count` and the queue. A
 * counter that would go negative is refused (-EINVAL) instead of Go's
 * panic, and left unchanged. */
#include <errno.h>
#include <limits.h>

#include "spindle/sync.h"
#include "sync/object.h"
#include "sync/sync.h"

struct waitgroup {
    struct sp__spin lock;
    uint32_t magic;
    long count;
    struct sp__waitq q;
};
SP_SYNC_FITS(struct waitgroup, sp_waitgroup_t);

int
sp_waitgroup_init(sp_waitgroup_t *gp)
{
    if (!gp) {
        return sp__sync_null("sp_waitgroup_init", "wait group");
    }
    struct waitgroup *g = (struct waitgroup *)gp;
    *g = (struct waitgroup){.magic = SP_SYNC_LIVE};
    sp__waitq_init(&g->q);
    return 0;
}

int
sp_waitgroup_destroy(sp_waitgroup_t *gp)
{
    struct waitgroup *g = (struct waitgroup *)gp;
    int err = sp__sync_check(gp, SP_SYNC_MAGIC(g), "sp_waitgroup_destroy", "wait group");
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&g->lock);
    return sp__sync_retire(&g->lock, &g->magic, !sp__waitq_is_empty(&g->q),
                           "sp_waitgroup_destroy", "wait group");
}

int
sp_waitgroup_add(sp_waitgroup_t *gp, long delta)
{
    struct waitgroup *g = (struct waitgroup *)gp;
    int err = sp__sync_check(gp, SP_SYNC_MAGIC(g), "sp_waitgroup_add", "wait group");
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&g->lock);
    if ((delta < 0 && g->count < -delta) || (delta > 0 && g->count > LONG_MAX - delta)) {
        long was = g->count;
        sp__spin_unlock(&g->lock);
        sp__log("sp_waitgroup_add: counter %ld %+ld is out of range", was, delta);
        return -EINVAL;
    }
    g->count += delta;
    if (g->count == 0) {
        sp__waitq_grant_all(&g->lock, &g->q, g->q.seq, 0, &wl);
    }
    sp__spin_unlock(&g->lock);
    sp__wake_list_flush(&wl);
    return 0;
}

int
sp_waitgroup_done(sp_waitgroup_t *g)
{
    return sp_waitgroup_add(g, -1);
}

int
sp_waitgroup_wait(sp_waitgroup_t *gp)
{
    struct waitgroup *g = (struct waitgroup *)gp;
    struct sp__task *self;
    int err = sp__sync_enter(gp, SP_SYNC_MAGIC(g), "sp_waitgroup_wait", "wait group", &self);
    if (err < 0) {
        return err;
    }
    sp__spin_lock(&g->lock);
    if (g->count == 0) {
        sp__spin_unlock(&g->lock);
        return 0;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&g->q, &w, self);
    return sp__waiter_wait(&g->lock, &g->q, &w);
}
