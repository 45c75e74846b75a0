/* The single-partition engine: every operation runs on one kv_part in the
 * caller's thread. Used by the unit tests and the fuzzer, which drive the
 * protocol without a runtime. */
#include "engine.h"

static void
local_exec(struct kv_engine *e, struct kv_op *op)
{
    kv_part_exec(&((struct kv_engine_local *)e)->part, op);
}

static void
local_flush(struct kv_engine *e, int64_t when, int64_t now)
{
    kv_part_flush(&((struct kv_engine_local *)e)->part, when, now);
}

static void
local_counters(struct kv_engine *e, struct kv_counters *sum)
{
    kv_part_counters(&((struct kv_engine_local *)e)->part, sum);
}

static void
local_reset(struct kv_engine *e)
{
    struct kv_part *p = &((struct kv_engine_local *)e)->part;
    struct kv_counters keep = p->c;
    memset(&p->c, 0, sizeof(p->c));
    p->c.curr_items = keep.curr_items;
    p->c.limit_maxbytes = keep.limit_maxbytes;
}

int
kv_engine_local_init(struct kv_engine_local *l, size_t limit, uint64_t item_max)
{
    memset(l, 0, sizeof(*l));
    l->e.exec = local_exec;
    l->e.flush = local_flush;
    l->e.counters = local_counters;
    l->e.reset_stats = local_reset;
    l->e.item_max = item_max;
    return kv_part_init(&l->part, 0, limit);
}

void
kv_engine_local_destroy(struct kv_engine_local *l)
{
    kv_part_destroy(&l->part);
}
