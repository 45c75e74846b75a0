/* Run queues: the out-of-line parts (see runq.h for the rules). */
#include "sched/runq.h"

void
sp__runq_submit(struct sp_runtime *rt, struct sp__task *t, int target)
{
    struct sp__shard *cur = sp__shard_current();
    if (cur && cur->rt == rt && cur->index == target) {
        sp__runq_push_local(cur, t);
    } else {
        sp__inbox_post(rt->shards[target], t);
    }
}
