/* Parking and waking tasks: the task state word (docs/design/deque.md,
 * "task state word") and where a woken task is queued.
 *
 * 1. A waker moves PARKED -> ACTIVE with a CAS and then queues the task:
 *    exactly one waker wins, so a task is never queued twice.
 * 2. A wake that finds the task ACTIVE (running, switching out, or already
 *    queued) only sets TS_NOTIFY.
 * 3. The task parks by switching to its scheduler; the scheduler, now off
 *    the task's stack, does CAS ACTIVE -> PARKED. If NOTIFY was set the CAS
 *    fails; the scheduler clears NOTIFY and requeues the task instead.
 * So a wake is never lost, and the task's stack is never resumed by two
 * threads: the PARKED state is only published once the stack is free.
 *
 * Routing (route()): a task with an armed timer resumes on the timer's
 * shard (resume); a pinned task on its home shard; a stealable one on the
 * waker's shard, or, woken from a non-shard thread, where it last ran. */
#include <errno.h>

#include "core/core.h"
#include "sched/runq.h"

/* Queue a task this waker has just moved PARKED -> ACTIVE. cur is the
 * calling thread's shard (or NULL), read once by the caller through the
 * opaque call (DESIGN.md hazard 1); it serves both the routing choice and
 * the same-shard test, so the common same-shard wake of a pinned task is a
 * FIFO push: no inbox, no fence, no sleeper check (runq.h: only a
 * stealable push looks for sleepers). */
static inline void
route(struct sp__shard *cur, struct sp__task *t)
{
    struct sp_runtime *rt = t->rt;
    if (cur && cur->rt != rt) {
        cur = NULL;
    }
    int target = sp_load_relaxed(&t->resume);
    if (target == SP_NO_SHARD) {
        target = sp_load_relaxed(&t->home);
    }
    if (target == SP_NO_SHARD) {
        target = cur ? cur->index : sp_load_relaxed(&t->last_shard);
    }
    if (sp_likely(cur && cur->index == target)) {
        sp__runq_push_woken(cur, t);
    } else {
        sp__inbox_post(rt->shards[target], t);
    }
}

/* Steps 1-5 of wake on the state word: 1 if this call moved the task from
 * PARKED to ACTIVE and so must queue it, else 0. */
static inline int
claim_wake(struct sp__task *t)
{
    uint32_t s = sp_load_acquire(&t->state);
    for (;;) {
        uint32_t st = s & TS_MASK;
        if (sp_likely(st == TS_PARKED)) {
            /* acq_rel: acquire pairs with the scheduler's release CAS to
             * PARKED in sp__wake_after_park, so the placement fields the
             * task wrote before parking are visible to route(); release
             * pairs with the task's acquire of the word after it runs
             * again, publishing the waker's condition. */
            if (sp_cas_acqrel(&t->state, &s, TS_ACTIVE)) {
                return 1;
            }
        } else if (st != TS_ACTIVE) {
            return 0;
        } else if (sp_cas_acqrel(&t->state, &s, TS_ACTIVE | TS_NOTIFY)) {
            /* Also when NOTIFY is already set (s | NOTIFY == s): the
             * release half publishes this waker's writes to the task's
             * next acquire of the word. A plain load would publish
             * nothing, and a waker that wrote its condition with a release
             * store could then be missed. */
            return 0;
        }
    }
}

void
sp__wake(struct sp__task *t)
{
    if (claim_wake(t)) {
        route(sp__shard_current(), t);
    }
}

/* Wake t, parked on shard sh for an I/O operation whose completion sh
 * has just dispatched on its own thread. The ring no longer needs the task
 * there, but its partner often is there (the task that sent what it
 * receives), so it stays (resume: the FIFO) unless RELEASE_QUEUED or more
 * other tasks are queued on sh: then it goes where any woken stealable
 * task goes (the deque, or the next slot), and an idle shard may take it
 * instead of letting it wait its turn. Releasing it on an idle shard as well split
 * ping-pong pairs: the other shard, spinning, stole every wake
 * (net_stealable_follows_peer). A task with a deadline keeps `resume`:
 * sp__park armed a timer on sh and must come back to remove it. resume
 * is cleared only after this waker won PARKED -> ACTIVE: a waker on
 * another thread that won instead must still see `resume` and send the
 * task back to sh, where its operation record was written (route reads
 * it after the CAS, core.h). */
#define RELEASE_QUEUED 2

static inline int
busy(struct sp__shard *sh)
{
    return sh->fifo.len + sp__deque_len(&sh->deque) + (sh->next_slot != NULL) >= RELEASE_QUEUED;
}

void
sp__wake_released(struct sp__shard *sh, struct sp__task *t)
{
    if (claim_wake(t)) {
        if (t->deadline == SP_DEADLINE_NONE && busy(sh)) {
            sp_store_relaxed(&t->resume, SP_NO_SHARD);
        }
        route(sh, t);
    }
}

/* Queue again a task that sh held (YIELD_HELD), by the rule above: on
 * sh's FIFO, where no other shard takes it, unless sh is busy; then
 * where any woken task goes, stealable or not. No state word: the task
 * never left ACTIVE. */
void
sp__requeue_held(struct sp__shard *sh, struct sp__task *t)
{
    runq_push_local(sh, t, busy(sh) && runq_stealable(t));
}

/* sp__wake for a caller that holds its thread's shard already (cur, or
 * NULL off the shards) and has not switched tasks since reading it. */
void
sp__wake_on(struct sp__shard *cur, struct sp__task *t)
{
    if (claim_wake(t)) {
        route(cur, t);
    }
}

/* The scheduler's half of a park, on the shard's own stack. */
void
sp__wake_after_park(struct sp__shard *sh, struct sp__task *t)
{
    uint32_t s = TS_ACTIVE;
    /* release on success: pairs with the acquire half of the waker's CAS
     * (PARKED -> ACTIVE), so a waker on another thread that resumes the
     * task sees everything the task wrote before it switched out. Nothing
     * needs acquire here: on failure the exchange below acquires. seq_cst
     * would add nothing (no Dekker pair involves this CAS); on x86 it is
     * the same locked instruction, on arm64 a cheaper one. */
    while (!sp_cas_release(&t->state, &s, TS_PARKED)) {
        if (s & TS_NOTIFY) {
            break;
        }
        /* A weak CAS may fail spuriously (LL/SC): s is still ACTIVE. */
    }
    if (!(s & TS_NOTIFY)) {
        return;
    }
    /* NOTIFY was set: consume it and run the task again. Only this thread
     * moves the word away from ACTIVE|NOTIFY, so an exchange is enough;
     * acq_rel pairs with the wakers' CAS (their condition writes). */
    sp_xchg_acqrel(&t->state, TS_ACTIVE);
    sp__runq_push_local(sh, t);
}

int
sp__park(uint64_t until)
{
    /* One opaque read of the shard serves the whole park: until the
     * switch this task cannot move. */
    struct sp__shard *sh = sp__shard_current();
    return sp__park_on(sh, sp_load_relaxed(&sh->current), until);
}

/* Park until a wake, ignoring cancellation and the deadline: for the few
 * waits that must finish whatever happens (a condition variable taking its
 * mutex back). May return spuriously. */
void
sp__park_nointr(void)
{
    struct sp__task *t = sp__task_current();
    uint32_t s = sp_load_acquire(&t->state);
    if (s & TS_NOTIFY) {
        sp_xchg_acqrel(&t->state, TS_ACTIVE);
        return;
    }
    sp__shard_to_scheduler(t, YIELD_PARK);
}
