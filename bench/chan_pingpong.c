/* chan_pingpong: two tasks bouncing an 8-byte item over two channels.
 *
 * P sends i on `ping` and receives on `pong`; Q receives on `ping` and
 * sends the value back on `pong`. One round trip is two sends and two
 * receives, and, on one shard, two task switches (each side parks in recv
 * and is woken by the other's send). Reported: ns per round trip, timed by
 * P with sp_now_ns after 64 untimed rounds; P checks every value it gets.
 *
 * Variants:
 *   same-pinned       one shard, both SP_PLACE_LOCAL, unbuffered channels
 *   same-stealable    one shard, both stealable, unbuffered
 *   same-pinned-cap1  one shard, pinned, capacity-1 channels (the send goes
 *                     to a parked receiver anyway: same path, for checking)
 *   same-pinned-lchan one shard, pinned, unbuffered shard-local channels
 *                     (sp_lchan_t: no lock, no atomics of its own)
 *   xshard-busy       P on shard 0, Q on shard 1 (SP_PLACE_ON), each shard
 *                     also running a pinned task that yields in a loop, so
 *                     neither shard ever sleeps (BENCHMARKS.md rule 3)
 *   xshard-idle-spin0 the same without background tasks, cfg.spin_ns = 0:
 *                     a waiting shard sleeps at once
 *   xshard-idle-spin50us  cfg.spin_ns = 50 us (the default)
 * Shard threads pinned. A run stops after `max_rounds` (2,000,000 same
 * shard, 1,000,000 cross shard; a tenth in quick mode) or when 0.5 s is
 * used up (cross shard), whichever comes first; the count is printed.
 * Reference: Go's unbuffered channel round trip is ~380 ns on these
 * machines (GOMAXPROCS=1). */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>

#define CP_WARM_ROUNDS 64

typedef struct cp_params {
    int xshard;
    int busy;
    sp_place_t place;
    size_t cap;
    int local;
    int set_spin;
    uint64_t spin_ns;
} cp_params_t;

typedef struct cp_run {
    const cp_params_t *p;
    sp_chan_t ping, pong;
    sp_lchan_t lping, lpong; /* with p->local, made by cp_body on shard 0 */
    uint64_t max_rounds;
    uint64_t budget_ns;
    atomic_int stop_background;
    uint64_t rounds_done;
    uint64_t elapsed_ns;
    uint64_t switches;
} cp_run_t;

static intptr_t
background(void *arg)
{
    cp_run_t *run = arg;
    while (!atomic_load_explicit(&run->stop_background, memory_order_relaxed)) {
        if (sp_task_yield() != 0) {
            break;
        }
    }
    return 0;
}

/* One end of the ping-pong: over sp_chan_t, or sp_lchan_t with p->local. */
static int
cp_send(cp_run_t *run, int ping, const uint64_t *v)
{
    if (run->p->local) {
        return sp_lchan_send(ping ? &run->lping : &run->lpong, v);
    }
    return sp_chan_send(ping ? &run->ping : &run->pong, v);
}

static int
cp_recv(cp_run_t *run, int ping, uint64_t *v)
{
    if (run->p->local) {
        return sp_lchan_recv(ping ? &run->lping : &run->lpong, v);
    }
    return sp_chan_recv(ping ? &run->ping : &run->pong, v);
}

static intptr_t
responder(void *arg)
{
    cp_run_t *run = arg;
    uint64_t v;
    int rc;
    while ((rc = cp_recv(run, 1, &v)) == 0) {
        rc = cp_send(run, 0, &v);
        if (rc != 0) {
            return rc;
        }
    }
    return rc == -EPIPE ? 0 : rc;
}

static intptr_t
client(void *arg)
{
    cp_run_t *run = arg;
    uint64_t i = 0, t0 = 0, limit = CP_WARM_ROUNDS + run->max_rounds;
    int rc = 0;
    for (; i < limit; i++) {
        if (i == CP_WARM_ROUNDS) {
            t0 = sp_now_ns();
        } else if (run->budget_ns && i > CP_WARM_ROUNDS && (i & 1023) == 0 &&
                   sp_now_ns() - t0 >= run->budget_ns) {
            break;
        }
        uint64_t v = i, back = 0;
        if ((rc = cp_send(run, 1, &v)) != 0 || (rc = cp_recv(run, 0, &back)) != 0) {
            break;
        }
        if (back != i) {
            rc = -EIO;
            break;
        }
    }
    run->elapsed_ns = sp_now_ns() - t0;
    run->rounds_done = i - CP_WARM_ROUNDS;
    if (run->p->local) {
        sp_lchan_close(&run->lping);
    } else {
        sp_chan_close(&run->ping);
    }
    return rc;
}

static int
spawn_bg(cp_run_t *run, sp_task_t *bg)
{
    for (int k = 0; k < 2; k++) {
        sp_task_attr_t a;
        sp_task_attr_init(&a);
        a.place = SP_PLACE_ON;
        a.shard = k;
        int rc = sp_task_spawn(&bg[k], &a, background, run);
        if (rc != 0) {
            return bench_fail("sp_task_spawn(background)", rc);
        }
    }
    return 0;
}

static intptr_t
cp_body(void *arg)
{
    cp_run_t *run = arg;
    const cp_params_t *p = run->p;
    sp_task_t bg[2];
    int err = p->busy ? spawn_bg(run, bg) : 0;
    if (err == 0 && p->local) {
        if ((err = sp_lchan_init(&run->lping, sizeof(uint64_t), p->cap)) != 0 ||
            (err = sp_lchan_init(&run->lpong, sizeof(uint64_t), p->cap)) != 0) {
            return bench_fail("sp_lchan_init", err);
        }
    }
    sp_task_attr_t ac, ar;
    sp_task_attr_init(&ac);
    sp_task_attr_init(&ar);
    ac.place = ar.place = p->place;
    if (p->xshard) {
        ac.shard = 0;
        ar.shard = 1;
    }
    sp_shard_stats_t before, after;
    bench_stats_sum(&before);
    sp_task_t q, c;
    intptr_t rq = 0, rc = 0;
    if (err == 0 && (err = sp_task_spawn(&q, &ar, responder, run)) == 0) {
        if ((err = sp_task_spawn(&c, &ac, client, run)) == 0) {
            sp_task_join(c, &rc);
        } else if (p->local) {
            sp_lchan_close(&run->lping);
        } else {
            sp_chan_close(&run->ping);
        }
        sp_task_join(q, &rq);
    }
    if (p->local) {
        sp_lchan_destroy(&run->lping);
        sp_lchan_destroy(&run->lpong);
    }
    bench_stats_sum(&after);
    run->switches = after.switches - before.switches;
    atomic_store(&run->stop_background, 1);
    for (int k = 0; p->busy && k < 2; k++) {
        sp_task_join(bg[k], NULL);
    }
    if (err != 0) {
        return bench_fail("sp_task_spawn", err);
    }
    return rc != 0 ? bench_fail("client", (int)rc) : rq != 0 ? bench_fail("responder", (int)rq) : 0;
}

static int
cp_case(bench_case_t *c, double *value)
{
    const cp_params_t *p = c->arg;
    static cp_run_t run;
    run = (cp_run_t){.p = p};
    atomic_init(&run.stop_background, 0);
    run.max_rounds = p->xshard ? bench_size(1000000, 100000) : bench_size(2000000, 200000);
    run.budget_ns = p->xshard ? bench_size(500, 100) * SP_NSEC_PER_MSEC : 0;
    if (sp_chan_init(&run.ping, sizeof(uint64_t), p->cap) != 0 ||
        sp_chan_init(&run.pong, sizeof(uint64_t), p->cap) != 0) {
        return -ENOMEM;
    }
    sp_config_t cfg;
    bench_config(&cfg, p->xshard ? 2 : 1);
    if (p->set_spin) {
        cfg.spin_ns = p->spin_ns;
    }
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, cp_body, &run, &res);
    sp_chan_destroy(&run.ping);
    sp_chan_destroy(&run.pong);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    if (run.rounds_done == 0) {
        return -EIO;
    }
    double rt = (double)run.rounds_done;
    *value = (double)run.elapsed_ns / rt;
    bench_extra(c, "rounds=%llu", (unsigned long long)run.rounds_done);
    bench_extra(c, "spin_ns=%llu", (unsigned long long)cfg.spin_ns);
    bench_extra(c, "switches_per_rt=%.2f", (double)run.switches / rt);
    if (bench_quick()) {
        bench_extra(c, "quick=1");
    }
    return 0;
}

static const cp_params_t P_SAME = {0, 0, SP_PLACE_LOCAL, 0, 0, 0, 0};
static const cp_params_t P_SAME_STEAL = {0, 0, SP_PLACE_STEALABLE, 0, 0, 0, 0};
static const cp_params_t P_SAME_CAP1 = {0, 0, SP_PLACE_LOCAL, 1, 0, 0, 0};
static const cp_params_t P_SAME_LCHAN = {0, 0, SP_PLACE_LOCAL, 0, 1, 0, 0};
static const cp_params_t P_X_BUSY = {1, 1, SP_PLACE_ON, 0, 0, 0, 0};
static const cp_params_t P_X_SPIN0 = {1, 0, SP_PLACE_ON, 0, 0, 1, 0};
static const cp_params_t P_X_SPIN50 = {1, 0, SP_PLACE_ON, 0, 0, 1, 50 * SP_NSEC_PER_USEC};

static bench_case_t cases[] = {
    BENCH_CASE("chan_pingpong", "same-pinned", "ns", cp_case, &P_SAME),
    BENCH_CASE("chan_pingpong", "same-stealable", "ns", cp_case, &P_SAME_STEAL),
    BENCH_CASE("chan_pingpong", "same-pinned-cap1", "ns", cp_case, &P_SAME_CAP1),
    BENCH_CASE("chan_pingpong", "same-pinned-lchan", "ns", cp_case, &P_SAME_LCHAN),
    BENCH_CASE("chan_pingpong", "xshard-busy", "ns", cp_case, &P_X_BUSY),
    BENCH_CASE("chan_pingpong", "xshard-idle-spin0", "ns", cp_case, &P_X_SPIN0),
    BENCH_CASE("chan_pingpong", "xshard-idle-spin50us", "ns", cp_case, &P_X_SPIN50),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "two tasks bouncing an item over two channels, ns per round trip; same\n"
               "shard and cross shard (busy and idle regimes). Goal: same shard < 40 ns.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
