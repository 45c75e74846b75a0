/* steady: BENCHMARKS.md's steady_ping_pong_rtt and steady_one_way_send_drain,
 * over channels.
 *
 *   steady_ping_pong_rtt       the client sends an 8-byte value on `req`,
 *                              the responder sends it back on `rsp`; 256
 *                              round trips per iteration (unbuffered
 *                              channels)
 *   steady_one_way_send_drain  the client sends 2,048 values on `req`
 *                              (capacity 2,048: the sender never waits),
 *                              then a flush marker; the responder sums
 *                              the values and answers the marker with the
 *                              sum on `rsp` (the ack barrier), which the
 *                              client checks
 *
 * Two shards, shard threads pinned, default spin-before-park (printed as
 * spin_ns=). Variants:
 *   pinned-only  client SP_PLACE_ON shard 0, responder SP_PLACE_ON shard 1
 *                (share-nothing, as published: every message crosses)
 *   stealable    both SP_PLACE_STEALABLE, spawned from shard 0: the
 *                scheduler may put them on one shard (what we recommend
 *                for a pair that only talks to each other)
 * Reported: us per iteration, over `iters` iterations (200; 20 quick)
 * after 5 untimed ones, in one runtime per repetition. */
#include "harness.h"

#include <errno.h>

#define ST_PINGS 256
#define ST_ONE_WAY 2048
#define ST_WARM 5
#define ST_FLUSH UINT64_MAX

typedef struct st_params {
    int one_way;
    int pinned;
} st_params_t;

typedef struct st_run {
    const st_params_t *p;
    sp_chan_t req, rsp;
    uint64_t iters;
    uint64_t elapsed_ns;
} st_run_t;

static intptr_t
responder(void *arg)
{
    st_run_t *run = arg;
    uint64_t v, sum = 0;
    int rc;
    while ((rc = sp_chan_recv(&run->req, &v)) == 0) {
        if (!run->p->one_way) {
            rc = sp_chan_send(&run->rsp, &v);
        } else if (v == ST_FLUSH) {
            rc = sp_chan_send(&run->rsp, &sum);
            sum = 0;
        } else {
            sum += v;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return rc == -EPIPE ? 0 : rc;
}

static int
ping_pong(st_run_t *run, uint64_t iter)
{
    for (uint64_t i = 0; i < ST_PINGS; i++) {
        uint64_t v = iter * ST_PINGS + i, back = 0;
        int rc = sp_chan_send(&run->req, &v);
        if (rc == 0) {
            rc = sp_chan_recv(&run->rsp, &back);
        }
        if (rc != 0 || back != v) {
            return rc != 0 ? rc : -EIO;
        }
    }
    return 0;
}

static int
one_way(st_run_t *run, uint64_t iter)
{
    uint64_t want = 0, got = 0, flush = ST_FLUSH;
    for (uint64_t i = 0; i < ST_ONE_WAY; i++) {
        uint64_t v = iter + i;
        want += v;
        int rc = sp_chan_send(&run->req, &v);
        if (rc != 0) {
            return rc;
        }
    }
    int rc = sp_chan_send(&run->req, &flush);
    if (rc == 0) {
        rc = sp_chan_recv(&run->rsp, &got);
    }
    return rc != 0 ? rc : got != want ? -EIO : 0;
}

static intptr_t
client(void *arg)
{
    st_run_t *run = arg;
    uint64_t t0 = 0;
    int rc = 0;
    for (uint64_t it = 0; it < ST_WARM + run->iters && rc == 0; it++) {
        if (it == ST_WARM) {
            t0 = sp_now_ns();
        }
        rc = run->p->one_way ? one_way(run, it) : ping_pong(run, it);
    }
    run->elapsed_ns = sp_now_ns() - t0;
    sp_chan_close(&run->req);
    return rc;
}

static intptr_t
st_body(void *arg)
{
    st_run_t *run = arg;
    sp_task_attr_t ac, ar;
    sp_task_attr_init(&ac);
    sp_task_attr_init(&ar);
    if (run->p->pinned) {
        ac.place = ar.place = SP_PLACE_ON;
        ac.shard = 0;
        ar.shard = 1;
    }
    sp_task_t q, c;
    intptr_t rq = 0, rc = 0;
    int err = sp_task_spawn(&q, &ar, responder, run);
    if (err != 0) {
        return bench_fail("sp_task_spawn(responder)", err);
    }
    err = sp_task_spawn(&c, &ac, client, run);
    if (err == 0) {
        sp_task_join(c, &rc);
    } else {
        sp_chan_close(&run->req);
    }
    sp_task_join(q, &rq);
    if (err != 0) {
        return bench_fail("sp_task_spawn(client)", err);
    }
    return rc != 0 ? bench_fail("client", (int)rc) : rq != 0 ? bench_fail("responder", (int)rq) : 0;
}

static int
st_case(bench_case_t *c, double *value)
{
    const st_params_t *p = c->arg;
    static st_run_t run;
    run = (st_run_t){.p = p, .iters = bench_size(200, 20)};
    if (sp_chan_init(&run.req, sizeof(uint64_t), p->one_way ? ST_ONE_WAY : 0) != 0 ||
        sp_chan_init(&run.rsp, sizeof(uint64_t), 0) != 0) {
        return -ENOMEM;
    }
    sp_config_t cfg;
    bench_config(&cfg, 2);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, st_body, &run, &res);
    sp_chan_destroy(&run.req);
    sp_chan_destroy(&run.rsp);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    *value = (double)run.elapsed_ns / 1e3 / (double)run.iters;
    bench_extra(c, "iters=%llu", (unsigned long long)run.iters);
    bench_extra(c, "spin_ns=%llu", (unsigned long long)cfg.spin_ns);
    if (!p->one_way) {
        bench_extra(c, "ns_per_rt=%.1f", (double)run.elapsed_ns / (double)run.iters / ST_PINGS);
    }
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const st_params_t P_PP_PIN = {0, 1}, P_PP_STEAL = {0, 0};
static const st_params_t P_OW_PIN = {1, 1}, P_OW_STEAL = {1, 0};

static bench_case_t cases[] = {
    BENCH_CASE("steady_ping_pong_rtt", "pinned-only", "us", st_case, &P_PP_PIN),
    BENCH_CASE("steady_ping_pong_rtt", "stealable", "us", st_case, &P_PP_STEAL),
    BENCH_CASE("steady_one_way_send_drain", "pinned-only", "us", st_case, &P_OW_PIN),
    BENCH_CASE("steady_one_way_send_drain", "stealable", "us", st_case, &P_OW_STEAL),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "steady_ping_pong_rtt (256 round trips) and steady_one_way_send_drain\n"
               "(2,048 messages + ack) between two shards over channels; us per iteration.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
