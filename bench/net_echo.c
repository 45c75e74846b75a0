/* net_echo: TCP over loopback, client and server in this one process.
 *
 *   net_echo_rtt_256b                  512 round trips of 256 bytes on one
 *                                      connection; ns per round trip.
 *   net_stream_throughput_4k_window32  2,048 frames of 4 KiB, the client
 *                                      keeping up to 32 frames unacknowledged
 *                                      (the server answers each frame with an
 *                                      8-byte ack); ns per frame, MiB/s in
 *                                      the extra fields.
 *
 * spindle variants: both tasks pinned to one shard; client and server
 * pinned to different shards; both stealable on two shards. Peers, in this
 * program: a hand-written single-thread liburing loop that drives both
 * ends of the connection from one ring (the physical limit of one core),
 * the same ring driven by the two ends' own code on two bare stacks with
 * spindle's context switch and nothing else of spindle (what having tasks
 * costs, apart from what the runtime costs),
 * a hand-written single-thread epoll loop doing the same with non-blocking
 * sockets (the limit for spindle's epoll backend), the bare tasks doing
 * the same (a receive lets the other task run before it tries, as
 * spindle's deferred receive does), the same two ends as an
 * edge-triggered event loop (what a libuv-style program pays), and plain
 * blocking system calls with the server on its own thread. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arch/context.h" /* the bare-task peer uses spindle's switch */
#include "harness.h"

#define RTT_MSG 256
#define FRAME 4096
#define WINDOW 32
#define ACK 8

typedef struct ne_params {
    int stream;      /* 0: rtt, 1: stream throughput */
    int shards;
    sp_place_t client, server;
    int client_shard, server_shard;
    sp_backend_t backend; /* AUTO (io_uring here) unless a row says epoll */
} ne_params_t;

static uint64_t
rounds_of(int stream)
{
    return stream ? bench_size(2048, 256) : bench_size(512, 128);
}

/* --- the two ends, on any socket API through these hooks ------------------- */

typedef struct ne_io {
    /* spindle's own signatures, so that its calls are made directly (each
     * frame between the caller and a system call costs a mispredicted
     * return after it: docs/design/io.md, sys.h); `done` may be NULL. */
    ssize_t (*send_all)(int fd, const void *buf, size_t len, size_t *done);
    ssize_t (*recv_exact)(int fd, void *buf, size_t len, size_t *done);
} ne_io_t;

static int
serve(const ne_io_t *io, int fd, int stream, uint64_t rounds)
{
    char buf[FRAME];
    size_t n = stream ? FRAME : RTT_MSG;
    uint64_t ack = 0;
    for (uint64_t i = 0; i < rounds; i++) {
        if (io->recv_exact(fd, buf, n, NULL) != (ssize_t)n) {
            return -EPROTO;
        }
        ack = i;
        const void *reply = stream ? (const void *)&ack : buf;
        size_t rlen = stream ? ACK : n;
        if (io->send_all(fd, reply, rlen, NULL) != (ssize_t)rlen) {
            return -EPROTO;
        }
    }
    return 0;
}

static int
drive(const ne_io_t *io, int fd, int stream, uint64_t rounds)
{
    char out[FRAME], in[FRAME];
    memset(out, 'x', sizeof(out));
    if (!stream) {
        for (uint64_t i = 0; i < rounds; i++) {
            if (io->send_all(fd, out, RTT_MSG, NULL) != RTT_MSG ||
                io->recv_exact(fd, in, RTT_MSG, NULL) != RTT_MSG) {
                return -EPROTO;
            }
        }
        return 0;
    }
    uint64_t sent = 0, acked = 0;
    while (acked < rounds) {
        while (sent < rounds && sent - acked < WINDOW) {
            if (io->send_all(fd, out, FRAME, NULL) != FRAME) {
                return -EPROTO;
            }
            sent++;
        }
        if (io->recv_exact(fd, in, ACK, NULL) != ACK) {
            return -EPROTO;
        }
        acked++;
    }
    return 0;
}

static void
report(bench_case_t *c, double *value, int stream, uint64_t rounds, uint64_t ns)
{
    *value = (double)ns / (double)rounds;
    bench_extra_clear(c);
    if (stream) {
        bench_extra(c, "frames=%llu mib_per_s=%.0f", (unsigned long long)rounds,
                    (double)rounds * FRAME / (1 << 20) / ((double)ns / 1e9));
    } else {
        bench_extra(c, "round_trips=%llu", (unsigned long long)rounds);
    }
}

/* --- spindle ----------------------------------------------------------------- */

static const ne_io_t SP_IO = {sp_sock_send_all, sp_sock_recv_exact};

typedef struct ne_run {
    const ne_params_t *p;
    int lfd;
    sp_addr_t addr;
    uint64_t rounds;
    uint64_t elapsed_ns;
    uint64_t cpu_ns;  /* process CPU time (all threads) over the timed part */
} ne_run_t;

static intptr_t
sp_server(void *arg)
{
    ne_run_t *run = arg;
    int fd = sp_tcp_accept(run->lfd, NULL);
    if (fd < 0) {
        return bench_fail("sp_tcp_accept", fd);
    }
    sp_tcp_set_nodelay(fd, 1);
    int rc = serve(&SP_IO, fd, run->p->stream, run->rounds);
    sp_close(fd);
    return rc;
}

static intptr_t
sp_client(void *arg)
{
    ne_run_t *run = arg;
    int fd = sp_tcp_connect(&run->addr);
    if (fd < 0) {
        return bench_fail("sp_tcp_connect", fd);
    }
    sp_tcp_set_nodelay(fd, 1);
    /* The CPU clock is a system call: read it outside the timed part. */
    uint64_t c0 = bench_process_cpu_ns(), t0 = sp_now_ns();
    int rc = drive(&SP_IO, fd, run->p->stream, run->rounds);
    run->elapsed_ns = sp_now_ns() - t0;
    run->cpu_ns = bench_process_cpu_ns() - c0;
    sp_close(fd);
    return rc;
}

static intptr_t
sp_body(void *arg)
{
    ne_run_t *run = arg;
    const ne_params_t *p = run->p;
    sp_addr_t a;
    sp_addr_ip(&a, "127.0.0.1", 0);
    run->lfd = sp_tcp_listen(&a, 4, 0);
    if (run->lfd < 0 || sp_sock_local_addr(run->lfd, &run->addr) < 0) {
        return bench_fail("sp_tcp_listen", run->lfd < 0 ? run->lfd : -EIO);
    }
    sp_task_attr_t sa, ca;
    sp_task_attr_init(&sa);
    sp_task_attr_init(&ca);
    sa.place = p->server;
    sa.shard = p->server_shard;
    ca.place = p->client;
    ca.shard = p->client_shard;
    sp_task_t st, ct;
    int rc = sp_task_spawn(&st, &sa, sp_server, run);
    if (rc == 0 && (rc = sp_task_spawn(&ct, &ca, sp_client, run)) != 0) {
        sp_task_cancel(st);
        sp_task_join(st, NULL);
    }
    if (rc != 0) {
        sp_close(run->lfd);
        return bench_fail("sp_task_spawn", rc);
    }
    intptr_t rs = 0, rcl = 0;
    sp_task_join(ct, &rcl);
    sp_task_join(st, &rs);
    sp_close(run->lfd);
    return rcl ? rcl : rs;
}

static int
sp_case(bench_case_t *c, double *value)
{
    const ne_params_t *p = c->arg;
    ne_run_t run = {.p = p, .rounds = rounds_of(p->stream)};
    sp_config_t cfg;
    bench_config(&cfg, p->shards);
    cfg.backend = p->backend;
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, sp_body, &run, &res);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    report(c, value, p->stream, run.rounds, run.elapsed_ns);
    bench_extra(c, "process_cpu_pct=%.0f",
                100.0 * (double)run.cpu_ns / (double)run.elapsed_ns);
    return 0;
}

/* --- peers: a connected loopback pair ----------------------------------- */

static int
plain_pair(int *cfd, int *sfd)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0) {
        return -errno;
    }
    *cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*cfd < 0 || connect(*cfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(l);
        return -errno;
    }
    *sfd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    close(l);
    if (*sfd < 0) {
        return -errno;
    }
    setsockopt(*cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(*sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

/* --- peer: blocking system calls, server on its own thread -------------- */

static ssize_t
px_send_all(int fd, const void *buf, size_t len, size_t *done_out)
{
    (void)done_out; /* always NULL here */
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            return n < 0 ? -errno : (ssize_t)off;
        }
        off += (size_t)n;
    }
    return (ssize_t)off;
}

static ssize_t
px_recv_exact(int fd, void *buf, size_t len, size_t *done_out)
{
    (void)done_out; /* always NULL here */
    size_t off = 0;
    while (off < len) {
        ssize_t n = recv(fd, (char *)buf + off, len - off, 0);
        if (n <= 0) {
            return n < 0 ? -errno : (ssize_t)off;
        }
        off += (size_t)n;
    }
    return (ssize_t)off;
}

static const ne_io_t PX_IO = {px_send_all, px_recv_exact};

typedef struct px_run {
    int fd, stream, rc;
    uint64_t rounds;
} px_run_t;

static void *
px_server(void *arg)
{
    px_run_t *r = arg;
    r->rc = serve(&PX_IO, r->fd, r->stream, r->rounds);
    return NULL;
}

static int
px_case(bench_case_t *c, double *value)
{
    const ne_params_t *p = c->arg;
    int cfd, sfd, rc = plain_pair(&cfd, &sfd);
    if (rc < 0) {
        return rc;
    }
    px_run_t srv = {.fd = sfd, .stream = p->stream, .rounds = rounds_of(p->stream)};
    pthread_t th;
    if (pthread_create(&th, NULL, px_server, &srv) != 0) {
        close(cfd);
        close(sfd);
        return -EAGAIN;
    }
    uint64_t t0 = bench_now_ns();
    rc = drive(&PX_IO, cfd, p->stream, srv.rounds);
    uint64_t ns = bench_now_ns() - t0;
    pthread_join(th, NULL);
    close(cfd);
    close(sfd);
    if (rc != 0 || srv.rc != 0) {
        return rc ? rc : srv.rc;
    }
    report(c, value, p->stream, srv.rounds, ns);
    return 0;
}

/* --- peer: one thread, one ring, both ends (round-trip workload) -------- */

/* Wait for `want` CQEs; res[user_data] gets each result. */
static int
ur_reap(struct io_uring *ring, int want, int res[2])
{
    for (int got = 0; got < want; got++) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(ring, &cqe);
        if (rc < 0) {
            return rc;
        }
        res[cqe->user_data] = cqe->res;
        io_uring_cqe_seen(ring, cqe);
    }
    return 0;
}

/* One leg: `from` sends n bytes, `to` receives them; both SQEs in one
 * submission, short receives topped up. */
static int
ur_leg(struct io_uring *ring, int from, int to, char *sbuf, char *rbuf, size_t n)
{
    struct io_uring_sqe *s = io_uring_get_sqe(ring);
    io_uring_prep_send(s, from, sbuf, n, MSG_NOSIGNAL);
    s->user_data = 0;
    size_t got = 0;
    int want = 2;
    while (got < n) {
        struct io_uring_sqe *r = io_uring_get_sqe(ring);
        io_uring_prep_recv(r, to, rbuf + got, n - got, 0);
        r->user_data = 1;
        int res[2] = {0, 0};
        io_uring_submit(ring);
        if (ur_reap(ring, want, res) < 0 || res[1] <= 0 || (want == 2 && res[0] != (int)n)) {
            return -EPROTO;
        }
        got += (size_t)res[1];
        want = 1;
    }
    return 0;
}

static int
ur_case(bench_case_t *c, double *value)
{
    const ne_params_t *p = c->arg;
    int cfd, sfd, rc = plain_pair(&cfd, &sfd);
    if (rc < 0) {
        return rc;
    }
    struct io_uring ring;
    if ((rc = io_uring_queue_init(8, &ring, 0)) < 0) {
        close(cfd);
        close(sfd);
        return rc;
    }
    char out[RTT_MSG], mid[RTT_MSG], in[RTT_MSG];
    memset(out, 'x', sizeof(out));
    uint64_t rounds = rounds_of(0);
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < rounds && rc == 0; i++) {
        rc = ur_leg(&ring, cfd, sfd, out, mid, RTT_MSG);
        if (rc == 0) {
            rc = ur_leg(&ring, sfd, cfd, mid, in, RTT_MSG);
        }
    }
    uint64_t ns = bench_now_ns() - t0;
    io_uring_queue_exit(&ring);
    close(cfd);
    close(sfd);
    if (rc != 0) {
        return rc;
    }
    report(c, value, p->stream, rounds, ns);
    return 0;
}

/* --- peer: two bare tasks on one ring (round-trip workload) -------------- */

/* The least a stackful-task runtime can pay on this workload: the same
 * serve() and drive() as spindle's tasks run, each on its own stack and
 * switched with spindle's own context switch, over one ring that is
 * submitted once per loop iteration with sends ahead of receives (as
 * spindle orders them). Nothing else: no scheduler, fd table, deadlines,
 * cancellation or stealing. liburing-raw to this is what having tasks
 * costs at all; this to spindle is what the runtime adds. */

#define BT_STACK (64 * 1024)

typedef struct bt_task {
    struct sp__ctx ctx;
    int client; /* runs drive(), else serve() */
    int fd, rc, done;
    int op;       /* IORING_OP_SEND / IORING_OP_RECV to submit, or -1 */
    int queued;   /* its SQE is in the ring */
    int runnable;
    int waiting;  /* epoll: for its fd to be readable */
    void *buf;
    size_t len;
    int res;
} bt_task_t;

static struct {
    struct sp__ctx loop;
    bt_task_t *cur;
    int ep; /* the epoll variant's set, else -1 */
} bt;

/* The epoll variant's operations, as spindle's epoll backend does them: a
 * send at once (256 bytes always fit the socket buffer); a receive first
 * lets the other task run (it may be the one that sends what this one
 * receives: spindle's deferred receive), then tries, and waits for
 * readiness only if nothing is there. */
static int
bt_io_epoll(bt_task_t *t, int op, int fd, void *buf, size_t len)
{
    if (op == IORING_OP_SEND) {
        ssize_t r = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        return r < 0 ? -errno : (int)r;
    }
    t->runnable = 1;
    sp__ctx_jump(&t->ctx, &bt.loop, 0);
    for (;;) {
        ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            return r < 0 ? -errno : (int)r;
        }
        t->waiting = 1;
        sp__ctx_jump(&t->ctx, &bt.loop, 0);
    }
}

static int
bt_io(int op, int fd, void *buf, size_t len)
{
    bt_task_t *t = bt.cur;
    if (bt.ep >= 0) {
        return bt_io_epoll(t, op, fd, buf, len);
    }
    t->op = op;
    t->fd = fd;
    t->buf = buf;
    t->len = len;
    t->queued = 0;
    sp__ctx_jump(&t->ctx, &bt.loop, 0);
    return t->res;
}

static ssize_t
bt_send_all(int fd, const void *buf, size_t len, size_t *done_out)
{
    (void)done_out; /* always NULL here */
    for (size_t done = 0; done < len;) {
        int r = bt_io(IORING_OP_SEND, fd, (char *)buf + done, len - done);
        if (r <= 0) {
            return r < 0 ? r : -EPIPE;
        }
        done += (size_t)r;
    }
    return (ssize_t)len;
}

static ssize_t
bt_recv_exact(int fd, void *buf, size_t len, size_t *done_out)
{
    (void)done_out; /* always NULL here */
    for (size_t got = 0; got < len;) {
        int r = bt_io(IORING_OP_RECV, fd, (char *)buf + got, len - got);
        if (r <= 0) {
            return r < 0 ? r : (ssize_t)got;
        }
        got += (size_t)r;
    }
    return (ssize_t)len;
}

static const ne_io_t BT_IO = {bt_send_all, bt_recv_exact};

static void
bt_main(void *arg)
{
    bt_task_t *t = arg;
    uint64_t rounds = rounds_of(0);
    t->rc = t->client ? drive(&BT_IO, t->fd, 0, rounds) : serve(&BT_IO, t->fd, 0, rounds);
    t->done = 1;
    sp__ctx_jump(&t->ctx, &bt.loop, 1);
}

/* Queue the waiting operations of kind op (sends first, then receives). */
static void
bt_queue(struct io_uring *ring, bt_task_t *ts, int n, int op)
{
    for (int i = 0; i < n; i++) {
        bt_task_t *t = &ts[i];
        if (t->done || t->op != op || t->queued) {
            continue;
        }
        struct io_uring_sqe *s = io_uring_get_sqe(ring);
        if (op == IORING_OP_SEND) {
            io_uring_prep_send(s, t->fd, t->buf, t->len, MSG_NOSIGNAL);
        } else {
            io_uring_prep_recv(s, t->fd, t->buf, t->len, 0);
        }
        io_uring_sqe_set_data(s, t);
        t->queued = 1;
    }
}

static int
bt_loop(struct io_uring *ring, bt_task_t *ts, int n)
{
    for (;;) {
        int live = 0;
        for (int i = 0; i < n; i++) {
            if (ts[i].runnable && !ts[i].done) {
                ts[i].runnable = 0;
                bt.cur = &ts[i];
                sp__ctx_jump(&bt.loop, &ts[i].ctx, 0);
            }
            live += !ts[i].done;
        }
        if (!live) {
            return 0;
        }
        bt_queue(ring, ts, n, IORING_OP_SEND);
        bt_queue(ring, ts, n, IORING_OP_RECV);
        int rc = io_uring_submit_and_wait(ring, 1);
        if (rc < 0) {
            return rc;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(ring, head, cqe)
        {
            bt_task_t *t = io_uring_cqe_get_data(cqe);
            t->res = cqe->res;
            t->op = -1;
            t->runnable = 1;
            seen++;
        }
        io_uring_cq_advance(ring, seen);
    }
}

/* Run whoever is runnable; when every task waits, wait in epoll. */
static int
bt_loop_epoll(bt_task_t *ts, int n)
{
    for (;;) {
        int live = 0, ran = 0;
        for (int i = 0; i < n; i++) {
            if (ts[i].runnable && !ts[i].done) {
                ts[i].runnable = 0;
                ran = 1;
                bt.cur = &ts[i];
                sp__ctx_jump(&bt.loop, &ts[i].ctx, 0);
            }
            live += !ts[i].done;
        }
        if (!live) {
            return 0;
        }
        if (ran) {
            continue;
        }
        struct epoll_event evs[2];
        int k = epoll_wait(bt.ep, evs, 2, -1);
        if (k < 0 && errno != EINTR) {
            return -errno;
        }
        for (int j = 0; j < k; j++) {
            bt_task_t *t = &ts[evs[j].data.u32];
            if (t->waiting) {
                t->waiting = 0;
                t->runnable = 1;
            }
        }
    }
}

static int
bt_case(bench_case_t *c, double *value)
{
    const ne_params_t *p = c->arg;
    int use_epoll = p->backend == SP_BACKEND_EPOLL;
    int cfd, sfd, rc = plain_pair(&cfd, &sfd);
    if (rc < 0) {
        return rc;
    }
    int fds[2] = {sfd, cfd};
    struct io_uring ring;
    char *stacks = aligned_alloc(64, 2 * BT_STACK);
    bt.ep = -1;
    if (!stacks) {
        rc = -ENOMEM;
    } else if (use_epoll) {
        bt.ep = epoll_create1(EPOLL_CLOEXEC);
        for (int i = 0; i < 2 && rc == 0; i++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            if (bt.ep < 0 || epoll_ctl(bt.ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
                rc = -errno;
            }
        }
    } else {
        rc = io_uring_queue_init(8, &ring, 0);
    }
    bt_task_t ts[2];
    memset(ts, 0, sizeof(ts));
    for (int i = 0; i < 2 && rc == 0; i++) {
        ts[i].client = i;
        ts[i].fd = fds[i];
        ts[i].op = -1;
        ts[i].runnable = 1;
        ts[i].ctx.stack_lo = stacks + i * BT_STACK;
        ts[i].ctx.stack_size = BT_STACK;
        sp__ctx_init(&ts[i].ctx, stacks + (i + 1) * BT_STACK, bt_main, &ts[i]);
    }
    uint64_t ns = 0;
    if (rc == 0) {
        uint64_t t0 = bench_now_ns();
        rc = use_epoll ? bt_loop_epoll(ts, 2) : bt_loop(&ring, ts, 2);
        ns = bench_now_ns() - t0;
        if (!use_epoll) {
            io_uring_queue_exit(&ring);
        }
        if (rc == 0) {
            rc = ts[0].rc ? ts[0].rc : ts[1].rc;
        }
    }
    if (bt.ep >= 0) {
        close(bt.ep);
    }
    close(cfd);
    close(sfd);
    free(stacks);
    if (rc != 0) {
        return rc;
    }
    report(c, value, p->stream, rounds_of(0), ns);
    return 0;
}

/* --- peer: one thread, one epoll set, both ends (round-trip workload) ---- */

/* Receive exactly n bytes on a non-blocking socket, waiting in epoll. */
static int
ep_recv_exact(int ep, int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            return -EPROTO;
        }
        struct epoll_event ev;
        if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static int
ep_case(bench_case_t *c, double *value)
{
    const ne_params_t *p = c->arg;
    int cfd, sfd, rc = plain_pair(&cfd, &sfd);
    if (rc < 0) {
        return rc;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    ev.data.fd = cfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
    char out[RTT_MSG], mid[RTT_MSG], in[RTT_MSG];
    memset(out, 'x', sizeof(out));
    uint64_t rounds = rounds_of(0);
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < rounds && rc == 0; i++) {
        /* 256 bytes always fit the socket buffer: a send never waits. */
        if (send(cfd, out, RTT_MSG, MSG_NOSIGNAL | MSG_DONTWAIT) != RTT_MSG ||
            ep_recv_exact(ep, sfd, mid, RTT_MSG) < 0 ||
            send(sfd, mid, RTT_MSG, MSG_NOSIGNAL | MSG_DONTWAIT) != RTT_MSG ||
            ep_recv_exact(ep, cfd, in, RTT_MSG) < 0) {
            rc = -EPROTO;
        }
    }
    uint64_t ns = bench_now_ns() - t0;
    close(ep);
    close(cfd);
    close(sfd);
    if (rc != 0) {
        return rc;
    }
    report(c, value, p->stream, rounds, ns);
    return 0;
}

/* --- peer: an event loop, both ends (round-trip workload) ---------------- */

/* The shape of libuv or a typical epoll server, where the loop above is
 * not: every socket non-blocking and registered once, edge-triggered; one
 * epoll_wait per iteration; each end acts only on the readiness it is told
 * of, and a receive that finds nothing goes back to epoll_wait. The client
 * sends a frame, waits for it to come back, then sends the next; the server
 * reads what is there and echoes it. That is 6 system calls per round trip
 * (send, epoll_wait, recv, send, epoll_wait, recv), against the 4 of the
 * loop above, whose receives never wait because it sends first. */

#define EV_RBUF 65536 /* the server's read buffer, libuv's size */
#define EV_MAXEV 16

/* Server end on readable: read until a read comes back shorter than the
 * buffer (the socket is then drained, as libuv assumes) or EAGAIN, echoing
 * each read at once. 256 bytes always fit the send buffer, so a send never
 * needs EPOLLOUT; a short one is an error. Returns 0 or -EPROTO. */
static int
ev_server_readable(int fd, char *buf)
{
    for (;;) {
        ssize_t r = recv(fd, buf, EV_RBUF, 0);
        if (r < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -EPROTO;
        }
        if (r == 0 || send(fd, buf, (size_t)r, MSG_NOSIGNAL) != r) {
            return -EPROTO;
        }
        if (r < EV_RBUF) {
            return 0;
        }
    }
}

typedef struct ev_client {
    int fd;
    uint64_t done, rounds; /* round trips completed / wanted */
    size_t got;            /* bytes of the current reply so far */
    char out[RTT_MSG], in[RTT_MSG];
} ev_client_t;

/* Client end on readable: read the rest of the reply; once it is whole,
 * send the next frame. It asks for no more than the reply's remainder, and
 * only one frame is ever in flight, so a full read leaves nothing behind
 * that an edge-triggered wait would miss. Returns 0 or -EPROTO. */
static int
ev_client_readable(ev_client_t *cl)
{
    while (cl->got < RTT_MSG) {
        ssize_t r = recv(cl->fd, cl->in + cl->got, RTT_MSG - cl->got, 0);
        if (r < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -EPROTO;
        }
        if (r == 0) {
            return -EPROTO;
        }
        cl->got += (size_t)r;
    }
    cl->got = 0;
    if (++cl->done < cl->rounds &&
        send(cl->fd, cl->out, RTT_MSG, MSG_NOSIGNAL) != RTT_MSG) {
        return -EPROTO;
    }
    return 0;
}

/* Both sockets non-blocking and in the set once, edge-triggered. */
static int
ev_setup(int ep, int cfd, int sfd)
{
    int fds[2] = {sfd, cfd};
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = fds[i]};
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
            return -errno;
        }
    }
    return 0;
}

static int
ev_case(bench_case_t *c, double *value)
{
    const ne_params_t *p = c->arg;
    int cfd, sfd, rc = plain_pair(&cfd, &sfd);
    if (rc < 0) {
        return rc;
    }
    static char sbuf[EV_RBUF]; /* one thread runs the cases: static is safe */
    ev_client_t cl = {.fd = cfd, .rounds = rounds_of(0)};
    memset(cl.out, 'x', sizeof(cl.out));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    rc = ep < 0 ? -errno : ev_setup(ep, cfd, sfd);
    uint64_t t0 = bench_now_ns();
    if (rc == 0 && send(cfd, cl.out, RTT_MSG, MSG_NOSIGNAL) != RTT_MSG) {
        rc = -EPROTO;
    }
    while (rc == 0 && cl.done < cl.rounds) {
        struct epoll_event evs[EV_MAXEV];
        int n = epoll_wait(ep, evs, EV_MAXEV, -1);
        if (n < 0 && errno != EINTR) {
            rc = -errno;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            rc = evs[i].data.fd == sfd ? ev_server_readable(sfd, sbuf)
                                       : ev_client_readable(&cl);
        }
    }
    uint64_t ns = bench_now_ns() - t0;
    if (ep >= 0) {
        close(ep);
    }
    close(cfd);
    close(sfd);
    if (rc != 0) {
        return rc;
    }
    report(c, value, p->stream, cl.rounds, ns);
    return 0;
}

/* --- cases ---------------------------------------------------------------- */

static const ne_params_t RTT_PIN1 = {0, 1, SP_PLACE_LOCAL, SP_PLACE_LOCAL, 0, 0, SP_BACKEND_AUTO};
static const ne_params_t RTT_PIN2 = {0, 2, SP_PLACE_ON, SP_PLACE_ON, 0, 1, SP_BACKEND_AUTO};
static const ne_params_t RTT_STEAL2 = {0, 2, SP_PLACE_STEALABLE, SP_PLACE_STEALABLE, 0, 0,
                                       SP_BACKEND_AUTO};
static const ne_params_t RTT_PIN1_EPOLL = {0, 1, SP_PLACE_LOCAL, SP_PLACE_LOCAL, 0, 0,
                                           SP_BACKEND_EPOLL};
static const ne_params_t STR_PIN1 = {1, 1, SP_PLACE_LOCAL, SP_PLACE_LOCAL, 0, 0, SP_BACKEND_AUTO};
static const ne_params_t STR_PIN2 = {1, 2, SP_PLACE_ON, SP_PLACE_ON, 0, 1, SP_BACKEND_AUTO};
static const ne_params_t STR_STEAL2 = {1, 2, SP_PLACE_STEALABLE, SP_PLACE_STEALABLE, 0, 0,
                                       SP_BACKEND_AUTO};

#define RTT "net_echo_rtt_256b"
#define STR "net_stream_throughput_4k_window32"

static bench_case_t cases[] = {
    BENCH_CASE(RTT, "pinned-1shard", "ns", sp_case, &RTT_PIN1),
    BENCH_CASE(RTT, "pinned-2shard", "ns", sp_case, &RTT_PIN2),
    BENCH_CASE(RTT, "stealable-2shard", "ns", sp_case, &RTT_STEAL2),
    BENCH_CASE(RTT, "pinned-1shard-epoll", "ns", sp_case, &RTT_PIN1_EPOLL),
    BENCH_PEER(RTT, "liburing-raw", "1thread", "ns", ur_case, &RTT_PIN1),
    BENCH_PEER(RTT, "liburing-raw", "1thread-2tasks", "ns", bt_case, &RTT_PIN1),
    BENCH_PEER(RTT, "epoll-raw", "1thread", "ns", ep_case, &RTT_PIN1),
    BENCH_PEER(RTT, "epoll-raw", "1thread-2tasks", "ns", bt_case, &RTT_PIN1_EPOLL),
    BENCH_PEER(RTT, "epoll-raw", "1thread-evloop", "ns", ev_case, &RTT_PIN1),
    BENCH_PEER(RTT, "blocking-syscalls", "2threads", "ns", px_case, &RTT_PIN1),
    BENCH_CASE(STR, "pinned-1shard", "ns", sp_case, &STR_PIN1),
    BENCH_CASE(STR, "pinned-2shard", "ns", sp_case, &STR_PIN2),
    BENCH_CASE(STR, "stealable-2shard", "ns", sp_case, &STR_STEAL2),
    BENCH_PEER(STR, "blocking-syscalls", "2threads", "ns", px_case, &STR_PIN1),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "TCP loopback echo: 256-byte round trips, and 4 KiB frames with a\n"
               "window of 32; ns per round trip / per frame.\n");
    int status = bench_run(cases, sizeof cases / sizeof cases[0]);
    /* The goals, and the bare-task split (docs/benchmarks.md). */
    bench_print_ratio(&cases[0], &cases[4], "spindle-uring/liburing-loop (goal <= 1.05)");
    bench_print_ratio(&cases[0], &cases[5], "spindle-uring/bare-tasks");
    bench_print_ratio(&cases[5], &cases[4], "bare-tasks/liburing-loop");
    bench_print_ratio(&cases[3], &cases[6], "spindle-epoll/epoll-loop (goal <= 1.10)");
    bench_print_ratio(&cases[3], &cases[7], "spindle-epoll/bare-tasks");
    return status;
}
