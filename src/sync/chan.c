/* Bounded MPMC channel of fixed-size items.
 *
 * State, under one spinlock: a ring of `cap` items (malloc'ed at init), a
 * closed flag, and two wait queues, parked senders and parked receivers
 * (src/sync/chan.h lists the invariants). Items move by direct hand-off
 * whenever someone is parked on the other side:
 * - a send that finds a parked receiver copies its item straight into the
 *   receiver's buffer (waiter data) and grants it; the ring is not touched;
 * - a receive from a full ring takes the oldest item and moves the first
 *   parked sender's item into the freed slot, granting that sender; with
 *   capacity 0 it copies straight from the parked sender's item.
 * So an item is copied at most twice, FIFO order holds across the ring and
 * the parked senders, and a grant always completes the whole operation:
 * a woken task never retries. Cancellation and deadlines go through
 * sp__waiter_wait, under whose lock the waiter either was granted (its
 * item moved) or withdraws (it did not): nothing lost, nothing doubled.
 * The protocol is in docs/design/sync.md ("Channels"). */
#include <errno.h>
#include <stdlib.h>

#include "sched/sched.h"
#include "sync/chan.h"

struct sp__chan *
sp__chan_check(sp_chan_t *ch, const char *fn)
{
    struct sp__chan *c = (struct sp__chan *)ch;
    if (sp__sync_check_obj(ch, c ? c->magic : 0, 0, fn, "channel") < 0) {
        return NULL;
    }
    return c;
}

/* The checks at the top of sp_chan_send/recv: 0, or -EINVAL / -EPERM
 * (logged). With sh set, *sh and *self are the calling thread's shard and
 * task, from one opaque read that the operation reuses for its grant and
 * wake (it does not switch tasks before it parks). */
static inline int
enter(sp_chan_t *ch, const void *item, const char *fn, struct sp__chan **c,
      struct sp__shard **sh, struct sp__task **self)
{
    *c = sp__chan_check(ch, fn);
    if (sp_unlikely(!*c)) {
        return -EINVAL;
    }
    if (sp_unlikely(!item)) {
        return sp__sync_null(fn, "item");
    }
    if (sh) {
        *sh = sp__shard_current();
        *self = *sh ? sp_load_relaxed(&(*sh)->current) : NULL;
        if (sp_unlikely(!*self)) {
            sp__log("%s: not called from a task", fn);
            return -EPERM;
        }
    }
    return 0;
}

static inline unsigned char *
slot(struct sp__chan *c, size_t i)
{
    size_t k = c->head + i;
    if (k >= c->cap) {
        k -= c->cap;
    }
    return c->buf + k * c->item_size;
}

int
sp__chan_send_locked(struct sp__chan *c, const void *item, struct sp__wake_list *wl)
{
    if (sp_unlikely(c->closed)) {
        return -EPIPE;
    }
    struct sp__waiter *w = sp__waitq_claim(&c->recvq);
    if (w) {
        sp__chan_copy(c, w->data, item);
        sp__waitq_grant(&c->recvq, w, 0, wl);
        return 0;
    }
    if (c->len < c->cap) {
        sp__chan_copy(c, slot(c, c->len), item);
        c->len++;
        return 0;
    }
    return -EAGAIN;
}

/* The ring had room freed at its tail: refill it from the first parked
 * sender, if any (not after close: its sender is owed -EPIPE). */
static void
refill(struct sp__chan *c, struct sp__wake_list *wl)
{
    struct sp__waiter *w;
    if (sp_likely(!c->closed) && (w = sp__waitq_claim(&c->sendq)) != NULL) {
        sp__chan_copy(c, slot(c, c->len), w->data);
        c->len++;
        sp__waitq_grant(&c->sendq, w, 0, wl);
    }
}

int
sp__chan_recv_locked(struct sp__chan *c, void *item, struct sp__wake_list *wl)
{
    if (c->len > 0) {
        sp__chan_copy(c, item, slot(c, 0));
        c->head = c->head + 1 == c->cap ? 0 : c->head + 1;
        c->len--;
        refill(c, wl);
        return 0;
    }
    struct sp__waiter *w;
    if (sp_likely(!c->closed) && (w = sp__waitq_claim(&c->sendq)) != NULL) {
        /* Empty ring and a parked sender: capacity 0 (a rendezvous). */
        sp__chan_copy(c, item, w->data);
        sp__waitq_grant(&c->sendq, w, 0, wl);
        return 0;
    }
    return c->closed ? -EPIPE : -EAGAIN;
}

int
sp_chan_init(sp_chan_t *ch, size_t item_size, size_t capacity)
{
    if (!ch) {
        return sp__sync_null("sp_chan_init", "channel");
    }
    if (item_size == 0) {
        sp__log("sp_chan_init: zero item size");
        return -EINVAL;
    }
    if (item_size > SP_CHAN_ITEM_MAX) {
        sp__log("sp_chan_init: item size %zu is above SP_CHAN_ITEM_MAX", item_size);
        return -EINVAL;
    }
    if (capacity > SP_CHAN_CAP_MAX || item_size * capacity > SP_CHAN_BYTES_MAX) {
        sp__log("sp_chan_init: capacity %zu of %zu-byte items is too large", capacity,
                item_size);
        return -EINVAL;
    }
    unsigned char *buf = NULL;
    if (capacity > 0 && !(buf = malloc(item_size * capacity))) {
        return -ENOMEM;
    }
    struct sp__chan *c = (struct sp__chan *)ch;
    *c = (struct sp__chan){
        .magic = SP_SYNC_LIVE, .item_size = item_size, .cap = capacity, .buf = buf};
    sp__waitq_init(&c->sendq);
    sp__waitq_init(&c->recvq);
    return 0;
}

int
sp_chan_destroy(sp_chan_t *ch)
{
    struct sp__chan *c = sp__chan_check(ch, "sp_chan_destroy");
    if (!c) {
        return -EINVAL;
    }
    sp__spin_lock(&c->lock);
    if (!sp__waitq_is_empty(&c->sendq) || !sp__waitq_is_empty(&c->recvq)) {
        sp__spin_unlock(&c->lock);
        sp__log("sp_chan_destroy: tasks are parked on the channel");
        return -EBUSY;
    }
    c->magic = SP_SYNC_DEAD;
    unsigned char *buf = c->buf;
    c->buf = NULL;
    c->len = 0;
    sp__spin_unlock(&c->lock);
    free(buf);
    return 0;
}

int
sp_chan_send(sp_chan_t *ch, const void *item)
{
    struct sp__chan *c;
    struct sp__shard *sh;
    struct sp__task *self;
    int err = enter(ch, item, "sp_chan_send", &c, &sh, &self);
    if (sp_unlikely(err < 0)) {
        return err;
    }
    struct sp__wake_list wl;
    sp__chan_wl_init(&wl, sh);
    sp__spin_lock(&c->lock);
    err = sp__chan_send_locked(c, item, &wl);
    if (err != -EAGAIN) {
        sp__spin_unlock(&c->lock);
        sp__chan_wl_flush(&wl);
        return err;
    }
    /* The waiter's data is only read (by the receiver that takes it). */
    struct sp__waiter w = {.data = (void *)item};
    sp__waitq_push(&c->sendq, &w, self);
    return sp__waiter_wait(&c->lock, &c->sendq, &w);
}

int
sp_chan_recv(sp_chan_t *ch, void *item)
{
    struct sp__chan *c;
    struct sp__shard *sh;
    struct sp__task *self;
    int err = enter(ch, item, "sp_chan_recv", &c, &sh, &self);
    if (sp_unlikely(err < 0)) {
        return err;
    }
    struct sp__wake_list wl;
    sp__chan_wl_init(&wl, sh);
    sp__spin_lock(&c->lock);
    err = sp__chan_recv_locked(c, item, &wl);
    if (err != -EAGAIN) {
        sp__spin_unlock(&c->lock);
        sp__chan_wl_flush(&wl);
        return err;
    }
    struct sp__waiter w = {.data = item};
    sp__waitq_push(&c->recvq, &w, self);
    return sp__waiter_wait(&c->lock, &c->recvq, &w);
}

int
sp_chan_try_send(sp_chan_t *ch, const void *item)
{
    struct sp__chan *c;
    int err = enter(ch, item, "sp_chan_try_send", &c, NULL, NULL);
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl;
    sp__chan_wl_init(&wl, NULL);
    sp__spin_lock(&c->lock);
    err = sp__chan_send_locked(c, item, &wl);
    sp__spin_unlock(&c->lock);
    sp__chan_wl_flush(&wl);
    return err;
}

int
sp_chan_try_recv(sp_chan_t *ch, void *item)
{
    struct sp__chan *c;
    int err = enter(ch, item, "sp_chan_try_recv", &c, NULL, NULL);
    if (err < 0) {
        return err;
    }
    struct sp__wake_list wl;
    sp__chan_wl_init(&wl, NULL);
    sp__spin_lock(&c->lock);
    err = sp__chan_recv_locked(c, item, &wl);
    sp__spin_unlock(&c->lock);
    sp__chan_wl_flush(&wl);
    return err;
}

/* Lock held. Grant -EPIPE to everyone in q, dropping the lock to flush
 * whenever the wake list fills. Room is made before each claim: a claimed
 * select waiter must be granted in the same critical section (its select
 * relies on that when it re-takes our lock to read its result). */
static void
fail_all(struct sp__chan *c, struct sp__waitq *q, struct sp__wake_list *wl)
{
    for (;;) {
        sp__wake_list_make_room(&c->lock, wl);
        struct sp__waiter *w = sp__waitq_claim(q);
        if (!w) {
            return;
        }
        sp__waitq_grant(q, w, -EPIPE, wl);
    }
}

int
sp_chan_close(sp_chan_t *ch)
{
    struct sp__chan *c = sp__chan_check(ch, "sp_chan_close");
    if (!c) {
        return -EINVAL;
    }
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&c->lock);
    if (c->closed) {
        sp__spin_unlock(&c->lock);
        return -EPIPE;
    }
    /* Set first: while fail_all drops the lock to flush, no task parks
     * and no parked sender's item is pulled into the ring. */
    c->closed = 1;
    fail_all(c, &c->sendq, &wl);
    fail_all(c, &c->recvq, &wl);
    sp__spin_unlock(&c->lock);
    sp__wake_list_flush(&wl);
    return 0;
}

static long
read_size(sp_chan_t *ch, const char *fn, int want_len)
{
    struct sp__chan *c = sp__chan_check(ch, fn);
    if (!c) {
        return -EINVAL;
    }
    if (!want_len) {
        return (long)c->cap; /* fixed at init */
    }
    sp__spin_lock(&c->lock);
    long n = (long)c->len;
    sp__spin_unlock(&c->lock);
    return n;
}

long
sp_chan_len(sp_chan_t *ch)
{
    return read_size(ch, "sp_chan_len", 1);
}

long
sp_chan_cap(sp_chan_t *ch)
{
    return read_size(ch, "sp_chan_cap", 0);
}
