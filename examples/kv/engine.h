/* How a connection reaches the store: the seam between the protocol
 * (session.c) and an architecture (arch_sharded.c, arch_shared.c, or the
 * single partition of engine_local.c used by tests and the fuzzer).
 *
 * exec routes one single-key operation to the partition that owns its key
 * and runs kv_part_exec there; the reply lands in op->out. */
#ifndef KV_ENGINE_H
#define KV_ENGINE_H

#include "store.h"

struct kv_engine {
    void (*exec)(struct kv_engine *e, struct kv_op *op);
    /* flush_all on every partition. */
    void (*flush)(struct kv_engine *e, int64_t when, int64_t now);
    /* The counters of every partition, summed (bytes filled in). */
    void (*counters)(struct kv_engine *e, struct kv_counters *sum);
    /* Extra "STAT name value\r\n" lines (server, connections); may be NULL. */
    void (*server_stats)(struct kv_engine *e, struct kv_out *out);
    void (*reset_stats)(struct kv_engine *e);
    void (*destroy)(struct kv_engine *e);
    uint64_t item_max;         /* largest value accepted, bytes */
    int verbosity;
    void *owner;               /* the server, for server_stats */
};

/* One partition, reached directly: no runtime needed. */
struct kv_engine_local {
    struct kv_engine e;
    struct kv_part part;
};

int kv_engine_local_init(struct kv_engine_local *l, size_t limit, uint64_t item_max);
void kv_engine_local_destroy(struct kv_engine_local *l);

/* Counters of one partition, with bytes filled in. */
static inline void
kv_part_counters(const struct kv_part *p, struct kv_counters *out)
{
    *out = p->c;
    out->bytes = p->used;
}

#endif
