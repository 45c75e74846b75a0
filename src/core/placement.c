/* Changing a running task's placement: pin it where it is, make it
 * stealable, or move it to another shard.
 *
 * `home` is written only by the task itself (or its spawner before it
 * runs). Wakers read it after they see the task PARKED through the state
 * word, whose CAS orders this write before their read. */
#include <errno.h>

#include "core/core.h"
#include "sched/sched.h"

/* Count a task pinned to (delta 1) or unpinned from (delta -1) shard home:
 * by the shard itself without a locked instruction, which covers the
 * common cases (LOCAL spawns, a pinned task ending, pin and unpin where the
 * task runs), or atomically by anyone else. */
/* cur: the calling thread's shard (or NULL), which callers on the
 * scheduler side already hold, so the hot spawn and finish paths make no
 * opaque call for it. */
void
sp__place_count(struct sp_runtime *rt, struct sp__shard *cur, int home, long delta)
{
    struct sp__shard *h = rt->shards[home];
    if (cur == h) {
        sp_counter_add(&h->pinned_own, delta);
    } else {
        sp_fetch_add_relaxed(&h->pinned_remote, delta);
    }
}

static void
set_home(struct sp__task *t, int home)
{
    int old = sp_load_relaxed(&t->home);
    if (old == home) {
        return;
    }
    if (old != SP_NO_SHARD) {
        sp__place_count(t->rt, sp__shard_current(), old, -1);
    }
    if (home != SP_NO_SHARD) {
        sp__place_count(t->rt, sp__shard_current(), home, 1);
    }
    sp_store_relaxed(&t->home, home);
}

int
sp_task_pin(void)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return -EPERM;
    }
    set_home(t, sp_shard_id());
    return 0;
}

int
sp_task_unpin(void)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return -EPERM;
    }
    set_home(t, SP_NO_SHARD);
    return 0;
}

int
sp_task_move_to(int shard)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return -EPERM;
    }
    if (shard < 0 || shard >= t->rt->nshards) {
        sp__log("sp_task_move_to: shard %d does not exist (runtime has %d)", shard,
                t->rt->nshards);
        return -EINVAL;
    }
    set_home(t, shard);
    t->move_target = shard;
    sp__shard_to_scheduler(t, YIELD_MOVE);
    return sp__suspend_result(t);
}

sp_place_t
sp_task_placement(void)
{
    struct sp__task *t = sp__task_current();
    if (!t || sp_load_relaxed(&t->home) == SP_NO_SHARD) {
        return SP_PLACE_STEALABLE;
    }
    return SP_PLACE_ON;
}
