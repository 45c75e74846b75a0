/* The wait queue under every task-aware primitive, and its spinlock.
 *
 * Protocol (docs/design/sync.md has it with the proof that no wakeup is
 * lost):
 * 1. The waiter, holding the primitive's lock, finds it cannot proceed,
 *    links a waiter record from its own stack, releases the lock and parks.
 * 2. A granter, holding the lock, unlinks the waiter, writes the result
 *    (and any payload through w->data), takes a reference on the task and
 *    stores done = 1 (release). After releasing the lock it wakes the task
 *    and drops the reference.
 * 3. The waiter returns once it reads done = 1 (acquire). A park that ends
 *    for another reason (a stale wake, cancellation, the deadline) re-takes
 *    the lock: under it, done cannot change, so the waiter either takes the
 *    grant or unlinks itself, never both and never neither.
 * A wake that reaches the task after it returned is harmless: parks may
 * return spuriously and every caller loops on its own condition. */
#include <errno.h>
#include <sched.h>

#include "sched/sched.h"
#include "sync/object.h"
#include "sync/sync.h"

/* Spins before the lock holder is assumed descheduled and the CPU given
 * away: critical sections are a few dozen instructions, so a holder that
 * takes longer than ~100 pauses is off its CPU (common on shared VMs). */
#define SPIN_BEFORE_YIELD 128

void
sp__spin_lock_slow(struct sp__spin *l)
{
    unsigned spins = 0;
    for (;;) {
        /* Test before test-and-set: wait on a shared copy of the line. */
        while (sp_load_relaxed(&l->locked)) {
            if (++spins < SPIN_BEFORE_YIELD) {
                sp_cpu_relax();
            } else {
                sched_yield();
            }
        }
        if (sp__spin_trylock(l)) {
            return;
        }
    }
}

void
sp__waitq_push(struct sp__waitq *q, struct sp__waiter *w, struct sp__task *self)
{
    w->task = self;
    atomic_init(&w->done, 0);
    w->result = 0;
    w->seq = q->seq++;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail) {
        q->tail->next = w;
    } else {
        q->head = w;
    }
    q->tail = w;
    w->linked = 1;
}

void
sp__waitq_unlink(struct sp__waitq *q, struct sp__waiter *w)
{
    SP_ASSERT(w->linked);
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        q->head = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    } else {
        q->tail = w->prev;
    }
    w->next = w->prev = NULL;
    w->linked = 0;
}

int
sp__waitq_try_claim(struct sp__waitq *q, struct sp__waiter *w)
{
    if (!w->sel) {
        return 1;
    }
    /* seq_cst: the selecting task's own attempt to end its select
     * (cancellation, or a case it found ready) is a CAS on the same word;
     * exactly one of them moves it away from -1. */
    int none = -1;
    if (atomic_compare_exchange_strong(&w->sel->winner, &none, w->sel_case)) {
        return 1;
    }
    /* Another case won (or the select gave up): this waiter is dead weight
     * here. Its owner unlinks the rest of its waiters itself. */
    sp__waitq_unlink(q, w);
    return 0;
}

struct sp__waiter *
sp__waitq_claim_slow(struct sp__waitq *q)
{
    struct sp__waiter *w;
    while ((w = q->head) != NULL) {
        if (sp__waitq_try_claim(q, w)) {
            return w;
        }
    }
    return NULL;
}

/* Whether t, parked, can only ever run on the calling thread: it is pinned
 * to this shard (only t itself changes `home`, and it is parked). Then it
 * cannot return, end and be recycled before this thread flushes its wake
 * list, since the thread does not switch tasks in between, so the grant
 * needs no reference on it. The shard is read once per list. */
static inline int
runs_only_here(struct sp__wake_list *wl, struct sp__task *t)
{
    if (!wl->sh) {
        wl->sh = sp__shard_current();
    }
    struct sp__shard *sh = wl->sh;
    return sh && sh->rt == t->rt && sp_load_relaxed(&t->home) == sh->index;
}

int
sp__waitq_grant(struct sp__waitq *q, struct sp__waiter *w, int result,
                struct sp__wake_list *wl)
{
    if (wl->n == SP_WAKE_BATCH) {
        return -EAGAIN;
    }
    sp__waitq_unlink(q, w);
    struct sp__task *t = w->task;
    if (runs_only_here(wl, t)) {
        wl->noref |= 1u << wl->n;
    } else {
        /* Relaxed: the waiting task holds a reference of its own for as
         * long as it can be granted (it has not returned), so the count is
         * > 0 and the block cannot be recycled under us; sp__task_put's
         * acq_rel orders the release. */
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    }
    w->result = result;
    /* release: pairs with the waiter's acquire load of done; everything
     * written for the waiter (result, the payload) happens before. */
    sp_store_release(&w->done, 1);
    wl->t[wl->n++] = t;
    return 0;
}

int
sp__wake_list_make_room(struct sp__spin *lock, struct sp__wake_list *wl)
{
    if (wl->n < SP_WAKE_BATCH) {
        return 0;
    }
    sp__spin_unlock(lock);
    sp__wake_list_flush(wl);
    sp__spin_lock(lock);
    return 1;
}

void
sp__wake_list_flush(struct sp__wake_list *wl)
{
    for (int i = 0; i < wl->n; i++) {
        if (wl->noref >> i & 1) {
            /* Pinned to wl->sh, which runs this code (runs_only_here): a
             * local wake with the shard in hand. */
            sp__wake_on(wl->sh, wl->t[i]);
        } else {
            sp__wake(wl->t[i]);
            sp__task_put(wl->t[i]);
        }
    }
    wl->n = 0;
    wl->noref = 0;
}

int
sp__waiter_wait_ex(struct sp__spin *lock, struct sp__waitq *q, struct sp__waiter *w,
                   unsigned flags)
{
    sp__spin_unlock(lock);
    for (;;) {
        int err = 0;
        if (flags & SP_WAIT_NOINTR) {
            sp__park_nointr();
        } else {
            err = sp__park(SP_DEADLINE_NONE);
        }
        /* acquire: pairs with the release store in sp__waitq_grant. */
        if (sp_load_acquire(&w->done)) {
            return w->result;
        }
        if (err < 0) {
            sp__spin_lock(lock);
            if (sp_load_acquire(&w->done)) {
                /* Granted while we were being cancelled: the grant wins. */
                sp__spin_unlock(lock);
                return w->result;
            }
            sp__waitq_unlink(q, w);
            if (!(flags & SP_WAIT_LOCKED_ON_ERROR)) {
                sp__spin_unlock(lock);
            }
            return err;
        }
    }
}

int
sp__waiter_wait(struct sp__spin *lock, struct sp__waitq *q, struct sp__waiter *w)
{
    return sp__waiter_wait_ex(lock, q, w, 0);
}

int
sp__waitq_grant_all(struct sp__spin *lock, struct sp__waitq *q, uint64_t before,
                    int result, struct sp__wake_list *wl)
{
    int n = 0;
    struct sp__waiter *w;
    while ((w = q->head) != NULL && w->seq < before) {
        if (sp__wake_list_make_room(lock, wl)) {
            continue;
        }
        if (!sp__waitq_try_claim(q, w)) {
            continue; /* a select waiter whose select is over: dropped */
        }
        sp__waitq_grant(q, w, result, wl);
        n++;
    }
    return n;
}

struct sp__task *
sp__sync_self(const char *fn)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        sp__log("%s: not called from a task", fn);
    }
    return t;
}

int
sp__sync_enter(const void *obj, uint32_t magic, const char *fn, const char *what,
               struct sp__task **self)
{
    int err = sp__sync_check(obj, magic, fn, what);
    if (err < 0) {
        return err;
    }
    *self = sp__sync_self(fn);
    return *self ? 0 : -EPERM;
}
