/* yield_pingpong: two tasks on one shard yielding to each other.
 *
 * Both tasks loop `rounds` times over sp_task_yield(); on one shard with a
 * FIFO run queue they alternate, so one round trip is two yields (each task
 * yields once). Reported: ns per round trip.
 *
 * Variants: pinned (SP_PLACE_LOCAL) and stealable (SP_PLACE_STEALABLE), both
 * on a 1-shard runtime (shard thread pinned, default spin). The driver task
 * (pinned to shard 0) spawns the two and joins them; the clock runs from the
 * first spawn to the second join. The switches counter is reported per round
 * trip as a sanity check (about 2). Quick mode: 200,000 round trips instead
 * of 2,000,000. */
#include "harness.h"

typedef struct yp_params {
    sp_place_t place;
    int shards;
} yp_params_t;

typedef struct yp_run {
    const yp_params_t *p;
    uint64_t rounds;
    uint64_t elapsed_ns;
    uint64_t switches;
} yp_run_t;

static intptr_t
yielder(void *arg)
{
    const yp_run_t *run = arg;
    for (uint64_t i = 0; i < run->rounds; i++) {
        int rc = sp_task_yield();
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static intptr_t
yp_body(void *arg)
{
    yp_run_t *run = arg;
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = run->p->place;

    sp_shard_stats_t before, after;
    bench_stats_sum(&before);

    uint64_t t0 = sp_now_ns();
    sp_task_t a, b;
    int rc = sp_task_spawn(&a, &attr, yielder, run);
    if (rc != 0) {
        return bench_fail("sp_task_spawn", rc);
    }
    rc = sp_task_spawn(&b, &attr, yielder, run);
    if (rc != 0) {
        sp_task_join(a, NULL);
        return bench_fail("sp_task_spawn", rc);
    }
    intptr_t ra = 0, rb = 0;
    int ja = sp_task_join(a, &ra);
    int jb = sp_task_join(b, &rb);
    uint64_t t1 = sp_now_ns();

    bench_stats_sum(&after);
    if (ja != 0 || jb != 0) {
        return bench_fail("sp_task_join", ja != 0 ? ja : jb);
    }
    if (ra != 0 || rb != 0) {
        return bench_fail("sp_task_yield", (int)(ra != 0 ? ra : rb));
    }
    run->elapsed_ns = t1 - t0;
    run->switches = after.switches - before.switches;
    return 0;
}

static int
yp_case(bench_case_t *c, double *value)
{
    const yp_params_t *p = c->arg;
    yp_run_t run = {.p = p, .rounds = bench_size(2000000, 200000)};
    sp_config_t cfg;
    bench_config(&cfg, p->shards);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, yp_body, &run, &res);
    if (rc != 0) {
        return rc;
    }
    if (res != 0) {
        return (int)res;
    }
    *value = (double)run.elapsed_ns / (double)run.rounds;
    bench_extra(c, "rounds=%llu", (unsigned long long)run.rounds);
    bench_extra(c, "shards=%d", p->shards);
    bench_extra(c, "switches_per_rt=%.2f", (double)run.switches / (double)run.rounds);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const yp_params_t P_PINNED = {SP_PLACE_LOCAL, 1};
static const yp_params_t P_STEAL = {SP_PLACE_STEALABLE, 1};

static bench_case_t cases[] = {
    BENCH_CASE("yield_pingpong", "pinned", "ns", yp_case, &P_PINNED),
    BENCH_CASE("yield_pingpong", "stealable", "ns", yp_case, &P_STEAL),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "two tasks on one shard yielding to each other, ns per round trip "
               "(goal <= 30 ns).\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
