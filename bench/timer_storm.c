/* timer_storm: many tasks sleeping at once, ns per timer.
 *
 * Spawn `tasks` tasks (100,000; 10,000 quick), all alive together; task i
 * sleeps ((i * 7919) mod 1000) us (0 to 999 us, spread evenly), then
 * returns. The driver joins them in spawn order. Reported: the whole time
 * from the first spawn to the last join divided by the task count, so the
 * cost of a timer (spawn, arm, expire, wake, join) plus 1 ms / tasks of
 * waiting for the last sleeper (10 ns at full size). The peers
 * (bench/peers/) sleep the same durations with tokio::time::sleep and Go's
 * time.Sleep. The checksum is the sum of the sleep lengths in us.
 *
 * Variants: pinned-1shard (children SP_PLACE_LOCAL on one shard) and
 * stealable-2shard (children SP_PLACE_STEALABLE on two shards). Shard
 * threads pinned, default spin-before-park. */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>

typedef struct ts_params {
    int shards;
    sp_place_t place;
} ts_params_t;

typedef struct ts_run {
    const ts_params_t *p;
    uint64_t tasks;
    sp_task_t *h;
    uint64_t elapsed_ns;
    uint64_t sum_us;
} ts_run_t;

static uint64_t
sleep_us(uint64_t i)
{
    return (i * 7919u) % 1000u;
}

static intptr_t
sleeper(void *arg)
{
    return sp_sleep_ns(sleep_us((uintptr_t)arg) * SP_NSEC_PER_USEC);
}

static intptr_t
ts_body(void *arg)
{
    ts_run_t *run = arg;
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.place = run->p->place;
    uint64_t t0 = sp_now_ns(), n = 0;
    int err = 0;
    for (; n < run->tasks; n++) {
        if ((err = sp_task_spawn(&run->h[n], &a, sleeper, (void *)(uintptr_t)n)) != 0) {
            break;
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        intptr_t r = 0;
        int rc = sp_task_join(run->h[i], &r);
        if ((rc != 0 || r != 0) && err == 0) {
            err = rc != 0 ? rc : (int)r;
        }
        run->sum_us += sleep_us(i);
    }
    run->elapsed_ns = sp_now_ns() - t0;
    return err != 0 ? bench_fail("timer_storm", err) : 0;
}

static int
ts_case(bench_case_t *c, double *value)
{
    const ts_params_t *p = c->arg;
    ts_run_t run = {.p = p, .tasks = bench_size(100000, 10000)};
    run.h = calloc(run.tasks, sizeof run.h[0]);
    if (run.h == NULL) {
        return -ENOMEM;
    }
    sp_config_t cfg;
    bench_config(&cfg, p->shards);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, ts_body, &run, &res);
    free(run.h);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    *value = (double)run.elapsed_ns / (double)run.tasks;
    bench_extra_clear(c);
    bench_extra(c, "checksum=%llu tasks=%llu shards=%d", (unsigned long long)run.sum_us,
                (unsigned long long)run.tasks, p->shards);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const ts_params_t P_PIN1 = {1, SP_PLACE_LOCAL};
static const ts_params_t P_STEAL2 = {2, SP_PLACE_STEALABLE};

static bench_case_t cases[] = {
    BENCH_CASE("timer_storm", "pinned-1shard", "ns", ts_case, &P_PIN1),
    BENCH_CASE("timer_storm", "stealable-2shard", "ns", ts_case, &P_STEAL2),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "100,000 tasks each sleeping 0-999 us at once, joined in order; ns per "
               "timer.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
