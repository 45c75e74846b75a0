/* spawn_join: spawn + join of an empty task, ns per task.
 *
 *   spawn_join_batch1k  spawn 1,000 tasks, join the 1,000 in spawn order,
 *                       repeat until 1,000,000 tasks have run
 *   spawn_join_alive1m  spawn 1,000,000 tasks (all alive at once), then join
 *                       them in spawn order
 *
 * Variants: the children's placement (local = SP_PLACE_LOCAL, pinned to the
 * spawning shard; stealable = SP_PLACE_STEALABLE) on a 1-shard and a 2-shard
 * runtime. The spawning task itself is pinned to shard 0 in every variant.
 * Default stack size and spin settings; shard threads pinned.
 * Timing: inside the spawning task (sp_now_ns), from the first spawn to the
 * last join; the handle array is allocated and touched before the clock
 * starts. Quick mode: 100,000 tasks in each workload. */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct sj_params {
    int alive_all; /* 0: batches of `batch`; 1: all `total` alive at once */
    sp_place_t place;
    int shards;
} sj_params_t;

typedef struct sj_run {
    const sj_params_t *p;
    uint64_t total;
    uint64_t batch;
    sp_task_t *handles;
    uint64_t elapsed_ns;
    uint64_t stolen;
} sj_run_t;

static intptr_t
empty_task(void *arg)
{
    (void)arg;
    return 0;
}

/* Joins handles[0..n) in order; returns the first error seen. */
static int
join_all(sp_task_t *handles, uint64_t n)
{
    int first = 0;
    for (uint64_t i = 0; i < n; i++) {
        int rc = sp_task_join(handles[i], NULL);
        if (rc != 0 && first == 0) {
            first = rc;
        }
    }
    return first;
}

static intptr_t
sj_body(void *arg)
{
    sj_run_t *run = arg;
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = run->p->place;

    sp_shard_stats_t before, after;
    bench_stats_sum(&before);

    uint64_t per_round = run->p->alive_all ? run->total : run->batch;
    uint64_t rounds = run->total / per_round;
    uint64_t t0 = sp_now_ns();
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < per_round; i++) {
            int rc = sp_task_spawn(&run->handles[i], &attr, empty_task, NULL);
            if (rc != 0) {
                join_all(run->handles, i);
                return bench_fail("sp_task_spawn", rc);
            }
        }
        int rc = join_all(run->handles, per_round);
        if (rc != 0) {
            return bench_fail("sp_task_join", rc);
        }
    }
    uint64_t t1 = sp_now_ns();

    bench_stats_sum(&after);
    run->elapsed_ns = t1 - t0;
    run->stolen = after.stolen - before.stolen;
    return 0;
}

static int
sj_case(bench_case_t *c, double *value)
{
    const sj_params_t *p = c->arg;
    sj_run_t run = {
        .p = p,
        .total = bench_size(1000000, 100000),
        .batch = 1000,
    };
    uint64_t nhandles = p->alive_all ? run.total : run.batch;
    run.handles = malloc(nhandles * sizeof run.handles[0]);
    if (run.handles == NULL) {
        return -ENOMEM;
    }
    memset(run.handles, 0, nhandles * sizeof run.handles[0]);

    sp_config_t cfg;
    bench_config(&cfg, p->shards);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, sj_body, &run, &res);
    free(run.handles);
    if (rc != 0) {
        return rc;
    }
    if (res != 0) {
        return (int)res;
    }
    *value = (double)run.elapsed_ns / (double)run.total;
    bench_extra(c, "tasks=%llu", (unsigned long long)run.total);
    if (!p->alive_all) {
        bench_extra(c, "batch=%llu", (unsigned long long)run.batch);
    }
    bench_extra(c, "shards=%d", p->shards);
    bench_extra(c, "stolen=%llu", (unsigned long long)run.stolen);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const sj_params_t P_B_L1 = {0, SP_PLACE_LOCAL, 1};
static const sj_params_t P_B_S1 = {0, SP_PLACE_STEALABLE, 1};
static const sj_params_t P_B_L2 = {0, SP_PLACE_LOCAL, 2};
static const sj_params_t P_B_S2 = {0, SP_PLACE_STEALABLE, 2};
static const sj_params_t P_A_L1 = {1, SP_PLACE_LOCAL, 1};
static const sj_params_t P_A_S1 = {1, SP_PLACE_STEALABLE, 1};
static const sj_params_t P_A_L2 = {1, SP_PLACE_LOCAL, 2};
static const sj_params_t P_A_S2 = {1, SP_PLACE_STEALABLE, 2};

static bench_case_t cases[] = {
    BENCH_CASE("spawn_join_batch1k", "local-1shard", "ns", sj_case, &P_B_L1),
    BENCH_CASE("spawn_join_batch1k", "stealable-1shard", "ns", sj_case, &P_B_S1),
    BENCH_CASE("spawn_join_batch1k", "local-2shard", "ns", sj_case, &P_B_L2),
    BENCH_CASE("spawn_join_batch1k", "stealable-2shard", "ns", sj_case, &P_B_S2),
    BENCH_CASE("spawn_join_alive1m", "local-1shard", "ns", sj_case, &P_A_L1),
    BENCH_CASE("spawn_join_alive1m", "stealable-1shard", "ns", sj_case, &P_A_S1),
    BENCH_CASE("spawn_join_alive1m", "local-2shard", "ns", sj_case, &P_A_L2),
    BENCH_CASE("spawn_join_alive1m", "stealable-2shard", "ns", sj_case, &P_A_S2),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "spawn+join of an empty task, ns per task (goal <= 50 ns).\n"
               "Quick mode: 100,000 tasks instead of 1,000,000.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
