/* The load generator's options and shared state (main.c parses and
 * reports, run.c drives connections). */
#ifndef LG_LOADGEN_H
#define LG_LOADGEN_H

#include <stdatomic.h>
#include <stdint.h>

#include "dist.h"
#include "hist.h"
#include "proto.h"

struct lg_opts {
    const struct lg_proto *proto;
    const char *host;
    int port;
    int conns;              /* connections */
    int depth;              /* closed loop: requests in flight per connection */
    double rate;            /* open loop: requests/s over all connections; 0 closed */
    double duration_s, warmup_s;
    uint64_t keys;
    double zipf_s;          /* 0: uniform */
    size_t value_len;
    double get_ratio;       /* reads / all requests */
    int preload;            /* write every key before measuring */
    int shards;
    int idle_conns;         /* idle mode: connections to open and hold */
    double hold_s;
    int quiet;
};

/* One connection's results; written only by its own tasks (pinned to one
 * shard). ops is read by the progress line (relaxed: it only reports). */
struct lg_conn {
    const struct lg_opts *o;
    int index;
    int fd;
    struct lg_rng rng;
    struct lg_hist hist;
    _Atomic uint64_t ops;      /* responses while recording */
    uint64_t hits, misses, errors;
    int failed;                /* the connection broke */
    /* open loop: intended send times of requests in flight */
    uint64_t *ring;
    unsigned ring_cap, ring_head, ring_tail;
    int sender_done;
};

extern _Atomic int lg_recording; /* responses count toward the results */
extern _Atomic int lg_stopping;  /* senders stop; receivers drain */
extern struct lg_keys lg_keyspace;

/* Connection tasks (run.c). arg is a struct lg_conn. */
intptr_t lg_closed_loop(void *arg);
intptr_t lg_open_sender(void *arg);
intptr_t lg_open_receiver(void *arg);
int lg_connect(const struct lg_opts *o);
/* Write keys [from, to) with pipelined sets on one connection. */
int lg_preload(const struct lg_opts *o, uint64_t from, uint64_t to);

#endif
