/* Private to the channel files (chan.c, select.c): the channel's layout
 * and the non-blocking steps that both sp_chan_send/recv and sp_select
 * take with the channel's lock held.
 *
 * Invariants, under `lock` (docs/design/sync.md, "Channels"):
 * - a receiver parks only when the ring is empty, and a sender only when
 *   the ring is full (capacity 0: always full and always empty), so live
 *   waiters in recvq imply len == 0, and live waiters in sendq imply
 *   len == cap. Dead select waiters (their select already decided) may
 *   linger in either queue until sp__waitq_claim or their owner unlinks
 *   them.
 * - once closed, nobody parks, and no parked sender's item enters the
 *   channel: close grants -EPIPE to every parked sender and receiver. */
#ifndef SP_SYNC_CHAN_H
#define SP_SYNC_CHAN_H

#include <string.h>

#include "spindle/chan.h"
#include "sync/object.h"
#include "sync/sync.h"

struct sp__chan {
    struct sp__spin lock;
    uint32_t magic;      /* SP_SYNC_LIVE / SP_SYNC_DEAD; written by init and
                          * destroy, read unlocked by the entry checks */
    uint32_t closed;     /* under lock */
    size_t item_size;    /* fixed at init */
    size_t cap;          /* fixed at init */
    size_t head;         /* under lock: ring index of the oldest item */
    size_t len;          /* under lock: items in the ring */
    unsigned char *buf;  /* cap * item_size bytes; NULL when cap == 0 */
    struct sp__waitq sendq; /* waiter data: the sender's item (const) */
    struct sp__waitq recvq; /* waiter data: the receiver's buffer */
};
SP_SYNC_FITS(struct sp__chan, sp_chan_t);

/* The channel behind ch, or NULL after logging "FN: ..." (NULL, destroyed,
 * never initialised). */
struct sp__chan *sp__chan_check(sp_chan_t *ch, const char *fn);

/* Lock held. Complete a send / receive if it can be done without waiting:
 * 0 done, -EPIPE closed (drained, for a receive), -EAGAIN it would wait.
 * Parked tasks this completes are added to wl; wl must have room for one. */
int sp__chan_send_locked(struct sp__chan *c, const void *item, struct sp__wake_list *wl);
int sp__chan_recv_locked(struct sp__chan *c, void *item, struct sp__wake_list *wl);

/* A wake list for one operation, which grants at most one waiter. Only
 * the counters are set: zeroing the whole array would cost more than the
 * rest of a hand-off's bookkeeping. sh: the calling thread's shard if the
 * caller has read it, else NULL (read at the first grant). */
static inline void
sp__chan_wl_init(struct sp__wake_list *wl, struct sp__shard *sh)
{
    wl->n = 0;
    wl->noref = 0;
    wl->sh = sh;
}

static inline void
sp__chan_wl_flush(struct sp__wake_list *wl)
{
    if (wl->n) {
        sp__wake_list_flush(wl);
    }
}

/* Copy one item. Most items are a word or a pointer: a fixed-size copy
 * compiles to one move instead of a call. */
static inline void
sp__chan_copy(const struct sp__chan *c, void *dst, const void *src)
{
    if (sp_likely(c->item_size == sizeof(uint64_t))) {
        memcpy(dst, src, sizeof(uint64_t));
    } else {
        memcpy(dst, src, c->item_size);
    }
}

#endif
