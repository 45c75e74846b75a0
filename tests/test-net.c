/* The network API (include/spindle/net.h) on both backends: echo over TCP
 * v4/v6 and Unix stream, datagram round trips, the errors a peer can cause
 * (refused, reset, closed, gone: -EPIPE with SIGPIPE at its default
 * disposition, so a raised SIGPIPE kills the test), connect deadlines
 * against a listener that drops SYNs, name resolution, many connections
 * at once and in sequence, cancellation racing accept and recv, and an
 * accept storm past RLIMIT_NOFILE. Every test ends with the fd count back
 * at its baseline (test_run_main checks it).
 *
 * Nothing waits on elapsed time to decide a result: deadlines appear only
 * where the deadline itself is under test, or as a bound whose expiry
 * means a lost fd or byte. */
#include "test.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* --- helpers --------------------------------------------------------------- */

/* A listener on the loopback address of `family` (port chosen by the
 * kernel); *addr gets its address. */
static int
listen_loopback(int family, int backlog, sp_addr_t *addr)
{
    sp_addr_t a;
    int err = sp_addr_ip(&a, family == AF_INET6 ? "::1" : "127.0.0.1", 0);
    if (err < 0) {
        return err;
    }
    int fd = sp_tcp_listen(&a, backlog, 0);
    if (fd >= 0 && sp_sock_local_addr(fd, addr) < 0) {
        sp_close(fd);
        return -EIO;
    }
    return fd;
}

/* Echo on fd until the peer closes, then close fd. */
static intptr_t
echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = sp_sock_recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            EXPECT_EQ(n, 0);
            break;
        }
        ssize_t w = sp_sock_send_all(fd, buf, (size_t)n, NULL);
        EXPECT_EQ(w, n);
        if (w != n) {
            break;
        }
    }
    EXPECT_OK(sp_close(fd));
    return 0;
}

/* Accept `count` connections on lfd, one echo task each; wait for all. */
struct server {
    int lfd;
    int count;
};

static sp_waitgroup_t server_wg;

static intptr_t
echo_conn_wg(void *arg)
{
    echo_conn(arg);
    sp_waitgroup_done(&server_wg);
    return 0;
}

static intptr_t
echo_server(void *arg)
{
    struct server *s = arg;
    sp_waitgroup_init(&server_wg);
    for (int i = 0; i < s->count; i++) {
        int fd = sp_tcp_accept(s->lfd, NULL);
        ASSERT_GE(fd, 0);
        sp_waitgroup_add(&server_wg, 1);
        ASSERT_OK(sp_task_spawn(NULL, NULL, echo_conn_wg, (void *)(intptr_t)fd));
    }
    ASSERT_OK(sp_waitgroup_wait(&server_wg));
    sp_waitgroup_destroy(&server_wg);
    return 0;
}

/* Send `rounds` messages of growing size on fd and check each echo. */
static int
echo_rounds(int fd, int rounds)
{
    char out[2048], in[2048]; /* on the task's stack: tasks migrate */
    for (int i = 0; i < rounds; i++) {
        size_t n = 1 + (size_t)(i * 97) % sizeof(out);
        memset(out, 'a' + i % 26, n);
        out[0] = (char)i;
        ASSERT_EQ(sp_sock_send_all(fd, out, n, NULL), n);
        size_t done = 0;
        ASSERT_EQ(sp_sock_recv_exact(fd, in, n, &done), n);
        ASSERT_EQ(done, n);
        ASSERT_OK(memcmp(in, out, n));
    }
    return 0;
}

/* --- echo: TCP v4, v6, Unix stream ---------------------------------------- */

static intptr_t
echo_one(int lfd, int (*connect_fn)(const sp_addr_t *), const sp_addr_t *addr)
{
    struct server s = {lfd, 1};
    sp_task_t srv;
    ASSERT_OK(sp_task_spawn(&srv, NULL, echo_server, &s));
    int fd = connect_fn(addr);
    ASSERT_GE(fd, 0);
    ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ASSERT_OK(echo_rounds(fd, SCALE(500)));
    /* Vector forms, both directions. */
    struct iovec iov[2] = {{"vec", 3}, {"tor", 3}};
    ASSERT_EQ(sp_sock_writev(fd, iov, 2), 6);
    char a[2], b[4], all[6];
    struct iovec rio[2] = {{a, 2}, {b, 4}};
    ssize_t got = sp_sock_readv(fd, rio, 2);
    ASSERT_GT(got, 0);
    memcpy(all, a, 2);
    memcpy(all + 2, b, 4);
    if (got < 6) { /* rare: the echo came back in pieces */
        ASSERT_EQ(sp_sock_recv_exact(fd, all + got, (size_t)(6 - got), NULL), 6 - got);
    }
    ASSERT_OK(memcmp(all, "vector", 6));
    ASSERT_OK(sp_sock_shutdown(fd, SHUT_WR));
    char c;
    ASSERT_EQ(sp_sock_recv(fd, &c, 1, 0), 0); /* the server saw EOF and closed */
    ASSERT_OK(sp_close(fd));
    ASSERT_OK(sp_task_join(srv, NULL));
    return 0;
}

static intptr_t
tcp_echo_main(void *arg)
{
    int family = (int)(intptr_t)arg;
    sp_addr_t addr, peer;
    int lfd = listen_loopback(family, 16, &addr);
    ASSERT_GE(lfd, 0);
    ASSERT_EQ(addr.u.sa.sa_family, family);
    ASSERT_GT(sp_addr_port(&addr), 0);
    ASSERT_OK(echo_one(lfd, sp_tcp_connect, &addr));
    /* Local and peer addresses of a fresh pair agree. */
    int c = sp_tcp_connect(&addr);
    ASSERT_GE(c, 0);
    int s = sp_tcp_accept(lfd, &peer);
    ASSERT_GE(s, 0);
    sp_addr_t local;
    ASSERT_OK(sp_sock_local_addr(c, &local));
    ASSERT_EQ(local.len, peer.len);
    ASSERT_OK(memcmp(&local.u, &peer.u, peer.len));
    ASSERT_OK(sp_sock_peer_addr(c, &peer));
    ASSERT_EQ(sp_addr_port(&peer), sp_addr_port(&addr));
    char text[SP_ADDR_STRLEN];
    ASSERT_GT(sp_addr_format(&peer, text, sizeof(text)), 0);
    ASSERT(strstr(text, family == AF_INET6 ? "[::1]:" : "127.0.0.1:") == text);
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

static int
run_family(int family)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, tcp_echo_main, (void *)(intptr_t)family);
}

int
test_net_echo_tcp4(void)
{
    return run_family(AF_INET);
}

int
test_net_echo_tcp6(void)
{
    return run_family(AF_INET6);
}

static intptr_t
unix_echo_main(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/sp-net-%d.sock", (int)getpid());
    unlink(path);
    sp_addr_t addr;
    ASSERT_OK(sp_addr_unix(&addr, path));
    int lfd = sp_unix_listen(&addr, 8);
    ASSERT_GE(lfd, 0);
    ASSERT_OK(echo_one(lfd, sp_unix_connect, &addr));
    ASSERT_OK(sp_close(lfd));
    ASSERT_OK(unlink(path));
    /* An abstract name: nothing in the file system. */
    char name[32];
    int n = snprintf(name, sizeof(name), "sp-net-%d", (int)getpid());
    ASSERT_OK(sp_addr_unix_abstract(&addr, name, (size_t)n));
    lfd = sp_unix_listen(&addr, 8);
    ASSERT_GE(lfd, 0);
    char text[SP_ADDR_STRLEN];
    sp_addr_t local;
    ASSERT_OK(sp_sock_local_addr(lfd, &local));
    ASSERT_GT(sp_addr_format(&local, text, sizeof(text)), 0);
    ASSERT_EQ(text[0], '@');
    ASSERT_OK(echo_one(lfd, sp_unix_connect, &addr));
    ASSERT_OK(sp_close(lfd));
    ASSERT_ERR(sp_unix_connect(&addr), -ECONNREFUSED);
    ASSERT_ERR(sp_addr_unix(&addr, "/nonexistent-dir/x.sock"), 0);
    ASSERT_ERR(sp_unix_connect(&addr), -ENOENT);
    return 0;
}

int
test_net_echo_unix(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, unix_echo_main, NULL);
}

/* --- datagrams: UDP and Unix ----------------------------------------------- */

static int
dgram_round_trip(int a, int b, const sp_addr_t *baddr, int unix_family)
{
    char buf[64];
    sp_addr_t from;
    for (int i = 0; i < SCALE(200); i++) {
        int n = snprintf(buf, sizeof(buf), "datagram %d", i);
        ASSERT_EQ(sp_sock_send_to(a, buf, (size_t)n, baddr), n);
        char in[64];
        ssize_t r = sp_sock_recv_from(b, in, sizeof(in), &from);
        ASSERT_EQ(r, n);
        ASSERT_OK(memcmp(in, buf, (size_t)n));
        /* Reply to whoever sent it. */
        ASSERT_EQ(sp_sock_send_to(b, in, (size_t)r, &from), r);
        ASSERT_EQ(sp_sock_recv_from(a, in, sizeof(in), NULL), r);
    }
    (void)unix_family;
    return 0;
}

static intptr_t
udp_main(void *arg)
{
    (void)arg;
    sp_addr_t any, baddr;
    ASSERT_OK(sp_addr_ip(&any, "127.0.0.1", 0));
    int a = sp_udp_bind(&any, 0);
    int b = sp_udp_bind(&any, SP_NET_REUSEPORT);
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    ASSERT_OK(sp_sock_local_addr(b, &baddr));
    ASSERT_OK(dgram_round_trip(a, b, &baddr, 0));
    /* Connected: plain send/recv. */
    ASSERT_OK(sp_udp_connect(a, &baddr));
    ASSERT_EQ(sp_sock_send(a, "x", 1, 0), 1);
    char c;
    ASSERT_EQ(sp_sock_recv(b, &c, 1, 0), 1);
    /* An unbound v6 socket can send to a v6 peer. */
    int u = sp_udp_open(AF_INET6);
    ASSERT_GE(u, 0);
    ASSERT_OK(sp_close(u));
    ASSERT_OK(sp_close(a));
    ASSERT_OK(sp_close(b));
    return 0;
}

int
test_net_udp_round_trip(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, udp_main, NULL);
}

static intptr_t
unix_dgram_main(void *arg)
{
    (void)arg;
    char name[32];
    sp_addr_t aaddr, baddr;
    int n = snprintf(name, sizeof(name), "sp-dg-a-%d", (int)getpid());
    ASSERT_OK(sp_addr_unix_abstract(&aaddr, name, (size_t)n));
    n = snprintf(name, sizeof(name), "sp-dg-b-%d", (int)getpid());
    ASSERT_OK(sp_addr_unix_abstract(&baddr, name, (size_t)n));
    int a = sp_unix_dgram_open(&aaddr);
    int b = sp_unix_dgram_open(&baddr);
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    ASSERT_OK(dgram_round_trip(a, b, &baddr, 1));
    /* An unbound sender: the receiver sees an unnamed address. */
    int u = sp_unix_dgram_open(NULL);
    ASSERT_GE(u, 0);
    ASSERT_EQ(sp_sock_send_to(u, "hi", 2, &baddr), 2);
    sp_addr_t from;
    char buf[4];
    ASSERT_EQ(sp_sock_recv_from(b, buf, sizeof(buf), &from), 2);
    ASSERT_LE(from.len, sizeof(sa_family_t));
    ASSERT_OK(sp_close(u));
    ASSERT_OK(sp_close(a));
    ASSERT_OK(sp_close(b));
    return 0;
}

int
test_net_unix_dgram_round_trip(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, unix_dgram_main, NULL);
}

/* --- errors a peer causes ------------------------------------------------- */

static intptr_t
refused_main(void *arg)
{
    (void)arg;
    sp_addr_t addr;
    /* A port that was just free: bind, read the port, close. */
    int lfd = listen_loopback(AF_INET, 1, &addr);
    ASSERT_GE(lfd, 0);
    ASSERT_OK(sp_close(lfd));
    int before = test_count_fds();
    ASSERT_ERR(sp_tcp_connect(&addr), -ECONNREFUSED);
    ASSERT_ERR(sp_tcp_connect_timeout(&addr, 5 * SP_NSEC_PER_SEC), -ECONNREFUSED);
    ASSERT_EQ(test_count_fds(), before);
    return 0;
}

int
test_net_connect_refused(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, refused_main, NULL);
}

/* A connected pair over loopback TCP: *c the client, *s the server side. */
static int
tcp_pair(int *lfd, int *c, int *s)
{
    sp_addr_t addr;
    *lfd = listen_loopback(AF_INET, 4, &addr);
    ASSERT_GE(*lfd, 0);
    *c = sp_tcp_connect(&addr);
    ASSERT_GE(*c, 0);
    *s = sp_tcp_accept(*lfd, NULL);
    ASSERT_GE(*s, 0);
    return 0;
}

static intptr_t
reset_main(void *arg)
{
    (void)arg;
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    /* Linger 0: close sends RST instead of FIN. */
    struct linger lg = {1, 0};
    ASSERT_OK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
    ASSERT_OK(sp_close(s));
    char buf[16];
    ASSERT_ERR(sp_sock_recv(c, buf, sizeof(buf), 0), -ECONNRESET);
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_peer_reset(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, reset_main, NULL);
}

static intptr_t
closed_main(void *arg)
{
    (void)arg;
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    ASSERT_EQ(sp_sock_send(s, "bye", 3, 0), 3);
    ASSERT_OK(sp_close(s));
    char buf[16];
    ASSERT_EQ(sp_sock_recv_exact(c, buf, sizeof(buf), NULL), 3); /* short at EOF */
    ASSERT_EQ(sp_sock_recv(c, buf, sizeof(buf), 0), 0);
    /* Sending to a peer that has gone: the first send may succeed (the
     * peer answers it with RST), then -EPIPE; SIGPIPE is at its default
     * disposition, so a raised one would kill this process. */
    static char big[65536];
    ssize_t r;
    int sends = 0;
    do {
        r = sp_sock_send(c, big, sizeof(big), 0);
        sends++;
    } while (r >= 0 || r == -ECONNRESET);
    ASSERT_ERR(r, -EPIPE);
    ASSERT_GE(sends, 1);
    size_t done = 99;
    ASSERT_ERR(sp_sock_send_all(c, big, sizeof(big), &done), -EPIPE);
    ASSERT_EQ(done, 0);
    struct iovec iov = {big, 10};
    ASSERT_ERR(sp_sock_writev(c, &iov, 1), -EPIPE);
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_peer_close_epipe(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, closed_main, NULL);
}

/* --- connect deadline: SYNs dropped by a full accept queue ----------------- */

/* With the accept queue full, Linux drops incoming SYNs (syncookies or
 * not: tcp_conn_request checks sk_acceptq_is_full first), so a connect
 * can only end by its deadline. Fill the queue of a backlog-1 listener
 * that never accepts with connects that succeed, until one times out. */
#define HELD_MAX 8

static intptr_t
deadline_main(void *arg)
{
    (void)arg;
    sp_addr_t addr;
    int lfd = listen_loopback(AF_INET, 1, &addr);
    ASSERT_GE(lfd, 0);
    int held[HELD_MAX], nheld = 0, r;
    while ((r = sp_tcp_connect_timeout(&addr, 50 * SP_NSEC_PER_MSEC)) >= 0) {
        ASSERT_LT(nheld, HELD_MAX);
        held[nheld++] = r;
    }
    ASSERT_ERR(r, -ETIMEDOUT);
    int before = test_count_fds();
    for (int i = 0; i < SCALE(20); i++) {
        uint64_t t0 = sp_now_ns();
        ASSERT_ERR(sp_tcp_connect_timeout(&addr, 10 * SP_NSEC_PER_MSEC), -ETIMEDOUT);
        ASSERT_U64_GE(sp_now_ns() - t0, 10 * SP_NSEC_PER_MSEC);
        /* The task's own deadline is back (none), so this does not stick. */
        ASSERT_OK(sp_task_yield());
        /* The task's deadline works the same way. */
        sp_task_set_deadline(sp_now_ns() + 5 * SP_NSEC_PER_MSEC);
        ASSERT_ERR(sp_tcp_connect(&addr), -ETIMEDOUT);
        sp_task_set_deadline(SP_DEADLINE_NONE);
    }
    ASSERT_EQ(test_count_fds(), before);
    for (int i = 0; i < nheld; i++) {
        ASSERT_OK(sp_close(held[i]));
    }
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_connect_deadline(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, deadline_main, NULL);
}

/* --- names ---------------------------------------------------------------- */

static intptr_t
names_main(void *arg)
{
    (void)arg;
    int before = test_count_fds();
    int r = sp_tcp_connect_host("no-such-host.invalid", 80);
    ASSERT(r == -ENOENT || r == -EHOSTUNREACH);
    ASSERT_EQ(test_count_fds(), before);
    /* "localhost" resolves; each address is tried in turn. */
    sp_addr_t any, addr;
    ASSERT_OK(sp_addr_ip(&any, "127.0.0.1", 0));
    int lfd = sp_tcp_listen(&any, 4, 0);
    ASSERT_GE(lfd, 0);
    ASSERT_OK(sp_sock_local_addr(lfd, &addr));
    struct server s = {lfd, 1};
    sp_task_t srv;
    ASSERT_OK(sp_task_spawn(&srv, NULL, echo_server, &s));
    int fd = sp_tcp_connect_host("localhost", sp_addr_port(&addr));
    ASSERT_GE(fd, 0);
    ASSERT_OK(echo_rounds(fd, 10));
    ASSERT_OK(sp_close(fd));
    ASSERT_OK(sp_task_join(srv, NULL));
    /* A numeric host needs no lookup service. */
    fd = sp_tcp_connect_host("127.0.0.1", sp_addr_port(&addr));
    ASSERT_GE(fd, 0);
    ASSERT_OK(sp_close(fd));
    ASSERT_OK(sp_close(lfd));
    ASSERT_ERR(sp_tcp_connect_host("127.0.0.1", sp_addr_port(&addr)), -ECONNREFUSED);
    return 0;
}

int
test_net_names(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, names_main, NULL);
}

/* --- many connections at once, and in sequence ---------------------------- */

static sp_addr_t many_addr;

static intptr_t
many_client(void *arg)
{
    (void)arg;
    int fd = sp_tcp_connect(&many_addr);
    ASSERT_GE(fd, 0);
    ASSERT_OK(sp_tcp_set_nodelay(fd, 1));
    ASSERT_OK(echo_rounds(fd, 8));
    ASSERT_OK(sp_close(fd));
    return 0;
}

static intptr_t
many_main(void *arg)
{
    int n = (int)(intptr_t)arg;
    int lfd = listen_loopback(AF_INET, 0, &many_addr);
    ASSERT_GE(lfd, 0);
    struct server s = {lfd, n};
    sp_task_t srv;
    ASSERT_OK(sp_task_spawn(&srv, NULL, echo_server, &s));
    sp_task_t *cl = calloc((size_t)n, sizeof(*cl));
    ASSERT_NOT_NULL(cl);
    for (int i = 0; i < n; i++) {
        ASSERT_OK(sp_task_spawn(&cl[i], NULL, many_client, NULL));
    }
    for (int i = 0; i < n; i++) {
        intptr_t r = 1;
        ASSERT_OK(sp_task_join(cl[i], &r));
        ASSERT_OK(r);
    }
    free(cl);
    ASSERT_OK(sp_task_join(srv, NULL));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

/* Two fds per connection in this process, plus the runtime's. */
static int
raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return -1;
    }
    if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur >= want ? 0 : -1;
}

int
test_net_many_concurrent(void)
{
    int n = SCALE_LIVE(1000, 100);
    if (raise_nofile((rlim_t)(2 * n + 64)) < 0) {
        fprintf(stderr, "RLIMIT_NOFILE too low for %d connections\n", n);
        return TEST_SKIP;
    }
    sp_config_t cfg = test_config(2);
    ASSERT_OK(test_run_main(&cfg, many_main, (void *)(intptr_t)n));
    ASSERT_NO_FAILURES();
    return 0;
}

/* --- bulk sends under CPU starvation (RELIABILITY.md B1.3) ----------------- */

/* A send that io_uring punts to a worker thread on an O_NONBLOCK socket
 * fails with -EAGAIN instead of waiting (Seastar's bug). spindle's sockets
 * are blocking under io_uring, and any -EAGAIN that comes back anyway is
 * waited out, never returned. 64 connections each carry 1 MiB while two
 * threads keep both CPUs busy (stress-ng's role in the RELIABILITY test):
 * every byte arrives, in order, and no call fails. */

#define BULK_CONNS 64
#define BULK_BYTES (1u << 20)

static sp_addr_t bulk_addr;
static atomic_int bulk_stop;

static unsigned char
bulk_byte(int conn, size_t off)
{
    return (unsigned char)((off * 131u + (size_t)conn * 7u) >> 3);
}

static void *
burner(void *arg)
{
    (void)arg;
    volatile uint64_t x = 1;
    while (!atomic_load_explicit(&bulk_stop, memory_order_relaxed)) {
        x = x * 6364136223846793005ull + 1;
    }
    return NULL;
}

static intptr_t
bulk_sender(void *arg)
{
    int conn = (int)(intptr_t)arg;
    int fd = sp_tcp_connect(&bulk_addr);
    ASSERT_GE(fd, 0);
    unsigned char id = (unsigned char)conn;
    ASSERT_EQ(sp_sock_send_all(fd, &id, 1, NULL), 1);
    unsigned char *buf = malloc(64 * 1024);
    ASSERT_NOT_NULL(buf);
    for (size_t off = 0; off < BULK_BYTES; off += 64 * 1024) {
        for (size_t i = 0; i < 64 * 1024; i++) {
            buf[i] = bulk_byte(conn, off + i);
        }
        /* Plain sends, not send_all: a short or failed one must show. */
        size_t done = 0;
        while (done < 64 * 1024) {
            ssize_t n = sp_sock_send(fd, buf + done, 64 * 1024 - done, 0);
            ASSERT_GT(n, 0);
            done += (size_t)n;
        }
    }
    free(buf);
    ASSERT_OK(sp_close(fd));
    return 0;
}

static intptr_t
bulk_receiver(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char id;
    ASSERT_EQ(sp_sock_recv_exact(fd, &id, 1, NULL), 1);
    unsigned char buf[16384];
    size_t off = 0;
    for (;;) {
        ssize_t n = sp_sock_recv(fd, buf, sizeof(buf), 0);
        ASSERT_GE(n, 0);
        if (n == 0) {
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            ASSERT_EQ(buf[i], bulk_byte(id, off + (size_t)i));
        }
        off += (size_t)n;
    }
    ASSERT_EQ(off, (size_t)BULK_BYTES);
    ASSERT_OK(sp_close(fd));
    return 0;
}

static intptr_t
bulk_main(void *arg)
{
    (void)arg;
    int lfd = listen_loopback(AF_INET, 0, &bulk_addr);
    ASSERT_GE(lfd, 0);
    sp_task_t snd[BULK_CONNS], rcv[BULK_CONNS];
    for (int i = 0; i < BULK_CONNS; i++) {
        ASSERT_OK(sp_task_spawn(&snd[i], NULL, bulk_sender, (void *)(intptr_t)i));
    }
    for (int i = 0; i < BULK_CONNS; i++) {
        int fd = sp_tcp_accept(lfd, NULL);
        ASSERT_GE(fd, 0);
        ASSERT_OK(sp_task_spawn(&rcv[i], NULL, bulk_receiver, (void *)(intptr_t)fd));
    }
    for (int i = 0; i < BULK_CONNS; i++) {
        intptr_t r = 1;
        ASSERT_OK(sp_task_join(snd[i], &r));
        ASSERT_OK(r);
        r = 1;
        ASSERT_OK(sp_task_join(rcv[i], &r));
        ASSERT_OK(r);
    }
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_bulk_under_starvation(void)
{
    if (raise_nofile(2 * BULK_CONNS + 64) < 0) {
        return TEST_SKIP;
    }
    atomic_store(&bulk_stop, 0);
    pthread_t b[2];
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(pthread_create(&b[i], NULL, burner, NULL));
    }
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, bulk_main, NULL);
    atomic_store(&bulk_stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(b[i], NULL);
    }
    return r;
}

static intptr_t
cycles_main(void *arg)
{
    (void)arg;
    int n = SCALE(10000);
    sp_addr_t addr;
    int lfd = listen_loopback(AF_INET, 0, &addr);
    ASSERT_GE(lfd, 0);
    int base = test_count_fds();
    struct server s = {lfd, n};
    sp_task_t srv;
    ASSERT_OK(sp_task_spawn(&srv, NULL, echo_server, &s));
    for (int i = 0; i < n; i++) {
        int fd = sp_tcp_connect(&addr);
        ASSERT_GE(fd, 0);
        char out[64], in[64];
        int len = snprintf(out, sizeof(out), "cycle %d", i);
        ASSERT_EQ(sp_sock_send(fd, out, (size_t)len, 0), len);
        ASSERT_EQ(sp_sock_recv_exact(fd, in, (size_t)len, NULL), len);
        ASSERT_OK(memcmp(in, out, (size_t)len));
        ASSERT_OK(sp_close(fd));
    }
    ASSERT_OK(sp_task_join(srv, NULL));
    ASSERT_EQ(test_count_fds(), base);
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_connect_cycles(void)
{
    sp_config_t cfg = test_config(2);
    ASSERT_OK(test_run_main(&cfg, cycles_main, NULL));
    ASSERT_NO_FAILURES();
    return 0;
}

/* --- cancellation racing accept and recv ----------------------------------- */

static int race_lfd, race_rx, race_tx;

static intptr_t
race_acceptor(void *arg)
{
    (void)arg;
    int fd = sp_tcp_accept(race_lfd, NULL);
    if (fd >= 0) {
        /* Won the race against the cancel: the fd is ours to close. */
        sp_close(fd);
        return 1;
    }
    return fd;
}

static sp_addr_t race_addr;

static intptr_t
race_connector(void *arg)
{
    (void)arg;
    uint64_t seed = (uint64_t)sp_now_ns() | 1;
    test_spin_ns(test_rand(&seed) % 20000);
    return sp_tcp_connect(&race_addr);
}

static intptr_t
race_receiver(void *arg)
{
    (void)arg;
    char c;
    return sp_sock_recv(race_rx, &c, 1, 0);
}

static intptr_t
race_sender(void *arg)
{
    (void)arg;
    uint64_t seed = (uint64_t)sp_now_ns() | 1;
    test_spin_ns(test_rand(&seed) % 20000);
    return sp_sock_send(race_tx, "z", 1, 0);
}

/* One accept round: returns 0 if every connection was accepted exactly
 * once (by the racing task, or afterwards here) and closed. */
static int
accept_round(uint64_t *seed, int *won)
{
    sp_task_attr_t a0 = test_attr(SP_PLACE_ON, 0), a1 = test_attr(SP_PLACE_ON, 1);
    sp_task_t acc, con;
    ASSERT_OK(sp_task_spawn(&acc, &a0, race_acceptor, NULL));
    ASSERT_OK(sp_task_spawn(&con, &a1, race_connector, NULL));
    test_spin_ns(test_rand(seed) % 20000);
    ASSERT_OK(sp_task_cancel(acc));
    intptr_t ra = 0, rc = 0;
    ASSERT_OK(sp_task_join(acc, &ra));
    ASSERT_OK(sp_task_join(con, &rc));
    ASSERT_GE(rc, 0);
    if (ra == 1) {
        (*won)++;
    } else {
        ASSERT_ERR(ra, -ECANCELED);
        /* The connection must still be queued: a lost accepted fd would
         * leave nothing to accept and end this by the deadline. */
        sp_task_set_deadline(sp_now_ns() + 5 * SP_NSEC_PER_SEC);
        int fd = sp_tcp_accept(race_lfd, NULL);
        sp_task_set_deadline(SP_DEADLINE_NONE);
        ASSERT_GE(fd, 0);
        ASSERT_OK(sp_close(fd));
    }
    ASSERT_OK(sp_close((int)rc));
    return 0;
}

static int
recv_round(uint64_t *seed, int *won)
{
    sp_task_attr_t a0 = test_attr(SP_PLACE_ON, 0), a1 = test_attr(SP_PLACE_ON, 1);
    sp_task_t rcv, snd;
    ASSERT_OK(sp_task_spawn(&rcv, &a0, race_receiver, NULL));
    ASSERT_OK(sp_task_spawn(&snd, &a1, race_sender, NULL));
    test_spin_ns(test_rand(seed) % 20000);
    ASSERT_OK(sp_task_cancel(rcv));
    intptr_t rr = 0, rs = 0;
    ASSERT_OK(sp_task_join(rcv, &rr));
    ASSERT_OK(sp_task_join(snd, &rs));
    ASSERT_EQ(rs, 1);
    if (rr == 1) {
        (*won)++;
    } else {
        ASSERT_ERR(rr, -ECANCELED);
        /* The byte was not consumed by the cancelled call. */
        char c;
        sp_task_set_deadline(sp_now_ns() + 5 * SP_NSEC_PER_SEC);
        ssize_t n = sp_sock_recv(race_rx, &c, 1, 0);
        sp_task_set_deadline(SP_DEADLINE_NONE);
        ASSERT_EQ(n, 1);
    }
    return 0;
}

static intptr_t
race_main(void *arg)
{
    (void)arg;
    int base = test_count_fds();
    race_lfd = listen_loopback(AF_INET, 0, &race_addr);
    ASSERT_GE(race_lfd, 0);
    int lfd2;
    ASSERT_OK(tcp_pair(&lfd2, &race_rx, &race_tx));
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int n = SCALE(10000), won_a = 0, won_r = 0;
    for (int i = 0; i < n; i++) {
        ASSERT_OK(accept_round(&seed, &won_a));
        ASSERT_OK(recv_round(&seed, &won_r));
    }
    fprintf(stderr, "accept: %d of %d completed before the cancel; recv: %d\n", won_a, n,
            won_r);
    ASSERT_OK(sp_close(race_rx));
    ASSERT_OK(sp_close(race_tx));
    ASSERT_OK(sp_close(lfd2));
    ASSERT_OK(sp_close(race_lfd));
    ASSERT_EQ(test_count_fds(), base);
    return 0;
}

int
test_net_cancel_races(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, race_main, NULL);
}

/* --- cancelling a task parked in accept from another shard --------------- */

static intptr_t
parked_acceptor(void *arg)
{
    return sp_tcp_accept((int)(intptr_t)arg, NULL);
}

static intptr_t
xshard_cancel_main(void *arg)
{
    (void)arg;
    sp_addr_t addr;
    int lfd = listen_loopback(AF_INET, 4, &addr);
    ASSERT_GE(lfd, 0);
    for (int i = 0; i < SCALE(100); i++) {
        sp_task_attr_t a = test_attr(SP_PLACE_ON, 1);
        sp_task_t t;
        ASSERT_OK(sp_task_spawn(&t, &a, parked_acceptor, (void *)(intptr_t)lfd));
        if (i & 1) {
            sp_sleep_ns(100 * SP_NSEC_PER_USEC); /* usually parked by now */
        }
        ASSERT_OK(sp_task_cancel(t));
        intptr_t r = 0;
        ASSERT_OK(sp_task_join(t, &r));
        ASSERT_ERR(r, -ECANCELED);
    }
    /* The listener still works. */
    int c = sp_tcp_connect(&addr);
    ASSERT_GE(c, 0);
    int s = sp_tcp_accept(lfd, NULL);
    ASSERT_GE(s, 0);
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_cancel_accept_cross_shard(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, xshard_cancel_main, NULL);
}

/* --- EMFILE accept storm --------------------------------------------------- */

#define STORM_CLIENTS 96
#define STORM_ROOM 24

static intptr_t
storm_main(void *arg)
{
    (void)arg;
    sp_addr_t addr;
    int lfd = listen_loopback(AF_INET, STORM_CLIENTS * 2, &addr);
    ASSERT_GE(lfd, 0);
    static int cl[STORM_CLIENTS], acc[STORM_CLIENTS];
    for (int i = 0; i < STORM_CLIENTS; i++) {
        cl[i] = sp_tcp_connect(&addr);
        ASSERT_GE(cl[i], 0);
    }
    /* Room for STORM_ROOM more fds: the limit is on fd numbers, and new
     * fds take the lowest free ones. */
    int limit = 0;
    for (int free_fds = 0; free_fds < STORM_ROOM; limit++) {
        free_fds += fcntl(limit, F_GETFD) < 0;
    }
    struct rlimit old, low;
    ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
    low = old;
    low.rlim_cur = (rlim_t)limit;
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &low));
    int nacc = 0, r = 0;
    while (nacc < STORM_CLIENTS && (r = sp_tcp_accept(lfd, NULL)) >= 0) {
        acc[nacc++] = r;
    }
    int emfile = r == -EMFILE;
    /* Each further call fails at once rather than spinning or parking. */
    for (int i = 0; i < 100 && emfile; i++) {
        emfile = sp_tcp_accept(lfd, NULL) == -EMFILE;
    }
    /* Closing some makes room again. */
    int full = nacc, freed = nacc / 2, again = 0;
    for (int i = 0; i < freed; i++) {
        ASSERT_OK(sp_close(acc[--nacc]));
    }
    while (again < freed && (r = sp_tcp_accept(lfd, NULL)) >= 0) {
        acc[nacc++] = r;
        again++;
    }
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
    ASSERT(emfile);
    ASSERT_EQ(full, STORM_ROOM);
    ASSERT_EQ(again, freed);
    /* The rest, with the limit restored: nothing was lost from the queue. */
    for (int left = STORM_CLIENTS - full - again; left > 0; left--) {
        r = sp_tcp_accept(lfd, NULL);
        ASSERT_GE(r, 0);
        acc[nacc++] = r;
    }
    for (int i = 0; i < nacc; i++) {
        ASSERT_OK(sp_close(acc[i]));
    }
    for (int i = 0; i < STORM_CLIENTS; i++) {
        ASSERT_OK(sp_close(cl[i]));
    }
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_accept_emfile(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, storm_main, NULL);
}

/* --- options and bad input ----------------------------------------------- */

static intptr_t
options_main(void *arg)
{
    (void)arg;
    int lfd, c, s, v = 0;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    socklen_t len = sizeof(v);
    ASSERT_OK(sp_tcp_set_nodelay(c, 1));
    ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len));
    ASSERT_EQ(v, 1);
    ASSERT_OK(sp_tcp_set_keepalive(c, 1, 30, 5, 3));
    ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len));
    ASSERT_EQ(v, 30);
    ASSERT_OK(getsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &v, &len));
    ASSERT_EQ(v, 3);
    ASSERT_ERR(sp_tcp_set_keepalive(c, 1, -1, 0, 0), -EINVAL);
    ASSERT_OK(sp_sock_set_sndbuf(c, 65536));
    ASSERT_OK(sp_sock_sndbuf(c, &v));
    ASSERT_GE(v, 65536);
    ASSERT_OK(sp_sock_set_rcvbuf(c, 65536));
    ASSERT_OK(sp_sock_rcvbuf(c, &v));
    ASSERT_GE(v, 65536);
    ASSERT_ERR(sp_sock_set_rcvbuf(c, 0), -EINVAL);
    ASSERT_OK(sp_sock_set_reuseaddr(c, 1));
    ASSERT_OK(sp_sock_set_reuseport(c, 1));
    ASSERT_OK(getsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &v, &len));
    ASSERT_EQ(v, 1);
    /* Sockets are blocking under io_uring, non-blocking under epoll. */
    int epoll = strcmp(sp_runtime_backend_name(sp_runtime_current()), "epoll") == 0;
    ASSERT_EQ(!!(fcntl(c, F_GETFL) & O_NONBLOCK), epoll);
    ASSERT_EQ(!!(fcntl(s, F_GETFL) & O_NONBLOCK), epoll);
    ASSERT(fcntl(s, F_GETFD) & FD_CLOEXEC);
    ASSERT(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
    /* Two listeners on one port with SP_NET_REUSEPORT. */
    sp_addr_t a;
    ASSERT_OK(sp_addr_ip(&a, "127.0.0.1", 0));
    int r1 = sp_tcp_listen(&a, 4, SP_NET_REUSEPORT);
    ASSERT_GE(r1, 0);
    ASSERT_OK(sp_sock_local_addr(r1, &a));
    int r2 = sp_tcp_listen(&a, 4, SP_NET_REUSEPORT);
    ASSERT_GE(r2, 0);
    ASSERT_ERR(sp_tcp_listen(&a, 4, 0), -EADDRINUSE);
    ASSERT_OK(sp_close(r1));
    ASSERT_OK(sp_close(r2));
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_options(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, options_main, NULL);
}

static intptr_t
bad_input_main(void *arg)
{
    (void)arg;
    sp_addr_t a, un;
    char buf[8];
    ASSERT_ERR(sp_addr_ip(&a, "127.0.0.1", 65536), -EINVAL);
    ASSERT_ERR(sp_addr_ip(&a, "127.0.0.1", -1), -EINVAL);
    ASSERT_ERR(sp_addr_ip(&a, "not-an-ip", 80), -EINVAL);
    ASSERT_ERR(sp_addr_ip(NULL, "::1", 80), -EINVAL);
    ASSERT_OK(sp_addr_ip(&a, "::1%1", 80));
    ASSERT_ERR(sp_addr_unix(&un, ""), -EINVAL);
    char longpath[200];
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    ASSERT_ERR(sp_addr_unix(&un, longpath), -EINVAL);
    ASSERT_ERR(sp_addr_unix_abstract(&un, "x", 0), -EINVAL);
    ASSERT_OK(sp_addr_unix(&un, "/tmp/x"));
    ASSERT_ERR(sp_tcp_listen(NULL, 1, 0), -EINVAL);
    ASSERT_ERR(sp_tcp_listen(&un, 1, 0), -EINVAL);
    ASSERT_OK(sp_addr_ip(&a, "127.0.0.1", 0));
    ASSERT_ERR(sp_tcp_listen(&a, 1, 0x80), -EINVAL);
    ASSERT_ERR(sp_tcp_connect(NULL), -EINVAL);
    ASSERT_ERR(sp_tcp_connect(&un), -EINVAL);
    ASSERT_ERR(sp_unix_connect(&a), -EINVAL);
    ASSERT_ERR(sp_unix_listen(&a, 1), -EINVAL);
    ASSERT_ERR(sp_udp_open(AF_UNIX), -EINVAL);
    ASSERT_ERR(sp_udp_bind(&un, 0), -EINVAL);
    ASSERT_ERR(sp_tcp_connect_host(NULL, 80), -EINVAL);
    ASSERT_ERR(sp_tcp_connect_host("localhost", 0), -EINVAL);
    ASSERT_ERR(sp_tcp_connect_host("localhost", 70000), -EINVAL);
    sp_addr_t bad = a;
    bad.len = 0;
    ASSERT_ERR(sp_tcp_connect(&bad), -EINVAL);
    bad.u.sa.sa_family = 77;
    bad.len = sizeof(bad.u.in);
    ASSERT_ERR(sp_tcp_connect(&bad), -EINVAL);
    ASSERT_ERR(sp_sock_recv(-1, buf, 1, 0), -EBADF);
    ASSERT_ERR(sp_sock_send(-1, buf, 1, 0), -EBADF);
    ASSERT_ERR(sp_tcp_accept(-1, NULL), -EBADF);
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    ASSERT_ERR(sp_sock_recv(c, NULL, 1, 0), -EFAULT);
    ASSERT_ERR(sp_sock_send(c, NULL, 1, 0), -EFAULT);
    ASSERT_ERR(sp_sock_recv(c, buf, (size_t)1 << 40, 0), -EINVAL);
    ASSERT_ERR(sp_sock_send_all(c, buf, (size_t)1 << 40, NULL), -EINVAL);
    ASSERT_ERR(sp_sock_recvmsg(c, NULL, 0), -EFAULT);
    ASSERT_ERR(sp_sock_readv(c, NULL, -1), -EINVAL);
    ASSERT_ERR(sp_sock_send_to(c, buf, 1, NULL), -EINVAL);
    ASSERT_ERR(sp_sock_shutdown(c, 42), -EINVAL);
    ASSERT_ERR(sp_tcp_accept(c, NULL), -EINVAL); /* not listening */
    ASSERT_EQ(sp_sock_send(c, buf, 0, 0), 0);
    ASSERT_ERR(sp_sock_local_addr(c, NULL), -EINVAL);
    ASSERT_ERR(sp_addr_format(NULL, buf, sizeof(buf)), -EINVAL);
    ASSERT_ERR(sp_addr_port(&un), -EINVAL);
    int p[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_ERR(sp_sock_recv(p[0], buf, 1, 0), -ENOTSOCK);
    ASSERT_ERR(sp_tcp_set_nodelay(p[0], 1), -ENOTSOCK);
    ASSERT_ERR(sp_sock_peer_addr(lfd, &a), -ENOTCONN);
    ASSERT_OK(sp_close(p[0]));
    ASSERT_OK(sp_close(p[1]));
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

/* --- a wait on a number reused after a wait that timed out ----------------- */

/* Writes "ab" to fd (a socket), once the receiver is likely waiting. */
static intptr_t
write_two_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    ASSERT_OK(sp_sleep_ns(5 * SP_NSEC_PER_MSEC)); /* let the receiver wait first (not required) */
    ASSERT_EQ(sp_write(fd, "ab", 2), 2);
    return 0;
}

/* A receive that times out leaves the fd registered in the epoll
 * backend's table; the fd is then closed with nothing in flight (close(2)
 * drops the kernel's registration), and an accept gets the same number. A
 * receive on the accepted socket must still be woken by its data. It was
 * not once (the table still said "armed" for a registration close(2) had
 * dropped); now sp_close and the accept each change the number's
 * generation, and the test runs without the recheck that would mask a
 * miss. One shard, so that both waits use the same table. */
static intptr_t
reused_fd_main(void *arg)
{
    (void)arg;
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    char b;
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_MSEC); /* the deadline under test */
    ASSERT_ERR(sp_sock_recv(s, &b, 1, 0), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    int old = s;
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    sp_addr_t addr;
    ASSERT_OK(sp_sock_local_addr(lfd, &addr));
    c = sp_tcp_connect(&addr); /* the lowest free number, then the next */
    ASSERT_GE(c, 0);
    s = sp_tcp_accept(lfd, NULL);
    ASSERT_EQ(s, old);
    sp_task_t tk;
    ASSERT_OK(sp_task_spawn(&tk, NULL, write_two_later, (void *)(intptr_t)c));
    /* A bound, not a measure: its expiry means the wake was lost. */
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_SEC);
    ASSERT_EQ(sp_sock_recv(s, &b, 1, 0), 1);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_EQ(b, 'a');
    ASSERT_OK(sp_task_join(tk, NULL));
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

/* test_run_main with the epoll backend's recheck of trusted registrations
 * off (added to whatever SPINDLE_FEATURES_OFF the runner was given): a
 * wait that only the recheck would answer then hangs, and the test's
 * bounded deadline reports it. */
static int
run_without_recheck(const sp_config_t *cfg, sp_task_fn fn, void *arg)
{
    const char *was = getenv("SPINDLE_FEATURES_OFF");
    char *saved = was ? strdup(was) : NULL;
    char list[256];
    snprintf(list, sizeof list, "%s%sepoll_recheck", saved ? saved : "", saved ? "," : "");
    setenv("SPINDLE_FEATURES_OFF", list, 1);
    int rc = test_run_main(cfg, fn, arg);
    if (saved) {
        setenv("SPINDLE_FEATURES_OFF", saved, 1);
        free(saved);
    } else {
        unsetenv("SPINDLE_FEATURES_OFF");
    }
    return rc;
}

int
test_net_wait_on_reused_fd(void)
{
    sp_config_t cfg = test_config(1);
    return run_without_recheck(&cfg, reused_fd_main, NULL);
}

/* --- edge-triggered waits (epoll) ----------------------------------------- */

/* A receive waits and is woken by the edge of two bytes, and takes one. A
 * poll for the rest must answer at once: no new edge will ever come for
 * the byte that is left, so an edge-triggered backend must look before it
 * waits. Without the recheck (which would answer within half a second),
 * a wait for an edge hangs until the deadline. */
static intptr_t
poll_after_edge_main(void *arg)
{
    (void)arg;
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    sp_task_t tk;
    ASSERT_OK(sp_task_spawn(&tk, NULL, write_two_later, (void *)(intptr_t)c));
    char b = 0;
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_SEC); /* a bound, not a measure */
    ASSERT_EQ(sp_sock_recv(s, &b, 1, 0), 1);
    ASSERT_EQ(b, 'a');
    int ev = sp_poll(s, POLLIN);
    ASSERT_GE(ev, 0);
    ASSERT_NE(ev & POLLIN, 0);
    ASSERT_EQ(sp_sock_recv(s, &b, 1, 0), 1);
    ASSERT_EQ(b, 'b');
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_OK(sp_task_join(tk, NULL));
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_poll_after_consumed_edge(void)
{
    sp_config_t cfg = test_config(1);
    return run_without_recheck(&cfg, poll_after_edge_main, NULL);
}

/* The misuse the epoll backend's recheck exists for: a socket that a task
 * waited on is closed with close(2), not sp_close, and a socket made with
 * socketpair(2), not by spindle, takes its number. Nothing told the shard,
 * whose table still trusts a registration that close(2) dropped. A
 * receive on the new socket must still get its byte (within two recheck
 * rounds, 0.25-0.5 s; the deadline only bounds a hang). */
static intptr_t
close2_reuse_main(void *arg)
{
    (void)arg;
    int sv[2];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    char b;
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_MSEC); /* the deadline under test */
    ASSERT_ERR(sp_sock_recv(sv[0], &b, 1, 0), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    int old = sv[0];
    close(sv[0]);
    close(sv[1]);
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    ASSERT_NE(sv[0] == old || sv[1] == old, 0); /* the two lowest free numbers */
    int rx = old, tx = sv[0] == old ? sv[1] : sv[0];
    sp_task_t tk;
    ASSERT_OK(sp_task_spawn(&tk, NULL, write_two_later, (void *)(intptr_t)tx));
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_SEC); /* a bound, not a measure */
    ASSERT_EQ(sp_sock_recv(rx, &b, 1, 0), 1);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_EQ(b, 'a');
    ASSERT_OK(sp_task_join(tk, NULL));
    ASSERT_OK(sp_close(rx));
    ASSERT_OK(sp_close(tx));
    return 0;
}

int
test_net_wait_after_close2_reuse(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, close2_reuse_main, NULL);
}

/* --- deferred receives (epoll) ------------------------------------------ */

struct deferred_rx {
    int fd;
    atomic_int second; /* the receiver is about to make its second receive */
};

/* Receives a byte (waiting for it, so the epoll backend defers the next
 * receive on this fd), then receives again until cancelled. */
static intptr_t
deferred_rx_task(void *arg)
{
    struct deferred_rx *d = arg;
    char b;
    ASSERT_EQ(sp_sock_recv(d->fd, &b, 1, 0), 1);
    atomic_store(&d->second, 1);
    return sp_sock_recv(d->fd, &b, 1, 0);
}

/* Spawns the receiver of d, feeds its first receive through peer fd c,
 * and returns once the receiver is about to make its second: on one shard,
 * deferred and parked until the next poll, with the caller next in the run
 * queue. */
static int
start_deferred_rx(int c, struct deferred_rx *d, sp_task_t *rx)
{
    ASSERT_OK(sp_task_spawn(rx, NULL, deferred_rx_task, d));
    ASSERT_OK(sp_sleep_ns(2 * SP_NSEC_PER_MSEC)); /* let it wait first (not required) */
    ASSERT_EQ(sp_sock_send(c, "x", 1, 0), 1);
    while (!atomic_load(&d->second)) {
        ASSERT_OK(sp_task_yield());
    }
    return 0;
}

/* A receive deferred to the shard's next poll is cancelled by a task that
 * runs before that poll (one shard: the canceller is next in the run
 * queue). It must return -ECANCELED and leave the shard's list of deferred
 * receives whole: later receives on the fd, deferred again, must work. */
static intptr_t
cancel_deferred_main(void *arg)
{
    (void)arg;
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    for (int round = 0; round < 3; round++) {
        struct deferred_rx d = {.fd = s};
        sp_task_t rx;
        ASSERT_OK(start_deferred_rx(c, &d, &rx));
        ASSERT_OK(sp_task_cancel(rx));
        intptr_t res = 0;
        ASSERT_OK(sp_task_join(rx, &res));
        ASSERT_EQ(res, -ECANCELED);
    }
    /* A receive after them, deferred or not, still gets its data. */
    sp_task_t tk;
    ASSERT_OK(sp_task_spawn(&tk, NULL, write_two_later, (void *)(intptr_t)c));
    char b[2];
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_SEC); /* a bound, not a measure */
    ASSERT_EQ(sp_sock_recv_exact(s, b, 2, NULL), 2);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_EQ(b[0], 'a');
    ASSERT_OK(sp_task_join(tk, NULL));
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_cancel_deferred_receive(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, cancel_deferred_main, NULL);
}

/* The same receive, closed with sp_close by a task that runs before the
 * poll: the close's cancel_fd finds no waiter (the receiver is deferred,
 * not waiting), and the receiver, resumed by the poll, finds no data and
 * would wait for ever, and the close with it. It must give up with -EBADF
 * (the call was on the file being closed), and the close must finish. */
static intptr_t
close_deferred_main(void *arg)
{
    (void)arg;
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    struct deferred_rx d = {.fd = s};
    sp_task_t rx;
    ASSERT_OK(start_deferred_rx(c, &d, &rx));
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_SEC); /* a bound, not a measure */
    ASSERT_OK(sp_close(s));
    sp_task_set_deadline(SP_DEADLINE_NONE);
    intptr_t res = 0;
    ASSERT_OK(sp_task_join(rx, &res));
    ASSERT_EQ(res, -EBADF);
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

int
test_net_close_deferred_receive(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, close_deferred_main, NULL);
}

/* --- a foreign wake racing the wake of an I/O completion ------------------ */

#define RACE_ROUNDS 4000

struct race_wake {
    int rx_fd, tx_fd;
    sp_task_t rx;
    atomic_int stop;
};

/* Stealable, on shard 0, where yielders keep 2+ tasks queued: each of its
 * receive completions is released to the deque (uring.c io_complete),
 * while the sender on shard 1 unparks it at the same moment. */
static intptr_t
race_wake_rx(void *arg)
{
    struct race_wake *r = arg;
    ASSERT_OK(sp_task_unpin());
    for (int i = 0; i < RACE_ROUNDS; i++) {
        unsigned char b = 0;
        ASSERT_EQ(sp_sock_recv(r->rx_fd, &b, 1, 0), 1);
        ASSERT_EQ(b, (unsigned char)i);
        ASSERT_EQ(sp_sock_send(r->rx_fd, &b, 1, 0), 1);
    }
    return 0;
}

static intptr_t
race_wake_tx(void *arg)
{
    struct race_wake *r = arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        unsigned char b = (unsigned char)i, ack = 0;
        ASSERT_EQ(sp_sock_send(r->tx_fd, &b, 1, 0), 1);
        ASSERT_OK(sp_task_unpark(r->rx)); /* a stale token: the receiver never parks for it */
        ASSERT_EQ(sp_sock_recv(r->tx_fd, &ack, 1, 0), 1);
        ASSERT_EQ(ack, b);
    }
    return 0;
}

static intptr_t
race_wake_yielder(void *arg)
{
    struct race_wake *r = arg;
    while (!atomic_load(&r->stop)) {
        sp_task_yield();
    }
    return 0;
}

static intptr_t
race_wake_main(void *arg)
{
    (void)arg;
    struct race_wake r = {0};
    int sv[2];
    /* Unix: no SO_INCOMING_CPU, so the receiver does not follow its sender
     * to shard 1 and the unpark keeps coming from another thread. */
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    r.rx_fd = sv[0];
    r.tx_fd = sv[1];
    sp_task_t y[3], tx;
    sp_task_attr_t at;
    sp_task_attr_init(&at);
    at.place = SP_PLACE_ON;
    at.shard = 0;
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_spawn(&y[i], &at, race_wake_yielder, &r));
    }
    ASSERT_OK(sp_task_spawn(&r.rx, &at, race_wake_rx, &r));
    at.shard = 1;
    ASSERT_OK(sp_task_spawn(&tx, &at, race_wake_tx, &r));
    intptr_t res = -1;
    ASSERT_OK(sp_task_join(tx, &res));
    ASSERT_EQ(res, 0);
    ASSERT_OK(sp_task_join(r.rx, &res));
    ASSERT_EQ(res, 0);
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_join(y[i], NULL));
    }
    ASSERT_OK(sp_close(sv[0]));
    ASSERT_OK(sp_close(sv[1]));
    return 0;
}

/* Every byte arrives, in order, with no hang, while the receiver's
 * completions are released on a busy shard and a foreign waker races each
 * of them (review of the release: the waker that wins must still see
 * `resume`). Run under TSan by `make test`. */
int
test_net_recv_wake_race(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, race_wake_main, NULL);
}

/* --- a busy shard still reaps what waited in the kernel ----------------- */

#define BUSY_CHUNKS 64

struct busy_recv {
    int fds[2];
    atomic_int stop;
};

/* Not a task: writes from a plain thread, so that the receives below
 * complete through the kernel's task work (the data arrives while the
 * receive waits), not during a submit of the shard's own. The pause
 * before each write lets the receive get there first; it makes the case,
 * it asserts nothing. */
static void *
busy_writer(void *arg)
{
    struct busy_recv *b = arg;
    for (int i = 0; i < BUSY_CHUNKS; i++) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        unsigned char c[16];
        memset(c, i, sizeof(c));
        if (write(b->fds[1], c, sizeof(c)) != (ssize_t)sizeof(c)) {
            return (void *)1;
        }
    }
    return NULL;
}

static intptr_t
busy_yielder(void *arg)
{
    struct busy_recv *b = arg;
    while (!atomic_load(&b->stop)) {
        ASSERT_OK(sp_task_yield());
    }
    return 0;
}

static intptr_t
busy_main(void *arg)
{
    (void)arg;
    struct busy_recv b = {0};
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b.fds));
    sp_task_t y[2];
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_task_spawn(&y[i], NULL, busy_yielder, &b));
    }
    pthread_t w;
    ASSERT_OK(pthread_create(&w, NULL, busy_writer, &b));
    for (int i = 0; i < BUSY_CHUNKS; i++) {
        unsigned char c[16];
        ASSERT_EQ(sp_sock_recv_exact(b.fds[0], c, sizeof(c), NULL), (ssize_t)sizeof(c));
        for (size_t k = 0; k < sizeof(c); k++) {
            ASSERT_EQ(c[k], (unsigned char)i);
        }
    }
    void *wr = (void *)1;
    ASSERT_OK(pthread_join(w, &wr));
    ASSERT(wr == NULL);
    atomic_store(&b.stop, 1);
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_task_join(y[i], NULL));
    }
    ASSERT_OK(sp_close(b.fds[0]));
    ASSERT_OK(sp_close(b.fds[1]));
    return 0;
}

/* One shard that never sleeps (two tasks yield all along) and a task
 * receiving what a plain thread writes: each receive waits in the kernel
 * and completes as task work, which io_uring's DEFER_TASKRUN runs only in
 * an enter that asks for GETEVENTS. The shard asks for it only where such
 * work may be (uring.c, submit_and_get_events); every byte must arrive,
 * in order, without the shard ever going to sleep to pick it up. */
int
test_net_busy_shard_reaps_waiting_receive(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, busy_main, NULL);
}

/* --- a stealable task follows the shard that feeds its socket ------------- */

#define FOLLOW_ROUNDS 512

struct follow_end {
    int fd;
    int first;                    /* 1: sends first (the client) */
    int pinned;                   /* stays pinned to where it was spawned */
    atomic_int *shard_of_round;   /* [FOLLOW_ROUNDS], this side's shard */
};

static intptr_t
follow_end_main(void *arg)
{
    struct follow_end *e = arg;
    if (!e->pinned) {
        ASSERT_OK(sp_task_unpin()); /* stealable from here on */
    }
    unsigned char out[64], in[64];
    for (int i = 0; i < FOLLOW_ROUNDS; i++) {
        memset(out, (unsigned char)i, sizeof(out));
        if (e->first) {
            ASSERT_EQ(sp_sock_send_all(e->fd, out, sizeof(out), NULL), (ssize_t)sizeof(out));
        }
        ASSERT_EQ(sp_sock_recv_exact(e->fd, in, sizeof(in), NULL), (ssize_t)sizeof(in));
        ASSERT_EQ(in[0], (unsigned char)i);
        ASSERT_EQ(in[sizeof(in) - 1], (unsigned char)i);
        atomic_store(&e->shard_of_round[i], sp_shard_id());
        if (!e->first) {
            ASSERT_EQ(sp_sock_send_all(e->fd, in, sizeof(in), NULL), (ssize_t)sizeof(in));
        }
    }
    return 0;
}

static atomic_int follow_rounds[2][FOLLOW_ROUNDS];

struct follow_run {
    int pinned;        /* in */
    int together;      /* out: rounds both received on the same shard */
    uint64_t follows;  /* out: the shards' follows statistic */
};

/* The client starts on shard 0, the server on shard 1, both stealable or
 * both pinned there. */
static intptr_t
follow_main(void *arg)
{
    struct follow_run *run = arg;
    int lfd, c, s;
    ASSERT_OK(tcp_pair(&lfd, &c, &s));
    ASSERT_OK(sp_tcp_set_nodelay(c, 1));
    ASSERT_OK(sp_tcp_set_nodelay(s, 1));
    struct follow_end ends[2] = {
        {.fd = c, .first = 1, .pinned = run->pinned, .shard_of_round = follow_rounds[0]},
        {.fd = s, .first = 0, .pinned = run->pinned, .shard_of_round = follow_rounds[1]},
    };
    sp_task_t tasks[2];
    for (int i = 0; i < 2; i++) {
        sp_task_attr_t at;
        sp_task_attr_init(&at);
        at.place = SP_PLACE_ON;
        at.shard = i;
        ASSERT_OK(sp_task_spawn(&tasks[i], &at, follow_end_main, &ends[i]));
    }
    for (int i = 0; i < 2; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(tasks[i], &r));
        ASSERT_EQ(r, 0);
    }
    for (int i = 0; i < FOLLOW_ROUNDS; i++) {
        run->together += atomic_load(&follow_rounds[0][i]) == atomic_load(&follow_rounds[1][i]);
    }
    for (int i = 0; i < 2; i++) {
        sp_shard_stats_t st;
        ASSERT_OK(sp_runtime_stats(sp_runtime_current(), i, &st));
        run->follows += st.follows;
    }
    ASSERT_OK(sp_close(c));
    ASSERT_OK(sp_close(s));
    ASSERT_OK(sp_close(lfd));
    return 0;
}

static TEST_OPAQUE int
follow_run(struct follow_run *run)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
        return TEST_SKIP; /* both shard threads would share one CPU */
    }
    sp_config_t cfg = test_config(2);
    cfg.pin_threads = 1; /* shard i on the i-th allowed CPU: distinct CPUs */
    return test_run_main(&cfg, follow_main, run);
}

/* Two stealable tasks that talk over a loopback TCP connection, started on
 * different shards, end up receiving on the same shard: SO_INCOMING_CPU
 * names the sender's CPU (src/io/follow.c). Without following they would
 * stay apart (an I/O completion runs its task on its ring's shard while
 * that shard is not busy); an idle shard may still steal one of them now
 * and then, so the check is "most rounds", not "every round". */
int
test_net_stealable_follows_peer(void)
{
    struct follow_run run = {.pinned = 0};
    int r = follow_run(&run);
    if (r != TEST_PASS) {
        return r;
    }
    ASSERT_GE(run.follows, 1);
    ASSERT_GE(run.together, FOLLOW_ROUNDS / 2);
    return TEST_PASS;
}

/* Pinned tasks never follow: they stay where they were put. */
int
test_net_pinned_never_follows(void)
{
    struct follow_run run = {.pinned = 1};
    int r = follow_run(&run);
    if (r != TEST_PASS) {
        return r;
    }
    ASSERT_EQ(run.follows, 0);
    ASSERT_EQ(run.together, 0);
    return TEST_PASS;
}

/* --- stealable request/reply pairs whose receives change shards ----------- */

/* More stealable request/reply pairs than two shards run at once, so that
 * I/O wakes are released to the deque (sp__wake_released) and the other
 * shard steals them: a receive then finishes on another shard than the one
 * it started on. On epoll that is a deferred receive resumed by a thief,
 * which must go on with the thief's fd-table entry and registrations, not
 * those of the shard it deferred on (TSan flags the cross-thread access;
 * make test runs this under TSan on both backends). Every reply is checked
 * byte for byte. Batches of pairs run until MOVE_WANT receives have moved
 * (or MOVE_BATCHES have run), and at least one must have (the path under
 * test must run). */
#define MOVE_PAIRS 8
#define MOVE_ROUNDS 64
#define MOVE_BATCHES 200
#define MOVE_WANT 64 /* moves to see before stopping: more chances for TSan */
#define MOVE_MSG 48

struct move_end {
    int fd;
    int id;
    int client;
    atomic_int *moved; /* receives that finished on another shard */
};

static void
move_fill(unsigned char *buf, int id, int round)
{
    for (int i = 0; i < MOVE_MSG; i++) {
        buf[i] = (unsigned char)(id * 31 + round * 7 + i);
    }
}

static intptr_t
move_end_main(void *arg)
{
    struct move_end *e = arg;
    unsigned char out[MOVE_MSG], in[MOVE_MSG], want[MOVE_MSG];
    for (int r = 0; r < MOVE_ROUNDS; r++) {
        move_fill(want, e->id, r);
        if (e->client) {
            memcpy(out, want, sizeof(out));
            ASSERT_EQ(sp_sock_send_all(e->fd, out, sizeof(out), NULL), (ssize_t)sizeof(out));
        }
        int before = sp_shard_id();
        ASSERT_EQ(sp_sock_recv_exact(e->fd, in, sizeof(in), NULL), (ssize_t)sizeof(in));
        if (sp_shard_id() != before) {
            atomic_fetch_add(e->moved, 1);
        }
        ASSERT_EQ(memcmp(in, want, sizeof(in)), 0);
        if (!e->client) {
            ASSERT_EQ(sp_sock_send_all(e->fd, in, sizeof(in), NULL), (ssize_t)sizeof(in));
        }
    }
    return 0;
}

static intptr_t
move_main(void *arg)
{
    atomic_int *moved = arg;
    for (int b = 0; b < MOVE_BATCHES && atomic_load(moved) < MOVE_WANT; b++) {
        int lfd[MOVE_PAIRS];
        struct move_end ends[2 * MOVE_PAIRS];
        sp_task_t tasks[2 * MOVE_PAIRS];
        for (int p = 0; p < MOVE_PAIRS; p++) {
            int c, s;
            ASSERT_OK(tcp_pair(&lfd[p], &c, &s));
            ends[2 * p] = (struct move_end){.fd = c, .id = p, .client = 1, .moved = moved};
            ends[2 * p + 1] = (struct move_end){.fd = s, .id = p, .client = 0, .moved = moved};
        }
        sp_task_attr_t at;
        sp_task_attr_init(&at);
        at.place = SP_PLACE_STEALABLE;
        for (int i = 0; i < 2 * MOVE_PAIRS; i++) {
            ASSERT_OK(sp_task_spawn(&tasks[i], &at, move_end_main, &ends[i]));
        }
        for (int i = 0; i < 2 * MOVE_PAIRS; i++) {
            intptr_t r = -1;
            ASSERT_OK(sp_task_join(tasks[i], &r));
            ASSERT_EQ(r, 0);
        }
        for (int i = 0; i < 2 * MOVE_PAIRS; i++) {
            ASSERT_OK(sp_close(ends[i].fd));
        }
        for (int p = 0; p < MOVE_PAIRS; p++) {
            ASSERT_OK(sp_close(lfd[p]));
        }
    }
    return 0;
}

int
test_net_stealable_receives_move(void)
{
    atomic_int moved = 0;
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, move_main, &moved);
    if (r != TEST_PASS) {
        return r;
    }
    ASSERT_GE(atomic_load(&moved), 1);
    return TEST_PASS;
}

int
test_net_bad_input(void)
{
    sp_config_t cfg = test_config(1);
    ASSERT_ERR(sp_tcp_listen_ip("127.0.0.1", 0, 1, 0), -EPERM); /* not in a task */
    return test_run_main(&cfg, bad_input_main, NULL);
}
