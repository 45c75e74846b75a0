/* Channels between tasks: a bounded MPMC channel of fixed-size items, a
 * oneshot (one value, sent once), and select over several channel
 * operations (Go's select).
 *
 * Like the locks in sync.h these park the calling task, never its thread,
 * and work between tasks on any shards (pinned or stealable). Waiting
 * senders and receivers are served in arrival order. Every blocking call is
 * a suspension point: it returns -ECANCELED once the task is cancelled and
 * -ETIMEDOUT once its deadline (sp_task_set_deadline) has passed, and then
 * nothing was sent or received: no item is lost or delivered twice. A call
 * that can complete without waiting completes even for a cancelled task.
 * try_ calls never suspend and return -EAGAIN where the blocking call would
 * wait.
 *
 * Objects are embeddable: their storage belongs to the caller, who keeps it
 * alive and in place from init until destroy returns. Using an object after
 * destroy (while its memory is still there) returns -EINVAL with a log
 * line; so do NULL objects. The fields are private. docs/api/chan.md has
 * the full contracts. */
#ifndef SPINDLE_CHAN_H
#define SPINDLE_CHAN_H

#include "common.h"

SP_EXTERN_C_BEGIN

/* --- channel ----------------------------------------------------------- */

typedef struct sp_chan {
    uint64_t private_[16];
} sp_chan_t;

/* Largest item_size and capacity accepted by sp_chan_init, and the ring's
 * largest size in bytes (item_size * capacity). */
#define SP_CHAN_ITEM_MAX ((size_t)1 << 20)
#define SP_CHAN_CAP_MAX ((size_t)1 << 30)
#define SP_CHAN_BYTES_MAX ((size_t)1 << 32)

/* A channel of items of item_size bytes holding up to capacity of them.
 * capacity 0 makes it unbuffered (a rendezvous): a send completes only when
 * a receiver takes the item.
 * Suspends: no. Context: any thread.
 * Memory: the ring (item_size * capacity bytes) is malloc'ed here and freed
 *         by sp_chan_destroy.
 * Errors: -EINVAL NULL, item_size 0, item_size > SP_CHAN_ITEM_MAX, capacity
 *         > SP_CHAN_CAP_MAX or the ring > SP_CHAN_BYTES_MAX; -ENOMEM. */
SP_API int sp_chan_init(sp_chan_t *ch, size_t item_size, size_t capacity);

/* Free the ring. Items still buffered are dropped (the channel holds
 * copies, so nothing of the caller's leaks unless items are pointers).
 * Suspends: no. Context: any thread.
 * Errors: -EBUSY tasks are parked on it (it stays usable); -EINVAL. */
SP_API int sp_chan_destroy(sp_chan_t *ch);

/* Send a copy of the item_size bytes at item: straight to the first parked
 * receiver, else into the ring, else wait (FIFO) for room or a receiver.
 * Suspends: yes (only when it must wait). Context: any task.
 * Memory: item is borrowed until the call returns (a parked sender's item
 *         is copied out by the receiver that takes it).
 * Errors: -EPIPE the channel is closed (before or while waiting: not
 *         sent); -ECANCELED, -ETIMEDOUT (not sent); -EINVAL; -EPERM not in
 *         a task. */
SP_API int sp_chan_send(sp_chan_t *ch, const void *item);

/* Receive the oldest item into item (item_size bytes), waiting (FIFO)
 * while there is none.
 * Suspends: yes (only when it must wait). Context: any task.
 * Memory: item is borrowed until the call returns; written only on 0.
 * Errors: -EPIPE closed and drained; -ECANCELED, -ETIMEDOUT (nothing
 *         received); -EINVAL; -EPERM not in a task. */
SP_API int sp_chan_recv(sp_chan_t *ch, void *item);

/* Suspends: no. Context: any task or thread.
 * Errors: -EAGAIN the send would wait (full, or unbuffered and no receiver
 *         parked) / the receive would wait; -EPIPE; -EINVAL. */
SP_API int sp_chan_try_send(sp_chan_t *ch, const void *item);
SP_API int sp_chan_try_recv(sp_chan_t *ch, void *item);

/* Close: later sends fail with -EPIPE, and so do the sends parked now
 * (their items are not sent); receivers first drain what is buffered, then
 * get -EPIPE, and the receivers parked now are woken with -EPIPE.
 * Suspends: no. Context: any task or thread.
 * Errors: -EPIPE closed already; -EINVAL. */
SP_API int sp_chan_close(sp_chan_t *ch);

/* Items buffered now (a snapshot) / the capacity, or -EINVAL. */
SP_API long sp_chan_len(sp_chan_t *ch);
SP_API long sp_chan_cap(sp_chan_t *ch);

/* --- shard-local channel ------------------------------------------------ */

/* A channel with sp_chan_t's semantics (FIFO, direct hand-off, capacity 0
 * for a rendezvous, close, -EPIPE, cancellation and deadlines) for
 * share-nothing code: every call must come from a task pinned to the shard
 * that initialised it (SP_PLACE_LOCAL / SP_PLACE_ON that shard, or
 * sp_task_pin there). It has no lock and no atomic of its own, so a
 * same-shard round trip costs about half of sp_chan_t's (docs/api/chan.md
 * has the numbers). Any other caller gets -EPERM with a log line. Tasks
 * parked on it can still be cancelled from any thread. */
typedef struct sp_lchan {
    uint64_t private_[16];
} sp_lchan_t;

/* Suspends: no. Context: a task pinned to its shard; the channel belongs to
 * that shard from now on.
 * Memory: the ring is malloc'ed here and freed by sp_lchan_destroy.
 * Errors: as sp_chan_init; -EPERM not called from a pinned task. */
SP_API int sp_lchan_init(sp_lchan_t *ch, size_t item_size, size_t capacity);

/* Errors: -EBUSY tasks are parked on it; -EINVAL; -EPERM wrong caller. */
SP_API int sp_lchan_destroy(sp_lchan_t *ch);

/* As sp_chan_send / sp_chan_recv / the try_ calls / sp_chan_close.
 * Suspends: send and recv, only when they must wait. Context: a task pinned
 * to the channel's shard.
 * Errors: as for sp_chan_t; -EPERM called from another shard or from a task
 *         that is not pinned to the channel's shard (nothing done). */
SP_API int sp_lchan_send(sp_lchan_t *ch, const void *item);
SP_API int sp_lchan_recv(sp_lchan_t *ch, void *item);
SP_API int sp_lchan_try_send(sp_lchan_t *ch, const void *item);
SP_API int sp_lchan_try_recv(sp_lchan_t *ch, void *item);
SP_API int sp_lchan_close(sp_lchan_t *ch);

/* --- select ------------------------------------------------------------- */

typedef enum sp_select_op {
    SP_SELECT_SEND = 1,
    SP_SELECT_RECV = 2,
} sp_select_op_t;

/* One operation of a select. item: the item to send (SEND) or the buffer
 * to receive into (RECV), as for sp_chan_send / sp_chan_recv. result is
 * written by the select for the case that completes: 0 (sent / received)
 * or -EPIPE (the channel is closed: nothing sent, or closed and drained). A
 * channel may appear in several cases. */
typedef struct sp_select_case {
    sp_select_op_t op;
    sp_chan_t *ch;
    void *item;
    int result;
} sp_select_case_t;

#define SP_SELECT_MAX 64

/* Wait until one of the n cases can complete, complete exactly that one
 * and return its index. A case on a closed channel counts as ready and
 * completes with result -EPIPE. When several are ready at once, one is
 * picked uniformly at random (as Go does), so none starves.
 * Suspends: yes (only when no case is ready). Context: any task.
 * Memory: cases and the items are borrowed until the call returns.
 * Errors: -ECANCELED, -ETIMEDOUT (no case completed); -EINVAL cases NULL,
 *         n < 1 or > SP_SELECT_MAX, a bad op, a NULL or destroyed channel;
 *         -EPERM not in a task. */
SP_API int sp_select(sp_select_case_t *cases, int n);

/* sp_select without waiting. Suspends: no. Context: any task or thread.
 * Errors: -EAGAIN no case is ready; -EINVAL. */
SP_API int sp_select_try(sp_select_case_t *cases, int n);

/* --- oneshot ------------------------------------------------------------ */

/* One value of type intptr_t (a result code, or a pointer whose ownership
 * travels with it), sent at most once. A oneshot is usually a reply slot:
 * a fixed intptr_t keeps it free of allocation and lets SP_ONESHOT_INIT
 * (zeroes) initialise one statically. */
typedef struct sp_oneshot {
    uint64_t private_[6];
} sp_oneshot_t;
#define SP_ONESHOT_INIT {{0}}

/* Suspends: no. Context: any thread. Errors: -EINVAL NULL. */
SP_API int sp_oneshot_init(sp_oneshot_t *o);
/* Errors: -EBUSY a task is parked in recv; -EINVAL. */
SP_API int sp_oneshot_destroy(sp_oneshot_t *o);

/* Deliver value: to a parked receiver at once, else it waits in the
 * oneshot for the first recv.
 * Suspends: no. Context: any task or thread.
 * Errors: -EALREADY a value was sent already (this one is not); -EPIPE
 *         closed by sp_oneshot_close before any send; -EINVAL. */
SP_API int sp_oneshot_send(sp_oneshot_t *o, intptr_t value);

/* The sender goes away without sending (its "drop"): receivers get -EPIPE.
 * After a send it changes nothing (the value stays for the receiver).
 * Suspends: no. Context: any task or thread. Errors: -EINVAL. */
SP_API int sp_oneshot_close(sp_oneshot_t *o);

/* Wait for the value and take it: exactly one recv gets it.
 * Suspends: yes (until a send or close). Context: any task.
 * Errors: -EPIPE closed without a value, or the value was taken already;
 *         -ECANCELED, -ETIMEDOUT (value not taken); -EINVAL; -EPERM. */
SP_API int sp_oneshot_recv(sp_oneshot_t *o, intptr_t *value);

/* Errors: -EAGAIN nothing sent yet; otherwise as sp_oneshot_recv. */
SP_API int sp_oneshot_try_recv(sp_oneshot_t *o, intptr_t *value);

SP_EXTERN_C_END

#endif
