/* Time (include/spindle/time.h): sleeps never return early, timers fire in
 * deadline order, deadlines turn suspension points into -ETIMEDOUT and stay
 * until cleared, cancellation interrupts a sleep from another shard, and an
 * interval skips the ticks it missed.
 *
 * No test asserts that something happened quickly. "Never early" compares
 * against CLOCK_MONOTONIC read directly, so a runtime that arms timers from
 * a stale cached clock is caught too. */
#include "test.h"

/* --- sleep never returns early ------------------------------------------- */

static const uint64_t sleep_values[] = {
    0,
    1 * SP_NSEC_PER_USEC,
    10 * SP_NSEC_PER_USEC,
    100 * SP_NSEC_PER_USEC,
    1 * SP_NSEC_PER_MSEC,
    3 * SP_NSEC_PER_MSEC,
    20 * SP_NSEC_PER_MSEC,
};

#define NSLEEP ((int)(sizeof(sleep_values) / sizeof(sleep_values[0])))

static intptr_t
sleeper(void *arg)
{
    (void)arg;
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < NSLEEP; i++) {
            uint64_t ns = sleep_values[i];
            uint64_t t0 = test_clock_ns();
            ASSERT_OK(sp_sleep_ns(ns));
            uint64_t t1 = test_clock_ns();
            ASSERT_U64_GE(t1 - t0, ns);

            uint64_t until = sp_now_ns() + ns;
            ASSERT_OK(sp_sleep_until(until));
            ASSERT_U64_GE(sp_now_ns(), until);
            ASSERT_U64_GE(test_clock_ns(), until);
        }
    }
    /* A deadline in the past returns at once, successfully. */
    ASSERT_OK(sp_sleep_until(0));
    ASSERT_OK(sp_sleep_until(sp_now_ns() - SP_NSEC_PER_MSEC));
    return 0;
}

static intptr_t
sleep_main(void *arg)
{
    (void)arg;
    /* sp_now_ns is CLOCK_MONOTONIC: never behind a reading taken before. */
    uint64_t c = test_clock_ns();
    ASSERT_U64_GE(sp_now_ns(), c);

    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    sp_task_attr_t on0 = test_attr(SP_PLACE_ON, 0);
    sp_task_t t[3];
    ASSERT_OK(sp_task_spawn(&t[0], NULL, sleeper, NULL));
    ASSERT_OK(sp_task_spawn(&t[1], &on0, sleeper, NULL));
    ASSERT_OK(sp_task_spawn(&t[2], &on1, sleeper, NULL));
    for (int i = 0; i < 3; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    return 0;
}

int
test_time_sleep_never_early(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, sleep_main, NULL);
}

/* --- timers fire in deadline order ----------------------------------------- */

#define ORDER_N 24
#define ORDER_STEP (2 * SP_NSEC_PER_MSEC)

static uint64_t order_deadline[ORDER_N];
static uint64_t order_log[ORDER_N];
static uint64_t order_woke_at[ORDER_N];
static atomic_int order_pos;

static intptr_t
order_sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    int r = sp_sleep_until(order_deadline[i]);
    uint64_t now = test_clock_ns();
    int pos = atomic_fetch_add(&order_pos, 1);
    order_log[pos] = order_deadline[i];
    order_woke_at[pos] = now;
    return r;
}

static intptr_t
order_main(void *arg)
{
    (void)arg;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int perm[ORDER_N];
    for (int i = 0; i < ORDER_N; i++) {
        perm[i] = i;
    }
    for (int i = ORDER_N - 1; i > 0; i--) {
        int k = (int)(test_rand(&seed) % (uint64_t)(i + 1));
        int tmp = perm[i];
        perm[i] = perm[k];
        perm[k] = tmp;
    }
    /* Distinct absolute deadlines, 2 ms apart, far enough ahead that every
     * sleeper is armed before the first one is due, even under TSan. */
    uint64_t base = sp_now_ns() + 100 * SP_NSEC_PER_MSEC;
    for (int i = 0; i < ORDER_N; i++) {
        order_deadline[i] = base + (uint64_t)perm[i] * ORDER_STEP;
    }
    sp_task_attr_t local = test_attr(SP_PLACE_LOCAL, 0);
    sp_task_t t[ORDER_N];
    for (int i = 0; i < ORDER_N; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], &local, order_sleeper, (void *)(intptr_t)i));
    }
    int late_start = sp_now_ns() >= base;
    for (int i = 0; i < ORDER_N; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_EQ(atomic_load(&order_pos), ORDER_N);
    if (late_start) {
        printf("skip: spawning took longer than 100 ms; order not meaningful\n");
        return TEST_SKIP;
    }
    for (int i = 0; i < ORDER_N; i++) {
        ASSERT_U64_GE(order_woke_at[i], order_log[i]); /* never early */
        if (i > 0) {
            ASSERT_U64_GT(order_log[i], order_log[i - 1]);
        }
    }
    return 0;
}

int
test_time_timers_fire_in_order(void)
{
    atomic_store(&order_pos, 0);
    sp_config_t cfg = test_config(1);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r = -1;
    int b = sp_runtime_block_on(rt, NULL, order_main, NULL, &r);
    int d = sp_runtime_destroy(rt);
    ASSERT_OK(b);
    ASSERT_OK(d);
    if (r == TEST_SKIP) {
        return TEST_SKIP;
    }
    ASSERT_EQ(r, 0);
    return 0;
}

/* --- deadlines ------------------------------------------------------------- */

static intptr_t
deadline_park_main(void *arg)
{
    (void)arg;
    ASSERT_U64_EQ(sp_task_deadline(), SP_DEADLINE_NONE);
    uint64_t t0 = test_clock_ns();
    uint64_t dl = sp_now_ns() + 5 * SP_NSEC_PER_MSEC;
    ASSERT_U64_EQ(sp_task_set_deadline(dl), SP_DEADLINE_NONE);
    ASSERT_U64_EQ(sp_task_deadline(), dl);
    int r;
    while ((r = sp_task_park()) == 0) { /* spurious wakeups are allowed */
    }
    ASSERT_ERR(r, -ETIMEDOUT);
    ASSERT_U64_GE(test_clock_ns(), dl); /* the deadline did not fire early */
    ASSERT_U64_GE(test_clock_ns() - t0, 5 * SP_NSEC_PER_MSEC);
    /* Sticky: every later suspension point reports it too. */
    ASSERT_ERR(sp_task_yield(), -ETIMEDOUT);
    ASSERT_ERR(sp_task_yield(), -ETIMEDOUT);
    ASSERT_ERR(sp_sleep_ns(0), -ETIMEDOUT);
    ASSERT_ERR(sp_sleep_ns(SP_NSEC_PER_MSEC), -ETIMEDOUT);
    ASSERT_ERR(sp_task_park(), -ETIMEDOUT);
    ASSERT_U64_EQ(sp_task_deadline(), dl);
    /* Cleared: back to normal. */
    ASSERT_U64_EQ(sp_task_set_deadline(SP_DEADLINE_NONE), dl);
    ASSERT_U64_EQ(sp_task_deadline(), SP_DEADLINE_NONE);
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC));
    /* A deadline already in the past. */
    ASSERT_U64_EQ(sp_task_set_deadline(sp_now_ns() - 1), SP_DEADLINE_NONE);
    ASSERT_ERR(sp_task_yield(), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_OK(sp_task_yield());
    return 0;
}

int
test_time_deadline_park_sticky(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, deadline_park_main, NULL);
}

static intptr_t
long_child(void *arg)
{
    (void)arg;
    int r = sp_sleep_ns(60 * SP_NSEC_PER_SEC);
    return r == -ECANCELED ? 17 : 1000 + r;
}

static intptr_t
deadline_sleep_main(void *arg)
{
    (void)arg;
    /* The deadline comes before the end of the sleep. (If the sleep ran to
     * its end instead, the watchdog would fail the test.) */
    uint64_t dl = sp_now_ns() + 5 * SP_NSEC_PER_MSEC;
    sp_task_set_deadline(dl);
    ASSERT_ERR(sp_sleep_ns(60 * SP_NSEC_PER_SEC), -ETIMEDOUT);
    ASSERT_U64_GE(test_clock_ns(), dl);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    dl = sp_now_ns() + 5 * SP_NSEC_PER_MSEC;
    sp_task_set_deadline(dl);
    ASSERT_ERR(sp_sleep_until(sp_now_ns() + 60 * SP_NSEC_PER_SEC), -ETIMEDOUT);
    ASSERT_U64_GE(test_clock_ns(), dl);
    sp_task_set_deadline(SP_DEADLINE_NONE);

    /* A deadline later than the sleep does not disturb it. */
    sp_task_set_deadline(sp_now_ns() + 30 * SP_NSEC_PER_SEC);
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC));
    sp_task_set_deadline(SP_DEADLINE_NONE);

    /* Join is a suspension point too; the handle is not released. */
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, long_child, NULL));
    dl = sp_now_ns() + 5 * SP_NSEC_PER_MSEC;
    sp_task_set_deadline(dl);
    intptr_t r = 0;
    ASSERT_ERR(sp_task_join(t, &r), -ETIMEDOUT);
    ASSERT_U64_GE(test_clock_ns(), dl);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_OK(sp_task_cancel(t));
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 17);
    return 0;
}

int
test_time_deadline_before_sleep(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, deadline_sleep_main, NULL);
}

/* --- cancel a sleeping task from the other shard --------------------------- */

static atomic_int sleepers_started;

static intptr_t
cancellable_sleeper(void *arg)
{
    (void)arg;
    atomic_fetch_add(&sleepers_started, 1);
    int r = sp_sleep_ns(60 * SP_NSEC_PER_SEC);
    return r == -ECANCELED ? 17 : 1000 + r;
}

static intptr_t
cancel_sleep_main(void *arg)
{
    (void)arg;
    /* This task runs on shard 0; one sleeper is pinned to shard 1, one is
     * stealable (its timer lives where it armed it). */
    ASSERT_OK(sp_task_move_to(0));
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    sp_task_t t[2];
    ASSERT_OK(sp_task_spawn(&t[0], &on1, cancellable_sleeper, NULL));
    ASSERT_OK(sp_task_spawn(&t[1], NULL, cancellable_sleeper, NULL));
    while (atomic_load(&sleepers_started) < 2) {
        ASSERT_OK(sp_sleep_ns(100 * SP_NSEC_PER_USEC));
    }
    ASSERT_OK(sp_sleep_ns(2 * SP_NSEC_PER_MSEC)); /* let them reach the sleep */
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_task_cancel(t[i]));
    }
    for (int i = 0; i < 2; i++) {
        intptr_t r = 0;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 17);
    }
    return 0;
}

int
test_time_cancel_sleep_cross_shard(void)
{
    atomic_store(&sleepers_started, 0);
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, cancel_sleep_main, NULL);
}

/* --- intervals ----------------------------------------------------------- */

#ifdef SP_TEST_SANITIZED
#define PERIOD (40 * SP_NSEC_PER_MSEC)
#else
#define PERIOD (20 * SP_NSEC_PER_MSEC)
#endif

static intptr_t
interval_main(void *arg)
{
    (void)arg;
    sp_interval_t iv;
    ASSERT_ERR(sp_interval_init(&iv, 0), -EINVAL);
    ASSERT_ERR(sp_interval_init(NULL, PERIOD), -EINVAL);

    /* Tick k is due at init + k * PERIOD, and init >= start. */
    uint64_t start = test_clock_ns();
    ASSERT_OK(sp_interval_init(&iv, PERIOD));
    uint64_t ticks = 0;
    int normal = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t before = test_clock_ns();
        int n = sp_interval_tick(&iv);
        ASSERT_GE(n, 1);
        ticks += (uint64_t)n;
        /* Never early: tick `ticks` is not due before start + ticks * P. */
        ASSERT_U64_GE(test_clock_ns(), start + ticks * PERIOD);
        /* If the next boundary was still ahead when we called and the one
         * after it still ahead when the call returned, exactly one tick
         * elapsed. (A thread descheduled past a boundary may see more.) */
        if (before < start + (ticks - (uint64_t)n + 1) * PERIOD &&
            test_clock_ns() < start + (ticks - (uint64_t)n + 2) * PERIOD) {
            ASSERT_EQ(n, 1);
            normal++;
        }
    }
    ASSERT_GT(normal, 0);

    /* A stall of 3.5 periods without suspending: the next tick reports the
     * ticks that elapsed (missed ones skipped, not bunched). */
    test_spin_ns(PERIOD * 7 / 2);
    int n = sp_interval_tick(&iv);
    printf("after a 3.5-period stall: tick returned %d\n", n);
    ASSERT_GT(n, 1);
    ticks += (uint64_t)n;
    ASSERT_U64_GE(test_clock_ns(), start + ticks * PERIOD);
    /* Not bunched: the next call waits for a future boundary again. */
    uint64_t before = test_clock_ns();
    n = sp_interval_tick(&iv);
    ASSERT_GE(n, 1);
    ticks += (uint64_t)n;
    ASSERT_U64_GE(test_clock_ns(), start + ticks * PERIOD);
    if (before < start + (ticks - (uint64_t)n + 1) * PERIOD &&
        test_clock_ns() < start + (ticks - (uint64_t)n + 2) * PERIOD) {
        ASSERT_EQ(n, 1);
    }
    return 0;
}

int
test_time_interval_ticks(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, interval_main, NULL);
}

/* Cancellation and deadlines apply to interval ticks as well. */
static intptr_t
interval_errors_main(void *arg)
{
    (void)arg;
    sp_interval_t iv;
    ASSERT_OK(sp_interval_init(&iv, 60 * SP_NSEC_PER_SEC));
    uint64_t dl = sp_now_ns() + 2 * SP_NSEC_PER_MSEC;
    sp_task_set_deadline(dl);
    ASSERT_ERR(sp_interval_tick(&iv), -ETIMEDOUT);
    ASSERT_U64_GE(test_clock_ns(), dl);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    return 0;
}

int
test_time_interval_deadline(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, interval_errors_main, NULL);
}
