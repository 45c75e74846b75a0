/* Private header of the sync layer: the spinlock and the wait queue that
 * every task-aware primitive (mutex, semaphore, channel, ...) is built on.
 *
 * A primitive is a small state word plus a wait queue, both guarded by one
 * spinlock held for a few dozen instructions at a time, never across a
 * suspension point or a system call. A task that must wait puts a waiter
 * record on its own stack, links it into the queue, and parks; whoever
 * makes the condition true hands the result over to the waiter (grant)
 * while holding the lock, and wakes its task after releasing it. The
 * protocol and its memory orders are in docs/design/sync.md. */
#ifndef SP_SYNC_SYNC_H
#define SP_SYNC_SYNC_H

#include <stdint.h>

#include "core/core.h"

/* --- spinlock ------------------------------------------------------------ */

struct sp__spin {
    _Atomic uint32_t locked;
};

void sp__spin_lock_slow(struct sp__spin *l);

static inline void
sp__spin_lock(struct sp__spin *l)
{
    uint32_t z = 0;
    /* acquire: pairs with the release in sp__spin_unlock, so the holder sees
     * everything the previous holder wrote under the lock. */
    if (sp_likely(atomic_compare_exchange_weak_explicit(
            &l->locked, &z, 1, memory_order_acquire, memory_order_relaxed))) {
        return;
    }
    sp__spin_lock_slow(l);
}

static inline int
sp__spin_trylock(struct sp__spin *l)
{
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&l->locked, &z, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void
sp__spin_unlock(struct sp__spin *l)
{
    sp_store_release(&l->locked, 0);
}

/* --- wait queue ---------------------------------------------------------- */

struct sp__select;

/* One waiting task, on its own stack. Every field but `done` is read and
 * written only under the lock of the queue it is linked into. */
struct sp__waiter {
    struct sp__waiter *next, *prev;
    struct sp__task *task;
    /* 0 while waiting; the granter stores 1 (release) after `result` and
     * whatever it wrote through `data`, and the waiter reads it (acquire)
     * before it looks at them. Once it is 1 the waiter may return and its
     * stack frame disappear: the granter touches nothing of it after. */
    _Atomic int done;
    int linked;        /* in a queue now */
    int result;        /* what the granter hands over (0 or -errno) */
    uint64_t seq;      /* order of arrival (for "wake those present now") */
    void *data;        /* the primitive's payload: an item buffer, ... */
    uint64_t arg;      /* the primitive's small payload: a count, a mode */
    struct sp__select *sel; /* set for one case of a select (chan.c) */
    int sel_case;           /* that case's index */
};

struct sp__waitq {
    struct sp__waiter *head, *tail;
    uint64_t seq;      /* arrivals so far */
};

/* A select in progress: one per selecting task, shared by its waiters on
 * every channel. `winner` goes from -1 to a case index exactly once (CAS by
 * a granter holding that case's channel lock). */
struct sp__select {
    _Atomic int winner;
};

/* Wakes owed after the lock is released. Tasks carry a reference each
 * (taken under the lock, while the waiter is known to be alive), so a
 * waiter that returns and ends at once cannot leave a dangling pointer. */
#define SP_WAKE_BATCH 16
struct sp__wake_list {
    struct sp__task *t[SP_WAKE_BATCH];
    int n;
    /* Bit i: no reference was taken on t[i], because it is pinned to the
     * granting thread's shard and so cannot run (and end) before this
     * thread's flush (saves two locked instructions per same-shard wake). */
    uint32_t noref;
    /* The granting thread's shard, when the code that set up the list has
     * read it already (its one opaque read, reused for the grants' noref
     * test and the flush's wakes), else NULL: then sp__waitq_grant reads
     * it. Valid because the granter does not switch tasks between setting
     * up the list and flushing it. */
    struct sp__shard *sh;
};

static inline void
sp__waitq_init(struct sp__waitq *q)
{
    q->head = q->tail = NULL;
    q->seq = 0;
}

static inline int
sp__waitq_is_empty(const struct sp__waitq *q)
{
    return q->head == NULL;
}

/* Lock held. Link w at the tail for the calling task. */
void sp__waitq_push(struct sp__waitq *q, struct sp__waiter *w, struct sp__task *self);

/* Lock held. Unlink w (it must be linked). */
void sp__waitq_unlink(struct sp__waitq *q, struct sp__waiter *w);

/* Lock held. The first waiter that may still be granted: select waiters
 * whose select another case already won are unlinked and skipped; a select
 * waiter returned here has won its select (the CAS is done). NULL if none.
 * The waiter stays linked: pass it to sp__waitq_grant. Inline for the
 * common head that is no select waiter. */
struct sp__waiter *sp__waitq_claim_slow(struct sp__waitq *q);

static inline struct sp__waiter *
sp__waitq_claim(struct sp__waitq *q)
{
    struct sp__waiter *w = q->head;
    if (sp_likely(!w || !w->sel)) {
        return w;
    }
    return sp__waitq_claim_slow(q);
}

/* Lock held, w linked. 1 if w may be granted (not a select waiter, or its
 * select is now won by w's case); 0 if its select is over, and then w has
 * been unlinked. */
int sp__waitq_try_claim(struct sp__waitq *q, struct sp__waiter *w);

/* Lock held. Unlink w, hand it `result`, and add its task to wl (flushed
 * by the caller after unlocking, with sp__wake_list_flush). Returns 0, or
 * -EAGAIN if wl is full (nothing done). Make room with
 * sp__wake_list_make_room BEFORE claiming: a claim of a select waiter
 * cannot be taken back. */
int sp__waitq_grant(struct sp__waitq *q, struct sp__waiter *w, int result,
                    struct sp__wake_list *wl);

/* Lock held. If wl is full, release the lock, flush wl and take the lock
 * again; returns 1 then (the protected state may have changed), else 0. */
int sp__wake_list_make_room(struct sp__spin *lock, struct sp__wake_list *wl);

/* Lock NOT held. Wake every task in wl and drop their references. */
void sp__wake_list_flush(struct sp__wake_list *wl);

/* Lock held, w linked by the caller. Release the lock and park until w is
 * granted, the task is cancelled, or its deadline passes. Returns with the
 * lock released: w->result if granted (a grant that races with a
 * cancellation wins: the caller got what it waited for, and the sticky
 * condition shows at its next suspension point), else -ECANCELED or
 * -ETIMEDOUT with w unlinked. */
int sp__waiter_wait(struct sp__spin *lock, struct sp__waitq *q, struct sp__waiter *w);

/* sp__waiter_wait with options:
 *   SP_WAIT_NOINTR          cancellation and the deadline do not end the
 *                           wait (only a grant does);
 *   SP_WAIT_LOCKED_ON_ERROR on -ECANCELED / -ETIMEDOUT return with the lock
 *                           still held, so that the caller can undo its
 *                           arrival in the same critical section as the
 *                           unlink (a barrier's count, an rwlock's queue). */
#define SP_WAIT_NOINTR 0x1u
#define SP_WAIT_LOCKED_ON_ERROR 0x2u
int sp__waiter_wait_ex(struct sp__spin *lock, struct sp__waitq *q, struct sp__waiter *w,
                       unsigned flags);

/* Lock held. Grant `result` to every waiter that arrived before `before`
 * (a q->seq snapshot), releasing the lock to flush wakes whenever a batch
 * fills up. Returns with the lock held and wl flushed except for the last
 * batch (the caller flushes it after unlocking). Counts granted waiters. */
int sp__waitq_grant_all(struct sp__spin *lock, struct sp__waitq *q, uint64_t before,
                        int result, struct sp__wake_list *wl);

/* mutex.c, for the condition variable. The mutex must be live. */
struct sp_mutex;
int sp__mutex_check(struct sp_mutex *m, const char *fn);
int sp__mutex_is_held_by(struct sp_mutex *m, struct sp__task *t);
/* Take m back for self, waiting in line; cancellation does not stop it. */
void sp__mutex_relock(struct sp_mutex *m, struct sp__task *self);

/* call.c, also for group.c: join h to the end, whatever happens to the
 * calling task meanwhile (its cancellation and deadline are masked during
 * the join and restored after). 0, or a join error other than -ECANCELED
 * and -ETIMEDOUT. */
int sp__call_join_nointr(sp_task_t h, intptr_t *result);

/* Common entry checks: the calling task, or NULL after logging "FN: not
 * called from a task". */
struct sp__task *sp__sync_self(const char *fn);

/* The checks at the top of a blocking or owner-tracking call: obj is live
 * (sp__sync_check) and a task is calling. 0 with *self set, or -EINVAL /
 * -EPERM (logged). */
int sp__sync_enter(const void *obj, uint32_t magic, const char *fn, const char *what,
                   struct sp__task **self);

/* magic of an object pointer that may be NULL. */
#define SP_SYNC_MAGIC(p) ((p) ? (p)->magic : 0u)

#endif
