/* One connection: a task that reads into a small buffer, feeds the session,
 * and sends the replies of everything it consumed in one send, so that a
 * pipelined batch costs one receive and one send.
 *
 * The read buffer starts at 2 KiB (an idle connection costs little) and
 * doubles while receives fill it, up to 16 KiB or the longest line the
 * session accepts, whichever is larger. Values bigger than the buffer go
 * straight into their item (session.c), so it never grows for them.
 *
 * Placement: in the sharded architecture the task is pinned to the shard
 * that accepted the connection; in the shared one it is stealable. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "server_int.h"

#define RBUF_MIN 2048
#define RBUF_STEADY (16 * 1024)
#define OUT_KEEP (64 * 1024) /* a larger reply buffer is freed after use */

static void
unregister(struct kv_conn *c)
{
    struct kv_server *srv = c->srv;
    pthread_mutex_lock(&srv->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&srv->lock);
}

/* Send and empty the reply buffer; on failure the session closes. */
static int
send_out(struct kv_conn *c)
{
    struct kv_out *o = &c->s.out;
    ssize_t r = o->len > 0 ? sp_sock_send_all(c->fd, o->buf, o->len, NULL) : 0;
    kv_out_reset(o, OUT_KEEP);
    if (r < 0 || o->oom) {
        c->s.state = KV_S_CLOSE;
        return -1;
    }
    return 0;
}

static void
mid_flush(struct kv_session *s, void *ctx)
{
    (void)s;
    send_out(ctx);
}

static intptr_t
conn_main(void *arg)
{
    struct kv_conn *c = arg;
    struct kv_server *srv = c->srv;
    pthread_mutex_lock(&srv->lock);
    c->task = sp_task_self();
    pthread_mutex_unlock(&srv->lock);

    size_t cap = RBUF_MIN, have = 0;
    size_t max = srv->cfg.line_max + 2 > RBUF_STEADY ? srv->cfg.line_max + 2 : RBUF_STEADY;
    char *buf = malloc(cap);
    while (buf != NULL) {
        ssize_t n = sp_sock_recv(c->fd, buf + have, cap - have, 0);
        if (n <= 0) {
            break;
        }
        atomic_store_explicit(&c->last_ns, sp_now_ns(), memory_order_relaxed);
        int filled = (size_t)n == cap - have;
        have += (size_t)n;
        size_t used = kv_session_feed(&c->s, buf, have);
        have -= used;
        memmove(buf, buf + used, have);
        if (send_out(c) < 0 || c->s.state == KV_S_CLOSE) {
            break;
        }
        if ((filled || have == cap) && cap < max) {
            char *b = realloc(buf, cap * 2 > max ? max : cap * 2);
            if (b == NULL) {
                break;
            }
            buf = b;
            cap = cap * 2 > max ? max : cap * 2;
        }
    }
    free(buf);
    unregister(c);
    sp_close(c->fd);
    kv_session_destroy(&c->s);
    atomic_fetch_sub(&srv->curr_conns, 1);
    free(c);
    sp_waitgroup_done(&srv->live);
    return 0;
}

int
kv_conn_start(struct kv_server *srv, int fd, int shard)
{
    struct kv_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sp_close(fd);
        return -ENOMEM;
    }
    c->srv = srv;
    c->fd = fd;
    atomic_store_explicit(&c->last_ns, sp_now_ns(), memory_order_relaxed);
    kv_session_init(&c->s, srv->eng, srv->cfg.line_max);
    c->s.flush = mid_flush;
    c->s.flush_ctx = c;
    sp_tcp_set_nodelay(fd, 1);

    pthread_mutex_lock(&srv->lock);
    c->next = srv->conns.next;
    c->prev = &srv->conns;
    srv->conns.next->prev = c;
    srv->conns.next = c;
    pthread_mutex_unlock(&srv->lock);
    atomic_fetch_add(&srv->curr_conns, 1);
    atomic_fetch_add(&srv->total_conns, 1);
    sp_waitgroup_add(&srv->live, 1);

    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.name = "kv-conn";
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    attr.stack_size = 32 * 1024; /* the deepest path is a few frames */
#endif
    if (srv->cfg.arch == KV_ARCH_SHARDED) {
        attr.place = SP_PLACE_ON;
        attr.shard = shard;
    }
    int err = sp_task_spawn(NULL, &attr, conn_main, c);
    if (err < 0) {
        unregister(c);
        sp_close(fd);
        kv_session_destroy(&c->s);
        atomic_fetch_sub(&srv->curr_conns, 1);
        free(c);
        sp_waitgroup_done(&srv->live);
    }
    return err;
}
