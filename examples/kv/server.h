/* The kv server: listeners, connections, the idle reaper and graceful stop,
 * over one of the two architectures.
 *
 *   sharded   one store partition per shard; a connection is handled by a
 *             task pinned to the shard that accepted it, and an operation
 *             on a key that another shard owns runs there through
 *             sp_shard_call (share-nothing, thread-per-core);
 *   shared    the keyspace is split into lock-striped partitions that every
 *             shard may touch; connection tasks are stealable (memcached's
 *             model: worker threads over a striped-lock table).
 *
 * kv_server_start and kv_server_stop run in a task of a spindle runtime;
 * the server's tasks live in that runtime. */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"

enum kv_arch { KV_ARCH_SHARDED, KV_ARCH_SHARED };

struct kv_config {
    const char *host;           /* numeric address to listen on */
    int port;                   /* 0: an ephemeral port (kv_server_port) */
    enum kv_arch arch;
    size_t mem_limit;           /* bytes for items, all partitions together */
    uint64_t item_max;          /* largest value, bytes */
    size_t line_max;            /* longest get line, bytes */
    uint64_t idle_timeout_ns;   /* close a connection silent this long; 0 never */
    uint64_t stop_grace_ns;     /* at stop, how long in-flight work may take */
    int max_conns;              /* beyond: "SERVER_ERROR Too many open connections" */
    int verbose;
};

void kv_config_init(struct kv_config *cfg);

struct kv_server;

/* Listen (one SO_REUSEPORT socket per shard) and start accepting.
 * Returns 0 or -errno. Context: a task. */
int kv_server_start(struct kv_server **out, const struct kv_config *cfg);

int kv_server_port(const struct kv_server *srv);

/* Stop gracefully: close the listeners, end each connection once its
 * requests in flight are answered (its read side is shut down, so it reads
 * what was sent before and then sees the end), wait up to stop_grace_ns,
 * cancel what is left, write the stats to stats (if not NULL), free
 * everything. Context: a task. */
void kv_server_stop(struct kv_server *srv, FILE *stats);

/* Write the server's counters as "STAT name value" lines (the protocol's
 * stats reply, without END). Context: a task. */
void kv_server_write_stats(struct kv_server *srv, FILE *f);

/* The engine of each architecture (arch_sharded.c, arch_shared.c). Context:
 * a task of the runtime whose shards will use it. */
int kv_arch_sharded_new(struct kv_engine **out, size_t mem_limit, uint64_t item_max);
int kv_arch_shared_new(struct kv_engine **out, size_t mem_limit, uint64_t item_max);
void kv_arch_free(struct kv_engine *e);

#endif
