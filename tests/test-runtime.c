/* The runtime (include/spindle/runtime.h): shutdown frees everything,
 * sp_run, configuration and environment overrides, errors for calls made
 * from the wrong place, error names and statistics. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int
uring_forced(void)
{
    const char *b = getenv("SPINDLE_BACKEND");
    return b != NULL && strcmp(b, "uring") == 0;
}

/* --- shutdown with tasks still alive frees everything -------------------- */

#define SHUT_N SCALE_LIVE(10000, 200)

static atomic_long shut_started;
static atomic_long shut_exited;
static sp_task_t shut_handles[SHUT_N]; /* never joined nor detached */

static intptr_t
shut_task(void *arg)
{
    int kind = (int)(intptr_t)arg;
    atomic_fetch_add(&shut_started, 1);
    switch (kind) {
    case 0:
    case 3:
        while (sp_task_park() != -ECANCELED) {
        }
        break;
    case 1:
        while (sp_sleep_ns(60 * SP_NSEC_PER_SEC) != -ECANCELED) {
        }
        break;
    case 2:
        while (sp_task_yield() != -ECANCELED) {
            sp_sleep_ns(SP_NSEC_PER_MSEC);
        }
        break;
    }
    atomic_fetch_add(&shut_exited, 1);
    return kind;
}

static intptr_t
shut_spawner(void *arg)
{
    (void)arg;
    for (int i = 0; i < SHUT_N; i++) {
        int kind = i % 4;
        sp_task_attr_t a = test_attr(i % 3 == 0 ? SP_PLACE_ON : SP_PLACE_STEALABLE, i % 2);
        /* Kind 3 keeps a handle that nobody ever releases. */
        ASSERT_OK(sp_task_spawn(kind == 3 ? &shut_handles[i] : NULL, &a, shut_task,
                                (void *)(intptr_t)kind));
    }
    return 0;
}

/* One runtime lifetime with SHUT_N tasks alive at destroy. */
static int
shutdown_cycle(void)
{
    atomic_store(&shut_started, 0);
    atomic_store(&shut_exited, 0);
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r = -1;
    int b = sp_runtime_block_on(rt, NULL, shut_spawner, NULL, &r);
    while (b == 0 && r == 0 && atomic_load(&shut_started) < SHUT_N) {
        sleep_ms(1);
    }
    int d = sp_runtime_destroy(rt);
    ASSERT_OK(b);
    ASSERT_EQ(r, 0);
    ASSERT_OK(d);
    ASSERT_EQ(atomic_load(&shut_started), SHUT_N);
    ASSERT_EQ(atomic_load(&shut_exited), SHUT_N);
    return 0;
}

int
test_runtime_shutdown_frees_everything(void)
{
    /* A first lifetime warms up what the C library keeps after threads exit
     * (cached thread stacks, malloc arenas), so the second one must come
     * back to exactly the same fds and mappings. */
    TEST_CHECK(shutdown_cycle());
    int fds0 = test_count_fds();
    int maps0 = test_count_maps();
    TEST_CHECK(shutdown_cycle());
    int fds1 = test_count_fds();
    int maps1 = test_count_maps();
    printf("fds %d -> %d, maps %d -> %d\n", fds0, fds1, maps0, maps1);
    ASSERT_GT(fds0, 0);
    ASSERT_EQ(fds1, fds0);
#if defined(TEST_TSAN)
    /* ThreadSanitizer keeps per-fiber mappings after __tsan_destroy_fiber
     * (dead thread contexts are quarantined, then reused): mappings say
     * nothing here. The fd count above and the release build still do. */
    (void)maps0;
    (void)maps1;
#elif defined(SP_TEST_SANITIZED)
    /* The sanitizer's allocator maps a new region now and then as its size
     * classes fill; a leaked stack or ring would still show here (SHUT_N of
     * them), and LeakSanitizer reports leaked heap memory at exit. */
    ASSERT_LE(maps1, maps0 + 4);
#else
    ASSERT_EQ(maps1, maps0);
#endif
    return 0;
}

static intptr_t
quick_main(void *arg)
{
    return (intptr_t)arg + 1;
}

int
test_runtime_create_destroy_cycles(void)
{
    int fds0 = -1;
    for (int i = 0; i < 20; i++) {
        sp_config_t cfg = test_config(1 + i % 2);
        sp_runtime_t *rt;
        TEST_CHECK(test_runtime_create(&rt, &cfg));
        intptr_t r = -1;
        int b = sp_runtime_block_on(rt, NULL, quick_main, (void *)(intptr_t)i, &r);
        ASSERT_OK(sp_runtime_destroy(rt));
        ASSERT_OK(b);
        ASSERT_EQ(r, i + 1);
        if (i == 1) {
            fds0 = test_count_fds();
        } else if (i > 1) {
            ASSERT_EQ(test_count_fds(), fds0);
        }
    }
    return 0;
}

/* --- sp_run ---------------------------------------------------------------- */

static atomic_int run_calls;

static intptr_t
echo_main(void *arg)
{
    atomic_fetch_add(&run_calls, 1);
    if (sp_runtime_current() == NULL || sp_task_self().bits == 0) {
        return -99999;
    }
    return (intptr_t)arg;
}

int
test_runtime_run_returns_main_result(void)
{
    atomic_store(&run_calls, 0);
    sp_config_t cfg = test_config(2);
    intptr_t r = sp_run(&cfg, echo_main, (void *)(intptr_t)12345);
    if ((r == -ENOSYS || r == -EPERM) && uring_forced()) {
        printf("skip: io_uring unavailable\n");
        return TEST_SKIP;
    }
    ASSERT_EQ(r, 12345);
    ASSERT_EQ(sp_run(&cfg, echo_main, (void *)(intptr_t)-7), -7);
    ASSERT_EQ(sp_run(NULL, echo_main, (void *)((intptr_t)1 << 40)), (intptr_t)1 << 40);
    ASSERT_EQ(atomic_load(&run_calls), 3);
    /* A runtime that cannot be created never runs fn. */
    cfg.shards = -1;
    ASSERT_ERR(sp_run(&cfg, echo_main, NULL), -EINVAL);
    ASSERT_EQ(atomic_load(&run_calls), 3);
    return 0;
}

/* --- configuration ------------------------------------------------------- */

int
test_runtime_bad_config_einval(void)
{
    sp_runtime_t *rt = NULL;
    sp_config_t cfg;

    cfg = test_config(-1);
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg = test_config(2);
    cfg.stack_size = 1;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg.stack_size = 16 * 1024 - 1;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg.stack_size = ((size_t)1 << 30) + 1;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg = test_config(2);
    cfg.ring_entries = 3;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg.ring_entries = 1;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg.ring_entries = 65536;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg.ring_entries = 1000;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);

    /* The edges of the documented ranges are accepted. */
    cfg = test_config(2);
    cfg.ring_entries = 2;
    cfg.stack_size = 16 * 1024;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    int n = sp_runtime_shard_count(rt);
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_EQ(n, 2);
    /* NULL config: defaults. */
    TEST_CHECK(test_runtime_create(&rt, NULL));
    n = sp_runtime_shard_count(rt);
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_GE(n, 1);
    return 0;
}

static intptr_t
shard_count_main(void *arg)
{
    return sp_shard_count() * 100 + (arg == NULL ? 0 : 1);
}

int
test_runtime_env_shards_override(void)
{
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    setenv("SPINDLE_SHARDS", "1", 1);
    int c = test_runtime_create(&rt, &cfg);
    unsetenv("SPINDLE_SHARDS");
    TEST_CHECK(c);
    intptr_t r = -1;
    int n = sp_runtime_shard_count(rt);
    int b = sp_runtime_block_on(rt, NULL, shard_count_main, NULL, &r);
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_OK(b);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(r, 100);

    /* Without the variable, cfg.shards counts again. */
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    n = sp_runtime_shard_count(rt);
    b = sp_runtime_block_on(rt, NULL, shard_count_main, NULL, &r);
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_OK(b);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(r, 200);
    return 0;
}

int
test_runtime_env_backend(void)
{
    const char *env = getenv("SPINDLE_BACKEND");
    sp_config_t cfg = test_config(1);
    sp_runtime_t *rt;
    if (env == NULL) {
        cfg.backend = SP_BACKEND_EPOLL;
        TEST_CHECK(test_runtime_create(&rt, &cfg));
        const char *name = sp_runtime_backend_name(rt);
        int same = name != NULL && strcmp(name, "epoll") == 0;
        ASSERT_OK(sp_runtime_destroy(rt));
        ASSERT(same);
        return 0;
    }
    /* The environment wins over the config. */
    cfg.backend = strcmp(env, "epoll") == 0 ? SP_BACKEND_URING : SP_BACKEND_EPOLL;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    char name[16];
    snprintf(name, sizeof(name), "%s", sp_runtime_backend_name(rt));
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_STR_EQ(name, env);
    return 0;
}

/* --- calls from the wrong place -------------------------------------------- */

static atomic_int wrong_ran;

static intptr_t
wrong_fn(void *arg)
{
    (void)arg;
    atomic_store(&wrong_ran, 1);
    return 0;
}

static intptr_t
from_task_main(void *arg)
{
    (void)arg;
    sp_runtime_t *rt = sp_runtime_current();
    ASSERT_NOT_NULL(rt);
    intptr_t r = 0;
    /* A shard thread blocking on its own runtime would deadlock. */
    ASSERT_ERR(sp_runtime_block_on(rt, NULL, wrong_fn, NULL, &r), -EINVAL);
    ASSERT_ERR(sp_runtime_destroy(rt), -EINVAL);
    ASSERT_OK(sp_task_yield());
    return 0;
}

int
test_runtime_block_on_errors(void)
{
    atomic_store(&wrong_ran, 0);
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r = 0;
    int b1 = sp_runtime_block_on(rt, NULL, NULL, NULL, &r);
    intptr_t r2 = -1;
    int b2 = sp_runtime_block_on(rt, NULL, from_task_main, NULL, &r2);
    /* A bad attr fails the spawn: fn never runs. */
    sp_task_attr_t bad = test_attr(SP_PLACE_ON, 7);
    int b3 = sp_runtime_block_on(rt, &bad, wrong_fn, NULL, &r);
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_ERR(b1, -EINVAL);
    ASSERT_OK(b2);
    ASSERT_EQ(r2, 0);
    ASSERT_ERR(b3, -EINVAL);
    ASSERT_EQ(atomic_load(&wrong_ran), 0);
    ASSERT_ERR(sp_runtime_destroy(NULL), -EINVAL);
    return 0;
}

/* Everything that needs a task, called from a thread that is not one. */
static int
check_outside_task(void)
{
    sp_task_t t = {.bits = 0};
    ASSERT_ERR(sp_task_spawn(&t, NULL, wrong_fn, NULL), -EPERM);
    ASSERT_ERR(sp_task_spawn(NULL, NULL, wrong_fn, NULL), -EPERM);
    ASSERT_ERR(sp_task_yield(), -EPERM);
    ASSERT_ERR(sp_task_park(), -EPERM);
    ASSERT_ERR(sp_sleep_ns(1), -EPERM);
    ASSERT_ERR(sp_sleep_until(0), -EPERM);
    ASSERT_ERR(sp_task_pin(), -EPERM);
    ASSERT_ERR(sp_task_unpin(), -EPERM);
    ASSERT_ERR(sp_task_move_to(0), -EPERM);
    sp_interval_t iv;
    if (sp_interval_init(&iv, SP_NSEC_PER_MSEC) == 0) {
        ASSERT_ERR(sp_interval_tick(&iv), -EPERM);
    }
    ASSERT_U64_EQ(sp_task_set_deadline(sp_now_ns()), SP_DEADLINE_NONE);
    ASSERT_U64_EQ(sp_task_deadline(), SP_DEADLINE_NONE);
    ASSERT_U64_EQ(sp_task_self().bits, 0);
    ASSERT_U64_EQ(sp_task_id(), 0);
    ASSERT_STR_EQ(sp_task_name(), "");
    ASSERT_EQ(sp_task_is_cancelled(), 0);
    ASSERT_EQ(sp_shard_id(), -1);
    ASSERT_EQ(sp_shard_count(), 0);
    ASSERT_NULL(sp_runtime_current());
    return 0;
}

int
test_runtime_calls_outside_task(void)
{
    atomic_store(&wrong_ran, 0);
    /* No runtime at all. */
    TEST_CHECK(check_outside_task());
    /* A runtime exists, but this thread is not one of its shards. */
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    int r = check_outside_task();
    ASSERT_OK(sp_runtime_destroy(rt));
    TEST_CHECK(r);
    ASSERT_EQ(atomic_load(&wrong_ran), 0);
    return 0;
}

/* --- error names ------------------------------------------------------------ */

int
test_runtime_strerror_names(void)
{
    ASSERT_STR_EQ(sp_err_name(-ECANCELED), "ECANCELED");
    ASSERT_STR_EQ(sp_err_name(-ETIMEDOUT), "ETIMEDOUT");
    ASSERT_STR_EQ(sp_err_name(-EINVAL), "EINVAL");
    ASSERT_STR_EQ(sp_err_name(-ESRCH), "ESRCH");
    ASSERT_STR_EQ(sp_err_name(-EPERM), "EPERM");
    ASSERT_STR_EQ(sp_err_name(-EAGAIN), "EAGAIN");
    ASSERT_STR_EQ(sp_err_name(-ESHUTDOWN), "ESHUTDOWN");
    ASSERT_STR_EQ(sp_err_name(-ENOMEM), "ENOMEM");
    ASSERT_STR_EQ(sp_err_name(-987654), "UNKNOWN");

    const char *m = sp_strerror(-ECANCELED);
    ASSERT_NOT_NULL(m);
    ASSERT_GT(strlen(m), 0);
    ASSERT_STR_NE(m, sp_strerror(-ETIMEDOUT));
    ASSERT_STR_NE(m, sp_strerror(-987654));
    ASSERT_NOT_NULL(sp_strerror(0));
    ASSERT_NOT_NULL(sp_strerror(-987654));
    ASSERT_NOT_NULL(sp_strerror(987654));
    ASSERT_NOT_NULL(sp_err_name(0));
    return 0;
}

/* --- statistics and runtime information -------------------------------------- */

#define STATS_TASKS 100
#define STATS_YIELDS 10

static intptr_t
stats_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < STATS_YIELDS; i++) {
        if (sp_task_yield() != 0) {
            return 1;
        }
    }
    return 0;
}

static intptr_t
stats_main(void *arg)
{
    sp_runtime_t *rt = arg;
    ASSERT_PTR_EQ(sp_runtime_current(), rt);
    ASSERT_EQ(sp_shard_count(), 2);
    int s = sp_shard_id();
    ASSERT(s == 0 || s == 1);
    ASSERT_EQ(sp_runtime_shard_tid(rt, s), test_gettid());
    sp_task_t t[STATS_TASKS];
    for (int i = 0; i < STATS_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, stats_worker, NULL));
    }
    for (int i = 0; i < STATS_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC)); /* one timer, at least */
    return 0;
}

int
test_runtime_stats_and_info(void)
{
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r = -1;
    int b = sp_runtime_block_on(rt, NULL, stats_main, rt, &r);
    sp_shard_stats_t st[2];
    memset(st, 0, sizeof(st));
    int e0 = sp_runtime_stats(rt, 0, &st[0]);
    int e1 = sp_runtime_stats(rt, 1, &st[1]);
    int e2 = sp_runtime_stats(rt, 2, &st[0]);
    int e3 = sp_runtime_stats(rt, -1, &st[0]);
    int e4 = sp_runtime_stats(rt, 0, NULL);
    int tid0 = sp_runtime_shard_tid(rt, 0);
    int tid1 = sp_runtime_shard_tid(rt, 1);
    int tid2 = sp_runtime_shard_tid(rt, 2);
    int count = sp_runtime_shard_count(rt);
    char backend[16];
    snprintf(backend, sizeof(backend), "%s", sp_runtime_backend_name(rt));
    ASSERT_OK(sp_runtime_destroy(rt));

    ASSERT_OK(b);
    ASSERT_EQ(r, 0);
    ASSERT_OK(e0);
    ASSERT_OK(e1);
    ASSERT_ERR(e2, -EINVAL);
    ASSERT_ERR(e3, -EINVAL);
    ASSERT_ERR(e4, -EINVAL);
    ASSERT_GT(tid0, 0);
    ASSERT_GT(tid1, 0);
    ASSERT_NE(tid0, tid1);
    ASSERT_NE(tid0, test_gettid());
    ASSERT_ERR(tid2, -EINVAL);
    ASSERT_EQ(count, 2);
    ASSERT(strcmp(backend, "uring") == 0 || strcmp(backend, "epoll") == 0);
    for (int i = 0; i < 2; i++) {
        printf("shard %d: spawned %" PRIu64 " switches %" PRIu64 " stolen %" PRIu64
               " steal_attempts %" PRIu64 " parks %" PRIu64 " wakes_sent %" PRIu64
               " messages %" PRIu64 " timers_fired %" PRIu64 "\n",
               i, st[i].spawned, st[i].switches, st[i].stolen, st[i].steal_attempts,
               st[i].parks, st[i].wakes_sent, st[i].messages, st[i].timers_fired);
    }
    ASSERT_U64_GE(st[0].spawned + st[1].spawned, STATS_TASKS);
    ASSERT_U64_GE(st[0].switches + st[1].switches, STATS_TASKS * (STATS_YIELDS + 1));
    ASSERT_U64_GE(st[0].timers_fired + st[1].timers_fired, 1);
    return 0;
}

/* --- the stall detector (RELIABILITY.md B5.4) ------------------------------ */

#define STALL_LIMIT_MS 50

static intptr_t
blocking_sleeper(void *arg)
{
    (void)arg;
    usleep(6 * STALL_LIMIT_MS * 1000); /* blocks the whole shard */
    return 0;
}

static intptr_t
polite_sleeper(void *arg)
{
    (void)arg;
    /* As long, but through a suspension point: never reported. */
    return sp_sleep_ns(6 * STALL_LIMIT_MS * SP_NSEC_PER_MSEC);
}

static intptr_t
stall_main(void *arg)
{
    (void)arg;
    sp_task_attr_t a = test_attr(SP_PLACE_ON, 1);
    a.name = "stall-culprit";
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, &a, blocking_sleeper, NULL));
    ASSERT_OK(sp_task_join(t, NULL));
    a.shard = 0;
    a.name = "polite";
    ASSERT_OK(sp_task_spawn(&t, &a, polite_sleeper, NULL));
    intptr_t r = -1;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_OK(r);
    return 0;
}

int
test_runtime_stall_reported(void)
{
    char path[] = "/tmp/spindle-stall-XXXXXX";
    int log = mkstemp(path);
    ASSERT_GE(log, 0);
    unlink(path);
    int saved = dup(2);
    ASSERT_GE(saved, 0);
    fflush(stderr);
    ASSERT_GE(dup2(log, 2), 0);
    sp_config_t cfg = test_config(2);
    cfg.stall_ns = STALL_LIMIT_MS * SP_NSEC_PER_MSEC;
    sp_runtime_t *rt;
    int c = test_runtime_create(&rt, &cfg);
    intptr_t r = -1;
    int b = c == TEST_PASS ? sp_runtime_block_on(rt, NULL, stall_main, NULL, &r) : -1;
    sp_shard_stats_t st[2];
    memset(st, 0, sizeof(st));
    if (c == TEST_PASS) {
        sp_runtime_stats(rt, 0, &st[0]);
        sp_runtime_stats(rt, 1, &st[1]);
        sp_runtime_destroy(rt);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ASSERT_EQ(c, TEST_PASS);
    ASSERT_OK(b);
    ASSERT_OK(r);
    char text[4096] = {0};
    ASSERT_GT(pread(log, text, sizeof(text) - 1, 0), 0);
    close(log);
    fputs(text, stderr); /* shown if the test fails */
    /* One report, naming the shard and the task; none for the polite one. */
    ASSERT_NOT_NULL(strstr(text, "shard 1: task \"stall-culprit\" has run for"));
    ASSERT(strstr(text, "polite") == NULL);
    ASSERT_U64_EQ(st[1].stalls, 1);
    /* Bad input: more than an hour is rejected with a message. */
    cfg.stall_ns = 3601 * SP_NSEC_PER_SEC;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    return 0;
}
