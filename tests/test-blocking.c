/* The blocking pool (include/spindle/blocking.h): where functions run, the
 * shard going on meanwhile, cancellation before and after a function
 * starts, the thread bound and its queue, idle threads exiting, blocking
 * sections (enter/leave), shutdown with work in the pool, misuse.
 *
 * Tasks and pool functions wait for each other's progress on counters
 * (events, never elapsed time). Pool functions block for real (usleep in
 * a loop on a counter), since blocking is what they are for. */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

long sp__blocking_call(long (*fn)(void *), void *arg); /* src/blocking/blocking.h */

/* On a pool thread: block (for real) until *v >= want. */
static void
block_until(atomic_int *v, int want)
{
    while (atomic_load(v) < want) {
        usleep(200);
    }
}

static int
is_shard_tid(pid_t tid)
{
    sp_runtime_t *rt = sp_runtime_current();
    for (int i = 0; i < sp_runtime_shard_count(rt); i++) {
        if (sp_runtime_shard_tid(rt, i) == tid) {
            return 1;
        }
    }
    return 0;
}

static sp_blocking_stats_t
stats_now(void)
{
    sp_blocking_stats_t s;
    memset(&s, 0xff, sizeof(s));
    EXPECT_OK(sp_blocking_stats(sp_runtime_current(), &s));
    return s;
}

/* Yield until the pool has at least `want` requests queued. */
static int
await_queued(unsigned want)
{
    while (stats_now().queued < want) {
        int err = sp_task_yield();
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static sp_config_t
pool_config(int shards, unsigned max_threads)
{
    sp_config_t cfg = test_config(shards);
    cfg.blocking_max_threads = max_threads;
    return cfg;
}

/* --- run: fn runs on a thread that is not a shard ------------------------ */

static intptr_t
report_tid(void *arg)
{
    (void)arg;
    return (intptr_t)test_gettid();
}

static intptr_t
off_shard_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++) {
        intptr_t tid = 0;
        ASSERT_OK(sp_blocking_run(report_tid, NULL, &tid));
        ASSERT_GT(tid, 0);
        ASSERT(!is_shard_tid((pid_t)tid));
        ASSERT_NE(tid, (intptr_t)test_gettid());
        ASSERT_GE(sp_shard_id(), 0); /* the caller is back on a shard */
    }
    sp_blocking_stats_t s = stats_now();
    ASSERT_U64_EQ(s.completed, 4);
    ASSERT_U64_GE(s.started, 1);
    ASSERT_EQ(s.queued, 0);
    return 0;
}

int
test_blocking_runs_off_shard(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, off_shard_main, NULL);
}

/* --- run: the shard runs other tasks while fn blocks --------------------- */

#define PROGRESS_TICKS 50

static atomic_int ticks;

static intptr_t
sleep_until_ticks(void *arg)
{
    (void)arg;
    block_until(&ticks, PROGRESS_TICKS); /* only the counter task moves it */
    return 7;
}

static intptr_t
ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < PROGRESS_TICKS; i++) {
        atomic_fetch_add(&ticks, 1);
        ASSERT_OK(sp_task_yield());
    }
    return 0;
}

static intptr_t
progress_main(void *arg)
{
    (void)arg;
    atomic_store(&ticks, 0);
    sp_task_t counter;
    ASSERT_OK(sp_task_spawn(&counter, NULL, ticker, NULL));
    /* One shard: fn returns only if that shard ran the counter task while
     * this task was parked in the call. */
    intptr_t r = 0;
    ASSERT_OK(sp_blocking_run(sleep_until_ticks, NULL, &r));
    ASSERT_EQ(r, 7);
    ASSERT_EQ(atomic_load(&ticks), PROGRESS_TICKS);
    ASSERT_OK(sp_task_join(counter, NULL));
    return 0;
}

int
test_blocking_shard_keeps_running(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, progress_main, NULL);
}

/* --- run: cancellation before and after fn starts ------------------------ */

static atomic_int gate;       /* pool functions block until it opens */
static atomic_int started_n;  /* functions that started */
static atomic_int finished_n; /* functions that returned */

static intptr_t
gated(void *arg)
{
    atomic_fetch_add(&started_n, 1);
    block_until(&gate, 1);
    atomic_fetch_add(&finished_n, 1);
    return (intptr_t)arg;
}

static long
gated_long(void *arg)
{
    return (long)gated(arg);
}

static intptr_t
never(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started_n, 100);
    return 0;
}

static void
reset_gate(void)
{
    atomic_store(&gate, 0);
    atomic_store(&started_n, 0);
    atomic_store(&finished_n, 0);
}

/* Runs gated(42) and checks what a cancellation after the start gives. */
static intptr_t
run_gated_task(void *arg)
{
    (void)arg;
    intptr_t r = -1;
    int err = sp_blocking_run(gated, (void *)42, &r);
    ASSERT_ERR(err, -ECANCELED);
    ASSERT_EQ(atomic_load(&finished_n), 1); /* it waited for fn */
    ASSERT_EQ(r, 42);                        /* and wrote the result */
    return 0;
}

static intptr_t
run_never_task(void *arg)
{
    (void)arg;
    intptr_t r = -1;
    ASSERT_ERR(sp_blocking_run(never, NULL, &r), -ECANCELED);
    ASSERT_EQ(r, -1); /* not written: fn never ran */
    return 0;
}

static intptr_t
call_gated_task(void *arg)
{
    (void)arg;
    /* The internal entry reports fn's value even when cancelled. */
    long v = sp__blocking_call(gated_long, (void *)43);
    ASSERT_EQ(v, 43);
    ASSERT_ERR(sp_task_yield(), -ECANCELED); /* the condition stays */
    return 0;
}

static intptr_t
cancel_main(void *arg)
{
    (void)arg;
    reset_gate();
    /* Cancelled before the call: nothing starts. */
    ASSERT_OK(sp_task_cancel(sp_task_self()));
    ASSERT_ERR(sp_blocking_run(never, NULL, NULL), -ECANCELED);
    ASSERT_ERR(sp_blocking_enter(), -ECANCELED);
    ASSERT_EQ(atomic_load(&started_n), 0);
    return 0;
}

static intptr_t
cancel_queued_main(void *arg)
{
    (void)arg;
    reset_gate();
    /* The only pool thread runs gated(); the second call queues. */
    sp_task_t running, queued;
    ASSERT_OK(sp_task_spawn(&running, NULL, run_gated_task, NULL));
    ASSERT_OK(test_await_at_least(&started_n, 1));
    ASSERT_OK(sp_task_spawn(&queued, NULL, run_never_task, NULL));
    ASSERT_OK(await_queued(1));
    ASSERT_OK(sp_task_cancel(queued));
    intptr_t r = -1;
    ASSERT_OK(sp_task_join(queued, &r));
    ASSERT_EQ(r, 0);
    ASSERT_EQ(stats_now().queued, 0);
    /* Cancel the running one: its call waits for fn. */
    ASSERT_OK(sp_task_cancel(running));
    ASSERT_OK(sp_task_yield());
    ASSERT_EQ(atomic_load(&finished_n), 0);
    atomic_store(&gate, 1);
    ASSERT_OK(sp_task_join(running, &r));
    ASSERT_EQ(r, 0);
    ASSERT_EQ(atomic_load(&started_n), 1); /* never() never ran */
    /* Same through the internal entry. */
    atomic_store(&gate, 0);
    sp_task_t c;
    ASSERT_OK(sp_task_spawn(&c, NULL, call_gated_task, NULL));
    ASSERT_OK(test_await_at_least(&started_n, 2));
    ASSERT_OK(sp_task_cancel(c));
    atomic_store(&gate, 1);
    ASSERT_OK(sp_task_join(c, &r));
    ASSERT_EQ(r, 0);
    return 0;
}

int
test_blocking_cancel_before_start(void)
{
    sp_config_t cfg = pool_config(1, 1);
    TEST_CHECK(test_run_main(&cfg, cancel_main, NULL));
    return test_run_main(&cfg, cancel_queued_main, NULL);
}

/* --- run: more calls than threads ---------------------------------------- */

#define BOUND_THREADS 3
#define BOUND_TASKS 24

static atomic_int inside_now, inside_max;

static intptr_t
count_inside(void *arg)
{
    int n = atomic_fetch_add(&inside_now, 1) + 1;
    int m = atomic_load(&inside_max);
    while (n > m && !atomic_compare_exchange_weak(&inside_max, &m, n)) {
    }
    usleep(500); /* hold the thread, so that others queue */
    atomic_fetch_sub(&inside_now, 1);
    return (intptr_t)arg * 3;
}

static intptr_t
bound_worker(void *arg)
{
    intptr_t r = 0;
    ASSERT_OK(sp_blocking_run(count_inside, arg, &r));
    ASSERT_EQ(r, (intptr_t)arg * 3);
    return 0;
}

static intptr_t
bound_main(void *arg)
{
    (void)arg;
    atomic_store(&inside_now, 0);
    atomic_store(&inside_max, 0);
    sp_task_t t[BOUND_TASKS];
    for (int i = 0; i < BOUND_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, bound_worker, (void *)(intptr_t)i));
    }
    for (int i = 0; i < BOUND_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    sp_blocking_stats_t s = stats_now();
    ASSERT_LE(atomic_load(&inside_max), BOUND_THREADS);
    ASSERT_LE(s.peak, BOUND_THREADS);
    ASSERT_GE(s.peak, 1);
    ASSERT_LE(s.threads, BOUND_THREADS);
    ASSERT_U64_EQ(s.completed, BOUND_TASKS);
    ASSERT_EQ(s.queued, 0);
    return 0;
}

int
test_blocking_queue_beyond_bound(void)
{
    sp_config_t cfg = pool_config(2, BOUND_THREADS);
    return test_run_main(&cfg, bound_main, NULL);
}

/* --- idle threads exit ----------------------------------------------------- */

static intptr_t
nothing(void *arg)
{
    return (intptr_t)arg;
}

/* Sleep-poll until the pool has no thread; bounded (~10 s), then fail. */
static int
await_no_threads(void)
{
    for (int i = 0; i < 10000; i++) {
        if (stats_now().threads == 0) {
            return 0;
        }
        ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC));
    }
    fprintf(stderr, "pool threads never exited: %u left\n", stats_now().threads);
    return 1;
}

static intptr_t
idle_main(void *arg)
{
    (void)arg;
    int threads0 = test_count_threads();
    ASSERT_OK(sp_blocking_run(nothing, NULL, NULL));
    ASSERT_OK(await_no_threads());
    /* The exited thread has been joined or will be by the next one out;
     * the next request starts a thread again. */
    sp_blocking_stats_t s = stats_now();
    ASSERT_U64_EQ(s.started, 1);
    ASSERT_OK(sp_blocking_run(nothing, NULL, NULL));
    ASSERT_OK(await_no_threads());
    s = stats_now();
    ASSERT_U64_EQ(s.started, 2);
    ASSERT_EQ(s.idle, 0);
    ASSERT_U64_EQ(s.completed, 2);
    /* At most one exited thread waits to be joined. */
    ASSERT_LE(test_settled_threads(threads0 + 1), threads0 + 1);
    return 0;
}

int
test_blocking_idle_threads_exit(void)
{
    sp_config_t cfg = test_config(1);
    cfg.blocking_idle_ns = SP_NSEC_PER_MSEC;
    return test_run_main(&cfg, idle_main, NULL);
}

/* --- sections: enter and leave --------------------------------------------- */

static int pipe_fds[2];
static atomic_int writer_go;

static intptr_t
pipe_writer(void *arg)
{
    (void)arg;
    ASSERT_OK(test_await_at_least(&writer_go, 1));
    ASSERT_EQ(write(pipe_fds[1], "x", 1), 1);
    return 0;
}

static intptr_t
inside_fn(void *arg)
{
    (void)arg;
    return (intptr_t)test_gettid();
}

/* The checks made inside a section; tids are the shard threads'. */
static int
inside_checks(const pid_t *tids, int n)
{
    pid_t tid = test_gettid();
    for (int i = 0; i < n; i++) {
        ASSERT_NE(tid, tids[i]);
    }
    ASSERT_EQ(sp_shard_id(), -1);
    ASSERT_PTR_EQ(sp_runtime_current(), NULL);
    ASSERT_ERR(sp_task_yield(), -EPERM);
    ASSERT_ERR(sp_sleep_ns(1000), -EPERM);
    ASSERT_ERR(sp_task_park(), -EPERM);
    ASSERT_ERR(sp_blocking_enter(), -EINVAL);
    intptr_t r = 0;
    ASSERT_OK(sp_blocking_run(inside_fn, NULL, &r)); /* runs right here */
    ASSERT_EQ(r, (intptr_t)tid);
    /* A blocking read: only the writer task on the shard can end it. */
    char c = 0;
    ASSERT_EQ(read(pipe_fds[0], &c, 1), 1);
    ASSERT_EQ(c, 'x');
    return 0;
}

static intptr_t
section_task(void *arg)
{
    int home = (int)(intptr_t)arg;
    pid_t tids[2];
    int n = sp_shard_count();
    for (int i = 0; i < n && i < 2; i++) {
        tids[i] = (pid_t)sp_runtime_shard_tid(sp_runtime_current(), i);
    }
    if (home >= 0) {
        ASSERT_EQ(sp_shard_id(), home);
    }
    ASSERT_OK(sp_blocking_enter());
    atomic_store(&writer_go, 1);
    int bad = inside_checks(tids, n < 2 ? n : 2);
    ASSERT_OK(sp_blocking_leave());
    ASSERT_EQ(bad, 0);
    ASSERT_GE(sp_shard_id(), 0);
    if (home >= 0) {
        ASSERT_EQ(sp_shard_id(), home); /* pinned: back home */
    }
    ASSERT(is_shard_tid(test_gettid()));
    ASSERT_ERR(sp_blocking_leave(), -EINVAL); /* not in a section now */
    ASSERT_OK(sp_task_yield());
    return 0;
}

static intptr_t
section_main(void *arg)
{
    (void)arg;
    for (int home = -1; home < 2; home++) {
        ASSERT_OK(pipe2(pipe_fds, O_CLOEXEC));
        atomic_store(&writer_go, 0);
        sp_task_attr_t a = test_attr(home < 0 ? SP_PLACE_STEALABLE : SP_PLACE_ON, home);
        sp_task_attr_t wa = test_attr(SP_PLACE_ON, home < 0 ? 0 : home);
        sp_task_t t, w;
        ASSERT_OK(sp_task_spawn(&w, &wa, pipe_writer, NULL));
        ASSERT_OK(sp_task_spawn(&t, &a, section_task, (void *)(intptr_t)home));
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t, &r));
        ASSERT_EQ(r, 0);
        ASSERT_OK(sp_task_join(w, &r));
        ASSERT_EQ(r, 0);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    ASSERT_U64_EQ(stats_now().completed, 3); /* three sections */
    return 0;
}

int
test_blocking_enter_leave(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, section_main, NULL);
}

/* --- sections: cancellation while waiting for a thread --------------------- */

static intptr_t
enter_queued_task(void *arg)
{
    (void)arg;
    ASSERT_ERR(sp_blocking_enter(), -ECANCELED);
    ASSERT_GE(sp_shard_id(), 0); /* still on a shard, not in a section */
    ASSERT_ERR(sp_blocking_leave(), -EINVAL);
    return 0;
}

static intptr_t
enter_cancel_main(void *arg)
{
    (void)arg;
    reset_gate();
    sp_task_t running, queued;
    ASSERT_OK(sp_task_spawn(&running, NULL, run_gated_task, NULL));
    ASSERT_OK(test_await_at_least(&started_n, 1));
    ASSERT_OK(sp_task_spawn(&queued, NULL, enter_queued_task, NULL));
    ASSERT_OK(await_queued(1));
    ASSERT_OK(sp_task_cancel(queued));
    intptr_t r = -1;
    ASSERT_OK(sp_task_join(queued, &r));
    ASSERT_EQ(r, 0);
    ASSERT_EQ(stats_now().queued, 0);
    ASSERT_OK(sp_task_cancel(running));
    atomic_store(&gate, 1);
    ASSERT_OK(sp_task_join(running, &r));
    ASSERT_EQ(r, 0);
    return 0;
}

int
test_blocking_enter_cancel_queued(void)
{
    sp_config_t cfg = pool_config(1, 1);
    return test_run_main(&cfg, enter_cancel_main, NULL);
}

/* --- sections and calls under stale wakes, across shards ------------------- */

#define HAMMER_TASKS 8
#define HAMMER_ITERS SCALE(300)

static atomic_int hammer_done;
static atomic_long hammer_sections;

static intptr_t
hammer_task(void *arg)
{
    uint64_t rng = (uint64_t)(intptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < HAMMER_ITERS; i++) {
        if (test_rand(&rng) & 1) {
            ASSERT_OK(sp_blocking_enter());
            ASSERT_EQ(sp_shard_id(), -1);
            if ((test_rand(&rng) & 7) == 0) {
                usleep(50);
            }
            ASSERT_OK(sp_blocking_leave());
            ASSERT_GE(sp_shard_id(), 0);
            atomic_fetch_add(&hammer_sections, 1);
        } else {
            intptr_t r = 0;
            ASSERT_OK(sp_blocking_run(nothing, (void *)(intptr_t)i, &r));
            ASSERT_EQ(r, i);
        }
        if ((test_rand(&rng) & 3) == 0) {
            ASSERT_OK(sp_task_yield());
        }
    }
    atomic_fetch_add(&hammer_done, 1);
    return 0;
}

static intptr_t
hammer_main(void *arg)
{
    (void)arg;
    atomic_store(&hammer_done, 0);
    atomic_store(&hammer_sections, 0);
    sp_task_t t[HAMMER_TASKS];
    for (int i = 0; i < HAMMER_TASKS; i++) {
        sp_task_attr_t a = test_attr(i % 2 ? SP_PLACE_ON : SP_PLACE_STEALABLE, i % 2);
        ASSERT_OK(sp_task_spawn(&t[i], &a, hammer_task, (void *)(intptr_t)(i + 1)));
    }
    /* Stale wakes: unpark every worker again and again. A worker parked
     * in sp_blocking_enter then resumes on its shard and must withdraw
     * its request, or give it up to a pool thread that took it. */
    uint64_t rng = 12345;
    while (atomic_load(&hammer_done) < HAMMER_TASKS) {
        sp_task_unpark(t[test_rand(&rng) % HAMMER_TASKS]);
        ASSERT_OK(sp_task_yield());
    }
    for (int i = 0; i < HAMMER_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    sp_blocking_stats_t s = stats_now();
    ASSERT_U64_EQ(s.completed, (uint64_t)HAMMER_TASKS * HAMMER_ITERS);
    ASSERT_LE(s.peak, 2);
    ASSERT_EQ(s.queued, 0);
    return 0;
}

int
test_blocking_hammer_stale_wakes(void)
{
    sp_config_t cfg = pool_config(2, 2);
    return test_run_main(&cfg, hammer_main, NULL);
}

/* --- shutdown with calls queued and running, and a task in a section ------- */

#define SHUT_TASKS 8

static atomic_int shut_ran;

static intptr_t
shut_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&shut_ran, 1);
    atomic_fetch_add(&started_n, 1);
    usleep(20000); /* still running when destroy begins */
    return 0;
}

static intptr_t
shut_caller(void *arg)
{
    (void)arg;
    intptr_t r;
    int err = sp_blocking_run(shut_fn, NULL, &r);
    EXPECT(err == 0 || err == -ECANCELED);
    return 0;
}

static intptr_t
shut_section(void *arg)
{
    (void)arg;
    if (sp_blocking_enter() == 0) {
        atomic_fetch_add(&started_n, 1);
        usleep(20000);
        EXPECT(sp_blocking_leave() == 0 || sp_task_is_cancelled());
        EXPECT(sp_shard_id() >= 0);
    }
    return 0;
}

static intptr_t
shut_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < SHUT_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(NULL, NULL, i == 0 ? shut_section : shut_caller, NULL));
    }
    /* Two threads busy, the rest queued: return, and let destroy deal. */
    ASSERT_OK(test_await_at_least(&started_n, 2));
    ASSERT_OK(await_queued(1));
    return 0;
}

int
test_blocking_shutdown_with_work(void)
{
    reset_gate();
    atomic_store(&shut_ran, 0);
    int fds0 = test_count_fds();
    int threads0 = test_count_threads();
    sp_config_t cfg = pool_config(2, 2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r = -1;
    ASSERT_OK(sp_runtime_block_on(rt, NULL, shut_main, NULL, &r));
    ASSERT_EQ(r, 0);
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_LT(atomic_load(&shut_ran), SHUT_TASKS - 1); /* queued ones never ran */
    ASSERT_EQ(test_count_fds(), fds0);
    ASSERT_EQ(test_settled_threads(threads0), threads0);
    ASSERT_NO_FAILURES();
    return 0;
}

/* --- misuse ------------------------------------------------------------------ */

static intptr_t
misuse_main(void *arg)
{
    (void)arg;
    ASSERT_ERR(sp_blocking_run(NULL, NULL, NULL), -EINVAL);
    ASSERT_ERR(sp_blocking_leave(), -EINVAL);
    ASSERT_ERR(sp_blocking_stats(NULL, NULL), -EINVAL);
    sp_blocking_stats_t s;
    ASSERT_ERR(sp_blocking_stats(sp_runtime_current(), NULL), -EINVAL);
    ASSERT_OK(sp_blocking_stats(sp_runtime_current(), &s));
    ASSERT_EQ(s.threads, 0); /* nothing used the pool yet */
    ASSERT_U64_EQ(s.started, 0);
    return 0;
}

int
test_blocking_misuse(void)
{
    /* Outside any task. */
    ASSERT_ERR(sp_blocking_run(nothing, NULL, NULL), -EPERM);
    ASSERT_ERR(sp_blocking_enter(), -EPERM);
    ASSERT_ERR(sp_blocking_leave(), -EPERM);
    /* Configuration. */
    sp_runtime_t *rt;
    sp_config_t cfg = pool_config(1, 0);
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg = pool_config(1, 5000);
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    cfg = test_config(1);
    cfg.blocking_idle_ns = 7200 * SP_NSEC_PER_SEC;
    ASSERT_ERR(sp_runtime_create(&rt, &cfg), -EINVAL);
    setenv("SPINDLE_BLOCKING_THREADS", "0", 1);
    int err = sp_runtime_create(&rt, NULL);
    unsetenv("SPINDLE_BLOCKING_THREADS");
    ASSERT_ERR(err, -EINVAL);
    cfg = test_config(1);
    return test_run_main(&cfg, misuse_main, NULL);
}
