/* cold_start: BENCHMARKS.md's cold_start_ping_pong.
 *
 * Build a runtime, run 64 channel round trips between a client and a
 * responder task, shut the runtime down; all of it inside the timing
 * (sp_runtime_create, sp_runtime_block_on, sp_runtime_destroy through
 * bench_block_on). The client sends i = 0..63 on an unbuffered `ping`
 * channel and adds up what comes back on `pong`; the sum (2016) is printed
 * as checksum= and checked, the peers (bench/peers/) print the same.
 *
 * Variants:
 *   pinned-only     2 shards; client SP_PLACE_ON shard 0, responder
 *                   SP_PLACE_ON shard 1 (every message crosses)
 *   stealable       2 shards; both SP_PLACE_STEALABLE
 *   pinned-1shard   1 shard; both SP_PLACE_LOCAL (the current-thread shape)
 * Shard threads pinned, default spin-before-park. Reported: us per cold
 * start, the mean of `starts` (50; 10 quick) back-to-back starts. */
#include "harness.h"

#include <errno.h>
#include <stdio.h>

#define CS_ROUNDS 64
#define CS_CHECKSUM ((uint64_t)CS_ROUNDS * (CS_ROUNDS - 1) / 2)

typedef struct cs_params {
    int shards;
    sp_place_t place;
} cs_params_t;

typedef struct cs_run {
    const cs_params_t *p;
    sp_chan_t ping, pong;
    uint64_t sum;
} cs_run_t;

static intptr_t
responder(void *arg)
{
    cs_run_t *run = arg;
    uint64_t v;
    int rc;
    while ((rc = sp_chan_recv(&run->ping, &v)) == 0) {
        if ((rc = sp_chan_send(&run->pong, &v)) != 0) {
            return rc;
        }
    }
    return rc == -EPIPE ? 0 : rc;
}

static intptr_t
client(void *arg)
{
    cs_run_t *run = arg;
    int rc = 0;
    for (uint64_t i = 0; i < CS_ROUNDS && rc == 0; i++) {
        uint64_t back = 0;
        if ((rc = sp_chan_send(&run->ping, &i)) == 0 &&
            (rc = sp_chan_recv(&run->pong, &back)) == 0) {
            run->sum += back;
        }
    }
    sp_chan_close(&run->ping);
    return rc;
}

static intptr_t
cs_body(void *arg)
{
    cs_run_t *run = arg;
    sp_task_attr_t ac, ar;
    sp_task_attr_init(&ac);
    sp_task_attr_init(&ar);
    ac.place = ar.place = run->p->place;
    if (run->p->place == SP_PLACE_ON) {
        ac.shard = 0;
        ar.shard = 1;
    }
    sp_task_t q, c;
    intptr_t rq = 0, rc = 0;
    int err = sp_task_spawn(&q, &ar, responder, run);
    if (err != 0) {
        return bench_fail("sp_task_spawn(responder)", err);
    }
    if ((err = sp_task_spawn(&c, &ac, client, run)) == 0) {
        sp_task_join(c, &rc);
    } else {
        sp_chan_close(&run->ping);
    }
    sp_task_join(q, &rq);
    if (err != 0) {
        return bench_fail("sp_task_spawn(client)", err);
    }
    return rc != 0 ? bench_fail("client", (int)rc) : rq != 0 ? bench_fail("responder", (int)rq) : 0;
}

static int
cs_case(bench_case_t *c, double *value)
{
    const cs_params_t *p = c->arg;
    uint64_t starts = bench_size(50, 10), total = 0;
    sp_config_t cfg;
    bench_config(&cfg, p->shards);
    for (uint64_t s = 0; s < starts; s++) {
        cs_run_t run = {.p = p};
        if (sp_chan_init(&run.ping, sizeof(uint64_t), 0) != 0 ||
            sp_chan_init(&run.pong, sizeof(uint64_t), 0) != 0) {
            return -ENOMEM;
        }
        intptr_t res = 0;
        uint64_t t0 = bench_now_ns();
        int rc = bench_block_on(&cfg, cs_body, &run, &res);
        total += bench_now_ns() - t0;
        sp_chan_destroy(&run.ping);
        sp_chan_destroy(&run.pong);
        if (rc != 0 || res != 0) {
            return rc != 0 ? rc : (int)res;
        }
        if (run.sum != CS_CHECKSUM) {
            fprintf(stderr, "cold_start: sum %llu, expected %llu\n",
                    (unsigned long long)run.sum, (unsigned long long)CS_CHECKSUM);
            return -EIO;
        }
    }
    *value = (double)total / 1e3 / (double)starts;
    bench_extra_clear(c);
    bench_extra(c, "checksum=%llu starts=%llu shards=%d spin_ns=%llu",
                (unsigned long long)CS_CHECKSUM, (unsigned long long)starts, p->shards,
                (unsigned long long)cfg.spin_ns);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const cs_params_t P_PIN = {2, SP_PLACE_ON};
static const cs_params_t P_STEAL = {2, SP_PLACE_STEALABLE};
static const cs_params_t P_ONE = {1, SP_PLACE_LOCAL};

static bench_case_t cases[] = {
    BENCH_CASE("cold_start_ping_pong", "pinned-only", "us", cs_case, &P_PIN),
    BENCH_CASE("cold_start_ping_pong", "stealable", "us", cs_case, &P_STEAL),
    BENCH_CASE("cold_start_ping_pong", "pinned-1shard", "us", cs_case, &P_ONE),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "create a runtime, 64 channel round trips, shut it down; us per cold "
               "start.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
