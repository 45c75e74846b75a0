/* switch: raw resume/yield cost through the scheduler with 1, 4,096 and
 * 65,536 tasks on one shard, all yielding in a loop.
 *
 * Every task counts itself in on its first run; the last one to arrive
 * starts the clock (so spawning and the first touch of each stack are not
 * timed). Each task then yields `iters` times; the last task to reach its
 * count stops the clock and raises a stop flag. Tasks that reached their
 * count earlier keep yielding until the flag is up, so no task exits inside
 * the timed window. With a FIFO run queue the window holds exactly
 * tasks * iters resumptions:
 *
 *   value = (t1 - t0) / (tasks * iters)      ns per switch
 *
 * The shard's switches counter over the whole run, divided by
 * tasks * iters, is printed as a sanity check (slightly above 1).
 * Variants: pinned (SP_PLACE_LOCAL) and stealable, on a 1-shard runtime,
 * default stack size. About 8,000,000 switches per run (800,000 in quick
 * mode), at least 8 per task. A watchdog fails a run (-ETIMEDOUT) that is
 * not done after 20 s, which happens only if some task never gets to run. */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* A run that is not done after this long has a starved task. */
#define SW_WATCHDOG_NS (20 * SP_NSEC_PER_SEC)

typedef struct sw_params {
    unsigned tasks;
    sp_place_t place;
} sw_params_t;

typedef struct sw_run {
    const sw_params_t *p;
    uint64_t iters;
    atomic_uint started;
    atomic_uint finished;
    atomic_int stop;
    atomic_int timed_out;
    uint64_t deadline; /* watchdog, sp_now_ns() scale */
    uint64_t t0, t1;
    uint64_t switches;
} sw_run_t;

static intptr_t
sw_task(void *arg)
{
    sw_run_t *run = arg;
    unsigned k = run->p->tasks;
    if (atomic_fetch_add_explicit(&run->started, 1, memory_order_relaxed) + 1 == k) {
        run->t0 = sp_now_ns();
    }
    uint64_t n = 0;
    const uint64_t iters = run->iters;
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        int rc = sp_task_yield();
        if (rc != 0) {
            return rc;
        }
        /* Watchdog: if some tasks never get to run (a scheduler that is
         * not fair), the others would yield forever. */
        if ((n & 1023) == 1023 && sp_now_ns() > run->deadline) {
            atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
            atomic_store_explicit(&run->timed_out, 1, memory_order_relaxed);
            return -ETIMEDOUT;
        }
        if (++n == iters) {
            if (atomic_fetch_add_explicit(&run->finished, 1, memory_order_relaxed) + 1 ==
                k) {
                run->t1 = sp_now_ns();
                atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
            }
        }
    }
    return 0;
}

static intptr_t
sw_body(void *arg)
{
    sw_run_t *run = arg;
    unsigned k = run->p->tasks;
    sp_task_t *h = calloc(k, sizeof h[0]);
    if (h == NULL) {
        return -ENOMEM;
    }
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = run->p->place;

    sp_shard_stats_t before, after;
    bench_stats_sum(&before);

    run->deadline = sp_now_ns() + SW_WATCHDOG_NS;
    int err = 0;
    unsigned spawned = 0;
    for (; spawned < k; spawned++) {
        int rc = sp_task_spawn(&h[spawned], &attr, sw_task, run);
        if (rc != 0) {
            err = bench_fail("sp_task_spawn", rc);
            /* Let the ones already running finish. */
            atomic_store(&run->stop, 1);
            break;
        }
    }
    for (unsigned i = 0; i < spawned; i++) {
        intptr_t r = 0;
        int rc = sp_task_join(h[i], &r);
        if (err == 0 && rc != 0) {
            err = bench_fail("sp_task_join", rc);
        }
        if (err == 0 && r != 0) {
            err = (int)r;
        }
    }
    if (atomic_load(&run->timed_out)) {
        fprintf(stderr,
                "switch: %u tasks: not every task had run after %llu s: the scheduler "
                "starves some yielding tasks\n",
                k, (unsigned long long)(SW_WATCHDOG_NS / SP_NSEC_PER_SEC));
        err = -ETIMEDOUT;
    } else if (err != 0) {
        bench_fail("sp_task_yield", err);
    }
    bench_stats_sum(&after);
    free(h);
    run->switches = after.switches - before.switches;
    return err;
}

static int
sw_case(bench_case_t *c, double *value)
{
    const sw_params_t *p = c->arg;
    sw_run_t *run = calloc(1, sizeof *run);
    if (run == NULL) {
        return -ENOMEM;
    }
    uint64_t total = bench_size(8000000, 800000);
    run->p = p;
    run->iters = total / p->tasks;
    if (run->iters < 8) {
        run->iters = 8;
    }
    sp_config_t cfg;
    bench_config(&cfg, 1);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, sw_body, run, &res);
    if (rc == 0 && res != 0) {
        rc = (int)res;
    }
    if (rc == 0) {
        double n = (double)p->tasks * (double)run->iters;
        *value = (double)(run->t1 - run->t0) / n;
        bench_extra(c, "tasks=%u", p->tasks);
        bench_extra(c, "iters=%llu", (unsigned long long)run->iters);
        bench_extra(c, "switch_ratio=%.3f", (double)run->switches / n);
        if (bench_quick()) {
            bench_extra(c, "quick=1");
        }
    }
    free(run);
    return rc;
}

static const sw_params_t P1_L = {1, SP_PLACE_LOCAL};
static const sw_params_t P1_S = {1, SP_PLACE_STEALABLE};
static const sw_params_t P4K_L = {4096, SP_PLACE_LOCAL};
static const sw_params_t P4K_S = {4096, SP_PLACE_STEALABLE};
static const sw_params_t P64K_L = {65536, SP_PLACE_LOCAL};
static const sw_params_t P64K_S = {65536, SP_PLACE_STEALABLE};

static bench_case_t cases[] = {
    BENCH_CASE("switch_1", "pinned", "ns", sw_case, &P1_L),
    BENCH_CASE("switch_1", "stealable", "ns", sw_case, &P1_S),
    BENCH_CASE("switch_4k", "pinned", "ns", sw_case, &P4K_L),
    BENCH_CASE("switch_4k", "stealable", "ns", sw_case, &P4K_S),
    BENCH_CASE("switch_64k", "pinned", "ns", sw_case, &P64K_L),
    BENCH_CASE("switch_64k", "stealable", "ns", sw_case, &P64K_S),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "resume+yield through the scheduler at 1, 4,096 and 65,536 tasks on one "
               "shard,\nns per switch (limits here ~8 / 23 / 50 ns).\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
