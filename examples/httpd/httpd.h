/* The HTTP server as a library: configuration, start, graceful stop,
 * statistics (server.c), and the per-connection loop (conn.c). main.c
 * wraps it in a program; tests/test-http.c starts it in-process.
 *
 * Threading: one listener per shard (SO_REUSEPORT), one acceptor task
 * pinned to each shard, and each connection's task pinned to the shard
 * that accepted it. So a shard's struct httpd_shard (its connection list,
 * its counters, its Date cache) is only ever touched by tasks of that
 * shard and needs no lock; the only state shared across shards is the
 * connection-limit semaphore, the wait group and the stopping flag. */
#ifndef HTTPD_HTTPD_H
#define HTTPD_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <spindle.h>

#include "response.h"
#include "static.h"

struct httpd_config {
    const char *ip;             /* listen address; NULL: 0.0.0.0 */
    int port;                   /* 0: an ephemeral port (httpd_port) */
    const char *root;           /* static file root; NULL: none (404) */
    size_t max_head;            /* request line + fields, bytes (431 past it) */
    size_t max_body;            /* request body, bytes (413 past it) */
    uint64_t header_timeout_ns; /* first byte of a request to its blank line */
    uint64_t idle_timeout_ns;   /* between requests; also per body read and send */
    int max_conns;              /* open connections at most; more are refused */
    int backlog;                /* listen backlog; 0: SOMAXCONN */
    int quiet;                  /* no log lines */
};

/* Fill *cfg with the defaults: 0.0.0.0:8080, no root, 8 KiB heads, 1 MiB
 * bodies, 10 s header and 60 s idle timeouts, 10,000 connections. */
void httpd_config_init(struct httpd_config *cfg);

/* Counters, per shard while running, summed by httpd_wait. */
struct httpd_stats {
    uint64_t accepted;  /* connections served */
    uint64_t refused;   /* connections over the limit (503 and closed) */
    uint64_t requests;  /* responses sent, by class below */
    uint64_t status[6]; /* [2] 2xx, [4] 4xx, [5] 5xx ... */
    uint64_t timeouts;  /* connections cut off by a header or idle timeout */
    uint64_t bytes_in;
    uint64_t bytes_out;
};

struct conn;

/* One shard's share of the server; touched only by that shard's tasks. */
struct httpd_shard {
    struct httpd *srv;
    int index;
    int lfd;             /* listener, closed by the stopper */
    int stopping;        /* set by the stopper: no more requests are read */
    sp_task_t acceptor;
    struct conn *conns;  /* open connections, for the stopper */
    struct httpd_stats stats;
    struct http_date date;
    /* Output buffers of idle connections (conn.c, "spare"): an idle
     * connection holds none. Only this shard's tasks touch it. */
    char *spare[64];
    int nspare;
} __attribute__((aligned(64)));

struct httpd {
    struct httpd_config cfg;
    struct static_root root; /* dirfd -1 without a root */
    int port;
    int nshards;
    struct httpd_shard *shards;
    sp_sem_t limit;          /* a permit per open connection */
    sp_waitgroup_t conns_wg; /* open connections */
};

/* Start listening on every shard of the calling task's runtime and accept.
 * Returns 0 with *out set, or -errno (nothing is left running).
 * Suspends: yes. Context: a task. */
int httpd_start(struct httpd **out, const struct httpd_config *cfg);

/* The port the server listens on. */
int httpd_port(const struct httpd *srv);

/* Begin a graceful stop: close the listeners, cut idle connections, let
 * requests in flight finish (their responses say Connection: close).
 * Suspends: yes. Context: a task of the server's runtime. */
void httpd_stop(struct httpd *srv);

/* Wait until every acceptor and connection has ended, sum the counters
 * into *stats (may be NULL) and free the server. Call after httpd_stop.
 * Suspends: yes. Context: a task. */
void httpd_wait(struct httpd *srv, struct httpd_stats *stats);

/* The connection task (conn.c): serve fd until it closes. arg is a struct
 * conn from conn_new. */
struct conn *conn_new(struct httpd_shard *sh, int fd);
intptr_t conn_main(void *arg);

/* The stopper's part in conn.c: wake every connection of sh that waits for
 * a request, so it sees sh->stopping. */
void conn_wake_idle(struct httpd_shard *sh);

#endif
