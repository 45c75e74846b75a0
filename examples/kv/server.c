/* The server's lifecycle (see server.h).
 *
 * Start: build the engine, listen on one SO_REUSEPORT socket per shard (the
 * kernel spreads connections over them), and run one accept task pinned to
 * each shard, plus a reaper task when an idle timeout is set.
 *
 * Stop, in order:
 *   1. mark the server stopping and close the listeners (sp_close cancels
 *      the accepts); join the accept tasks, so no connection starts later;
 *   2. shut down the read side of every connection: each reads what its
 *      client had sent, answers it, sees the end of input and closes;
 *   3. wait for the connections, at most stop_grace_ns, then cancel those
 *      left (a client that does not read its replies) and wait again;
 *   4. stop the reaper, write the stats if asked, free the engine.
 *
 * The reaper wakes every quarter of the idle timeout and shuts down (both
 * ways) each connection whose last input is older than the timeout; its
 * task then sees the end of input and closes, as at stop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

void
kv_config_init(struct kv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "0.0.0.0";
    cfg->port = 11211;
    cfg->arch = KV_ARCH_SHARDED;
    cfg->mem_limit = 64u << 20;
    cfg->item_max = 1u << 20;
    cfg->line_max = 64 * 1024;
    cfg->idle_timeout_ns = 300 * SP_NSEC_PER_SEC;
    cfg->stop_grace_ns = 5 * SP_NSEC_PER_SEC;
    cfg->max_conns = 65536;
}

static void
reject(int fd)
{
    static const char msg[] = "SERVER_ERROR Too many open connections\r\n";
    sp_sock_send_all(fd, msg, sizeof(msg) - 1, NULL);
    sp_close(fd);
}

static intptr_t
accept_loop(void *arg)
{
    struct kv_server *srv = ((void **)arg)[0];
    int k = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    while (!atomic_load(&srv->stopping)) {
        int fd = sp_tcp_accept(srv->lfds[k], NULL);
        if (fd < 0) {
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM) {
                sp_sleep_ns(10 * SP_NSEC_PER_MSEC); /* let connections end */
            } else if (fd == -ECANCELED || fd == -EBADF) {
                break;
            }
            continue;
        }
        if (atomic_load(&srv->curr_conns) >= srv->cfg.max_conns) {
            atomic_fetch_add(&srv->rejected_conns, 1);
            reject(fd);
            continue;
        }
        kv_conn_start(srv, fd, k);
    }
    return 0;
}

/* Shut down every registered connection that passes the test. */
static void
shutdown_conns(struct kv_server *srv, int how, uint64_t idle_before)
{
    pthread_mutex_lock(&srv->lock);
    for (struct kv_conn *c = srv->conns.next; c != &srv->conns; c = c->next) {
        if (atomic_load_explicit(&c->last_ns, memory_order_relaxed) < idle_before) {
            shutdown(c->fd, how);
        }
    }
    pthread_mutex_unlock(&srv->lock);
}

static intptr_t
reaper(void *arg)
{
    struct kv_server *srv = arg;
    uint64_t t = srv->cfg.idle_timeout_ns;
    uint64_t period = t / 4 < SP_NSEC_PER_MSEC ? SP_NSEC_PER_MSEC : t / 4;
    if (period > SP_NSEC_PER_SEC) {
        period = SP_NSEC_PER_SEC;
    }
    while (sp_sleep_ns(period) == 0) {
        uint64_t now = sp_now_ns();
        if (now > t) {
            shutdown_conns(srv, SHUT_RDWR, now - t);
        }
    }
    return 0;
}

static void
server_stats(struct kv_engine *e, struct kv_out *o)
{
    struct kv_server *srv = e->owner;
    char line[160];
    int64_t now = kv_now();
    int n = snprintf(line, sizeof(line),
                     "STAT pid %ld\r\nSTAT uptime %lld\r\nSTAT time %lld\r\n"
                     "STAT version 1.6.0-spindle-kv\r\nSTAT pointer_size %d\r\n",
                     (long)getpid(), (long long)(now - srv->started), (long long)now,
                     (int)(8 * sizeof(void *)));
    kv_out_put(o, line, (size_t)n);
    n = snprintf(line, sizeof(line),
                 "STAT curr_connections %d\r\nSTAT total_connections %llu\r\n"
                 "STAT rejected_connections %llu\r\nSTAT threads %d\r\nSTAT arch %s\r\n",
                 atomic_load(&srv->curr_conns),
                 (unsigned long long)atomic_load(&srv->total_conns),
                 (unsigned long long)atomic_load(&srv->rejected_conns), sp_shard_count(),
                 srv->cfg.arch == KV_ARCH_SHARDED ? "sharded" : "shared");
    kv_out_put(o, line, (size_t)n);
}

static int
listen_all(struct kv_server *srv)
{
    int n = sp_shard_count();
    srv->lfds = calloc((size_t)n, sizeof(int));
    srv->acceptors = calloc((size_t)n, sizeof(sp_task_t));
    if (srv->lfds == NULL || srv->acceptors == NULL) {
        return -ENOMEM;
    }
    int port = srv->cfg.port;
    for (int k = 0; k < n; k++) {
        int fd = sp_tcp_listen_ip(srv->cfg.host, port, 4096, SP_NET_REUSEPORT);
        if (fd < 0) {
            return fd;
        }
        srv->lfds[srv->nlisten++] = fd;
        if (port == 0) {
            sp_addr_t a;
            sp_sock_local_addr(fd, &a);
            port = sp_addr_port(&a);
        }
    }
    srv->port = port;
    return 0;
}

static int
spawn_acceptors(struct kv_server *srv)
{
    for (int k = 0; k < srv->nlisten; k++) {
        void **arg = malloc(2 * sizeof(void *));
        if (arg == NULL) {
            return -ENOMEM;
        }
        arg[0] = srv;
        arg[1] = (void *)(intptr_t)k;
        sp_task_attr_t attr;
        sp_task_attr_init(&attr);
        attr.place = SP_PLACE_ON;
        attr.shard = k;
        attr.name = "kv-accept";
        int err = sp_task_spawn(&srv->acceptors[k], &attr, accept_loop, arg);
        if (err < 0) {
            free(arg);
            return err;
        }
    }
    return 0;
}

static void
free_server(struct kv_server *srv)
{
    for (int k = 0; k < srv->nlisten; k++) {
        if (srv->lfds[k] >= 0) {
            sp_close(srv->lfds[k]);
        }
    }
    if (srv->eng != NULL) {
        kv_arch_free(srv->eng);
    }
    sp_waitgroup_destroy(&srv->live);
    pthread_mutex_destroy(&srv->lock);
    free(srv->lfds);
    free(srv->acceptors);
    free(srv);
}

int
kv_server_start(struct kv_server **out, const struct kv_config *cfg)
{
    struct kv_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return -ENOMEM;
    }
    srv->cfg = *cfg;
    srv->started = kv_now();
    srv->conns.next = srv->conns.prev = &srv->conns;
    pthread_mutex_init(&srv->lock, NULL);
    sp_waitgroup_init(&srv->live);
    int err = cfg->arch == KV_ARCH_SHARDED
                  ? kv_arch_sharded_new(&srv->eng, cfg->mem_limit, cfg->item_max)
                  : kv_arch_shared_new(&srv->eng, cfg->mem_limit, cfg->item_max);
    if (err == 0) {
        srv->eng->owner = srv;
        srv->eng->server_stats = server_stats;
        err = listen_all(srv);
    }
    if (err == 0) {
        err = spawn_acceptors(srv);
    }
    if (err < 0) {
        /* Acceptors that did start end when their listener closes. */
        atomic_store(&srv->stopping, 1);
        for (int k = 0; k < srv->nlisten; k++) {
            sp_close(srv->lfds[k]);
            srv->lfds[k] = -1;
            if (srv->acceptors[k].bits != 0) {
                sp_task_join(srv->acceptors[k], NULL);
            }
        }
        free_server(srv);
        return err;
    }
    if (cfg->idle_timeout_ns > 0) {
        sp_task_attr_t attr;
        sp_task_attr_init(&attr);
        attr.name = "kv-reaper";
        if (sp_task_spawn(&srv->reaper, &attr, reaper, srv) < 0) {
            srv->reaper.bits = 0;
        }
    }
    *out = srv;
    return 0;
}

int
kv_server_port(const struct kv_server *srv)
{
    return srv->port;
}

static void
cancel_conns(struct kv_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    for (struct kv_conn *c = srv->conns.next; c != &srv->conns; c = c->next) {
        if (c->task.bits != 0) {
            sp_task_cancel(c->task);
        }
    }
    pthread_mutex_unlock(&srv->lock);
}

void
kv_server_write_stats(struct kv_server *srv, FILE *f)
{
    struct kv_out o = {0};
    server_stats(srv->eng, &o);
    struct kv_counters c;
    srv->eng->counters(srv->eng, &c);
#define KV_PRINT_(name) fprintf(f, "STAT %s %llu\n", #name, (unsigned long long)c.name);
    if (o.buf != NULL) {
        fwrite(o.buf, 1, o.len, f);
    }
    KV_STAT_FIELDS(KV_PRINT_)
#undef KV_PRINT_
    free(o.buf);
}

void
kv_server_stop(struct kv_server *srv, FILE *stats)
{
    atomic_store(&srv->stopping, 1);
    for (int k = 0; k < srv->nlisten; k++) {               /* step 1 */
        sp_close(srv->lfds[k]);
        srv->lfds[k] = -1;
    }
    for (int k = 0; k < srv->nlisten; k++) {
        sp_task_join(srv->acceptors[k], NULL);
    }
    shutdown_conns(srv, SHUT_RD, UINT64_MAX);               /* step 2 */
    uint64_t old = sp_task_set_deadline(sp_now_ns() + srv->cfg.stop_grace_ns);
    int err = sp_waitgroup_wait(&srv->live);                 /* step 3 */
    sp_task_set_deadline(old);
    if (err < 0) {
        cancel_conns(srv);
        sp_waitgroup_wait(&srv->live);
    }
    if (srv->reaper.bits != 0) {                             /* step 4 */
        sp_task_cancel(srv->reaper);
        sp_task_join(srv->reaper, NULL);
    }
    if (stats != NULL) {
        kv_server_write_stats(srv, stats);
    }
    free_server(srv);
}
