/* Locks and signals (include/spindle/sync.h): exclusion under contention
 * across shards, FIFO fairness, cancellation of waiters, misuse.
 *
 * Shared state lives in statics reset by each test's main task. Fixed
 * interleavings use one shard, where a task runs until it suspends. */
#include "test.h"

/* --- mutex: exclusion across shards -------------------------------------- */

#define MX_TASKS 16
#define MX_ITERS SCALE(20000)

static sp_mutex_t mx;
static long mx_counter;     /* guarded by mx; plain on purpose */
static int mx_inside;       /* tasks inside the critical section */

static intptr_t
mx_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < MX_ITERS; i++) {
        ASSERT_OK(sp_mutex_lock(&mx));
        ASSERT_EQ(++mx_inside, 1);
        long v = mx_counter;
        if ((i & 63) == 0) {
            /* Suspend while holding it: others must queue, not enter. */
            ASSERT_OK(sp_task_yield());
        }
        mx_counter = v + 1;
        mx_inside--;
        ASSERT_OK(sp_mutex_unlock(&mx));
        if ((i & 7) == 0) {
            sp_task_yield();
        }
    }
    return 0;
}

static intptr_t
mx_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_mutex_init(&mx));
    mx_counter = 0;
    mx_inside = 0;
    sp_task_t t[MX_TASKS];
    for (int i = 0; i < MX_TASKS; i++) {
        sp_task_attr_t a;
        sp_task_attr_init(&a);
        /* Half pinned to each shard, half stealable. */
        if (i % 2) {
            a.place = SP_PLACE_ON;
            a.shard = i % sp_shard_count();
        }
        ASSERT_OK(sp_task_spawn(&t[i], &a, mx_worker, NULL));
    }
    for (int i = 0; i < MX_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_EQ(mx_counter, (long)MX_TASKS * MX_ITERS);
    ASSERT_OK(sp_mutex_destroy(&mx));
    return 0;
}

int
test_sync_mutex_exclusion(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, mx_main, NULL);
}

/* --- mutex: a waiter is served before a later arrival -------------------- */

static int fair_order[8];
static int fair_n;

static intptr_t
fair_waiter(void *arg)
{
    ASSERT_OK(sp_mutex_lock(&mx));
    fair_order[fair_n++] = (int)(intptr_t)arg;
    ASSERT_OK(sp_mutex_unlock(&mx));
    return 0;
}

static intptr_t
fair_main(void *arg)
{
    (void)arg;
    fair_n = 0;
    ASSERT_OK(sp_mutex_init(&mx));
    ASSERT_OK(sp_mutex_lock(&mx));
    /* One shard: each waiter runs until it parks on the mutex, in order. */
    sp_task_t w[3];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_spawn(&w[i], NULL, fair_waiter, (void *)(intptr_t)(i + 1)));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_task_yield());
    /* The unlock hands the mutex to waiter 1. Relocking at once must not
     * overtake the three queued waiters: the main task queues fourth. */
    ASSERT_OK(sp_mutex_unlock(&mx));
    ASSERT_ERR(sp_mutex_trylock(&mx), -EAGAIN);
    ASSERT_OK(sp_mutex_lock(&mx));
    fair_order[fair_n++] = 4;
    ASSERT_OK(sp_mutex_unlock(&mx));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_join(w[i], NULL));
    }
    ASSERT_EQ(fair_n, 4);
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(fair_order[i], i + 1);
    }
    ASSERT_OK(sp_mutex_destroy(&mx));
    return 0;
}

int
test_sync_mutex_fifo_handoff(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, fair_main, NULL);
}

/* --- mutex: cancelling a waiter leaves the queue intact ----------------- */

static intptr_t
cancel_waiter(void *arg)
{
    (void)arg;
    return sp_mutex_lock(&mx);
}

static intptr_t
mx_cancel_main(void *arg)
{
    (void)arg;
    fair_n = 0;
    ASSERT_OK(sp_mutex_init(&mx));
    ASSERT_OK(sp_mutex_lock(&mx));
    sp_task_t a, b, c;
    ASSERT_OK(sp_task_spawn(&a, NULL, fair_waiter, (void *)(intptr_t)1));
    ASSERT_OK(sp_task_spawn(&b, NULL, cancel_waiter, NULL));
    ASSERT_OK(sp_task_spawn(&c, NULL, fair_waiter, (void *)(intptr_t)3));
    ASSERT_OK(sp_task_yield());
    /* b is parked in the middle of the queue. */
    ASSERT_OK(sp_task_cancel(b));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(b, &r));
    ASSERT_ERR(r, -ECANCELED);
    ASSERT_OK(sp_mutex_unlock(&mx));
    ASSERT_OK(sp_task_join(a, NULL));
    ASSERT_OK(sp_task_join(c, NULL));
    ASSERT_EQ(fair_n, 2);
    ASSERT_EQ(fair_order[0], 1);
    ASSERT_EQ(fair_order[1], 3);
    /* A deadline that passes while waiting: -ETIMEDOUT, mutex not taken. */
    ASSERT_OK(sp_mutex_lock(&mx));
    ASSERT_OK(sp_task_spawn(&b, NULL, cancel_waiter, NULL));
    sp_task_set_deadline(sp_now_ns() + 2 * SP_NSEC_PER_MSEC);
    ASSERT_ERR(sp_task_join(b, &r), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_OK(sp_task_cancel(b));
    ASSERT_OK(sp_task_join(b, &r));
    ASSERT_ERR(r, -ECANCELED);
    ASSERT_OK(sp_mutex_unlock(&mx));
    ASSERT_OK(sp_mutex_destroy(&mx));
    return 0;
}

int
test_sync_mutex_cancel_waiter(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, mx_cancel_main, NULL);
}

/* --- mutex: misuse ------------------------------------------------------- */

static intptr_t
other_unlocks(void *arg)
{
    (void)arg;
    return sp_mutex_unlock(&mx);
}

static intptr_t
mx_misuse_main(void *arg)
{
    (void)arg;
    sp_mutex_t zero = SP_MUTEX_INIT;
    ASSERT_OK(sp_mutex_lock(&zero)); /* statically initialised: usable */
    ASSERT_ERR(sp_mutex_lock(&zero), -EDEADLK);
    ASSERT_ERR(sp_mutex_trylock(&zero), -EDEADLK);
    ASSERT_ERR(sp_mutex_destroy(&zero), -EBUSY);
    ASSERT_OK(sp_mutex_unlock(&zero));
    ASSERT_ERR(sp_mutex_unlock(&zero), -EPERM); /* not held */
    ASSERT_OK(sp_mutex_destroy(&zero));
    ASSERT_ERR(sp_mutex_lock(&zero), -EINVAL); /* destroyed */
    ASSERT_ERR(sp_mutex_unlock(&zero), -EINVAL);
    ASSERT_ERR(sp_mutex_init(NULL), -EINVAL);
    ASSERT_ERR(sp_mutex_lock(NULL), -EINVAL);
    /* Unlocking a mutex another task holds. */
    ASSERT_OK(sp_mutex_init(&mx));
    ASSERT_OK(sp_mutex_lock(&mx));
    sp_task_t t;
    intptr_t r = 0;
    ASSERT_OK(sp_task_spawn(&t, NULL, other_unlocks, NULL));
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_ERR(r, -EPERM);
    ASSERT_OK(sp_mutex_unlock(&mx));
    ASSERT_OK(sp_mutex_destroy(&mx));
    return 0;
}

int
test_sync_mutex_misuse(void)
{
    sp_config_t cfg = test_config(2);
    ASSERT_ERR(sp_mutex_lock(&mx), -EPERM); /* outside a task */
    return test_run_main(&cfg, mx_misuse_main, NULL);
}
