/* The shared architecture: the keyspace is split into stripes, each a
 * partition behind its own lock, and any shard may take any stripe's lock
 * (memcached's worker threads over a striped-lock table). A key belongs to
 * stripe (hash >> 40) % stripes.
 *
 * The lock is an sp_mutex: a few trylocks first (critical sections are a
 * hash lookup and a copy, far shorter than parking a task), then a lock
 * that parks the task, never the shard. Each stripe gets an equal share of
 * the memory limit, so the stripe count is kept small enough that a share
 * holds several items of the largest size. */
#include <errno.h>
#include <spindle.h>

#include "server.h"

#define SPINS 64

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct stripe {
    sp_mutex_t lock;
    struct kv_part part;
} __attribute__((aligned(64)));

struct shared {
    struct kv_engine e;
    int n;
    struct stripe *stripes;
};

static int
stripe_lock(struct stripe *st)
{
    for (int i = 0; i < SPINS; i++) {
        if (sp_mutex_trylock(&st->lock) == 0) {
            return 0;
        }
        cpu_relax();
    }
    return sp_mutex_lock(&st->lock);
}

static void
shared_exec(struct kv_engine *e, struct kv_op *op)
{
    struct shared *s = (struct shared *)e;
    struct stripe *st = &s->stripes[(op->hash >> 40) % (uint64_t)s->n];
    if (stripe_lock(st) < 0) { /* cancelled: the server is stopping */
        free(op->item);
        op->item = NULL;
        kv_out_str(op->out, "SERVER_ERROR shutting down\r\n");
        return;
    }
    kv_part_exec(&st->part, op);
    sp_mutex_unlock(&st->lock);
}

static void
shared_flush(struct kv_engine *e, int64_t when, int64_t now)
{
    struct shared *s = (struct shared *)e;
    for (int i = 0; i < s->n; i++) {
        if (stripe_lock(&s->stripes[i]) == 0) {
            kv_part_flush(&s->stripes[i].part, when, now);
            sp_mutex_unlock(&s->stripes[i].lock);
        }
    }
}

static void
shared_counters(struct kv_engine *e, struct kv_counters *sum)
{
    struct shared *s = (struct shared *)e;
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < s->n; i++) {
        if (stripe_lock(&s->stripes[i]) == 0) {
            struct kv_counters one;
            kv_part_counters(&s->stripes[i].part, &one);
            kv_counters_add(sum, &one);
            sp_mutex_unlock(&s->stripes[i].lock);
        }
    }
}

static void
shared_reset(struct kv_engine *e)
{
    struct shared *s = (struct shared *)e;
    for (int i = 0; i < s->n; i++) {
        if (stripe_lock(&s->stripes[i]) == 0) {
            struct kv_part *p = &s->stripes[i].part;
            struct kv_counters keep = p->c;
            memset(&p->c, 0, sizeof(p->c));
            p->c.curr_items = keep.curr_items;
            p->c.limit_maxbytes = keep.limit_maxbytes;
            sp_mutex_unlock(&s->stripes[i].lock);
        }
    }
}

static void
shared_destroy(struct kv_engine *e)
{
    struct shared *s = (struct shared *)e;
    for (int i = 0; i < s->n; i++) {
        kv_part_destroy(&s->stripes[i].part);
        sp_mutex_destroy(&s->stripes[i].lock);
    }
    free(s->stripes);
    free(s);
}

int
kv_arch_shared_new(struct kv_engine **out, size_t mem_limit, uint64_t item_max)
{
    int shards = sp_shard_count();
    uint64_t fit = mem_limit / (4 * (kv_item_size(KV_KEY_MAX, item_max)));
    int n = 16 * (shards > 0 ? shards : 1);
    if ((uint64_t)n > fit) {
        n = fit > 0 ? (int)fit : 1;
    }
    if (n > 255) {
        n = 255;
    }
    struct shared *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->stripes = aligned_alloc(64, sizeof(*s->stripes) * (size_t)n)) == NULL) {
        free(s);
        return -ENOMEM;
    }
    memset(s->stripes, 0, sizeof(*s->stripes) * (size_t)n);
    for (int i = 0; i < n; i++) {
        sp_mutex_init(&s->stripes[i].lock);
        if (kv_part_init(&s->stripes[i].part, (unsigned)i, mem_limit / (size_t)n) < 0) {
            s->n = i + 1;
            shared_destroy(&s->e);
            return -ENOMEM;
        }
        s->n = i + 1;
    }
    s->e = (struct kv_engine){
        .exec = shared_exec, .flush = shared_flush, .counters = shared_counters,
        .reset_stats = shared_reset, .destroy = shared_destroy, .item_max = item_max,
    };
    *out = &s->e;
    return 0;
}
