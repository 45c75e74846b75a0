/* chan_mpmc: N producers and N consumers on one bounded channel.
 *
 * Each producer sends `per` 8-byte items; consumers receive until the
 * channel is closed (after every producer is joined) and drained. The
 * consumers' sum is checked against the producers'. Reported: items per
 * second, from the first spawn to the last join.
 *
 * Variants: N = 2, 4, 8 (N producers + N consumers), capacity 64, two
 * shards (threads pinned), tasks stealable ("stealable") or pinned
 * round-robin over the shards, producer i and consumer i on shard i mod 2
 * ("pinned"). Default spin-before-park (printed as spin_ns=). 2,000,000
 * items per run (200,000 in quick mode). */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>

#define MM_CAP 64

typedef struct mm_params {
    int n;
    int pinned;
} mm_params_t;

typedef struct mm_run {
    const mm_params_t *p;
    sp_chan_t ch;
    uint64_t per;
    _Atomic uint64_t sum;
    uint64_t elapsed_ns;
    uint64_t parks;
} mm_run_t;

static intptr_t
producer(void *arg)
{
    mm_run_t *run = arg;
    for (uint64_t i = 1; i <= run->per; i++) {
        int rc = sp_chan_send(&run->ch, &i);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static intptr_t
consumer(void *arg)
{
    mm_run_t *run = arg;
    uint64_t v, sum = 0;
    int rc;
    while ((rc = sp_chan_recv(&run->ch, &v)) == 0) {
        sum += v;
    }
    atomic_fetch_add(&run->sum, sum);
    return rc == -EPIPE ? 0 : rc;
}

static int
join_all(sp_task_t *t, int n, const char *what)
{
    int err = 0;
    for (int i = 0; i < n; i++) {
        intptr_t r = 0;
        int rc = sp_task_join(t[i], &r);
        if (err == 0 && (rc != 0 || r != 0)) {
            err = bench_fail(what, rc != 0 ? rc : (int)r);
        }
    }
    return err;
}

static intptr_t
mm_body(void *arg)
{
    mm_run_t *run = arg;
    int n = run->p->n;
    sp_task_t prod[8], cons[8];
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    sp_shard_stats_t before, after;
    bench_stats_sum(&before);
    uint64_t t0 = sp_now_ns();
    for (int i = 0; i < n; i++) {
        if (run->p->pinned) {
            a.place = SP_PLACE_ON;
            a.shard = i % sp_shard_count();
        }
        int rc = sp_task_spawn(&cons[i], &a, consumer, run);
        if (rc == 0) {
            rc = sp_task_spawn(&prod[i], &a, producer, run);
        }
        if (rc != 0) {
            /* Unwinding a half-spawned set is not worth the code here. */
            return bench_fail("sp_task_spawn", rc);
        }
    }
    int err = join_all(prod, n, "producer");
    sp_chan_close(&run->ch);
    int err2 = join_all(cons, n, "consumer");
    run->elapsed_ns = sp_now_ns() - t0;
    bench_stats_sum(&after);
    run->parks = after.parks - before.parks;
    return err ? err : err2;
}

static int
mm_case(bench_case_t *c, double *value)
{
    const mm_params_t *p = c->arg;
    static mm_run_t run;
    run = (mm_run_t){.p = p};
    uint64_t total = bench_size(2000000, 200000);
    run.per = total / (uint64_t)p->n;
    atomic_init(&run.sum, 0);
    if (sp_chan_init(&run.ch, sizeof(uint64_t), MM_CAP) != 0) {
        return -ENOMEM;
    }
    sp_config_t cfg;
    bench_config(&cfg, 2);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, mm_body, &run, &res);
    sp_chan_destroy(&run.ch);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    uint64_t items = run.per * (uint64_t)p->n;
    if (atomic_load(&run.sum) != (uint64_t)p->n * (run.per * (run.per + 1) / 2)) {
        return bench_fail("checksum", -EIO);
    }
    *value = (double)items * 1e9 / (double)run.elapsed_ns;
    bench_extra(c, "items=%llu", (unsigned long long)items);
    bench_extra(c, "cap=%d", MM_CAP);
    bench_extra(c, "spin_ns=%llu", (unsigned long long)cfg.spin_ns);
    bench_extra(c, "parks_per_item=%.3f", (double)run.parks / (double)items);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const mm_params_t P2S = {2, 0}, P4S = {4, 0}, P8S = {8, 0};
static const mm_params_t P2P = {2, 1}, P4P = {4, 1}, P8P = {8, 1};

static bench_case_t cases[] = {
    BENCH_CASE("chan_mpmc_2x2", "stealable", "ops/s", mm_case, &P2S),
    BENCH_CASE("chan_mpmc_4x4", "stealable", "ops/s", mm_case, &P4S),
    BENCH_CASE("chan_mpmc_8x8", "stealable", "ops/s", mm_case, &P8S),
    BENCH_CASE("chan_mpmc_2x2", "pinned", "ops/s", mm_case, &P2P),
    BENCH_CASE("chan_mpmc_4x4", "pinned", "ops/s", mm_case, &P4P),
    BENCH_CASE("chan_mpmc_8x8", "pinned", "ops/s", mm_case, &P8P),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "N producers and N consumers (N = 2, 4, 8) on one channel of capacity 64,\n"
               "two shards; items per second.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
