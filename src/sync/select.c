/* select over channel sends and receives (Go's select).
 *
 * 1. Lock every distinct channel of the cases, in address order, so two
 *    selects (or a select and anything else) can never deadlock: every
 *    other channel operation takes one lock only.
 * 2. Poll the cases in a random order (a Fisher-Yates shuffle, as Go
 *    does: a case that is always ready cannot starve the others). The
 *    first that completes without waiting (sp__chan_send_locked /
 *    _recv_locked, where a closed channel completes with -EPIPE) wins;
 *    unlock and return it.
 * 3. None ready: link one waiter per case (sharing one struct sp__select,
 *    winner = -1) into its channel's send or receive queue, unlock, park.
 * 4. A granter on one of those channels claims a waiter with
 *    sp__waitq_claim: CAS winner -1 -> case index, then in the same
 *    critical section it moves the item and grants that waiter (done = 1).
 *    Granters that meet the other waiters later fail the CAS and unlink
 *    them.
 * 5. On cancellation or the deadline the task CASes winner -1 -> GAVE_UP.
 *    If that fails, a case won first: the select returns that case.
 * 6. Either way, relock every channel and unlink the waiters still linked.
 *    Under the winning case's channel lock its grant is complete (step 4
 *    claims and grants in one critical section), so done and result are
 *    stable and visible; after unlocking, no queue points into our stack.
 * docs/design/sync.md ("Select") has the argument in full. */
#include <errno.h>

#include "sync/chan.h"

#define GAVE_UP (-2)

struct lockset {
    struct sp__chan *c[SP_SELECT_MAX];
    int n;
};

static int
check_cases(sp_select_case_t *cases, int n, const char *fn)
{
    if (!cases) {
        return sp__sync_null(fn, "cases");
    }
    if (n < 1 || n > SP_SELECT_MAX) {
        sp__log("%s: %d cases (1 to %d allowed)", fn, n, SP_SELECT_MAX);
        return -EINVAL;
    }
    for (int i = 0; i < n; i++) {
        if (cases[i].op != SP_SELECT_SEND && cases[i].op != SP_SELECT_RECV) {
            sp__log("%s: case %d has op %d", fn, i, (int)cases[i].op);
            return -EINVAL;
        }
        if (!sp__chan_check(cases[i].ch, fn)) {
            return -EINVAL;
        }
        if (!cases[i].item) {
            sp__log("%s: case %d has a NULL item", fn, i);
            return -EINVAL;
        }
    }
    return 0;
}

/* The distinct channels, sorted by address (insertion sort: n is small). */
static void
lockset_build(struct lockset *ls, const sp_select_case_t *cases, int n)
{
    ls->n = 0;
    for (int i = 0; i < n; i++) {
        struct sp__chan *c = (struct sp__chan *)cases[i].ch;
        int j = ls->n;
        while (j > 0 && ls->c[j - 1] > c) {
            j--;
        }
        if (j > 0 && ls->c[j - 1] == c) {
            continue;
        }
        for (int k = ls->n; k > j; k--) {
            ls->c[k] = ls->c[k - 1];
        }
        ls->c[j] = c;
        ls->n++;
    }
}

static void
lock_all(const struct lockset *ls)
{
    for (int i = 0; i < ls->n; i++) {
        sp__spin_lock(&ls->c[i]->lock);
    }
}

static void
unlock_all(const struct lockset *ls)
{
    for (int i = ls->n - 1; i >= 0; i--) {
        sp__spin_unlock(&ls->c[i]->lock);
    }
}

/* xorshift64* on a per-thread state. Opaque: a stealable caller may
 * resume on another thread, so the TLS address must never be cached
 * across a suspension (DESIGN.md, hazard 1); nothing here suspends. */
static __thread uint64_t rng_state;

static SP_OPAQUE uint64_t
select_rand(void)
{
    uint64_t x = rng_state;
    if (sp_unlikely(x == 0)) {
        x = (uintptr_t)&rng_state | 1; /* differs per thread */
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void
shuffle(int *order, int n)
{
    for (int i = 0; i < n; i++) {
        order[i] = i;
    }
    if (n == 1) {
        return;
    }
    uint64_t r = select_rand();
    for (int i = n - 1; i > 0; i--) {
        /* Fresh bits once the word runs low; the modulo bias over at most
         * 64 values is below 2^-50. */
        if (r < (uint64_t)SP_SELECT_MAX << 8) {
            r = select_rand();
        }
        int j = (int)(r % (uint64_t)(i + 1));
        r /= (uint64_t)(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Locks held. The first case in random order that completes now, with its
 * result recorded, or -EAGAIN. */
static int
poll_cases(sp_select_case_t *cases, int n, struct sp__wake_list *wl)
{
    int order[SP_SELECT_MAX];
    shuffle(order, n);
    for (int k = 0; k < n; k++) {
        sp_select_case_t *sc = &cases[order[k]];
        struct sp__chan *c = (struct sp__chan *)sc->ch;
        int r = sc->op == SP_SELECT_SEND ? sp__chan_send_locked(c, sc->item, wl)
                                         : sp__chan_recv_locked(c, sc->item, wl);
        if (r != -EAGAIN) {
            sc->result = r;
            return order[k];
        }
    }
    return -EAGAIN;
}

/* Park until a case wins or the task gives up. Returns the winning case,
 * or the park's error after a successful give-up CAS. */
static int
park_until_decided(struct sp__select *sel)
{
    for (;;) {
        int err = sp__park(SP_DEADLINE_NONE);
        /* Relaxed is enough: the result is read only after re-taking the
         * winning channel's lock, which orders it (step 6). */
        int won = atomic_load_explicit(&sel->winner, memory_order_relaxed);
        if (won >= 0) {
            return won;
        }
        if (err < 0) {
            int none = -1;
            /* seq_cst: the same word granters CAS in sp__waitq_claim;
             * exactly one CAS moves it away from -1. */
            if (atomic_compare_exchange_strong(&sel->winner, &none, GAVE_UP)) {
                return err;
            }
            return none; /* a case won just before we gave up */
        }
        /* A stale wake: park again. */
    }
}

/* Steps 3 to 6, out of line: the waiters take SP_SELECT_MAX records of
 * stack, which the ready path should not pay for. */
static SP_NOINLINE int
select_wait(sp_select_case_t *cases, int n, const struct lockset *ls,
            struct sp__task *self)
{
    struct sp__waiter w[SP_SELECT_MAX];
    struct sp__select sel;
    atomic_init(&sel.winner, -1);
    for (int i = 0; i < n; i++) {
        struct sp__chan *c = (struct sp__chan *)cases[i].ch;
        w[i] = (struct sp__waiter){.data = cases[i].item, .sel = &sel, .sel_case = i};
        sp__waitq_push(cases[i].op == SP_SELECT_SEND ? &c->sendq : &c->recvq, &w[i], self);
    }
    unlock_all(ls);
    int r = park_until_decided(&sel);
    lock_all(ls);
    for (int i = 0; i < n; i++) {
        if (w[i].linked) {
            struct sp__chan *c = (struct sp__chan *)cases[i].ch;
            sp__waitq_unlink(cases[i].op == SP_SELECT_SEND ? &c->sendq : &c->recvq, &w[i]);
        }
    }
    if (r >= 0) {
        /* Under the lock the grant is complete (step 6). */
        SP_ASSERT(atomic_load_explicit(&w[r].done, memory_order_relaxed) == 1);
        cases[r].result = w[r].result;
    }
    unlock_all(ls);
    return r;
}

static int
select_run(sp_select_case_t *cases, int n, int block, const char *fn)
{
    int err = check_cases(cases, n, fn);
    if (err < 0) {
        return err;
    }
    struct sp__task *self = NULL;
    if (block && !(self = sp__sync_self(fn))) {
        return -EPERM;
    }
    struct lockset ls;
    lockset_build(&ls, cases, n);
    struct sp__wake_list wl;
    sp__chan_wl_init(&wl, NULL);
    lock_all(&ls);
    int r = poll_cases(cases, n, &wl);
    if (r != -EAGAIN || !block) {
        unlock_all(&ls);
        sp__chan_wl_flush(&wl);
        return r;
    }
    return select_wait(cases, n, &ls, self);
}

int
sp_select(sp_select_case_t *cases, int n)
{
    return select_run(cases, n, 1, "sp_select");
}

int
sp_select_try(sp_select_case_t *cases, int n)
{
    return select_run(cases, n, 0, "sp_select_try");
}
