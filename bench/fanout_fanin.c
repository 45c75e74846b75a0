/* fanout_fanin: BENCHMARKS.md's fanout_fanin_balanced and _skewed.
 *
 * 64 sequential requests; each request spawns 16 tasks and joins them in
 * spawn order. Task j of request r runs `steps` rounds of a 64-bit LCG step
 * followed by an xorshift mix, seeded from (r, j), and returns the value:
 *   balanced: every task runs 2,000 steps
 *   skewed:   task (r mod 16) runs 20,000 steps, the other 15 run 500
 * The tasks are CPU-only and never suspend mid-computation (as published):
 * a stealable task can only be taken by the other shard while it is queued.
 *
 * Two shards, shard threads pinned. The request driver is pinned to shard 0.
 * Variants (the children's placement):
 *   pinned-only  child j goes SP_PLACE_ON shard (j mod 2): round-robin over
 *                the shards, the thread-per-core way
 *   stealable    SP_PLACE_STEALABLE
 * Both run with the default spin-before-park (cfg.spin_ns as sp_config_init
 * sets it, printed as spin_ns=); the -spin200us variants repeat them with
 * cfg.spin_ns = 200 us so that an idle shard does not sleep between requests.
 *
 * Reported: us per request (one fan-out/fan-in of 16 tasks), from 20 timed
 * passes of the 64 requests (3 in quick mode) after one untimed pass. A
 * checksum of every task result, folded in join order over one pass, is
 * printed (checksum=); it must be identical between variants, and every
 * pass must reproduce it.
 *
 * With FANOUT_TRACE=1 in the environment, each task also records when and
 * on which shard it started, and for the skewed cases a table per hot-task
 * position (r mod 16) is printed: mean request time, when the hot task
 * started, and how many light tasks ran on the hot task's shard. Tracing
 * adds two clock reads per task. */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FF_REQUESTS 64
#define FF_FANOUT 16

typedef struct ff_params {
    int skewed;
    int stealable;
    int set_spin;
    uint64_t spin_ns;
} ff_params_t;

typedef struct ff_job {
    uint64_t seed;
    uint64_t steps;
    uint64_t start; /* trace only */
    int shard;      /* trace only */
} ff_job_t;

/* Per hot-task position sums, trace mode only. */
typedef struct ff_trace {
    double req_us[FF_FANOUT];
    double hot_start_us[FF_FANOUT];
    double colocated[FF_FANOUT];
    int n[FF_FANOUT];
} ff_trace_t;

static int ff_tracing; /* FANOUT_TRACE=1; read-only once the cases run */

typedef struct ff_run {
    const ff_params_t *p;
    int passes;
    uint64_t elapsed_ns;
    uint64_t checksum;
    uint64_t stolen, parks;
    ff_trace_t *trace; /* NULL unless tracing */
} ff_run_t;

static intptr_t
ff_work(void *arg)
{
    ff_job_t *job = arg;
    if (ff_tracing) {
        job->start = sp_now_ns();
        job->shard = sp_shard_id();
    }
    uint64_t x = job->seed;
    for (uint64_t i = 0; i < job->steps; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        x ^= x >> 29;
        x ^= x << 11;
        x ^= x >> 31;
    }
    return (intptr_t)x;
}

static uint64_t
ff_steps(int skewed, int request, int j)
{
    if (!skewed) {
        return 2000;
    }
    return j == request % FF_FANOUT ? 20000 : 500;
}

static void
ff_trace_request(ff_trace_t *tr, const ff_job_t *jobs, int r, uint64_t t0, uint64_t t1)
{
    int hot = r % FF_FANOUT;
    tr->req_us[hot] += (double)(t1 - t0) / 1000.0;
    tr->hot_start_us[hot] += (double)(jobs[hot].start - t0) / 1000.0;
    for (int j = 0; j < FF_FANOUT; j++) {
        if (j != hot && jobs[j].shard == jobs[hot].shard) {
            tr->colocated[hot] += 1.0;
        }
    }
    tr->n[hot]++;
}

/* One pass of the 64 requests; folds the results into *sum. tr (trace mode,
 * may be NULL) collects per-position times. */
static int
ff_pass(const ff_params_t *p, uint64_t *sum, ff_trace_t *tr)
{
    ff_job_t jobs[FF_FANOUT];
    sp_task_t h[FF_FANOUT];
    sp_task_attr_t attr[2];
    for (int s = 0; s < 2; s++) {
        sp_task_attr_init(&attr[s]);
        if (p->stealable) {
            attr[s].place = SP_PLACE_STEALABLE;
        } else {
            attr[s].place = SP_PLACE_ON;
            attr[s].shard = s;
        }
    }
    uint64_t acc = 0;
    for (int r = 0; r < FF_REQUESTS; r++) {
        int n = 0, err = 0;
        uint64_t req_t0 = tr != NULL ? sp_now_ns() : 0;
        for (; n < FF_FANOUT; n++) {
            jobs[n].seed = ((uint64_t)r << 8 | (uint64_t)n) * 0x9e3779b97f4a7c15ull + 1;
            jobs[n].steps = ff_steps(p->skewed, r, n);
            int rc = sp_task_spawn(&h[n], &attr[n % 2], ff_work, &jobs[n]);
            if (rc != 0) {
                err = bench_fail("sp_task_spawn", rc);
                break;
            }
        }
        for (int j = 0; j < n; j++) {
            intptr_t res = 0;
            int rc = sp_task_join(h[j], &res);
            if (rc != 0 && err == 0) {
                err = bench_fail("sp_task_join", rc);
            }
            acc = (acc ^ (uint64_t)res) * 0x100000001b3ull;
            acc ^= acc >> 32;
        }
        if (err != 0) {
            return err;
        }
        if (tr != NULL) {
            ff_trace_request(tr, jobs, r, req_t0, sp_now_ns());
        }
    }
    *sum = acc;
    return 0;
}

static intptr_t
ff_body(void *arg)
{
    ff_run_t *run = arg;
    uint64_t first = 0;
    int rc = ff_pass(run->p, &first, NULL); /* warm-up pass: stacks, caches */
    if (rc != 0) {
        return rc;
    }
    sp_shard_stats_t before, after;
    bench_stats_sum(&before);
    uint64_t t0 = sp_now_ns();
    for (int i = 0; i < run->passes; i++) {
        uint64_t sum = 0;
        rc = ff_pass(run->p, &sum, run->trace);
        if (rc != 0) {
            return rc;
        }
        if (sum != first) {
            fprintf(stderr,
                    "fanout_fanin: checksum changed between passes "
                    "(%016" PRIx64 " vs %016" PRIx64 ")\n",
                    sum, first);
            return -EIO;
        }
    }
    uint64_t t1 = sp_now_ns();
    bench_stats_sum(&after);
    run->elapsed_ns = t1 - t0;
    run->checksum = first;
    run->stolen = after.stolen - before.stolen;
    run->parks = after.parks - before.parks;
    return 0;
}

/* The checksum every variant of a workload produced first; a later variant
 * that differs is an error. */
static uint64_t expect_sum[2];
static int have_sum[2];

#define FF_NCASES 8
static ff_trace_t traces[FF_NCASES];  /* one per case, trace mode */
static bench_case_t cases[FF_NCASES]; /* the table is below */

static int
ff_case(bench_case_t *c, double *value)
{
    const ff_params_t *p = c->arg;
    ff_run_t run = {.p = p, .passes = (int)bench_size(20, 3)};
    if (ff_tracing) {
        run.trace = &traces[c - cases];
    }
    sp_config_t cfg;
    bench_config(&cfg, 2);
    if (p->set_spin) {
        cfg.spin_ns = p->spin_ns;
    }
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, ff_body, &run, &res);
    if (rc != 0) {
        return rc;
    }
    if (res != 0) {
        return (int)res;
    }
    if (!have_sum[p->skewed]) {
        have_sum[p->skewed] = 1;
        expect_sum[p->skewed] = run.checksum;
    } else if (expect_sum[p->skewed] != run.checksum) {
        fprintf(stderr,
                "fanout_fanin: %s/%s checksum %016" PRIx64 " differs from %016" PRIx64
                "\n",
                c->workload, c->variant, run.checksum, expect_sum[p->skewed]);
        return -EIO;
    }
    double requests = (double)run.passes * FF_REQUESTS;
    *value = (double)run.elapsed_ns / requests / 1000.0;
    bench_extra(c, "checksum=%016" PRIx64, run.checksum);
    bench_extra(c, "requests=%d", run.passes * FF_REQUESTS);
    bench_extra(c, "fanout=%d", FF_FANOUT);
    bench_extra(c, "shards=2");
    bench_extra(c, "spin_ns=%llu", (unsigned long long)cfg.spin_ns);
    bench_extra(c, "stolen_per_req=%.2f", (double)run.stolen / requests);
    bench_extra(c, "parks_per_req=%.2f", (double)run.parks / requests);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const ff_params_t P_BAL_PIN = {0, 0, 0, 0};
static const ff_params_t P_BAL_STEAL = {0, 1, 0, 0};
static const ff_params_t P_SKEW_PIN = {1, 0, 0, 0};
static const ff_params_t P_SKEW_STEAL = {1, 1, 0, 0};
static const ff_params_t P_BAL_PIN_SPIN = {0, 0, 1, 200 * SP_NSEC_PER_USEC};
static const ff_params_t P_BAL_STEAL_SPIN = {0, 1, 1, 200 * SP_NSEC_PER_USEC};
static const ff_params_t P_SKEW_PIN_SPIN = {1, 0, 1, 200 * SP_NSEC_PER_USEC};
static const ff_params_t P_SKEW_STEAL_SPIN = {1, 1, 1, 200 * SP_NSEC_PER_USEC};

static bench_case_t cases[FF_NCASES] = {
    BENCH_CASE("fanout_fanin_balanced", "pinned-only", "us", ff_case, &P_BAL_PIN),
    BENCH_CASE("fanout_fanin_balanced", "stealable", "us", ff_case, &P_BAL_STEAL),
    BENCH_CASE("fanout_fanin_skewed", "pinned-only", "us", ff_case, &P_SKEW_PIN),
    BENCH_CASE("fanout_fanin_skewed", "stealable", "us", ff_case, &P_SKEW_STEAL),
    BENCH_CASE("fanout_fanin_balanced", "pinned-only-spin200us", "us", ff_case,
               &P_BAL_PIN_SPIN),
    BENCH_CASE("fanout_fanin_balanced", "stealable-spin200us", "us", ff_case,
               &P_BAL_STEAL_SPIN),
    BENCH_CASE("fanout_fanin_skewed", "pinned-only-spin200us", "us", ff_case,
               &P_SKEW_PIN_SPIN),
    BENCH_CASE("fanout_fanin_skewed", "stealable-spin200us", "us", ff_case,
               &P_SKEW_STEAL_SPIN),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "fan-out/fan-in of 16 CPU-only tasks per request on 2 shards, us per "
               "request.\nGoals: skewed stealable >= 1.15x faster than pinned-only; "
               "balanced pinned-only\nwithin 5% of stealable.\n");
    const char *env = getenv("FANOUT_TRACE");
    ff_tracing = env != NULL && *env != '\0' && strcmp(env, "0") != 0;
    int status = bench_run(cases, sizeof cases / sizeof cases[0]);

    for (size_t i = 0; ff_tracing && i < sizeof cases / sizeof cases[0]; i++) {
        const ff_params_t *p = cases[i].arg;
        if (!p->skewed || !cases[i].selected || cases[i].nsamples == 0) {
            continue;
        }
        printf("# trace %s/%s: hot position, request us, hot task start us, light "
               "tasks on the hot task's shard\n",
               cases[i].workload, cases[i].variant);
        const ff_trace_t *tr = &traces[i];
        for (int k = 0; k < FF_FANOUT; k++) {
            if (tr->n[k] > 0) {
                printf("#   %2d  %7.2f  %6.2f  %5.2f\n", k, tr->req_us[k] / tr->n[k],
                       tr->hot_start_us[k] / tr->n[k], tr->colocated[k] / tr->n[k]);
            }
        }
    }

    /* Ratios pinned-only / stealable, for the goals. */
    for (size_t i = 0; i + 1 < sizeof cases / sizeof cases[0]; i += 2) {
        char what[128];
        snprintf(what, sizeof what, "%s/%s", cases[i].variant, cases[i + 1].variant);
        bench_print_ratio(&cases[i], &cases[i + 1], what);
    }
    return status;
}
