/* net_hotspot: TCP loopback workloads over many connections whose load is
 * uneven, or moves from one connection to another (BENCHMARKS.md's
 * multi-connection network workloads; the spec's W1-W5).
 *
 *   net_stream_imbalanced_4k_hot1_light7       (W1) 8 connections echoing
 *                                              4 KiB frames one at a time;
 *                                              connection 0 sends 2,048,
 *                                              the other 7 send 128 each
 *   net_stream_hotspot_rotation_4k_free        (W2) 8 connections x 64
 *   net_stream_hotspot_rotation_4k_barrier          steps; in step s
 *                                              connection s mod 8 echoes
 *                                              32 frames, the others 2.
 *                                              free: each client runs its
 *                                              steps on its own; barrier:
 *                                              all 8 meet at an
 *                                              sp_barrier_t after each step
 *   net_pipeline_hotspot_rotation_4k_window32  (W3) 8 connections x 1,024
 *                                              frames, up to 32 in flight;
 *                                              the server answers each with
 *                                              an 8-byte ack after a CPU
 *                                              stage of mix(tag, 4000)
 *                                              steps on the hot connection
 *                                              ((f / 64) mod 8) and
 *                                              mix(tag, 150) on the others
 *   net_keyed_hotspot_rotation_4k              (W4) W2 free, and after each
 *                                              step a client sends
 *                                              frames * 16 u64 keys to owner
 *                                              task s mod 2 over a bounded
 *                                              sp_chan_t (capacity 1,024);
 *                                              owner o is pinned to shard o
 *   net_echo_1kconn_256b                       (W5) 1,000 connections x 32
 *                                              sequential 256-byte round
 *                                              trips, all at once
 *
 * Every frame carries the tag (c << 32) | f (little-endian, in its first 8
 * bytes); the echo's tag is checked. Client and server run in this process;
 * every connection is set up (connected, accepted, TCP_NODELAY on both ends)
 * and every server task spawned, blocking in its first read, before the
 * clock starts. The clock covers spawning the clients (and W4's owners)
 * until every one of them has finished and been joined; the servers are
 * joined afterwards. Reported: the wall time of that phase in us (W1-W4),
 * or in ns per round trip (W5).
 *
 * Variants (two shards, shard threads pinned):
 *   pinned-only       connection c's client and server SP_PLACE_ON shard
 *                     c mod 2 (the thread-per-core layout)
 *   stealable         every client and server SP_PLACE_STEALABLE
 * W5 runs pinned-1shard (one shard, everything on it), pinned-2shard and
 * stealable-2shard (as pinned-only and stealable).
 *
 * Extra fields: checksum= (the wrapping u64 sum of the tags, W3's acks, W4's
 * keys; the program computes the expected value without the network and
 * fails the case on a mismatch, so it is the same for every variant and for
 * the tokio and Go peers), process_cpu_pct= (CPU time of the whole process,
 * all threads, over the timed phase / its wall time), frames= or
 * round_trips=, stolen= (tasks the shards stole during the phase) and
 * follows= (stealable tasks that moved to the shard feeding their socket,
 * docs/design/scheduler.md). */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define HS_FRAME 4096
#define HS_MSG 256 /* W5's message */
#define HS_CONNS 8
#define HS_WINDOW 32
#define HS_ACK 8
#define HS_OWNERS 2
#define HS_OWNER_CAP 1024
#define HS_KEYS_PER_FRAME 16

typedef enum hs_kind {
    HS_IMBALANCED,       /* W1 */
    HS_ROTATION_FREE,    /* W2 free */
    HS_ROTATION_BARRIER, /* W2 barrier */
    HS_PIPELINE,         /* W3 */
    HS_KEYED,            /* W4 */
    HS_MANY,             /* W5 */
    HS_NKINDS
} hs_kind_t;

typedef struct hs_params {
    hs_kind_t kind;
    int shards;
    int stealable;
} hs_params_t;

typedef struct hs_run hs_run_t;

typedef struct hs_conn {
    hs_run_t *run;
    uint64_t c;      /* connection index */
    int cfd, sfd;    /* client and server ends */
    uint64_t frames; /* frames (W5: round trips) over the whole connection */
    uint64_t sum;    /* the client's part of the checksum */
} hs_conn_t;

typedef struct hs_owner {
    hs_run_t *run;
    sp_chan_t ch;
    uint64_t total; /* keys it receives */
    uint64_t sum;
} hs_owner_t;

struct hs_run {
    const hs_params_t *p;
    int nconn;
    uint64_t steps;  /* W2, W4 */
    uint64_t frames; /* every connection's frames together */
    hs_conn_t *conns;
    sp_task_t *clients, *servers;
    sp_task_t owner_tasks[HS_OWNERS];
    hs_owner_t owners[HS_OWNERS];
    sp_barrier_t barrier;

    /* The body waits on `done` instead of joining the clients one by one:
     * it is set by the last client to finish, or by the first task that
     * fails, so that a failure (a client stuck at the barrier, a server
     * waiting for frames that never come) ends in cancellation instead of
     * a hang. */
    sp_event_t done;
    atomic_int left;      /* clients still running */
    atomic_int first_err; /* 0, or the first failure's error */

    uint64_t elapsed_ns, cpu_ns, stolen, follows, checksum;
};

static uint64_t
hs_tag(uint64_t c, uint64_t f)
{
    return c << 32 | f;
}

/* The spec's mix: the LCG step and xorshift of fanout_fanin. */
static uint64_t
hs_mix(uint64_t x, uint64_t steps)
{
    for (uint64_t i = 0; i < steps; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        x ^= x >> 29;
        x ^= x << 11;
        x ^= x >> 31;
    }
    return x;
}

/* Byte by byte, so that the wire format is little-endian on any host. */
static void
hs_put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t
hs_get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

/* W2/W4: frames of connection c in step s. */
static uint64_t
hs_step_frames(uint64_t s, uint64_t c)
{
    return c == s % HS_CONNS ? 32 : 2;
}

/* W3: CPU steps of the server stage for frame f of connection c. */
static uint64_t
hs_stage_steps(uint64_t c, uint64_t f)
{
    return c == (f / 64) % HS_CONNS ? 4000 : 150;
}

static size_t
hs_msg_len(const hs_run_t *run)
{
    return run->p->kind == HS_MANY ? HS_MSG : HS_FRAME;
}

/* --- failure: the first one is reported, every task cancelled ------------ */

/* Record err as the run's failure unless one came first (the cancellation
 * that follows makes every other task fail too; only the cause is
 * printed), and wake the body. Returns err. */
static int
hs_fail(hs_run_t *run, const char *what, int err)
{
    int expect = 0;
    if (atomic_compare_exchange_strong(&run->first_err, &expect, err)) {
        bench_fail(what, err);
        sp_event_set(&run->done);
    }
    return err;
}

static int
hs_send(int fd, const void *buf, size_t len)
{
    ssize_t n = sp_sock_send_all(fd, buf, len, NULL);
    return n == (ssize_t)len ? 0 : n < 0 ? (int)n : -EPIPE;
}

/* A peer that closes before len bytes is an error here. */
static int
hs_recv(int fd, void *buf, size_t len)
{
    ssize_t n = sp_sock_recv_exact(fd, buf, len, NULL);
    return n == (ssize_t)len ? 0 : n < 0 ? (int)n : -ECONNRESET;
}

/* --- servers -------------------------------------------------------------- */

/* W1, W2, W4, W5: echo conn->frames messages, then exit. */
static int
hs_echo_server(hs_conn_t *conn)
{
    hs_run_t *run = conn->run;
    unsigned char buf[HS_FRAME];
    size_t len = hs_msg_len(run);
    for (uint64_t f = 0; f < conn->frames; f++) {
        int rc = hs_recv(conn->sfd, buf, len);
        if (rc != 0) {
            return hs_fail(run, "server recv", rc);
        }
        if ((rc = hs_send(conn->sfd, buf, len)) != 0) {
            return hs_fail(run, "server send", rc);
        }
    }
    return 0;
}

/* W3: check each frame's tag, run the CPU stage on it, answer with the
 * result as the ack. */
static int
hs_ack_server(hs_conn_t *conn)
{
    hs_run_t *run = conn->run;
    unsigned char buf[HS_FRAME], ack[HS_ACK];
    for (uint64_t f = 0; f < conn->frames; f++) {
        int rc = hs_recv(conn->sfd, buf, HS_FRAME);
        if (rc != 0) {
            return hs_fail(run, "server recv", rc);
        }
        uint64_t tag = hs_get_le64(buf), want = hs_tag(conn->c, f);
        if (tag != want) {
            char what[160];
            snprintf(what, sizeof what, "server %" PRIu64 " frame %" PRIu64
                     ": tag %#" PRIx64 ", want %#" PRIx64, conn->c, f, tag, want);
            return hs_fail(run, what, -EPROTO);
        }
        hs_put_le64(ack, hs_mix(tag, hs_stage_steps(conn->c, f)));
        if ((rc = hs_send(conn->sfd, ack, HS_ACK)) != 0) {
            return hs_fail(run, "server send", rc);
        }
    }
    return 0;
}

static intptr_t
hs_server(void *arg)
{
    hs_conn_t *conn = arg;
    return conn->run->p->kind == HS_PIPELINE ? hs_ack_server(conn) : hs_echo_server(conn);
}

/* --- clients -------------------------------------------------------------- */

/* Echo k messages of len bytes tagged from *f on, one at a time: send,
 * read the echo, check its tag, add the tag to conn->sum. */
static int
hs_echo(hs_conn_t *conn, unsigned char *out, unsigned char *in, size_t len, uint64_t *f,
        uint64_t k)
{
    hs_run_t *run = conn->run;
    for (uint64_t i = 0; i < k; i++, (*f)++) {
        uint64_t tag = hs_tag(conn->c, *f);
        hs_put_le64(out, tag);
        int rc = hs_send(conn->cfd, out, len);
        if (rc != 0) {
            return hs_fail(run, "client send", rc);
        }
        if ((rc = hs_recv(conn->cfd, in, len)) != 0) {
            return hs_fail(run, "client recv", rc);
        }
        uint64_t got = hs_get_le64(in);
        if (got != tag) {
            char what[160];
            snprintf(what, sizeof what, "client %" PRIu64 " frame %" PRIu64
                     ": echo tag %#" PRIx64 ", want %#" PRIx64, conn->c, *f, got, tag);
            return hs_fail(run, what, -EPROTO);
        }
        conn->sum += tag;
    }
    return 0;
}

/* W2 and W4: the steps of one connection. */
static int
hs_rotation_client(hs_conn_t *conn, unsigned char *out, unsigned char *in)
{
    hs_run_t *run = conn->run;
    hs_kind_t kind = run->p->kind;
    uint64_t f = 0;
    for (uint64_t s = 0; s < run->steps; s++) {
        uint64_t k = hs_step_frames(s, conn->c);
        int rc = hs_echo(conn, out, in, HS_FRAME, &f, k);
        if (rc != 0) {
            return rc;
        }
        if (kind == HS_KEYED) {
            sp_chan_t *ch = &run->owners[s % HS_OWNERS].ch;
            for (uint64_t j = 0; j < k * HS_KEYS_PER_FRAME; j++) {
                uint64_t key = conn->c << 40 | s << 20 | j;
                if ((rc = sp_chan_send(ch, &key)) != 0) {
                    return hs_fail(run, "sp_chan_send", rc);
                }
            }
        }
        /* After every step, the last one included (the peers do the
         * same): a client that is done early waits there for the rest. */
        if (kind == HS_ROTATION_BARRIER) {
            rc = sp_barrier_wait(&run->barrier);
            if (rc < 0) {
                return hs_fail(run, "sp_barrier_wait", rc);
            }
        }
    }
    return 0;
}

/* W3: keep up to HS_WINDOW frames unacknowledged; fold the acks. */
static int
hs_window_client(hs_conn_t *conn, unsigned char *out)
{
    hs_run_t *run = conn->run;
    unsigned char ack[HS_ACK];
    uint64_t sent = 0, acked = 0;
    while (acked < conn->frames) {
        while (sent < conn->frames && sent - acked < HS_WINDOW) {
            hs_put_le64(out, hs_tag(conn->c, sent));
            int rc = hs_send(conn->cfd, out, HS_FRAME);
            if (rc != 0) {
                return hs_fail(run, "client send", rc);
            }
            sent++;
        }
        int rc = hs_recv(conn->cfd, ack, HS_ACK);
        if (rc != 0) {
            return hs_fail(run, "client recv", rc);
        }
        conn->sum += hs_get_le64(ack);
        acked++;
    }
    return 0;
}

static intptr_t
hs_client(void *arg)
{
    hs_conn_t *conn = arg;
    hs_run_t *run = conn->run;
    unsigned char out[HS_FRAME], in[HS_FRAME];
    memset(out, 'x', sizeof out);
    uint64_t f = 0;
    int rc;
    switch (run->p->kind) {
    case HS_PIPELINE:
        rc = hs_window_client(conn, out);
        break;
    case HS_IMBALANCED:
    case HS_MANY:
        rc = hs_echo(conn, out, in, hs_msg_len(run), &f, conn->frames);
        break;
    default:
        rc = hs_rotation_client(conn, out, in);
        break;
    }
    if (atomic_fetch_sub(&run->left, 1) == 1) {
        sp_event_set(&run->done);
    }
    return rc;
}

/* W4: sum the keys of the steps s with s mod 2 == this owner. */
static intptr_t
hs_owner(void *arg)
{
    hs_owner_t *o = arg;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < o->total; i++) {
        uint64_t v;
        int rc = sp_chan_recv(&o->ch, &v);
        if (rc != 0) {
            return hs_fail(o->run, "sp_chan_recv", rc);
        }
        sum += v;
    }
    o->sum = sum;
    return 0;
}

/* --- the run ------------------------------------------------------------ */

/* Connect and accept the connections one after the other, so that the
 * accepted socket is the peer of the one just connected. */
static int
hs_connect_all(hs_run_t *run)
{
    sp_addr_t a, addr;
    sp_addr_ip(&a, "127.0.0.1", 0);
    int lfd = sp_tcp_listen(&a, 0, 0);
    if (lfd < 0) {
        return bench_fail("sp_tcp_listen", lfd);
    }
    int rc = sp_sock_local_addr(lfd, &addr);
    if (rc < 0) {
        sp_close(lfd);
        return bench_fail("sp_sock_local_addr", rc);
    }
    for (int c = 0; c < run->nconn && rc == 0; c++) {
        hs_conn_t *conn = &run->conns[c];
        if ((conn->cfd = sp_tcp_connect(&addr)) < 0) {
            rc = bench_fail("sp_tcp_connect", conn->cfd);
        } else if ((conn->sfd = sp_tcp_accept(lfd, NULL)) < 0) {
            rc = bench_fail("sp_tcp_accept", conn->sfd);
        } else if ((rc = sp_tcp_set_nodelay(conn->cfd, 1)) != 0 ||
                   (rc = sp_tcp_set_nodelay(conn->sfd, 1)) != 0) {
            bench_fail("sp_tcp_set_nodelay", rc);
        }
    }
    sp_close(lfd);
    return rc;
}

/* The server ends first: the side that closes first keeps the connection
 * in TIME_WAIT for a minute, and on the server side that holds no
 * ephemeral port (W5 goes through 1,000 of them per repetition; a suite
 * run of several programs could run short of them). */
static void
hs_close_all(hs_run_t *run)
{
    for (int c = 0; c < run->nconn; c++) {
        if (run->conns[c].sfd >= 0) {
            sp_close(run->conns[c].sfd);
        }
    }
    for (int c = 0; c < run->nconn; c++) {
        if (run->conns[c].cfd >= 0) {
            sp_close(run->conns[c].cfd);
        }
    }
}

/* Connection c's placement under the variant. */
static void
hs_attr(const hs_run_t *run, sp_task_attr_t *attr, int c, const char *name)
{
    sp_task_attr_init(attr);
    attr->name = name;
    if (!run->p->stealable) {
        attr->place = SP_PLACE_ON;
        attr->shard = c % sp_shard_count();
    }
}

/* Join the first n tasks of h, cancelling them first if the run has failed
 * (they may be waiting for a peer that is gone); a nonzero result goes to
 * *err unless it holds one already. */
static void
hs_join_all(sp_task_t *h, int n, int cancel, int *err)
{
    for (int i = 0; i < n; i++) {
        if (cancel) {
            sp_task_cancel(h[i]);
        }
    }
    for (int i = 0; i < n; i++) {
        intptr_t res = 0;
        int rc = sp_task_join(h[i], &res);
        if (rc != 0) {
            bench_fail("sp_task_join", rc);
            res = rc;
        }
        if (res != 0 && *err == 0) {
            *err = (int)res;
        }
    }
}

static intptr_t
hs_body(void *arg)
{
    hs_run_t *run = arg;
    hs_kind_t kind = run->p->kind;
    int nowners = kind == HS_KEYED ? HS_OWNERS : 0;
    int rc = hs_connect_all(run);
    if (rc != 0) {
        hs_close_all(run);
        return rc;
    }

    /* The servers, untimed: each blocks in its first read. */
    int nserv = 0;
    for (; nserv < run->nconn; nserv++) {
        sp_task_attr_t attr;
        hs_attr(run, &attr, nserv, "hs-server");
        rc = sp_task_spawn(&run->servers[nserv], &attr, hs_server, &run->conns[nserv]);
        if (rc != 0) {
            hs_fail(run, "sp_task_spawn(server)", rc);
            break;
        }
    }

    sp_shard_stats_t before, after;
    bench_stats_sum(&before);
    uint64_t c0 = bench_process_cpu_ns(), t0 = sp_now_ns();
    int nown = 0, ncli = 0;
    for (; rc == 0 && nown < nowners; nown++) {
        sp_task_attr_t attr;
        sp_task_attr_init(&attr);
        attr.name = "hs-owner";
        attr.place = SP_PLACE_ON;
        attr.shard = nown % sp_shard_count();
        rc = sp_task_spawn(&run->owner_tasks[nown], &attr, hs_owner, &run->owners[nown]);
        if (rc != 0) {
            hs_fail(run, "sp_task_spawn(owner)", rc);
        }
    }
    for (; rc == 0 && ncli < run->nconn; ncli++) {
        sp_task_attr_t attr;
        hs_attr(run, &attr, ncli, "hs-client");
        rc = sp_task_spawn(&run->clients[ncli], &attr, hs_client, &run->conns[ncli]);
        if (rc != 0) {
            hs_fail(run, "sp_task_spawn(client)", rc);
        }
    }
    /* Set by the last client, or at once by a failure (above included). */
    int wrc = sp_event_wait(&run->done);
    if (wrc != 0) {
        hs_fail(run, "sp_event_wait", wrc);
    }
    int failed = atomic_load(&run->first_err) != 0;
    int err = 0;
    hs_join_all(run->clients, ncli, failed, &err);
    hs_join_all(run->owner_tasks, nown, failed, &err);
    uint64_t t1 = sp_now_ns(), c1 = bench_process_cpu_ns();
    bench_stats_sum(&after);

    /* Every frame has been answered, so the servers are returning. */
    failed = atomic_load(&run->first_err) != 0;
    hs_join_all(run->servers, nserv, failed, &err);
    hs_close_all(run);

    run->elapsed_ns = t1 - t0;
    run->cpu_ns = c1 - c0;
    run->stolen = after.stolen - before.stolen;
    run->follows = after.follows - before.follows;
    run->checksum = 0;
    for (int c = 0; c < run->nconn; c++) {
        run->checksum += run->conns[c].sum;
    }
    for (int o = 0; o < nowners; o++) {
        run->checksum += run->owners[o].sum;
    }
    int first = atomic_load(&run->first_err);
    return first != 0 ? first : err;
}

/* --- sizes and the expected checksum ------------------------------------ */

/* Fill in the connections' frame counts (and W2/W4's steps, W4's owner
 * totals) for the kind and the quick/full sizes. */
static void
hs_plan(hs_run_t *run)
{
    hs_kind_t kind = run->p->kind;
    run->steps = bench_size(64, 16);
    run->frames = 0;
    for (int i = 0; i < run->nconn; i++) {
        hs_conn_t *conn = &run->conns[i];
        uint64_t c = (uint64_t)i;
        *conn = (hs_conn_t){.run = run, .c = c, .cfd = -1, .sfd = -1};
        switch (kind) {
        case HS_IMBALANCED:
            conn->frames = c == 0 ? bench_size(2048, 256) : bench_size(128, 16);
            break;
        case HS_PIPELINE:
            conn->frames = bench_size(1024, 256);
            break;
        case HS_MANY:
            conn->frames = bench_size(32, 8);
            break;
        default:
            for (uint64_t s = 0; s < run->steps; s++) {
                conn->frames += hs_step_frames(s, c);
            }
            break;
        }
        run->frames += conn->frames;
    }
    for (int o = 0; o < HS_OWNERS; o++) {
        run->owners[o].run = run;
        run->owners[o].total = 0;
        run->owners[o].sum = 0;
    }
    if (kind == HS_KEYED) {
        for (uint64_t s = 0; s < run->steps; s++) {
            for (uint64_t c = 0; c < HS_CONNS; c++) {
                run->owners[s % HS_OWNERS].total += hs_step_frames(s, c) * HS_KEYS_PER_FRAME;
            }
        }
    }
}

/* The checksum from the spec's definitions alone, no network. */
static uint64_t
hs_expected(const hs_run_t *run)
{
    hs_kind_t kind = run->p->kind;
    uint64_t sum = 0;
    for (int i = 0; i < run->nconn; i++) {
        const hs_conn_t *conn = &run->conns[i];
        for (uint64_t f = 0; f < conn->frames; f++) {
            uint64_t tag = hs_tag(conn->c, f);
            sum += kind == HS_PIPELINE ? hs_mix(tag, hs_stage_steps(conn->c, f)) : tag;
        }
    }
    if (kind == HS_KEYED) {
        for (uint64_t s = 0; s < run->steps; s++) {
            for (uint64_t c = 0; c < HS_CONNS; c++) {
                for (uint64_t j = 0; j < hs_step_frames(s, c) * HS_KEYS_PER_FRAME; j++) {
                    sum += c << 40 | s << 20 | j;
                }
            }
        }
    }
    return sum;
}

/* Computed once per kind (W3's takes ~5 M mix steps), outside any timing. */
static uint64_t expect_sum[HS_NKINDS];
static int have_expect[HS_NKINDS];

static int
hs_case(bench_case_t *c, double *value)
{
    const hs_params_t *p = c->arg;
    hs_run_t run = {.p = p};
    run.nconn = p->kind == HS_MANY ? (int)bench_size(1000, 200) : HS_CONNS;
    run.conns = calloc((size_t)run.nconn, sizeof run.conns[0]);
    run.clients = calloc((size_t)run.nconn, sizeof run.clients[0]);
    run.servers = calloc((size_t)run.nconn, sizeof run.servers[0]);
    int rc = run.conns && run.clients && run.servers ? 0 : -ENOMEM;
    int chans = 0, barrier = 0, event = 0;
    if (rc == 0) {
        hs_plan(&run);
        atomic_init(&run.left, run.nconn);
        atomic_init(&run.first_err, 0);
        rc = sp_event_init(&run.done);
        event = rc == 0;
    }
    if (rc == 0 && p->kind == HS_ROTATION_BARRIER) {
        rc = sp_barrier_init(&run.barrier, (unsigned)run.nconn);
        barrier = rc == 0;
    }
    for (; rc == 0 && p->kind == HS_KEYED && chans < HS_OWNERS; chans++) {
        rc = sp_chan_init(&run.owners[chans].ch, sizeof(uint64_t), HS_OWNER_CAP);
        if (rc != 0) {
            break;
        }
    }
    if (rc != 0) {
        bench_fail("setup", rc);
    }
    if (rc == 0 && !have_expect[p->kind]) {
        expect_sum[p->kind] = hs_expected(&run);
        have_expect[p->kind] = 1;
    }
    if (rc == 0) {
        sp_config_t cfg;
        bench_config(&cfg, p->shards);
        intptr_t res = 0;
        rc = bench_block_on(&cfg, hs_body, &run, &res);
        if (rc == 0) {
            rc = (int)res;
        }
    }
    if (rc == 0 && run.checksum != expect_sum[p->kind]) {
        fprintf(stderr, "net_hotspot: %s/%s checksum %" PRIu64 ", want %" PRIu64 "\n",
                c->workload, c->variant, run.checksum, expect_sum[p->kind]);
        rc = -EIO;
    }
    while (chans-- > 0) {
        sp_chan_destroy(&run.owners[chans].ch);
    }
    if (barrier) {
        sp_barrier_destroy(&run.barrier);
    }
    if (event) {
        sp_event_destroy(&run.done);
    }
    free(run.conns);
    free(run.clients);
    free(run.servers);
    if (rc != 0) {
        return rc;
    }

    bench_extra(c, "checksum=%" PRIu64, run.checksum);
    if (p->kind == HS_MANY) {
        *value = (double)run.elapsed_ns / (double)run.frames;
        bench_extra(c, "connections=%d round_trips=%" PRIu64, run.nconn, run.frames);
    } else {
        *value = (double)run.elapsed_ns / 1e3;
        bench_extra(c, "frames=%" PRIu64, run.frames);
        if (p->kind == HS_KEYED) {
            bench_extra(c, "messages=%" PRIu64, run.owners[0].total + run.owners[1].total);
        }
    }
    bench_extra(c, "process_cpu_pct=%.0f",
                100.0 * (double)run.cpu_ns / (double)run.elapsed_ns);
    bench_extra(c, "shards=%d stolen=%" PRIu64 " follows=%" PRIu64, p->shards, run.stolen,
                run.follows);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

/* W5 holds 2,000+ sockets at once. */
static void
hs_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            bench_fail("setrlimit(RLIMIT_NOFILE)", -errno);
        }
    }
}

/* --- cases ---------------------------------------------------------------- */

static const hs_params_t W1_PIN = {HS_IMBALANCED, 2, 0};
static const hs_params_t W1_STEAL = {HS_IMBALANCED, 2, 1};
static const hs_params_t W2F_PIN = {HS_ROTATION_FREE, 2, 0};
static const hs_params_t W2F_STEAL = {HS_ROTATION_FREE, 2, 1};
static const hs_params_t W2B_PIN = {HS_ROTATION_BARRIER, 2, 0};
static const hs_params_t W2B_STEAL = {HS_ROTATION_BARRIER, 2, 1};
static const hs_params_t W3_PIN = {HS_PIPELINE, 2, 0};
static const hs_params_t W3_STEAL = {HS_PIPELINE, 2, 1};
static const hs_params_t W4_PIN = {HS_KEYED, 2, 0};
static const hs_params_t W4_STEAL = {HS_KEYED, 2, 1};
static const hs_params_t W5_PIN1 = {HS_MANY, 1, 0};
static const hs_params_t W5_PIN2 = {HS_MANY, 2, 0};
static const hs_params_t W5_STEAL2 = {HS_MANY, 2, 1};

#define W1 "net_stream_imbalanced_4k_hot1_light7"
#define W2F "net_stream_hotspot_rotation_4k_free"
#define W2B "net_stream_hotspot_rotation_4k_barrier"
#define W3 "net_pipeline_hotspot_rotation_4k_window32"
#define W4 "net_keyed_hotspot_rotation_4k"
#define W5 "net_echo_1kconn_256b"

static bench_case_t cases[] = {
    BENCH_CASE(W1, "pinned-only", "us", hs_case, &W1_PIN),
    BENCH_CASE(W1, "stealable", "us", hs_case, &W1_STEAL),
    BENCH_CASE(W2F, "pinned-only", "us", hs_case, &W2F_PIN),
    BENCH_CASE(W2F, "stealable", "us", hs_case, &W2F_STEAL),
    BENCH_CASE(W2B, "pinned-only", "us", hs_case, &W2B_PIN),
    BENCH_CASE(W2B, "stealable", "us", hs_case, &W2B_STEAL),
    BENCH_CASE(W3, "pinned-only", "us", hs_case, &W3_PIN),
    BENCH_CASE(W3, "stealable", "us", hs_case, &W3_STEAL),
    BENCH_CASE(W4, "pinned-only", "us", hs_case, &W4_PIN),
    BENCH_CASE(W4, "stealable", "us", hs_case, &W4_STEAL),
    BENCH_CASE(W5, "pinned-1shard", "ns", hs_case, &W5_PIN1),
    BENCH_CASE(W5, "pinned-2shard", "ns", hs_case, &W5_PIN2),
    BENCH_CASE(W5, "stealable-2shard", "ns", hs_case, &W5_STEAL2),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "TCP loopback over many connections with uneven or moving load: one hot\n"
               "connection, a hot spot rotating over 8 (free, barrier, keyed to owner\n"
               "tasks), a pipelined CPU stage, and 1,000 connections at once; us per run\n"
               "(ns per round trip for the 1,000 connections).\n");
    hs_raise_nofile();
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
