/* The server's private structures, shared by server.c (lifecycle,
 * listeners, reaper, stats) and conn.c (one connection's task). */
#ifndef KV_SERVER_INT_H
#define KV_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <spindle.h>

#include "server.h"
#include "session.h"

/* A connection. Registered in srv->conns (under srv->lock) from accept
 * until its task ends, so the reaper and stop may shut its socket down;
 * the task unregisters it before closing the fd, so a shutdown never
 * reaches a reused fd number. */
struct kv_conn {
    struct kv_conn *prev, *next;   /* srv->conns; srv->lock */
    struct kv_server *srv;
    int fd;
    sp_task_t task;                /* set by the task itself; srv->lock */
    _Atomic uint64_t last_ns;      /* last input (sp_now_ns); written by the
                                    * task, read by the reaper (relaxed: a
                                    * stale value only delays a reap) */
    struct kv_session s;
};

struct kv_server {
    struct kv_config cfg;
    struct kv_engine *eng;
    int port;
    int nlisten;
    int *lfds;
    sp_task_t *acceptors;
    sp_task_t reaper;
    pthread_mutex_t lock;          /* guards conns and each conn's task */
    struct kv_conn conns;          /* sentinel of the registry */
    sp_waitgroup_t live;           /* one count per connection task */
    _Atomic int stopping;
    _Atomic int curr_conns;
    _Atomic uint64_t total_conns;
    _Atomic uint64_t rejected_conns;
    int64_t started;               /* unix seconds */
};

/* Start a task for an accepted fd (conn.c). 0 or -errno (fd closed). */
int kv_conn_start(struct kv_server *srv, int fd, int shard);

#endif
