/* Shard-local channel: sp_chan_t's semantics without its lock, for tasks
 * pinned to one shard (share-nothing code).
 *
 * Every call checks that it runs on the channel's shard, in a task pinned
 * there; such a task never runs on another thread. So the whole state (the
 * ring, `closed`, the two wait queues and the waiter records in them) is
 * touched by one thread only, and a call is a critical section by itself:
 * a task runs until it suspends, and no call suspends between looking at
 * the state and changing it. Hence no spinlock and no atomic of the
 * channel's own.
 *
 * What stays shared is each parked task's state word: a task parked here
 * may be cancelled (or reach its deadline, or get a stale wake) from any
 * thread, so parking and waking go through the task state word protocol
 * unchanged (docs/design/deque.md): sp__park, and sp__wake_on for the
 * grant. Because a waiter's task is pinned here, the grant needs no
 * reference on it (as the noref case of docs/design/sync.md) and wakes it
 * into this shard's FIFO at once.
 *
 * The transfer rules are those of sp_chan_t (docs/design/sync.md,
 * "Channels"): a receiver parks only on an empty ring, a sender only on a
 * full one; the party that finds the other side parked completes the whole
 * transfer; a woken party never retries. A waiter that wakes without a
 * grant (cancellation, deadline) unlinks itself: nothing else can run in
 * between, so it either was granted or withdraws, never both. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "spindle/chan.h"
#include "sync/object.h"
#include "sync/sync.h"

struct sp__lchan {
    uint32_t magic;          /* SP_SYNC_LIVE / SP_SYNC_DEAD */
    int shard;               /* the owning shard's index; fixed at init */
    struct sp_runtime *rt;   /* the owning shard's runtime; fixed at init */
    uint32_t closed;
    size_t item_size;
    size_t cap;
    size_t head;             /* ring index of the oldest item */
    size_t len;              /* items in the ring */
    unsigned char *buf;      /* cap * item_size bytes; NULL when cap == 0 */
    struct sp__waitq sendq;  /* waiter data: the sender's item (const) */
    struct sp__waitq recvq;  /* waiter data: the receiver's buffer */
};
SP_SYNC_FITS(struct sp__lchan, sp_lchan_t);

static int
wrong_caller(const char *fn, const struct sp__lchan *c, struct sp__shard *sh,
             struct sp__task *self)
{
    if (!self) {
        sp__log("%s: not called from a task", fn);
    } else if (sh->rt != c->rt || sh->index != c->shard) {
        sp__log("%s: called on shard %d; the channel belongs to shard %d of %s runtime",
                fn, sh->index, c->shard, sh->rt == c->rt ? "this" : "another");
    } else {
        sp__log("%s: task %s is not pinned to shard %d (a stealable task may move; "
                "use SP_PLACE_LOCAL or sp_task_pin)", fn, self->name, c->shard);
    }
    return -EPERM;
}

/* The checks at the top of every call: the channel is live, and the caller
 * is a task pinned to its shard. 0 with *c and *sh set, or -EINVAL /
 * -EPERM (logged). */
static inline int
enter(sp_lchan_t *ch, const char *fn, struct sp__lchan **c, struct sp__shard **sh)
{
    struct sp__lchan *l = (struct sp__lchan *)ch;
    if (sp_unlikely(sp__sync_check_obj(ch, l ? l->magic : 0, 0, fn, "channel") < 0)) {
        return -EINVAL;
    }
    struct sp__shard *cur = sp__shard_current();
    struct sp__task *self = cur ? sp_load_relaxed(&cur->current) : NULL;
    /* home is written only by the task itself, so a relaxed load of our
     * own field reads what we wrote. */
    if (sp_unlikely(!self || cur->rt != l->rt || cur->index != l->shard ||
                    sp_load_relaxed(&self->home) != l->shard)) {
        return wrong_caller(fn, l, cur, self);
    }
    *c = l;
    *sh = cur;
    return 0;
}

static inline void
copy(const struct sp__lchan *c, void *dst, const void *src)
{
    if (sp_likely(c->item_size == sizeof(uint64_t))) {
        memcpy(dst, src, sizeof(uint64_t));
    } else {
        memcpy(dst, src, c->item_size);
    }
}

static inline unsigned char *
slot(struct sp__lchan *c, size_t i)
{
    size_t k = c->head + i;
    if (k >= c->cap) {
        k -= c->cap;
    }
    return c->buf + k * c->item_size;
}

/* Hand `result` to the first waiter of q and wake its task. Relaxed is
 * enough for `done`: the waiter reads it on this same thread, after this
 * thread switched to it (sp__waitq_grant's release is for cross-thread
 * granters). */
static inline void
grant(struct sp__shard *sh, struct sp__waitq *q, struct sp__waiter *w, int result)
{
    struct sp__task *t = w->task;
    sp__waitq_unlink(q, w);
    w->result = result;
    sp_store_relaxed(&w->done, 1);
    sp__wake_on(sh, t);
}

static int
send_now(struct sp__lchan *c, struct sp__shard *sh, const void *item)
{
    if (sp_unlikely(c->closed)) {
        return -EPIPE;
    }
    struct sp__waiter *w = c->recvq.head;
    if (w) {
        copy(c, w->data, item);
        grant(sh, &c->recvq, w, 0);
        return 0;
    }
    if (c->len < c->cap) {
        copy(c, slot(c, c->len), item);
        c->len++;
        return 0;
    }
    return -EAGAIN;
}

static int
recv_now(struct sp__lchan *c, struct sp__shard *sh, void *item)
{
    struct sp__waiter *w;
    if (c->len > 0) {
        copy(c, item, slot(c, 0));
        c->head = c->head + 1 == c->cap ? 0 : c->head + 1;
        c->len--;
        /* Refill the freed slot from the first parked sender (not after
         * close: its sender is owed -EPIPE). */
        if (sp_likely(!c->closed) && (w = c->sendq.head) != NULL) {
            copy(c, slot(c, c->len), w->data);
            c->len++;
            grant(sh, &c->sendq, w, 0);
        }
        return 0;
    }
    if (sp_likely(!c->closed) && (w = c->sendq.head) != NULL) {
        /* Empty ring and a parked sender: capacity 0 (a rendezvous). */
        copy(c, item, w->data);
        grant(sh, &c->sendq, w, 0);
        return 0;
    }
    return c->closed ? -EPIPE : -EAGAIN;
}

/* Park in q until granted, cancelled or past the deadline. A park that
 * returns without a grant and without an error is a stale wake. */
static int
wait(struct sp__waitq *q, struct sp__waiter *w, struct sp__task *self)
{
    sp__waitq_push(q, w, self);
    for (;;) {
        int err = sp__park(SP_DEADLINE_NONE);
        if (sp_load_relaxed(&w->done)) {
            return w->result;
        }
        if (err < 0) {
            sp__waitq_unlink(q, w);
            return err;
        }
    }
}

int
sp_lchan_init(sp_lchan_t *ch, size_t item_size, size_t capacity)
{
    const char *fn = "sp_lchan_init";
    if (!ch) {
        return sp__sync_null(fn, "channel");
    }
    struct sp__shard *sh = sp__shard_current();
    struct sp__task *self = sh ? sp_load_relaxed(&sh->current) : NULL;
    if (!self || sp_load_relaxed(&self->home) != sh->index) {
        sp__log("%s: %s", fn,
                self ? "the calling task is not pinned to its shard (use SP_PLACE_LOCAL "
                       "or sp_task_pin)"
                     : "not called from a task");
        return -EPERM;
    }
    if (item_size == 0 || item_size > SP_CHAN_ITEM_MAX) {
        sp__log("%s: item size %zu is 0 or above SP_CHAN_ITEM_MAX", fn, item_size);
        return -EINVAL;
    }
    if (capacity > SP_CHAN_CAP_MAX || item_size * capacity > SP_CHAN_BYTES_MAX) {
        sp__log("%s: capacity %zu of %zu-byte items is too large", fn, capacity, item_size);
        return -EINVAL;
    }
    unsigned char *buf = NULL;
    if (capacity > 0 && !(buf = malloc(item_size * capacity))) {
        return -ENOMEM;
    }
    struct sp__lchan *c = (struct sp__lchan *)ch;
    *c = (struct sp__lchan){.magic = SP_SYNC_LIVE, .shard = sh->index, .rt = sh->rt,
                            .item_size = item_size, .cap = capacity, .buf = buf};
    sp__waitq_init(&c->sendq);
    sp__waitq_init(&c->recvq);
    return 0;
}

int
sp_lchan_destroy(sp_lchan_t *ch)
{
    struct sp__lchan *c = NULL;
    struct sp__shard *sh = NULL;
    int err = enter(ch, "sp_lchan_destroy", &c, &sh);
    if (err < 0) {
        return err;
    }
    if (!sp__waitq_is_empty(&c->sendq) || !sp__waitq_is_empty(&c->recvq)) {
        sp__log("sp_lchan_destroy: tasks are parked on the channel");
        return -EBUSY;
    }
    c->magic = SP_SYNC_DEAD;
    free(c->buf);
    c->buf = NULL;
    c->len = 0;
    return 0;
}

int
sp_lchan_send(sp_lchan_t *ch, const void *item)
{
    struct sp__lchan *c = NULL;
    struct sp__shard *sh = NULL;
    int err = enter(ch, "sp_lchan_send", &c, &sh);
    if (sp_unlikely(err < 0)) {
        return err;
    }
    if (sp_unlikely(!item)) {
        return sp__sync_null("sp_lchan_send", "item");
    }
    err = send_now(c, sh, item);
    if (err != -EAGAIN) {
        return err;
    }
    /* The waiter's data is only read (by the receiver that takes it). */
    struct sp__waiter w = {.data = (void *)item};
    return wait(&c->sendq, &w, sp_load_relaxed(&sh->current));
}

int
sp_lchan_recv(sp_lchan_t *ch, void *item)
{
    struct sp__lchan *c = NULL;
    struct sp__shard *sh = NULL;
    int err = enter(ch, "sp_lchan_recv", &c, &sh);
    if (sp_unlikely(err < 0)) {
        return err;
    }
    if (sp_unlikely(!item)) {
        return sp__sync_null("sp_lchan_recv", "item");
    }
    err = recv_now(c, sh, item);
    if (err != -EAGAIN) {
        return err;
    }
    struct sp__waiter w = {.data = item};
    return wait(&c->recvq, &w, sp_load_relaxed(&sh->current));
}

int
sp_lchan_try_send(sp_lchan_t *ch, const void *item)
{
    struct sp__lchan *c = NULL;
    struct sp__shard *sh = NULL;
    int err = enter(ch, "sp_lchan_try_send", &c, &sh);
    if (err < 0) {
        return err;
    }
    return item ? send_now(c, sh, item) : sp__sync_null("sp_lchan_try_send", "item");
}

int
sp_lchan_try_recv(sp_lchan_t *ch, void *item)
{
    struct sp__lchan *c = NULL;
    struct sp__shard *sh = NULL;
    int err = enter(ch, "sp_lchan_try_recv", &c, &sh);
    if (err < 0) {
        return err;
    }
    return item ? recv_now(c, sh, item) : sp__sync_null("sp_lchan_try_recv", "item");
}

int
sp_lchan_close(sp_lchan_t *ch)
{
    struct sp__lchan *c = NULL;
    struct sp__shard *sh = NULL;
    int err = enter(ch, "sp_lchan_close", &c, &sh);
    if (err < 0) {
        return err;
    }
    if (c->closed) {
        return -EPIPE;
    }
    c->closed = 1;
    while (c->sendq.head) {
        grant(sh, &c->sendq, c->sendq.head, -EPIPE);
    }
    while (c->recvq.head) {
        grant(sh, &c->recvq, c->recvq.head, -EPIPE);
    }
    return 0;
}
