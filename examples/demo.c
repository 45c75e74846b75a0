/* spindle demonstration: what the two placements are for, measured live.
 *
 *   1. skewed fan-out — 64 requests, each fans out 16 CPU-bound tasks where
 *      one task is 40x heavier than the rest. Pinned round-robin (the
 *      thread-per-core way) leaves one shard idle while the other grinds;
 *      stealable tasks are picked up by the idle shard.
 *   2. spawn + join of 1,000,000 tasks, 1,000 alive at a time.
 *   3. cross-shard ping-pong between two pinned tasks (park/unpark).
 *   4. 10,000 tasks asleep at once on random timers: none wakes early, and
 *      how late they wake.
 *   5. per-shard statistics.
 *
 * Run: make demo. Times are from this machine, this run; bench/ holds the
 * careful measurements. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <spindle.h>

#define REQUESTS 64
#define FANOUT 16

static uint64_t
mix(uint64_t x, long steps)
{
    for (long i = 0; i < steps; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    }
    return x;
}

struct job {
    uint64_t seed;
    long steps;
};

static intptr_t
job_run(void *arg)
{
    struct job *j = arg;
    return (intptr_t)mix(j->seed, j->steps);
}

/* One fan-out pass; returns elapsed ns, or a negative errno. */
static int64_t
fanout(int stealable, uint64_t *checksum)
{
    uint64_t t0 = sp_now_ns();
    uint64_t sum = 0;
    for (int r = 0; r < REQUESTS; r++) {
        struct job jobs[FANOUT];
        sp_task_t h[FANOUT];
        for (int i = 0; i < FANOUT; i++) {
            jobs[i].seed = (uint64_t)(r * FANOUT + i + 1);
            jobs[i].steps = i == r % FANOUT ? 200000 : 5000;
            sp_task_attr_t attr;
            sp_task_attr_init(&attr);
            if (!stealable) {
                attr.place = SP_PLACE_ON;
                attr.shard = i % sp_shard_count();
            }
            int err = sp_task_spawn(&h[i], &attr, job_run, &jobs[i]);
            if (err < 0) {
                return err;
            }
        }
        for (int i = 0; i < FANOUT; i++) {
            intptr_t v = 0;
            sp_task_join(h[i], &v);
            sum += (uint64_t)v;
        }
    }
    *checksum = sum;
    return (int64_t)(sp_now_ns() - t0);
}

static intptr_t
empty_task(void *arg)
{
    return (intptr_t)arg;
}

static void
spawn_join(void)
{
    const int total = 1000000, batch = 1000;
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = SP_PLACE_LOCAL;
    sp_task_t *h = malloc(sizeof(*h) * batch);
    uint64_t t0 = sp_now_ns();
    for (int done = 0; done < total; done += batch) {
        for (int i = 0; i < batch; i++) {
            sp_task_spawn(&h[i], &attr, empty_task, NULL);
        }
        for (int i = 0; i < batch; i++) {
            sp_task_join(h[i], NULL);
        }
    }
    double ns = (double)(sp_now_ns() - t0) / total;
    free(h);
    printf("  spawn+join, 1,000 alive at a time:   %6.1f ns per task\n", ns);
}

struct pingpong {
    _Atomic long turn;
    sp_task_t task[2];
    long rounds;
};

static intptr_t
player(void *arg)
{
    struct pingpong *pp = arg;
    int me = sp_shard_id();
    for (long i = 0; i < pp->rounds; i++) {
        while (atomic_load(&pp->turn) % 2 != me) {
            if (sp_task_park() < 0) {
                return -1;
            }
        }
        atomic_fetch_add(&pp->turn, 1);
        sp_task_unpark(pp->task[!me]);
    }
    return 0;
}

static void
ping_pong(void)
{
    struct pingpong pp = {.rounds = 100000};
    sp_task_attr_t attr[2];
    for (int i = 0; i < 2; i++) {
        sp_task_attr_init(&attr[i]);
        attr[i].place = SP_PLACE_ON;
        attr[i].shard = i;
    }
    uint64_t t0 = sp_now_ns();
    sp_task_spawn(&pp.task[0], &attr[0], player, &pp);
    sp_task_spawn(&pp.task[1], &attr[1], player, &pp);
    sp_task_join(pp.task[0], NULL);
    sp_task_join(pp.task[1], NULL);
    double ns = (double)(sp_now_ns() - t0) / (double)pp.rounds;
    printf("  cross-shard ping-pong (park/unpark): %6.0f ns per round trip\n", ns);
}

static _Atomic uint64_t worst_late, total_late, early;

/* Sleeps until its deadline; the deadlines all lie after every sleeper has
 * started, so lateness measures the timers, not the start-up queue. */
static intptr_t
sleeper(void *arg)
{
    uint64_t deadline = (uint64_t)(uintptr_t)arg;
    sp_sleep_until(deadline);
    uint64_t now = sp_now_ns();
    if (now < deadline) {
        atomic_fetch_add(&early, 1);
        return 0;
    }
    uint64_t late = now - deadline, w = atomic_load(&worst_late);
    atomic_fetch_add(&total_late, late);
    while (late > w && !atomic_compare_exchange_weak(&worst_late, &w, late)) {
    }
    return 0;
}

static void
timers(void)
{
    enum { N = 10000 };
    sp_task_t *h = malloc(sizeof(*h) * N);
    srand(42);
    uint64_t base = sp_now_ns() + 100 * SP_NSEC_PER_MSEC;
    for (int i = 0; i < N; i++) {
        uint64_t at = base + (uint64_t)(rand() % 20000) * 1000; /* +0..20 ms */
        sp_task_spawn(&h[i], NULL, sleeper, (void *)(uintptr_t)at);
    }
    for (int i = 0; i < N; i++) {
        sp_task_join(h[i], NULL);
    }
    free(h);
    printf("  10,000 tasks asleep, 0-20 ms apart:  %lu early, lateness mean %.1f us, "
           "worst %.1f us\n",
           (unsigned long)atomic_load(&early), (double)atomic_load(&total_late) / N / 1e3,
           (double)atomic_load(&worst_late) / 1e3);
}

static intptr_t
demo(void *arg)
{
    sp_runtime_t *rt = arg;
    printf("spindle demo: %d shards, %s backend\n\n", sp_shard_count(),
           sp_runtime_backend_name(rt));

    printf("1. skewed fan-out (64 requests x 16 tasks, one task 40x heavier)\n");
    uint64_t sum_pinned = 0, sum_steal = 0;
    int64_t pinned = fanout(0, &sum_pinned);
    int64_t steal = fanout(1, &sum_steal);
    printf("  pinned round-robin (thread-per-core): %7.2f ms\n", pinned / 1e6);
    printf("  stealable (work-stealing):            %7.2f ms  (%.2fx, checksums %s)\n\n",
           steal / 1e6, (double)pinned / (double)steal,
           sum_pinned == sum_steal ? "match" : "DIFFER");

    printf("2-4. scheduler, wakeups, timers\n");
    spawn_join();
    ping_pong();
    timers();
    return sum_pinned == sum_steal ? 0 : 1;
}

int
main(void)
{
    sp_config_t cfg;
    sp_config_init(&cfg);
    if (cfg.shards == 0) {
        cfg.shards = 2;
    }
    sp_runtime_t *rt;
    int err = sp_runtime_create(&rt, &cfg);
    if (err < 0) {
        fprintf(stderr, "demo: cannot create the runtime: %s\n", sp_strerror(err));
        return 1;
    }
    intptr_t result = 1;
    err = sp_runtime_block_on(rt, NULL, demo, rt, &result);
    printf("\n5. per-shard statistics\n");
    printf("  %-5s %10s %10s %8s %8s %8s %8s %8s\n", "shard", "spawned", "switches", "stolen",
           "parks", "wakes", "inbox", "timers");
    for (int i = 0; i < sp_runtime_shard_count(rt); i++) {
        sp_shard_stats_t s;
        sp_runtime_stats(rt, i, &s);
        printf("  %-5d %10lu %10lu %8lu %8lu %8lu %8lu %8lu\n", i, (unsigned long)s.spawned,
               (unsigned long)s.switches, (unsigned long)s.stolen, (unsigned long)s.parks,
               (unsigned long)s.wakes_sent, (unsigned long)s.messages,
               (unsigned long)s.timers_fired);
    }
    sp_runtime_destroy(rt);
    if (err < 0) {
        fprintf(stderr, "demo: %s\n", sp_strerror(err));
        return 1;
    }
    return (int)result;
}
