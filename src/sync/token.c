/* Cancellation tokens: a tree of cancellation signals (tokio's
 * CancellationToken, Go's context). Cancelling a token cancels its whole
 * subtree, wakes the tasks waiting on any of those tokens, and calls
 * sp_task_cancel on the tasks bound to them.
 *
 * Each token has a spinlock guarding its own fields and the links of its
 * children; locks are taken parent before child, never the other way.
 * A cancel runs in two phases (docs/design/sync.md, "Cancellation tokens"):
 * 1. Mark, holding the locks down the path: set `cancelled` on the token
 *    and, recursively, on every descendant not cancelled yet; each token
 *    newly marked gets `propagating` = 1 and is pushed on the canceller's
 *    to-do list (an intrusive link, used once per token). A subtree is
 *    marked entirely while its root's lock is held, so whenever a token's
 *    lock is free, a cancelled token has only cancelled descendants: the
 *    walk stops at a child that is cancelled already.
 * 2. Serve, one token at a time and one lock at a time: grant its waiters
 *    (their wakes and the bound tasks' cancels happen after the unlock),
 *    detach its bound tasks, clear `propagating`. Destroy waits while
 *    `propagating` is set, so phase 2 never touches a destroyed token.
 * Waiters and binders check `cancelled` under the lock, so none arrives
 * after the mark unnoticed. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/group.h"
#include "sync/object.h"
#include "sync/sync.h"

struct token {
    struct sp__spin lock;
    uint32_t magic;             /* under lock (destroy); read unlocked by checks */
    _Atomic int cancelled;      /* 0 -> 1 once, under lock (release); read
                                 * anywhere (acquire) */
    int propagating;            /* marked, not yet served (phase 2); under lock */
    struct token *parent;       /* fixed from init to destroy */
    struct token *child;        /* first child; under this token's lock */
    struct token *next, *prev;  /* siblings; under the parent's lock */
    struct token *todo;         /* canceller's list (phase 1 -> 2); under lock */
    struct sp__waitq q;         /* waiting tasks; under lock */
    sp_task_t *bound;           /* bound tasks; under lock (detached by serve) */
    uint32_t nbound, cap;
};
SP_SYNC_FITS(struct token, sp_cancel_token_t);

static int
token_check(sp_cancel_token_t *tp, const char *fn)
{
    struct token *t = (struct token *)tp;
    return sp__sync_check_obj(tp, t ? t->magic : 0, 0, fn, "token");
}

static int
is_cancelled(struct token *t)
{
    /* acquire: pairs with the release store in mark_one. */
    return sp_load_acquire(&t->cancelled);
}

int
sp_cancel_token_init(sp_cancel_token_t *tp, sp_cancel_token_t *parentp)
{
    if (!tp) {
        return sp__sync_null("sp_cancel_token_init", "token");
    }
    if (parentp) {
        int err = token_check(parentp, "sp_cancel_token_init");
        if (err < 0) {
            return err;
        }
    }
    struct token *t = (struct token *)tp, *p = (struct token *)parentp;
    *t = (struct token){.magic = SP_SYNC_LIVE, .parent = p};
    sp__waitq_init(&t->q);
    if (!p) {
        return 0;
    }
    /* Under the parent's lock: a cancel of the parent either marked it
     * before (we copy cancelled = 1) or walks its children after (and
     * finds us). */
    sp__spin_lock(&p->lock);
    atomic_init(&t->cancelled, sp_load_relaxed(&p->cancelled));
    t->next = p->child;
    if (p->child) {
        p->child->prev = t;
    }
    p->child = t;
    sp__spin_unlock(&p->lock);
    return 0;
}

/* Lock both (parent first); 1 if tok may go now, 0 after unlocking. */
static int
lock_for_destroy(struct token *t, int *busy)
{
    if (t->parent) {
        sp__spin_lock(&t->parent->lock);
    }
    sp__spin_lock(&t->lock);
    *busy = t->child != NULL || !sp__waitq_is_empty(&t->q);
    if (!*busy && !t->propagating) {
        return 1;
    }
    sp__spin_unlock(&t->lock);
    if (t->parent) {
        sp__spin_unlock(&t->parent->lock);
    }
    return 0;
}

int
sp_cancel_token_destroy(sp_cancel_token_t *tp)
{
    int err = token_check(tp, "sp_cancel_token_destroy");
    if (err < 0) {
        return err;
    }
    struct token *t = (struct token *)tp;
    int busy = 0;
    while (!lock_for_destroy(t, &busy)) {
        if (busy) {
            sp__log("sp_cancel_token_destroy: the token has children or waiters");
            return -EBUSY;
        }
        /* A canceller is serving this token (phase 2): a few wakes, no
         * suspension, on a thread that is running now. */
        sched_yield();
    }
    if (t->parent) {
        if (t->prev) {
            t->prev->next = t->next;
        } else {
            t->parent->child = t->next;
        }
        if (t->next) {
            t->next->prev = t->prev;
        }
    }
    sp_task_t *bound = t->bound;
    t->bound = NULL;
    t->magic = SP_SYNC_DEAD;
    sp__spin_unlock(&t->lock);
    if (t->parent) {
        sp__spin_unlock(&t->parent->lock);
    }
    free(bound);
    return 0;
}

/* t locked and not cancelled: mark it, queue it for phase 2. */
static void
mark_one(struct token *t, struct token **todo)
{
    sp_store_release(&t->cancelled, 1);
    t->propagating = 1;
    t->todo = *todo;
    *todo = t;
}

/* Phase 1 below t (locked): mark every child that is not cancelled, and
 * its subtree, holding each lock down the path (parent before child). */
static void
mark_children(struct token *t, struct token **todo)
{
    for (struct token *c = t->child; c; c = c->next) {
        sp__spin_lock(&c->lock);
        if (!sp_load_relaxed(&c->cancelled)) {
            mark_one(c, todo);
            mark_children(c, todo);
        }
        sp__spin_unlock(&c->lock);
    }
}

static void
cancel_tasks(sp_task_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        sp_task_cancel(v[i]); /* -ESRCH: that task is gone, nothing to do */
    }
}

/* Phase 2 for one marked token: wake its waiters, cancel its bound tasks.
 * Returns the next token on the to-do list. */
static struct token *
serve(struct token *t)
{
    struct sp__wake_list wl = {.n = 0};
    sp__spin_lock(&t->lock);
    while (!sp__waitq_is_empty(&t->q)) {
        if (wl.n == SP_WAKE_BATCH) {
            sp__spin_unlock(&t->lock);
            sp__wake_list_flush(&wl);
            sp__spin_lock(&t->lock);
            continue;
        }
        struct sp__waiter *w = sp__waitq_claim(&t->q);
        if (!w) {
            break;
        }
        sp__waitq_grant(&t->q, w, 0, &wl);
    }
    sp_task_t *bound = t->bound;
    uint32_t n = t->nbound;
    t->bound = NULL;
    t->nbound = t->cap = 0;
    struct token *next = t->todo;
    t->todo = NULL;
    /* Last touch of t: destroy may free it once this is seen unlocked. */
    t->propagating = 0;
    sp__spin_unlock(&t->lock);
    sp__wake_list_flush(&wl);
    cancel_tasks(bound, n);
    free(bound);
    return next;
}

int
sp_cancel_token_cancel(sp_cancel_token_t *tp)
{
    int err = token_check(tp, "sp_cancel_token_cancel");
    if (err < 0) {
        return err;
    }
    struct token *t = (struct token *)tp;
    struct token *todo = NULL;
    sp__spin_lock(&t->lock);
    if (!sp_load_relaxed(&t->cancelled)) {
        mark_one(t, &todo);
        mark_children(t, &todo);
    }
    sp__spin_unlock(&t->lock);
    while (todo) {
        todo = serve(todo);
    }
    return 0;
}

int
sp_cancel_token_is_cancelled(sp_cancel_token_t *tp)
{
    int err = token_check(tp, "sp_cancel_token_is_cancelled");
    return err < 0 ? err : is_cancelled((struct token *)tp);
}

int
sp_cancel_token_wait(sp_cancel_token_t *tp)
{
    struct sp__task *self = sp__sync_self("sp_cancel_token_wait");
    int err = token_check(tp, "sp_cancel_token_wait");
    if (err < 0 || !self) {
        return err < 0 ? err : -EPERM;
    }
    struct token *t = (struct token *)tp;
    if (is_cancelled(t)) {
        return 0;
    }
    sp__spin_lock(&t->lock);
    if (sp_load_relaxed(&t->cancelled)) {
        sp__spin_unlock(&t->lock);
        return 0;
    }
    struct sp__waiter w = {0};
    sp__waitq_push(&t->q, &w, self);
    return sp__waiter_wait(&t->lock, &t->q, &w);
}

/* Lock held, not cancelled: append h, swapping in `spare` (cap spare_cap)
 * if the array is full and spare is larger. 1 done (*old: the array to
 * free), 0 a larger array is needed first. */
static int
bind_locked(struct token *t, sp_task_t h, sp_task_t **spare, uint32_t spare_cap,
            sp_task_t **old)
{
    if (t->nbound == t->cap) {
        if (spare_cap <= t->cap) {
            return 0;
        }
        if (t->nbound) {
            memcpy(*spare, t->bound, t->nbound * sizeof(**spare));
        }
        *old = t->bound;
        t->bound = *spare;
        t->cap = spare_cap;
        *spare = NULL;
    }
    t->bound[t->nbound++] = h;
    return 1;
}

int
sp_cancel_token_bind(sp_cancel_token_t *tp, sp_task_t task)
{
    int err = token_check(tp, "sp_cancel_token_bind");
    if (err < 0) {
        return err;
    }
    if (task.bits == 0) {
        sp__log("sp_cancel_token_bind: the task handle is empty");
        return -EINVAL;
    }
    struct token *t = (struct token *)tp;
    sp_task_t *spare = NULL, *old = NULL;
    uint32_t spare_cap = 0;
    for (;;) {
        sp__spin_lock(&t->lock);
        int cancelled = sp_load_relaxed(&t->cancelled);
        if (cancelled || bind_locked(t, task, &spare, spare_cap, &old)) {
            sp__spin_unlock(&t->lock);
            free(spare);
            free(old);
            if (cancelled) {
                sp_task_cancel(task);
            }
            return 0;
        }
        uint32_t want = t->cap ? 2 * t->cap : 4;
        sp__spin_unlock(&t->lock);
        /* Grow outside the spinlock (malloc may enter the kernel); the
         * size is checked again under it. */
        free(spare);
        spare = malloc(want * sizeof(*spare));
        if (!spare) {
            return -ENOMEM;
        }
        spare_cap = want;
    }
}

int
sp_cancel_token_unbind(sp_cancel_token_t *tp, sp_task_t task)
{
    int err = token_check(tp, "sp_cancel_token_unbind");
    if (err < 0) {
        return err;
    }
    struct token *t = (struct token *)tp;
    sp__spin_lock(&t->lock);
    /* A cancel has consumed every binding: nothing left to undo. */
    err = sp_load_relaxed(&t->cancelled) ? 0 : -ENOENT;
    for (uint32_t i = 0; i < t->nbound; i++) {
        if (t->bound[i].bits == task.bits) {
            t->bound[i] = t->bound[--t->nbound];
            err = 0;
            break;
        }
    }
    sp__spin_unlock(&t->lock);
    return err;
}
