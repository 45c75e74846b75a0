/* The sharded architecture: one partition per shard, touched only by tasks
 * on that shard (no locks, no atomics). A key belongs to shard
 * (hash >> 40) % shards; an operation that starts on another shard runs on
 * the owner through sp_shard_call, which writes the reply straight into
 * the caller's output buffer (the caller is suspended until it returns,
 * so the buffer has one user at a time). With one shard every operation
 * is local. */
#include <errno.h>
#include <spindle.h>

#include "server.h"

struct sharded {
    struct kv_engine e;
    int n;
    struct kv_part *parts;     /* parts[i]: shard i's, used on shard i only */
};

struct call {
    struct sharded *s;
    struct kv_op *op;
    int64_t when, now;         /* flush */
    struct kv_counters *sum;   /* counters */
};

static int
owner(const struct sharded *s, uint64_t hash)
{
    return s->n == 1 ? 0 : (int)((hash >> 40) % (uint64_t)s->n);
}

static intptr_t
remote_exec(void *arg)
{
    struct call *c = arg;
    kv_part_exec(&c->s->parts[sp_shard_id()], c->op);
    return 0;
}

static void
sharded_exec(struct kv_engine *e, struct kv_op *op)
{
    struct sharded *s = (struct sharded *)e;
    int k = owner(s, op->hash);
    if (k == sp_shard_id()) {
        kv_part_exec(&s->parts[k], op);
        return;
    }
    struct call c = {.s = s, .op = op};
    int err = sp_shard_call(k, remote_exec, &c, NULL);
    if (err < 0 && op->item != NULL) { /* fn never ran (or stopped early) */
        free(op->item);
        op->item = NULL;
    }
    if (err < 0) {
        kv_out_str(op->out, "SERVER_ERROR shard call failed\r\n");
    }
}

/* Run fn on every shard in turn (flush, counters, reset: rare). */
static void
each_shard(struct sharded *s, sp_task_fn fn, struct call *c)
{
    for (int k = 0; k < s->n; k++) {
        (void)sp_shard_call(k, fn, c, NULL);
    }
}

static intptr_t
flush_one(void *arg)
{
    struct call *c = arg;
    kv_part_flush(&c->s->parts[sp_shard_id()], c->when, c->now);
    return 0;
}

static void
sharded_flush(struct kv_engine *e, int64_t when, int64_t now)
{
    struct call c = {.s = (struct sharded *)e, .when = when, .now = now};
    each_shard(c.s, flush_one, &c);
}

static intptr_t
counters_one(void *arg)
{
    struct call *c = arg;
    struct kv_counters one;
    kv_part_counters(&c->s->parts[sp_shard_id()], &one);
    kv_counters_add(c->sum, &one);
    return 0;
}

static void
sharded_counters(struct kv_engine *e, struct kv_counters *sum)
{
    memset(sum, 0, sizeof(*sum));
    struct call c = {.s = (struct sharded *)e, .sum = sum};
    each_shard(c.s, counters_one, &c);
}

static intptr_t
reset_one(void *arg)
{
    struct call *c = arg;
    struct kv_part *p = &c->s->parts[sp_shard_id()];
    struct kv_counters keep = p->c;
    memset(&p->c, 0, sizeof(p->c));
    p->c.curr_items = keep.curr_items;
    p->c.limit_maxbytes = keep.limit_maxbytes;
    return 0;
}

static void
sharded_reset(struct kv_engine *e)
{
    struct call c = {.s = (struct sharded *)e};
    each_shard(c.s, reset_one, &c);
}

static void
sharded_destroy(struct kv_engine *e)
{
    struct sharded *s = (struct sharded *)e;
    for (int k = 0; k < s->n; k++) {
        kv_part_destroy(&s->parts[k]);
    }
    free(s->parts);
    free(s);
}

int
kv_arch_sharded_new(struct kv_engine **out, size_t mem_limit, uint64_t item_max)
{
    struct sharded *s = calloc(1, sizeof(*s));
    int n = sp_shard_count();
    if (s == NULL || n <= 0 || n > 255 ||
        (s->parts = calloc((size_t)n, sizeof(*s->parts))) == NULL) {
        free(s);
        return n <= 0 || n > 255 ? -EINVAL : -ENOMEM;
    }
    s->n = n;
    for (int k = 0; k < n; k++) {
        if (kv_part_init(&s->parts[k], (unsigned)k, mem_limit / (size_t)n) < 0) {
            s->n = k;
            sharded_destroy(&s->e);
            return -ENOMEM;
        }
    }
    s->e = (struct kv_engine){
        .exec = sharded_exec, .flush = sharded_flush, .counters = sharded_counters,
        .reset_stats = sharded_reset, .destroy = sharded_destroy, .item_max = item_max,
    };
    *out = &s->e;
    return 0;
}

void
kv_arch_free(struct kv_engine *e)
{
    e->destroy(e);
}
