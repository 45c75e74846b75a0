/* The item store: one partition of the keyspace, with its hash table, LRU
 * list, memory limit and counters. A partition is single-threaded: the
 * sharded architecture gives each shard one and reaches it only from that
 * shard; the shared architecture guards each stripe's partition with a
 * lock (examples/kv/arch_sharded.c, arch_shared.c).
 *
 * kv_part_exec runs one single-key operation with memcached's semantics and
 * appends its reply to the operation's output buffer. */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "out.h"
#include "proto.h"

/* An item: header, key, then the value followed by "\r\n", in one block.
 * Built by whoever parses the command (any thread), then owned by the
 * partition it is linked into. */
struct kv_links {
    struct kv_links *prev, *next;
};

struct kv_item {
    struct kv_links lru;           /* first: LRU list, most recent at the head */
    struct kv_item *hnext;         /* hash chain */
    uint64_t hash;
    uint64_t cas;
    int64_t exptime;               /* absolute unix seconds; 0 never */
    int64_t time;                  /* unix seconds when stored */
    uint32_t flags;
    uint32_t nbytes;               /* value length, without "\r\n" */
    uint8_t nkey;
    char data[];                   /* key, value, "\r\n" */
};

static inline char *
kv_item_value(struct kv_item *it)
{
    return it->data + it->nkey;
}

/* Memory an item is charged for. */
static inline size_t
kv_item_size(size_t nkey, size_t nbytes)
{
    return sizeof(struct kv_item) + nkey + nbytes + 2 + 16;
}

/* A fresh item (value uninitialised; "\r\n" not yet written), or NULL. */
struct kv_item *kv_item_new(const char *key, size_t nkey, uint32_t flags, int64_t exptime,
                            size_t nbytes);

#define KV_STAT_FIELDS(X)                                                            \
    X(cmd_get) X(cmd_set) X(cmd_touch) X(cmd_flush) X(get_hits) X(get_misses)        \
    X(get_expired) X(get_flushed) X(delete_hits) X(delete_misses) X(incr_hits)       \
    X(incr_misses) X(decr_hits) X(decr_misses) X(cas_hits) X(cas_misses)             \
    X(cas_badval) X(touch_hits) X(touch_misses) X(evictions) X(reclaimed)            \
    X(total_items) X(curr_items) X(bytes) X(limit_maxbytes)

struct kv_counters {
#define KV_FIELD_(name) uint64_t name;
    KV_STAT_FIELDS(KV_FIELD_)
#undef KV_FIELD_
};

void kv_counters_add(struct kv_counters *sum, const struct kv_counters *c);

struct kv_part {
    struct kv_item **buckets;
    size_t mask;
    struct kv_links lru;           /* sentinel: lru.next is the most recent */
    size_t used;                   /* bytes charged (kv_item_size) */
    size_t limit;
    uint64_t cas_seq;
    unsigned index;                /* mixed into cas values: unique overall */
    int64_t flush_at;              /* delayed flush_all time, 0 none */
    struct kv_counters c;
};

/* index < 256. Returns 0 or -ENOMEM. */
int kv_part_init(struct kv_part *p, unsigned index, size_t limit);
void kv_part_destroy(struct kv_part *p);

/* Operation kinds beyond the commands: unlink a key without a reply or a
 * count (a set whose value was too large drops the old value, as memcached
 * does). */
#define KV_OP_UNLINK 100

struct kv_op {
    int kind;                  /* enum kv_cmd_kind or KV_OP_UNLINK */
    const char *key;
    uint8_t nkey;
    int noreply;
    uint64_t hash;
    struct kv_item *item;      /* storage: taken (linked or freed) */
    int64_t exptime;           /* touch, gat: absolute (kv_exptime_abs) */
    uint64_t cas;              /* cas */
    uint64_t delta;            /* incr, decr */
    int64_t now;               /* unix seconds */
    struct kv_out *out;        /* the reply goes here */
};

void kv_part_exec(struct kv_part *p, struct kv_op *op);

/* flush_all: at when (<= now: immediately, freeing every item). */
void kv_part_flush(struct kv_part *p, int64_t when, int64_t now);

/* The key hash (partition and bucket choice). */
uint64_t kv_hash(const char *key, size_t n);

/* Unix seconds; tests move the clock with kv_clock_advance. */
int64_t kv_now(void);
void kv_clock_advance(int64_t seconds);

/* A protocol exptime to absolute unix seconds: 0 stays 0 (never), negative
 * is already past, up to 30 days is relative, beyond that absolute. */
int64_t kv_exptime_abs(int64_t exptime, int64_t now);

#endif
