/* Task stacks (DESIGN.md layer 2, RELIABILITY.md B4.1): a million parked
 * tasks fit under vm.max_map_count, an overflow is reported with the task's
 * name, a large stack is usable, and absurd sizes are refused. */
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- a million parked tasks ------------------------------------------------ */

#define MANY SCALE_LIVE(1000000, 4000)
#define MAX_MAP_COUNT 65530

static atomic_long many_parked;
static atomic_long many_exited;

static intptr_t
parked_forever(void *arg)
{
    (void)arg;
    atomic_fetch_add(&many_parked, 1);
    while (sp_task_park() != -ECANCELED) {
    }
    atomic_fetch_add(&many_exited, 1);
    return 0;
}

static intptr_t
spawn_many(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        int r = sp_task_spawn(NULL, NULL, parked_forever, NULL);
        if (r != 0) {
            fprintf(stderr, "spawn %ld of %ld failed: %d %s\n", i, n, r, sp_err_name(r));
            return 1;
        }
    }
    return 0;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int
test_stack_million_parked(void)
{
    atomic_store(&many_parked, 0);
    atomic_store(&many_exited, 0);
    long rss0 = test_rss_kib();
    int maps0 = test_count_maps();
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));

    uint64_t t0 = test_clock_ns();
    intptr_t r = -1;
    int b = sp_runtime_block_on(rt, NULL, spawn_many, (void *)(intptr_t)MANY, &r);
    /* Wait for an event (every task has parked), not for time: a task that
     * never runs shows up as a watchdog timeout. */
    while (b == 0 && r == 0 && atomic_load(&many_parked) < MANY) {
        sleep_ms(1);
    }
    uint64_t t1 = test_clock_ns();
    long rss = test_rss_kib();
    int maps = test_count_maps();
    int d = sp_runtime_destroy(rt);
    uint64_t t2 = test_clock_ns();

    printf("%d tasks parked: RSS %ld MiB (+%ld MiB, %.1f KiB per task), "
           "maps %d (+%d); spawn+park %.2fs, destroy %.2fs\n",
           MANY, rss / 1024, (rss - rss0) / 1024, (double)(rss - rss0) / MANY, maps,
           maps - maps0, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9);
    ASSERT_OK(b);
    ASSERT_EQ(r, 0);
    ASSERT_OK(d);
    ASSERT_EQ(atomic_load(&many_parked), MANY);
    /* Destroy cancelled every task and waited for it to return. */
    ASSERT_EQ(atomic_load(&many_exited), MANY);
    ASSERT_GT(maps, 0);
    ASSERT_LT(maps, MAX_MAP_COUNT);
    return 0;
}

/* --- stack overflow is reported with the task's name ----------------------- */

static volatile int recursion_start;

__attribute__((noinline)) static int
recurse_forever(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[sizeof(frame) - 1] = (char)(depth >> 8);
    if (depth == -1) { /* never: keeps the compiler from calling it infinite */
        return 0;
    }
    return recurse_forever(depth + 1) + frame[depth & 511];
}

static intptr_t
deep_recursion(void *arg)
{
    (void)arg;
    return recurse_forever(recursion_start);
}

static void
overflow_child(void *arg)
{
    (void)arg;
    sp_config_t cfg = test_config(1);
    sp_runtime_t *rt;
    int r = sp_runtime_create(&rt, &cfg);
    if (r != 0) {
        fprintf(stderr, "overflow child: sp_runtime_create: %s\n", sp_err_name(r));
        _exit(TEST_SKIP);
    }
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.name = "deep-recursion";
    intptr_t res;
    r = sp_runtime_block_on(rt, &attr, deep_recursion, NULL, &res);
    fprintf(stderr, "overflow child: block_on returned %d, result %ld\n", r, (long)res);
    _exit(3);
}

int
test_stack_overflow_reported(void)
{
    static char out[16384];
    int status = 0;
    ASSERT_OK(test_run_child(overflow_child, NULL, out, sizeof(out), &status));
    printf("--- child output ---\n%s--- end ---\n", out);
    if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP) {
        printf("skip: runtime unavailable in the child\n");
        return TEST_SKIP;
    }
    printf("child: %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    ASSERT(WIFSIGNALED(status));
    ASSERT_EQ(WTERMSIG(status), SIGABRT);
    ASSERT_NOT_NULL(strstr(out, "stack overflow in task deep-recursion"));
    return 0;
}

/* --- a 1 MiB stack can use 512 KiB ----------------------------------------- */

#define BIG_FRAME (512 * 1024)

__attribute__((noinline)) static long
use_big_frame(int seed)
{
    volatile char big[BIG_FRAME];
    for (size_t i = 0; i < BIG_FRAME; i += 64) {
        big[i] = (char)(i + (size_t)seed);
    }
    big[BIG_FRAME - 1] = 1;
    long sum = 0;
    for (size_t i = 0; i < BIG_FRAME; i += 64) {
        sum += big[i];
    }
    return sum + big[BIG_FRAME - 1];
}

static long
expected_sum(int seed)
{
    long sum = 0;
    for (size_t i = 0; i < BIG_FRAME; i += 64) {
        sum += (char)(i + (size_t)seed);
    }
    return sum + 1;
}

static intptr_t
big_stack_task(void *arg)
{
    int seed = (int)(intptr_t)arg;
    long s = use_big_frame(seed);
    /* Use it again after a suspension (possibly on another shard). */
    if (sp_task_yield() != 0) {
        return -1;
    }
    return s == use_big_frame(seed) ? s : -2;
}

static intptr_t
big_stack_main(void *arg)
{
    (void)arg;
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.stack_size = 1024 * 1024;
    sp_task_t t[4];
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], &a, big_stack_task, (void *)(intptr_t)(i * 3)));
    }
    for (int i = 0; i < 4; i++) {
        intptr_t r = 0;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, expected_sum(i * 3));
    }
    return 0;
}

int
test_stack_large_usable(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, big_stack_main, NULL);
}

/* --- stack sizes out of range ---------------------------------------------- */

static atomic_int small_ran;

static intptr_t
tiny_task(void *arg)
{
    (void)arg;
    atomic_fetch_add(&small_ran, 1);
    return 21;
}

static intptr_t
bad_size_main(void *arg)
{
    (void)arg;
    static const size_t bad[] = {
        1, 4096, 16 * 1024 - 1, ((size_t)1 << 30) + 1, (size_t)1 << 40, SIZE_MAX,
    };
    sp_task_t t;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp_task_attr_t a;
        sp_task_attr_init(&a);
        a.stack_size = bad[i];
        int r = sp_task_spawn(&t, &a, tiny_task, NULL);
        if (r != -EINVAL) {
            fprintf(stderr, "stack_size %zu\n", bad[i]);
        }
        ASSERT_ERR(r, -EINVAL);
    }
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC));
    ASSERT_EQ(atomic_load(&small_ran), 0); /* a failed spawn never runs fn */

    /* The smallest allowed size works. */
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.stack_size = 16 * 1024;
    intptr_t r = 0;
    ASSERT_OK(sp_task_spawn(&t, &a, tiny_task, NULL));
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 21);
    ASSERT_EQ(atomic_load(&small_ran), 1);
    return 0;
}

int
test_stack_size_invalid_einval(void)
{
    atomic_store(&small_ran, 0);
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, bad_size_main, NULL);
}
