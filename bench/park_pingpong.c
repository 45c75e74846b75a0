/* park_pingpong: two tasks on one shard waking each other with
 * sp_task_unpark and waiting with sp_task_park.
 *
 * A loops `rounds` times over { unpark(B); park(); } and B over { park();
 * unpark(A); }. On one shard each side parks once per round, so a round
 * trip is two parks, two unparks and two task switches: the scheduler's
 * own park/wake path, which every channel and lock hand-off goes through,
 * set against bench/yield_pingpong (the same two switches, no park).
 * Reported: ns per round trip.
 *
 * Variants: pinned (SP_PLACE_LOCAL) and stealable (SP_PLACE_STEALABLE), both
 * on a 1-shard runtime (shard thread pinned, default spin). The clock runs
 * from the first spawn to the second join. Quick mode: 200,000 round trips
 * instead of 2,000,000. */
#include "harness.h"

#include <stdatomic.h>

typedef struct pp_params {
    sp_place_t place;
} pp_params_t;

typedef struct pp_run {
    const pp_params_t *p;
    uint64_t rounds;
    _Atomic uint64_t a_bits, b_bits; /* handles, published by the driver */
    sp_runtime_t *rt;
    uint64_t elapsed_ns;
    uint64_t switches;
} pp_run_t;

static sp_task_t
handle(pp_run_t *run, _Atomic uint64_t *bits)
{
    sp_task_t h = {atomic_load(bits), run->rt};
    return h;
}

static intptr_t
side_a(void *arg)
{
    pp_run_t *run = arg;
    sp_task_t b = handle(run, &run->b_bits);
    for (uint64_t i = 0; i < run->rounds; i++) {
        int rc = sp_task_unpark(b);
        if (rc == 0) {
            rc = sp_task_park();
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static intptr_t
side_b(void *arg)
{
    pp_run_t *run = arg;
    for (uint64_t i = 0; i < run->rounds; i++) {
        int rc = sp_task_park();
        if (rc == 0) {
            /* Read after the first park: the driver publishes A's handle
             * before B first runs, but reading it here keeps that obvious. */
            rc = sp_task_unpark(handle(run, &run->a_bits));
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static intptr_t
pp_body(void *arg)
{
    pp_run_t *run = arg;
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = run->p->place;
    run->rt = sp_task_self().rt;

    sp_shard_stats_t before, after;
    bench_stats_sum(&before);

    uint64_t t0 = sp_now_ns();
    sp_task_t a, b;
    int rc = sp_task_spawn(&b, &attr, side_b, run);
    if (rc != 0) {
        return bench_fail("sp_task_spawn", rc);
    }
    atomic_store(&run->b_bits, b.bits);
    rc = sp_task_spawn(&a, &attr, side_a, run);
    if (rc != 0) {
        sp_task_cancel(b);
        sp_task_join(b, NULL);
        return bench_fail("sp_task_spawn", rc);
    }
    atomic_store(&run->a_bits, a.bits);
    intptr_t ra = 0, rb = 0;
    int ja = sp_task_join(a, &ra);
    int jb = sp_task_join(b, &rb);
    uint64_t t1 = sp_now_ns();

    bench_stats_sum(&after);
    if (ja != 0 || jb != 0) {
        return bench_fail("sp_task_join", ja != 0 ? ja : jb);
    }
    if (ra != 0 || rb != 0) {
        return bench_fail("sp_task_park/unpark", (int)(ra != 0 ? ra : rb));
    }
    run->elapsed_ns = t1 - t0;
    run->switches = after.switches - before.switches;
    return 0;
}

static int
pp_case(bench_case_t *c, double *value)
{
    static pp_run_t run;
    run = (pp_run_t){.p = c->arg, .rounds = bench_size(2000000, 200000)};
    sp_config_t cfg;
    bench_config(&cfg, 1);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, pp_body, &run, &res);
    if (rc != 0) {
        return rc;
    }
    if (res != 0) {
        return (int)res;
    }
    *value = (double)run.elapsed_ns / (double)run.rounds;
    bench_extra(c, "rounds=%llu", (unsigned long long)run.rounds);
    bench_extra(c, "switches_per_rt=%.2f", (double)run.switches / (double)run.rounds);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const pp_params_t P_PINNED = {SP_PLACE_LOCAL};
static const pp_params_t P_STEAL = {SP_PLACE_STEALABLE};

static bench_case_t cases[] = {
    BENCH_CASE("park_pingpong", "pinned", "ns", pp_case, &P_PINNED),
    BENCH_CASE("park_pingpong", "stealable", "ns", pp_case, &P_STEAL),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "two tasks on one shard waking each other with sp_task_unpark and\n"
               "waiting in sp_task_park, ns per round trip (set against yield_pingpong).\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
