/* Changing a running task's placement: pin it where it is, make it
 * stealable, or move it to another shard.
 *
 * `home` is written only by the task itself (or its spawner before it
 * runs). Wakers read it after they see the task PARKED through the state
 * word, whose CAS orders this write before their read. */
#include <errno.h>

#include "core/core.h"
#include "sched/sched.h"

static void
set_home(struct sp__task *t, int home)
{
    struct sp_runtime *rt = t->rt;
    int old = sp_load_relaxed(&t->home);
    if (old == home) {
        return;
    }
    if (old != SP_NO_SHARD) {
        sp_fetch_add_relaxed(&rt->shards[old]->pinned_load, -1);
    }
    if (home != SP_NO_SHARD) {
        sp_fetch_add_relaxed(&rt->shards[home]->pinned_load, 1);
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
