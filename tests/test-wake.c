/* Wakeups across threads (DESIGN.md layer 4 "parking", RELIABILITY.md
 * B5.2): no wakeup is lost between shards, nor between a foreign thread and
 * the shards.
 *
 * A lost wakeup shows up as a hang. The hammer test has a watchdog task of
 * its own that notices when the token stops moving for seconds (it normally
 * moves every few microseconds), records a stall, prints who was waiting,
 * and kicks both players so the test can finish and report, instead of
 * dying in the runner's timeout with no diagnosis. */
#include "test.h"

#include <pthread.h>

/* --- a token passed between two shards ----------------------------------- */

/* Exchanges per phase: shards that sleep as soon as they are idle, then
 * shards that spin briefly first (on a VM whose two vCPUs do not really run
 * at once, every spin costs its whole budget, hence fewer exchanges). */
#define HAMMER_N_SLEEP SCALE(1000000)
#define HAMMER_N_SPIN SCALE(100000)
#ifdef SP_TEST_SANITIZED
#define STALL_NS (20 * SP_NSEC_PER_SEC)
#else
#define STALL_NS (3 * SP_NSEC_PER_SEC)
#endif

static long hammer_n;
static atomic_ulong hammer_count;
static atomic_ullong hammer_handle[2];
static atomic_int hammer_ready;
static atomic_int hammer_stalls;
static long hammer_did[2];
static long hammer_long_delays[2];

/* Player `me` (0 or 1), pinned on shard `me`, moves the count from an even
 * (player 0) or odd (player 1) value to the next, then wakes the other. */
static intptr_t
hammer_player(void *arg)
{
    int me = (int)(intptr_t)arg;
    ASSERT_EQ(sp_shard_id(), me);
    while (!atomic_load(&hammer_ready)) {
        ASSERT_OK(sp_task_yield());
    }
    sp_task_t other = {.bits = atomic_load(&hammer_handle[1 - me])};
    uint64_t seed = 0x2545f4914f6cdd1dull + (uint64_t)me;
    for (;;) {
        unsigned long c;
        while (((c = atomic_load(&hammer_count)) & 1) != (unsigned long)me) {
            int r = sp_task_park();
            if (r != 0) {
                fprintf(stderr, "player %d: park returned %d %s\n", me, r, sp_err_name(r));
                return 1;
            }
        }
        if (c >= (unsigned long)hammer_n) {
            /* Let the other player see the end too. Once it has, it may be
             * gone: unparking a finished task is allowed to say -ESRCH. */
            atomic_store(&hammer_count, c + 1);
            sp_task_unpark(other);
            break;
        }
        uint64_t x = test_rand(&seed);
        if ((x & 1023) == 0) {
            /* Long enough for the other shard to go to sleep in the kernel. */
            test_spin_ns(100 * SP_NSEC_PER_USEC);
            hammer_long_delays[me]++;
        } else {
            test_spin_ns((x >> 10) % 3 * SP_NSEC_PER_USEC);
        }
        hammer_did[me]++;
        atomic_store(&hammer_count, c + 1);
        ASSERT_OK(sp_task_unpark(other));
    }
    return 0;
}

static intptr_t
hammer_watchdog(void *arg)
{
    (void)arg;
    unsigned long last = atomic_load(&hammer_count);
    uint64_t since = sp_now_ns();
    while (sp_sleep_ns(100 * SP_NSEC_PER_MSEC) == 0) {
        unsigned long c = atomic_load(&hammer_count);
        if (c != last) {
            last = c;
            since = sp_now_ns();
            continue;
        }
        if (sp_now_ns() - since >= STALL_NS) {
            atomic_fetch_add(&hammer_stalls, 1);
            fprintf(stderr, "stall: count %lu unchanged for %.1fs; player %lu waits for a wakeup\n",
                    c, (double)(sp_now_ns() - since) / 1e9, c & 1);
            if (atomic_load(&hammer_stalls) >= 3) {
                /* Kicks do not help either: a shard sleeps through every
                 * wakeup. Nothing could shut this runtime down; end here
                 * rather than in the runner's timeout. */
                fprintf(stderr, "lost wakeup: no progress after 3 kicks; aborting\n");
                abort();
            }
            for (int i = 0; i < 2; i++) {
                sp_task_t t = {.bits = atomic_load(&hammer_handle[i])};
                sp_task_unpark(t);
            }
            since = sp_now_ns();
        }
    }
    return 0;
}

static intptr_t
hammer_main(void *arg)
{
    (void)arg;
    sp_task_t p[2], w;
    for (int i = 0; i < 2; i++) {
        sp_task_attr_t on = test_attr(SP_PLACE_ON, i);
        ASSERT_OK(sp_task_spawn(&p[i], &on, hammer_player, (void *)(intptr_t)i));
        atomic_store(&hammer_handle[i], p[i].bits);
    }
    atomic_store(&hammer_ready, 1);
    ASSERT_OK(sp_task_spawn(&w, NULL, hammer_watchdog, NULL));
    intptr_t r[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_task_join(p[i], &r[i]));
    }
    ASSERT_OK(sp_task_cancel(w));
    ASSERT_OK(sp_task_join(w, NULL));
    printf("hammer: %ld exchanges: count %lu, moves %ld + %ld, long delays %ld + %ld, "
           "stalls %d\n", hammer_n, atomic_load(&hammer_count), hammer_did[0],
           hammer_did[1], hammer_long_delays[0], hammer_long_delays[1],
           atomic_load(&hammer_stalls));
    for (int i = 0; i < 2; i++) {
        sp_shard_stats_t st;
        ASSERT_OK(sp_runtime_stats(sp_runtime_current(), i, &st));
        printf("shard %d: parks %" PRIu64 ", wakes sent %" PRIu64 ", messages %" PRIu64
               "\n", i, st.parks, st.wakes_sent, st.messages);
    }
    ASSERT_EQ(r[0], 0);
    ASSERT_EQ(r[1], 0);
    ASSERT_EQ(atomic_load(&hammer_stalls), 0);
    ASSERT_EQ(atomic_load(&hammer_count), hammer_n + 2);
    ASSERT_EQ(hammer_did[0] + hammer_did[1], hammer_n);
    ASSERT_EQ(hammer_did[0], hammer_n / 2);
    return 0;
}

static int
hammer_phase(long n, uint64_t spin_ns)
{
    hammer_n = n;
    atomic_store(&hammer_count, 0);
    atomic_store(&hammer_ready, 0);
    atomic_store(&hammer_stalls, 0);
    memset(hammer_did, 0, sizeof(hammer_did));
    memset(hammer_long_delays, 0, sizeof(hammer_long_delays));
    sp_config_t cfg = test_config(2);
    cfg.spin_ns = spin_ns;
    printf("phase: spin_ns %" PRIu64 "\n", spin_ns);
    return test_run_main(&cfg, hammer_main, NULL);
}

int
test_wake_hammer_cross_shard(void)
{
    /* Every idle moment is a sleep in the kernel: each exchange runs the
     * whole park/doorbell handshake. */
    TEST_CHECK(hammer_phase(HAMMER_N_SLEEP, 0));
    /* A short spin: the short delays are mostly caught while spinning, the
     * long ones (100 us) by a sleeping shard. */
    TEST_CHECK(hammer_phase(HAMMER_N_SPIN, 10 * SP_NSEC_PER_USEC));
    return 0;
}

/* --- foreign threads calling sp_runtime_block_on ------------------------- */

/* arg packs: bits 0-3 the placement asked for (0 stealable, 1 on shard 0,
 * 2 on shard 1, 3 pinned), bits 4-7 the calling thread, the rest a counter.
 * The task checks it runs where it was put and returns a function of arg. */
static intptr_t
compute(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    unsigned place = (unsigned)(v & 15);
    if (place == 1 || place == 2) {
        if (sp_shard_id() != (int)place - 1) {
            return -1;
        }
    }
    if ((v >> 8) % 7 == 0 && sp_task_yield() != 0) {
        return -2;
    }
    return (intptr_t)(v * 3 + 1);
}

struct foreign {
    sp_runtime_t *rt;
    int index;
    long calls;
    long bad_status;
    long bad_result;
};

static void *
foreign_thread(void *p)
{
    struct foreign *f = p;
    for (long i = 0; i < f->calls; i++) {
        unsigned place = (unsigned)(i % 4);
        sp_task_attr_t attr = test_attr(
            place == 0 ? SP_PLACE_STEALABLE : place == 3 ? SP_PLACE_PINNED : SP_PLACE_ON,
            place == 1 || place == 2 ? (int)place - 1 : 0);
        uintptr_t arg = ((uintptr_t)i << 8) | ((uintptr_t)f->index << 4) | place;
        intptr_t result = 0;
        int r = sp_runtime_block_on(f->rt, place == 0 && (i & 4) ? NULL : &attr, compute,
                                    (void *)arg, &result);
        if (r != 0) {
            if (f->bad_status++ < 5) {
                fprintf(stderr, "thread %d call %ld: block_on returned %d %s\n", f->index, i,
                        r, sp_err_name(r));
            }
        } else if (result != (intptr_t)(arg * 3 + 1)) {
            if (f->bad_result++ < 5) {
                fprintf(stderr, "thread %d call %ld (place %u): result %ld, expected %ld\n",
                        f->index, i, place, (long)result, (long)(arg * 3 + 1));
            }
        }
    }
    return NULL;
}

static atomic_int background_stop;
static atomic_int background_running;

/* Keeps the shards busy but mostly asleep, so the foreign threads get CPU. */
static intptr_t
background(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull + (uint64_t)(intptr_t)arg;
    atomic_fetch_add(&background_running, 1);
    while (!atomic_load(&background_stop)) {
        uint64_t ns = 100 * SP_NSEC_PER_USEC + test_rand(&seed) % (500 * SP_NSEC_PER_USEC);
        if (sp_sleep_ns(ns) != 0) {
            break;
        }
        for (int i = 0; i < 3; i++) {
            sp_task_yield();
        }
    }
    atomic_fetch_add(&background_running, -1);
    return 0;
}

static intptr_t
start_background(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        ASSERT_OK(sp_task_spawn(NULL, NULL, background, (void *)(intptr_t)i));
    }
    return 0;
}

static int
run_foreign(int nthreads, long calls_each, int nbackground)
{
    atomic_store(&background_stop, 0);
    atomic_store(&background_running, 0);
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r = -1;
    int b = sp_runtime_block_on(rt, NULL, start_background, (void *)(intptr_t)nbackground,
                                &r);
    struct foreign f[4];
    pthread_t th[4];
    int started = 0;
    for (int i = 0; i < nthreads && b == 0; i++) {
        f[i] = (struct foreign){.rt = rt, .index = i, .calls = calls_each};
        if (pthread_create(&th[i], NULL, foreign_thread, &f[i]) != 0) {
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    atomic_store(&background_stop, 1);
    int d = sp_runtime_destroy(rt);
    ASSERT_OK(b);
    ASSERT_EQ(r, 0);
    ASSERT_EQ(started, nthreads);
    ASSERT_OK(d);
    ASSERT_EQ(atomic_load(&background_running), 0);
    for (int i = 0; i < nthreads; i++) {
        printf("thread %d: %ld calls, %ld bad status, %ld bad results\n", i, f[i].calls,
               f[i].bad_status, f[i].bad_result);
        ASSERT_EQ(f[i].bad_status, 0);
        ASSERT_EQ(f[i].bad_result, 0);
    }
    return 0;
}

int
test_wake_foreign_block_on(void)
{
    return run_foreign(1, SCALE(100000), 4);
}

int
test_wake_two_foreign_threads(void)
{
    /* No background tasks: the shards sleep between calls, so every call
     * has to wake one from a foreign thread. */
    return run_foreign(2, SCALE(50000), 0);
}
