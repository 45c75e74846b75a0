/* unix_echo: the round trip of net_echo_rtt_256b over an AF_UNIX stream
 * socket pair, for measuring spindle's own per-call path.
 *
 * A Unix socket pair costs the kernel about a third of what loopback TCP
 * does, so spindle's share of a round trip (its I/O call, park, wake and
 * switches) is about three times as visible as in net_echo, and with the
 * epoll backend the whole of it runs under callgrind (io_uring does not:
 * valgrind hangs), which counts its instructions line by line
 * (docs/benchmarks.md, "Counting instructions"). Not one of
 * ../shared/BENCHMARKS.md's workloads, and not in the suite.
 *
 * Cases: spindle's two tasks on one shard (io_uring, epoll); peers: a
 * hand-written liburing loop (both ends, one submit per leg, as
 * net_echo's), and plain non-blocking send/recv calls in a loop (no
 * waiting ever: what the calls alone cost). ns per round trip; the ratios
 * of spindle to the loops are printed after the table. */
#include "harness.h"

#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG 256

static uint64_t
rounds(void)
{
    return bench_size(100000, 10000);
}

typedef struct ux_run {
    int fd[2];
    uint64_t rounds;
    uint64_t ns;
} ux_run_t;

static intptr_t
ux_server(void *arg)
{
    ux_run_t *run = arg;
    char buf[MSG];
    for (uint64_t i = 0; i < run->rounds; i++) {
        if (sp_sock_recv_exact(run->fd[1], buf, MSG, NULL) != MSG ||
            sp_sock_send_all(run->fd[1], buf, MSG, NULL) != MSG) {
            return -EPROTO;
        }
    }
    return 0;
}

static intptr_t
ux_body(void *arg)
{
    ux_run_t *run = arg;
    char out[MSG], in[MSG];
    memset(out, 'x', sizeof(out));
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.place = SP_PLACE_LOCAL;
    sp_task_t server;
    int rc = sp_task_spawn(&server, &a, ux_server, run);
    if (rc != 0) {
        return bench_fail("sp_task_spawn", rc);
    }
    uint64_t t0 = sp_now_ns();
    for (uint64_t i = 0; i < run->rounds && rc == 0; i++) {
        if (sp_sock_send_all(run->fd[0], out, MSG, NULL) != MSG ||
            sp_sock_recv_exact(run->fd[0], in, MSG, NULL) != MSG) {
            rc = -EPROTO;
        }
    }
    run->ns = sp_now_ns() - t0;
    intptr_t rs = 0;
    sp_task_join(server, &rs);
    return rc ? rc : rs;
}

static int
pair(int fd[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) < 0 ? -errno : 0;
}

static int
sp_case(bench_case_t *c, double *value)
{
    ux_run_t run = {.rounds = rounds()};
    int rc = pair(run.fd);
    if (rc < 0) {
        return rc;
    }
    sp_config_t cfg;
    bench_config(&cfg, 1);
    cfg.backend = (sp_backend_t)(intptr_t)c->arg;
    intptr_t res = 0;
    rc = bench_block_on(&cfg, ux_body, &run, &res);
    close(run.fd[0]);
    close(run.fd[1]);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    *value = (double)run.ns / (double)run.rounds;
    return 0;
}

/* One leg: `from` sends, `to` receives; both SQEs in one submission. */
static int
ur_leg(struct io_uring *ring, int from, int to, char *sbuf, char *rbuf)
{
    struct io_uring_sqe *s = io_uring_get_sqe(ring);
    io_uring_prep_send(s, from, sbuf, MSG, MSG_NOSIGNAL);
    s = io_uring_get_sqe(ring);
    io_uring_prep_recv(s, to, rbuf, MSG, 0);
    io_uring_submit(ring);
    for (int k = 0; k < 2; k++) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(ring, &cqe);
        if (rc < 0) {
            return rc;
        }
        int res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        if (res != MSG) {
            return -EPROTO;
        }
    }
    return 0;
}

static int
ur_case(bench_case_t *c, double *value)
{
    (void)c;
    int fd[2], rc = pair(fd);
    if (rc < 0) {
        return rc;
    }
    struct io_uring ring;
    if ((rc = io_uring_queue_init(8, &ring, 0)) == 0) {
        char out[MSG], mid[MSG], in[MSG];
        memset(out, 'x', sizeof(out));
        uint64_t n = rounds(), t0 = bench_now_ns();
        for (uint64_t i = 0; i < n && rc == 0; i++) {
            rc = ur_leg(&ring, fd[0], fd[1], out, mid);
            if (rc == 0) {
                rc = ur_leg(&ring, fd[1], fd[0], mid, in);
            }
        }
        *value = (double)(bench_now_ns() - t0) / (double)n;
        io_uring_queue_exit(&ring);
    }
    close(fd[0]);
    close(fd[1]);
    return rc;
}

static int
calls_case(bench_case_t *c, double *value)
{
    (void)c;
    int fd[2], rc = pair(fd);
    if (rc < 0) {
        return rc;
    }
    char out[MSG], mid[MSG], in[MSG];
    memset(out, 'x', sizeof(out));
    uint64_t n = rounds(), t0 = bench_now_ns();
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        if (send(fd[0], out, MSG, MSG_DONTWAIT | MSG_NOSIGNAL) != MSG ||
            recv(fd[1], mid, MSG, MSG_DONTWAIT) != MSG ||
            send(fd[1], mid, MSG, MSG_DONTWAIT | MSG_NOSIGNAL) != MSG ||
            recv(fd[0], in, MSG, MSG_DONTWAIT) != MSG) {
            rc = -EPROTO;
        }
    }
    *value = (double)(bench_now_ns() - t0) / (double)n;
    close(fd[0]);
    close(fd[1]);
    return rc;
}

#define UX "unix_echo_rtt_256b"

static bench_case_t cases[] = {
    BENCH_CASE(UX, "pinned-1shard", "ns", sp_case, (void *)(intptr_t)SP_BACKEND_AUTO),
    BENCH_CASE(UX, "pinned-1shard-epoll", "ns", sp_case, (void *)(intptr_t)SP_BACKEND_EPOLL),
    BENCH_PEER(UX, "liburing-raw", "1thread", "ns", ur_case, NULL),
    BENCH_PEER(UX, "syscall-raw", "1thread-calls", "ns", calls_case, NULL),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "256-byte echo round trips over an AF_UNIX socket pair, both ends in\n"
               "one thread: spindle's per-call path with little kernel time around it;\n"
               "ns per round trip.\n");
    int status = bench_run(cases, sizeof cases / sizeof cases[0]);
    bench_print_ratio(&cases[0], &cases[2], "spindle-uring/liburing-loop");
    bench_print_ratio(&cases[1], &cases[3], "spindle-epoll/plain-calls");
    return status;
}
