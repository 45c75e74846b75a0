/* Starting, stopping and counting: one listener and one acceptor task per
 * shard, the connection limit, the graceful stop.
 *
 * Listeners. Each shard gets its own listening socket on the same port
 * (SO_REUSEPORT when there is more than one shard), and its acceptor is
 * pinned there and spawns connection tasks pinned to the same shard
 * (SP_PLACE_LOCAL). The kernel spreads connections over the listeners by
 * hash, no task ever crosses shards, and the per-shard state needs no
 * lock. The alternative, one acceptor handing connections to other
 * shards, costs a cross-shard wake per connection (docs/examples/httpd.md
 * has the comparison).
 *
 * Connection limit. A semaphore holds max_conns permits; an acceptor that
 * finds none left accepts the connection anyway, answers 503 with
 * Connection: close and closes it, so an overloaded server says so at once
 * instead of leaving clients in the backlog until they time out.
 *
 * Stop, in this order: 1. a stopper task on each shard sets sh->stopping,
 * 2. closes the listener (sp_close cancels the parked accept: the acceptor
 * sees -EBADF and ends), 3. wakes the connections idle between requests
 * (conn_wake_idle); connections in the middle of a request finish it.
 * httpd_wait then joins the acceptors and waits for the connection wait
 * group to reach zero. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

void
httpd_config_init(struct httpd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 8080;
    cfg->max_head = 8 * 1024;
    cfg->max_body = 1024 * 1024;
    cfg->header_timeout_ns = 10 * SP_NSEC_PER_SEC;
    cfg->idle_timeout_ns = 60 * SP_NSEC_PER_SEC;
    cfg->max_conns = 10000;
}

int
httpd_port(const struct httpd *srv)
{
    return srv->port;
}

/* Over the limit: say 503 and close. The reply is tiny and the socket
 * new, so the send completes at once; a deadline bounds it anyway. */
static void
refuse(struct httpd_shard *sh, int fd)
{
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nServer: spindle\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n";
    uint64_t old = sp_task_set_deadline(sp_now_ns() + SP_NSEC_PER_SEC);
    sp_sock_send(fd, msg, sizeof(msg) - 1, 0);
    sp_task_set_deadline(old);
    sp_close(fd);
    sh->stats.refused++;
}

static void
start_conn(struct httpd_shard *sh, int fd)
{
    struct httpd *srv = sh->srv;
    if (sp_sem_try_acquire(&srv->limit) < 0) {
        refuse(sh, fd);
        return;
    }
    struct conn *c = conn_new(sh, fd);
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = SP_PLACE_LOCAL;
    attr.name = "http-conn";
    sp_waitgroup_add(&srv->conns_wg, 1);
    if (!c || sp_task_spawn(NULL, &attr, conn_main, c) < 0) {
        if (c) {
            free(c); /* never ran: conn_main owns the rest */
        }
        sp_close(fd);
        sp_sem_release(&srv->limit, 1);
        sp_waitgroup_done(&srv->conns_wg);
        return;
    }
    sh->stats.accepted++;
}

static intptr_t
acceptor(void *arg)
{
    struct httpd_shard *sh = arg;
    for (;;) {
        int fd = sp_tcp_accept(sh->lfd, NULL);
        if (fd >= 0) {
            start_conn(sh, fd);
            continue;
        }
        if (sh->stopping || fd == -EBADF || fd == -ECANCELED) {
            return 0;
        }
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM || fd == -ENOBUFS) {
            sp_sleep_ns(10 * SP_NSEC_PER_MSEC); /* out of fds: back off */
        }
    }
}

static intptr_t
stopper(void *arg)
{
    struct httpd_shard *sh = arg;
    sh->stopping = 1;
    if (sh->lfd >= 0) {
        sp_close(sh->lfd);
        sh->lfd = -1;
    }
    conn_wake_idle(sh);
    return 0;
}

static int
spawn_on(struct httpd *srv, int i, sp_task_fn fn, sp_task_t *out)
{
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = SP_PLACE_ON;
    attr.shard = i;
    return sp_task_spawn(out, &attr, fn, &srv->shards[i]);
}

/* Run fn(&shards[i]) pinned on each shard i and wait for them all. */
static void
on_every_shard(struct httpd *srv, sp_task_fn fn)
{
    sp_task_t h[srv->nshards];
    int n = 0;
    while (n < srv->nshards && spawn_on(srv, n, fn, &h[n]) == 0) {
        n++;
    }
    for (int i = 0; i < n; i++) {
        sp_task_join(h[i], NULL);
    }
}

/* An acceptor on each shard; on failure, none is left running. */
static int
start_acceptors(struct httpd *srv)
{
    int n = 0, err = 0;
    while (n < srv->nshards && (err = spawn_on(srv, n, acceptor, &srv->shards[n].acceptor)) == 0) {
        n++;
    }
    if (err < 0) {
        on_every_shard(srv, stopper); /* closes the listeners: the acceptors end */
        for (int i = 0; i < n; i++) {
            sp_task_join(srv->shards[i].acceptor, NULL);
        }
    }
    return err;
}

static int
open_listeners(struct httpd *srv)
{
    sp_addr_t a;
    int err = sp_addr_ip(&a, srv->cfg.ip, srv->cfg.port);
    unsigned flags = srv->nshards > 1 ? SP_NET_REUSEPORT : 0;
    for (int i = 0; err == 0 && i < srv->nshards; i++) {
        int fd = sp_tcp_listen(&a, srv->cfg.backlog, flags);
        if (fd < 0) {
            return fd;
        }
        srv->shards[i].lfd = fd;
        sp_addr_t local;
        if (i == 0 && (err = sp_sock_local_addr(fd, &local)) == 0) {
            srv->port = sp_addr_port(&local);
            err = sp_addr_ip(&a, srv->cfg.ip, srv->port); /* the rest share it */
        }
    }
    return err;
}

static void
free_server(struct httpd *srv)
{
    for (int i = 0; i < srv->nshards; i++) {
        if (srv->shards[i].lfd >= 0) {
            sp_close(srv->shards[i].lfd);
        }
        while (srv->shards[i].nspare > 0) {
            free(srv->shards[i].spare[--srv->shards[i].nspare]);
        }
    }
    if (srv->root.dirfd >= 0) {
        static_root_close(&srv->root);
    }
    sp_sem_destroy(&srv->limit);
    sp_waitgroup_destroy(&srv->conns_wg);
    free(srv->shards);
    free(srv);
}

int
httpd_start(struct httpd **out, const struct httpd_config *cfg)
{
    struct httpd *srv = calloc(1, sizeof(*srv));
    int n = sp_shard_count(), err = -ENOMEM;
    if (!srv || n <= 0) {
        free(srv);
        return n <= 0 ? -EPERM : -ENOMEM;
    }
    srv->cfg = *cfg;
    srv->nshards = n;
    srv->root.dirfd = -1;
    sp_sem_init(&srv->limit, (unsigned)cfg->max_conns);
    sp_waitgroup_init(&srv->conns_wg);
    srv->shards = aligned_alloc(64, sizeof(struct httpd_shard) * (size_t)n);
    if (!srv->shards) {
        goto fail;
    }
    memset(srv->shards, 0, sizeof(struct httpd_shard) * (size_t)n);
    for (int i = 0; i < n; i++) {
        srv->shards[i].srv = srv;
        srv->shards[i].index = i;
        srv->shards[i].lfd = -1;
    }
    if ((cfg->root && (err = static_root_open(&srv->root, cfg->root)) < 0) ||
        (err = open_listeners(srv)) < 0) {
        goto fail;
    }
    if ((err = start_acceptors(srv)) < 0) {
        goto fail;
    }
    *out = srv;
    return 0;
fail:
    if (srv->shards) {
        free_server(srv);
    } else {
        sp_sem_destroy(&srv->limit);
        sp_waitgroup_destroy(&srv->conns_wg);
        free(srv);
    }
    return err;
}

void
httpd_stop(struct httpd *srv)
{
    on_every_shard(srv, stopper);
}

void
httpd_wait(struct httpd *srv, struct httpd_stats *stats)
{
    for (int i = 0; i < srv->nshards; i++) {
        sp_task_join(srv->shards[i].acceptor, NULL);
    }
    sp_waitgroup_wait(&srv->conns_wg);
    if (stats) {
        memset(stats, 0, sizeof(*stats));
        for (int i = 0; i < srv->nshards; i++) {
            const struct httpd_stats *s = &srv->shards[i].stats;
            stats->accepted += s->accepted;
            stats->refused += s->refused;
            stats->requests += s->requests;
            for (int k = 0; k < 6; k++) {
                stats->status[k] += s->status[k];
            }
            stats->timeouts += s->timeouts;
            stats->bytes_in += s->bytes_in;
            stats->bytes_out += s->bytes_out;
        }
    }
    free_server(srv);
}
