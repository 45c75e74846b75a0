/* xshard_pingpong: cross-shard ping-pong through park/unpark.
 *
 * Task P is pinned to shard 0 and task Q to shard 1 (SP_PLACE_ON). They share
 * one atomic counter `turn`. Round i: P stores 2i+1 (release) and unparks Q,
 * then parks until turn == 2i+2; Q parks until it sees 2i+1 (acquire),
 * stores 2i+2 and unparks P. Parks are re-checked in a loop (spurious
 * returns are allowed). Reported: ns per round trip, timed by P with
 * sp_now_ns after 64 untimed rounds.
 *
 * Regimes (BENCHMARKS.md rule 3):
 *   busy            each shard also runs a pinned background task that
 *                   yields in a loop, so neither shard ever runs out of work
 *                   (default spin setting; it never matters here)
 *   idle-spin0      nothing else runs: a waiting shard parks at once
 *                   (cfg.spin_ns = 0, the default)
 *   idle-spin50us   same, cfg.spin_ns = 50 us before parking
 *   idle-spin200us  same, cfg.spin_ns = 200 us
 * Two shards, shard threads pinned. A run stops after `max_rounds` round
 * trips or when its time budget (0.5 s; 0.1 s quick) is used up, whichever
 * comes first; the count is printed. Per round trip the shards' parks and
 * wakes_sent counters are printed too (so one can see whether a shard slept). */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>

#define XP_WARM_ROUNDS 64
#define XP_DONE UINT64_MAX

typedef struct xp_params {
    int busy;
    int set_spin; /* 0: keep the default spin_ns */
    uint64_t spin_ns;
} xp_params_t;

typedef struct xp_run {
    _Alignas(64) atomic_uint_least64_t turn;
    /* P's handle, for Q: written by P before its first release store of
     * turn, read by Q after its acquire load of turn. */
    _Alignas(64) sp_task_t ping_h;
    sp_task_t pong_h; /* Q's handle, for P: written before P is spawned */
    _Alignas(64) atomic_int stop_background;
    const xp_params_t *p;
    uint64_t max_rounds;
    uint64_t budget_ns;
    /* results */
    uint64_t rounds_done;
    uint64_t elapsed_ns;
    uint64_t parks, wakes;
    uint64_t bg_yields;
} xp_run_t;

static intptr_t
background(void *arg)
{
    xp_run_t *run = arg;
    uint64_t n = 0;
    while (!atomic_load_explicit(&run->stop_background, memory_order_relaxed)) {
        int rc = sp_task_yield();
        if (rc != 0) {
            return rc;
        }
        n++;
    }
    return (intptr_t)(n & 0x3fffffff);
}

/* Park until turn == want (or XP_DONE for the pong side). Returns 0 and the
 * value seen in *seen, or a negative errno from sp_task_park(). */
static int
wait_turn(xp_run_t *run, uint64_t want, int allow_done, uint64_t *seen)
{
    for (;;) {
        uint64_t t = atomic_load_explicit(&run->turn, memory_order_acquire);
        if (t == want || (allow_done && t == XP_DONE)) {
            *seen = t;
            return 0;
        }
        int rc = sp_task_park();
        if (rc < 0) {
            return rc;
        }
    }
}

static intptr_t
pong(void *arg)
{
    xp_run_t *run = arg;
    for (uint64_t i = 0;; i++) {
        uint64_t seen = 0;
        int rc = wait_turn(run, 2 * i + 1, 1, &seen);
        if (rc != 0) {
            return rc;
        }
        if (seen == XP_DONE) {
            return 0;
        }
        sp_task_t ping = run->ping_h;
        atomic_store_explicit(&run->turn, 2 * i + 2, memory_order_release);
        rc = sp_task_unpark(ping);
        if (rc != 0) {
            return rc;
        }
    }
}

static intptr_t
ping(void *arg)
{
    xp_run_t *run = arg;
    sp_task_t pongt = run->pong_h;
    run->ping_h = sp_task_self();

    uint64_t i = 0, t0 = 0, t1 = 0;
    int err = 0;
    uint64_t limit = XP_WARM_ROUNDS + run->max_rounds;
    for (; i < limit; i++) {
        if (i == XP_WARM_ROUNDS) {
            t0 = sp_now_ns();
        } else if (i > XP_WARM_ROUNDS && (i & 63) == 0) {
            if (sp_now_ns() - t0 >= run->budget_ns) {
                break;
            }
        }
        atomic_store_explicit(&run->turn, 2 * i + 1, memory_order_release);
        err = sp_task_unpark(pongt);
        if (err != 0) {
            break;
        }
        uint64_t seen = 0;
        err = wait_turn(run, 2 * i + 2, 0, &seen);
        if (err != 0) {
            break;
        }
    }
    t1 = sp_now_ns();
    atomic_store_explicit(&run->turn, XP_DONE, memory_order_release);
    sp_task_unpark(pongt);
    if (err != 0) {
        return err;
    }
    run->rounds_done = i - XP_WARM_ROUNDS;
    run->elapsed_ns = t1 - t0;
    return 0;
}

static intptr_t
xp_body(void *arg)
{
    xp_run_t *run = arg;
    int err = 0;
    sp_task_attr_t a0, a1;
    sp_task_attr_init(&a0);
    a0.place = SP_PLACE_ON;
    a0.shard = 0;
    sp_task_attr_init(&a1);
    a1.place = SP_PLACE_ON;
    a1.shard = 1;

    sp_task_t bg[2];
    int nbg = 0;
    if (run->p->busy) {
        for (; nbg < 2; nbg++) {
            int rc = sp_task_spawn(&bg[nbg], nbg == 0 ? &a0 : &a1, background, run);
            if (rc != 0) {
                err = bench_fail("sp_task_spawn(background)", rc);
                break;
            }
        }
    }

    sp_shard_stats_t before, after;
    bench_stats_sum(&before);
    if (err == 0) {
        sp_task_t q, p;
        int rc = sp_task_spawn(&q, &a1, pong, run);
        if (rc != 0) {
            err = bench_fail("sp_task_spawn(pong)", rc);
        } else {
            run->pong_h = q;
            rc = sp_task_spawn(&p, &a0, ping, run);
            if (rc != 0) {
                err = bench_fail("sp_task_spawn(ping)", rc);
                atomic_store(&run->turn, XP_DONE);
                sp_task_unpark(q);
            } else {
                intptr_t r = 0;
                rc = sp_task_join(p, &r);
                if (rc != 0) {
                    err = bench_fail("sp_task_join(ping)", rc);
                } else if (r != 0) {
                    err = bench_fail("ping", (int)r);
                }
            }
            intptr_t r = 0;
            rc = sp_task_join(q, &r);
            if (err == 0 && rc != 0) {
                err = bench_fail("sp_task_join(pong)", rc);
            } else if (err == 0 && r != 0) {
                err = bench_fail("pong", (int)r);
            }
        }
    }
    bench_stats_sum(&after);

    atomic_store(&run->stop_background, 1);
    for (int i = 0; i < nbg; i++) {
        intptr_t r = 0;
        int rc = sp_task_join(bg[i], &r);
        if (err == 0 && rc != 0) {
            err = bench_fail("sp_task_join(background)", rc);
        }
        if (r > 0) {
            run->bg_yields += (uint64_t)r;
        }
    }
    run->parks = after.parks - before.parks;
    run->wakes = after.wakes_sent - before.wakes_sent;
    return err;
}

static int
xp_case(bench_case_t *c, double *value)
{
    const xp_params_t *p = c->arg;
    static xp_run_t run; /* aligned members; too big to want on the stack */
    run = (xp_run_t){.p = p};
    atomic_init(&run.turn, 0);
    atomic_init(&run.stop_background, 0);
    run.max_rounds = bench_size(1000000, 100000);
    run.budget_ns = bench_size(500, 100) * SP_NSEC_PER_MSEC;

    sp_config_t cfg;
    bench_config(&cfg, 2);
    if (p->set_spin) {
        cfg.spin_ns = p->spin_ns;
    }
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, xp_body, &run, &res);
    if (rc != 0) {
        return rc;
    }
    if (res != 0) {
        return (int)res;
    }
    if (run.rounds_done == 0) {
        return -EIO;
    }
    double rt = (double)run.rounds_done;
    *value = (double)run.elapsed_ns / rt;
    bench_extra(c, "rounds=%llu", (unsigned long long)run.rounds_done);
    bench_extra(c, "spin_ns=%llu", (unsigned long long)cfg.spin_ns);
    bench_extra(c, "parks_per_rt=%.3f", (double)run.parks / rt);
    bench_extra(c, "wakes_per_rt=%.3f", (double)run.wakes / rt);
    if (p->busy) {
        bench_extra(c, "bg_yields_per_rt=%.1f", (double)run.bg_yields / rt);
    }
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const xp_params_t P_BUSY = {1, 0, 0};
static const xp_params_t P_SPIN0 = {0, 1, 0};
static const xp_params_t P_SPIN50 = {0, 1, 50 * SP_NSEC_PER_USEC};
static const xp_params_t P_SPIN200 = {0, 1, 200 * SP_NSEC_PER_USEC};

static bench_case_t cases[] = {
    BENCH_CASE("xshard_pingpong", "busy", "ns", xp_case, &P_BUSY),
    BENCH_CASE("xshard_pingpong", "idle-spin0", "ns", xp_case, &P_SPIN0),
    BENCH_CASE("xshard_pingpong", "idle-spin50us", "ns", xp_case, &P_SPIN50),
    BENCH_CASE("xshard_pingpong", "idle-spin200us", "ns", xp_case, &P_SPIN200),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "cross-shard park/unpark ping-pong between shard 0 and shard 1, ns per\n"
               "round trip, busy and idle regimes (idle with the spin setting named).\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
