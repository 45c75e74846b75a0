/* Cross-shard call round trip: sp_shard_call from shard 0 to shard 1.
 *
 * A caller task pinned to shard 0 calls an empty function on shard 1, one
 * call at a time; reported: ns per call (spawn on shard 1 through its
 * inbox, run, join back on shard 0), timed with sp_now_ns after 64 untimed
 * calls. For comparison, bench/xshard_pingpong.c measures the bare
 * park/unpark round trip between the same two shards in the same regimes.
 *
 * Regimes (BENCHMARKS.md rule 3):
 *   busy            each shard also runs a pinned background task that
 *                   yields in a loop, so neither shard ever runs out of work
 *   idle-spin0      nothing else runs: a waiting shard parks at once
 *                   (cfg.spin_ns = 0, the default)
 *   idle-spin50us   same, cfg.spin_ns = 50 us before parking
 * and two more shapes:
 *   same-shard      the caller calls its own shard (no cross-shard hop: the
 *                   cost of the call machinery itself, spawn + join)
 *   pipelined64     64 callers on shard 0 call shard 1 at once (the flow
 *                   control limit), idle-spin0; ns per call of throughput
 * Two shards, shard threads pinned. A run stops after `max_calls` calls or
 * when its time budget (0.5 s; 0.1 s quick) is used up. */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>

#define XC_WARM 64
#define XC_PIPE SP_SHARD_CALL_MAX_INFLIGHT

typedef struct xc_params {
    int busy;
    int target;      /* shard called */
    int callers;     /* concurrent callers */
    int set_spin;
    uint64_t spin_ns;
} xc_params_t;

typedef struct xc_run {
    const xc_params_t *p;
    uint64_t max_calls;   /* per caller */
    uint64_t budget_ns;
    _Alignas(64) atomic_int stop_background;
    atomic_int stop_callers;
    _Alignas(64) atomic_uint_least64_t calls; /* timed calls, all callers */
    atomic_uint_least64_t t_end;              /* the last caller's end */
    atomic_int finished;                      /* callers done */
    uint64_t parks, wakes, messages;
} xc_run_t;

static intptr_t
empty(void *arg)
{
    return (intptr_t)arg;
}

static intptr_t
background(void *arg)
{
    xc_run_t *run = arg;
    while (!atomic_load_explicit(&run->stop_background, memory_order_relaxed)) {
        int rc = sp_task_yield();
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static intptr_t
caller(void *arg)
{
    xc_run_t *run = arg;
    uint64_t n = 0;
    for (uint64_t i = 0; i < run->max_calls; i++) {
        if (atomic_load_explicit(&run->stop_callers, memory_order_relaxed)) {
            break;
        }
        intptr_t r = 0;
        int rc = sp_shard_call(run->p->target, empty, (void *)(intptr_t)i, &r);
        if (rc != 0) {
            return rc;
        }
        if (r != (intptr_t)i) {
            return -EIO;
        }
        n++;
    }
    atomic_fetch_add(&run->calls, n);
    uint64_t now = sp_now_ns(), end = atomic_load(&run->t_end);
    while (now > end && !atomic_compare_exchange_weak(&run->t_end, &end, now)) {
    }
    atomic_fetch_add(&run->finished, 1);
    return 0;
}

static int
spawn_on(sp_task_t *t, int shard, sp_task_fn fn, void *arg, const char *what)
{
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.place = SP_PLACE_ON;
    a.shard = shard;
    int rc = sp_task_spawn(t, &a, fn, arg);
    return rc ? bench_fail(what, rc) : 0;
}

/* Warm up, then run the callers until max_calls each or the budget; the
 * time runs from their spawn to the last one's end. */
static int
timed_calls(xc_run_t *run, uint64_t *elapsed)
{
    for (int i = 0; i < XC_WARM; i++) {
        int rc = sp_shard_call(run->p->target, empty, NULL, NULL);
        if (rc != 0) {
            return bench_fail("sp_shard_call(warm-up)", rc);
        }
    }
    sp_task_t c[XC_PIPE];
    int nc = 0, err = 0;
    uint64_t t0 = sp_now_ns();
    for (; nc < run->p->callers && err == 0; nc++) {
        err = spawn_on(&c[nc], 0, caller, run, "sp_task_spawn(caller)");
    }
    nc -= err != 0;
    /* Sleeping in steps, not joining: the budget may end first. The
     * callers take their own end time, so the step adds no error. */
    while (err == 0 && atomic_load(&run->finished) < nc &&
           sp_now_ns() - t0 < run->budget_ns) {
        sp_sleep_ns(run->budget_ns / 50);
    }
    atomic_store(&run->stop_callers, 1);
    for (int i = 0; i < nc; i++) {
        intptr_t r = 0;
        int rc = sp_task_join(c[i], &r);
        if (err == 0 && (rc != 0 || r != 0)) {
            err = bench_fail("caller", rc ? rc : (int)r);
        }
    }
    *elapsed = atomic_load(&run->t_end) - t0;
    return err;
}

static intptr_t
xc_body(void *arg)
{
    xc_run_t *run = arg;
    int err = 0;
    sp_task_t bg[2];
    int nbg = 0;
    for (; run->p->busy && nbg < 2 && err == 0; nbg++) {
        err = spawn_on(&bg[nbg], nbg, background, run, "sp_task_spawn(background)");
    }
    nbg -= err != 0;
    sp_shard_stats_t before, after;
    bench_stats_sum(&before);
    uint64_t elapsed = 0;
    if (err == 0) {
        err = timed_calls(run, &elapsed);
    }
    bench_stats_sum(&after);
    atomic_store(&run->stop_background, 1);
    for (int i = 0; i < nbg; i++) {
        sp_task_join(bg[i], NULL);
    }
    run->parks = after.parks - before.parks;
    run->wakes = after.wakes_sent - before.wakes_sent;
    run->messages = after.messages - before.messages;
    return err ? err : (intptr_t)(elapsed & INTPTR_MAX);
}

static int
xc_case(bench_case_t *c, double *value)
{
    const xc_params_t *p = c->arg;
    static xc_run_t run;
    run = (xc_run_t){.p = p};
    atomic_init(&run.stop_background, 0);
    atomic_init(&run.stop_callers, 0);
    atomic_init(&run.calls, 0);
    atomic_init(&run.t_end, 0);
    atomic_init(&run.finished, 0);
    run.max_calls = bench_size(400000, 50000) / (uint64_t)p->callers;
    run.budget_ns = bench_size(500, 100) * SP_NSEC_PER_MSEC;

    sp_config_t cfg;
    bench_config(&cfg, 2);
    if (p->set_spin) {
        cfg.spin_ns = p->spin_ns;
    }
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, xc_body, &run, &res);
    if (rc != 0) {
        return rc;
    }
    if (res < 0) {
        return (int)res;
    }
    uint64_t calls = atomic_load(&run.calls);
    if (calls == 0) {
        return -EIO;
    }
    double n = (double)calls;
    *value = (double)res / n;
    bench_extra(c, "calls=%llu", (unsigned long long)calls);
    bench_extra(c, "callers=%d", p->callers);
    bench_extra(c, "spin_ns=%llu", (unsigned long long)cfg.spin_ns);
    bench_extra(c, "parks_per_call=%.3f", (double)run.parks / n);
    bench_extra(c, "wakes_per_call=%.3f", (double)run.wakes / n);
    bench_extra(c, "inbox_msgs_per_call=%.3f", (double)run.messages / n);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const xc_params_t P_BUSY = {1, 1, 1, 0, 0};
static const xc_params_t P_SPIN0 = {0, 1, 1, 1, 0};
static const xc_params_t P_SPIN50 = {0, 1, 1, 1, 50 * SP_NSEC_PER_USEC};
static const xc_params_t P_SAME = {0, 0, 1, 1, 0};
static const xc_params_t P_PIPE = {0, 1, XC_PIPE, 1, 0};

static bench_case_t cases[] = {
    BENCH_CASE("xshard_call", "busy", "ns", xc_case, &P_BUSY),
    BENCH_CASE("xshard_call", "idle-spin0", "ns", xc_case, &P_SPIN0),
    BENCH_CASE("xshard_call", "idle-spin50us", "ns", xc_case, &P_SPIN50),
    BENCH_CASE("xshard_call", "same-shard", "ns", xc_case, &P_SAME),
    BENCH_CASE("xshard_call", "pipelined64", "ns", xc_case, &P_PIPE),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "sp_shard_call round trip from shard 0 to shard 1 (or to itself), ns per\n"
               "call, busy and idle regimes (idle with the spin setting named), and 64\n"
               "concurrent callers (ns per call of throughput).\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
