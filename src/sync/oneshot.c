/* Oneshot: one intptr_t value, sent at most once, received at most once.
 *
 * State, under the spinlock: EMPTY -> FULL (sent, waiting in `value`) ->
 * TAKEN (received), or EMPTY -> CLOSED (the sender went away). A send with
 * receivers parked hands the value straight to the first one (through its
 * waiter's data) and goes to TAKEN; the other parked receivers get -EPIPE,
 * as every later recv does, since no value can come any more. A zeroed
 * object is a valid EMPTY oneshot (SP_ONESHOT_INIT). Waiting uses the wait
 * queue of docs/design/sync.md unchanged, so a cancelled receiver either
 * took the value or left it for the next one. */
#include <errno.h>

#include "spindle/chan.h"
#include "sync/object.h"
#include "sync/sync.h"

enum { EMPTY = 0, FULL, TAKEN, CLOSED };

struct oneshot {
    struct sp__spin lock;
    uint32_t magic;
    int state;          /* under lock */
    intptr_t value;     /* under lock; meaningful in FULL */
    struct sp__waitq q; /* receivers; waiter data: their intptr_t */
};
SP_SYNC_FITS(struct oneshot, sp_oneshot_t);

static struct oneshot *
check(sp_oneshot_t *op, const char *fn)
{
    struct oneshot *o = (struct oneshot *)op;
    return sp__sync_check(op, o ? o->magic : 0, fn, "oneshot") < 0 ? NULL : o;
}

/* Lock held. -EPIPE to every parked receiver, flushing when the batch
 * fills (room first: a claimed waiter is granted in the same section). */
static void
fail_receivers(struct oneshot *o, struct sp__wake_list *wl)
{
    for (;;) {
        sp__wake_list_make_room(&o->lock, wl);
        struct sp__waiter *w = sp__waitq_claim(&o->q);
        if (!w) {
            return;
        }
        sp__waitq_grant(&o->q, w, -EPIPE, wl);
    }
}

int
sp_oneshot_init(sp_oneshot_t *op)
{
    if (!op) {
        return sp__sync_null("sp_oneshot_init", "oneshot");
    }
    struct oneshot *o = (struct oneshot *)op;
    *o = (struct oneshot){.magic = SP_SYNC_LIVE, .state = EMPTY};
    sp__waitq_init(&o->q);
    return 0;
}

int
sp_oneshot_destroy(sp_oneshot_t *op)
{
    struct oneshot *o = check(op, "sp_oneshot_destroy");
    if (!o) {
        return -EINVAL;
    }
    sp__spin_lock(&o->lock);
    if (!sp__waitq_is_empty(&o->q)) {
        sp__spin_unlock(&o->lock);
        sp__log("sp_oneshot_destroy: tasks are waiting on the oneshot");
        return -EBUSY;
    }
    o->magic = SP_SYNC_DEAD;
    sp__spin_unlock(&o->lock);
    return 0;
}

int
sp_oneshot_send(sp_oneshot_t *op, intptr_t value)
{
    struct oneshot *o = check(op, "sp_oneshot_send");
    if (!o) {
        return -EINVAL;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&o->lock);
    int err = o->state == EMPTY ? 0 : o->state == CLOSED ? -EPIPE : -EALREADY;
    if (err == 0) {
        struct sp__waiter *w = sp__waitq_claim(&o->q);
        if (w) {
            *(intptr_t *)w->data = value;
            sp__waitq_grant(&o->q, w, 0, &wl);
            o->state = TAKEN;
            fail_receivers(o, &wl);
        } else {
            o->value = value;
            o->state = FULL;
        }
    }
    sp__spin_unlock(&o->lock);
    sp__wake_list_flush(&wl);
    return err;
}

int
sp_oneshot_close(sp_oneshot_t *op)
{
    struct oneshot *o = check(op, "sp_oneshot_close");
    if (!o) {
        return -EINVAL;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&o->lock);
    if (o->state == EMPTY) {
        o->state = CLOSED;
        fail_receivers(o, &wl);
    }
    sp__spin_unlock(&o->lock);
    sp__wake_list_flush(&wl);
    return 0;
}

/* Lock held. 0 with the value taken, -EPIPE, or -EAGAIN (nothing yet). */
static int
take(struct oneshot *o, intptr_t *value)
{
    switch (o->state) {
    case FULL:
        *value = o->value;
        o->state = TAKEN;
        return 0;
    case EMPTY:
        return -EAGAIN;
    default:
        return -EPIPE;
    }
}

int
sp_oneshot_recv(sp_oneshot_t *op, intptr_t *value)
{
    struct oneshot *o = check(op, "sp_oneshot_recv");
    if (!o) {
        return -EINVAL;
    }
    if (!value) {
        return sp__sync_null("sp_oneshot_recv", "value");
    }
    struct sp__task *self = sp__sync_self("sp_oneshot_recv");
    if (!self) {
        return -EPERM;
    }
    sp__spin_lock(&o->lock);
    int err = take(o, value);
    if (err != -EAGAIN) {
        sp__spin_unlock(&o->lock);
        return err;
    }
    struct sp__waiter w = {.data = value};
    sp__waitq_push(&o->q, &w, self);
    return sp__waiter_wait(&o->lock, &o->q, &w);
}

int
sp_oneshot_try_recv(sp_oneshot_t *op, intptr_t *value)
{
    struct oneshot *o = check(op, "sp_oneshot_try_recv");
    if (!o) {
        return -EINVAL;
    }
    if (!value) {
        return sp__sync_null("sp_oneshot_try_recv", "value");
    }
    sp__spin_lock(&o->lock);
    int err = take(o, value);
    sp__spin_unlock(&o->lock);
    return err;
}
