/* Locks and signals (include/spindle/sync.h): exclusion under contention
 * across shards, FIFO fairness, cancellation of waiters, misuse.
 *
 * Shared state lives in statics reset by each test's main task. Fixed
 * interleavings use one shard, where a task runs until it suspends. */
#include "test.h"

#include <pthread.h>
#include <sched.h>

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

/* --- semaphore: never more than N inside, across shards ------------------ */

#define SEM_PERMITS 3
#define SEM_TASKS 12
#define SEM_ITERS SCALE(5000)

static sp_sem_t sem;
static atomic_int sem_inside, sem_max_inside;
static atomic_long sem_done;

static intptr_t
sem_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < SEM_ITERS; i++) {
        ASSERT_OK(sp_sem_acquire(&sem));
        int in = atomic_fetch_add(&sem_inside, 1) + 1;
        int max = atomic_load(&sem_max_inside);
        while (in > max && !atomic_compare_exchange_weak(&sem_max_inside, &max, in)) {
        }
        if ((i & 15) == 0) {
            ASSERT_OK(sp_task_yield());
        }
        atomic_fetch_sub(&sem_inside, 1);
        atomic_fetch_add(&sem_done, 1);
        ASSERT_OK(sp_sem_release(&sem, 1));
    }
    return 0;
}

static intptr_t
sem_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_sem_init(&sem, SEM_PERMITS));
    atomic_store(&sem_inside, 0);
    atomic_store(&sem_max_inside, 0);
    atomic_store(&sem_done, 0);
    sp_task_t t[SEM_TASKS];
    for (int i = 0; i < SEM_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, sem_worker, NULL));
    }
    for (int i = 0; i < SEM_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_LE(atomic_load(&sem_max_inside), SEM_PERMITS);
    ASSERT_GE(atomic_load(&sem_max_inside), 1);
    ASSERT_EQ(atomic_load(&sem_done), (long)SEM_TASKS * SEM_ITERS);
    ASSERT_EQ(sp_sem_value(&sem), SEM_PERMITS);
    ASSERT_OK(sp_sem_destroy(&sem));
    return 0;
}

int
test_sync_sem_bounds_concurrency(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, sem_main, NULL);
}

/* --- semaphore: FIFO, release from a foreign thread, misuse ------------- */

static intptr_t
sem_fifo_waiter(void *arg)
{
    int r = sp_sem_acquire(&sem);
    if (r == 0) {
        fair_order[fair_n++] = (int)(intptr_t)arg;
    }
    return r;
}

static intptr_t
sem_fifo_main(void *arg)
{
    (void)arg;
    fair_n = 0;
    ASSERT_OK(sp_sem_init(&sem, 0));
    ASSERT_ERR(sp_sem_try_acquire(&sem), -EAGAIN);
    sp_task_t w[4];
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(sp_task_spawn(&w[i], NULL, sem_fifo_waiter, (void *)(intptr_t)(i + 1)));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_task_cancel(w[1])); /* the second leaves the line */
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(w[1], &r));
    ASSERT_ERR(r, -ECANCELED);
    ASSERT_OK(sp_sem_release(&sem, 2)); /* to waiters 1 and 3, in order */
    ASSERT_ERR(sp_sem_try_acquire(&sem), -EAGAIN); /* no barging past 4 */
    ASSERT_OK(sp_task_join(w[0], NULL));
    ASSERT_OK(sp_task_join(w[2], NULL));
    ASSERT_EQ(fair_n, 2);
    ASSERT_EQ(fair_order[0], 1);
    ASSERT_EQ(fair_order[1], 3);
    ASSERT_OK(sp_sem_release(&sem, 1));
    ASSERT_OK(sp_task_join(w[3], NULL));
    ASSERT_EQ(fair_order[2], 4);
    ASSERT_EQ(sp_sem_value(&sem), 0);
    ASSERT_ERR(sp_sem_release(&sem, SP_SEM_MAX + 1u), -EOVERFLOW);
    ASSERT_OK(sp_sem_release(&sem, SP_SEM_MAX));
    ASSERT_ERR(sp_sem_release(&sem, 1), -EOVERFLOW);
    ASSERT_EQ(sp_sem_value(&sem), (long)SP_SEM_MAX);
    ASSERT_OK(sp_sem_destroy(&sem));
    ASSERT_ERR(sp_sem_acquire(&sem), -EINVAL);
    ASSERT_ERR(sp_sem_release(&sem, 1), -EINVAL);
    ASSERT_ERR(sp_sem_init(&sem, SP_SEM_MAX + 1u), -EINVAL);
    sp_sem_t never = {{0}};
    ASSERT_ERR(sp_sem_acquire(&never), -EINVAL); /* needs sp_sem_init */
    return 0;
}

int
test_sync_sem_fifo_and_misuse(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, sem_fifo_main, NULL);
}

static intptr_t
sem_foreign_waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        ASSERT_OK(sp_sem_acquire(&sem));
    }
    return 0;
}

static void *
sem_release_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        if (sp_sem_release(&sem, 1) != 0) {
            atomic_fetch_add(&test_failures, 1);
        }
        if (i % 3 == 0) {
            sched_yield();
        }
    }
    return NULL;
}

int
test_sync_sem_release_from_foreign_thread(void)
{
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    int fds0 = test_count_fds();
    ASSERT_EQ(test_runtime_create(&rt, &cfg), TEST_PASS);
    ASSERT_OK(sp_sem_init(&sem, 0));
    /* The waiter runs in the runtime; another thread (not a shard)
     * releases permits one at a time, racing with its parks. */
    intptr_t result = -1;
    pthread_t th;
    ASSERT_OK(pthread_create(&th, NULL, sem_release_thread, NULL));
    ASSERT_OK(sp_runtime_block_on(rt, NULL, sem_foreign_waiter, NULL, &result));
    ASSERT_OK(pthread_join(th, NULL));
    ASSERT_EQ(result, 0);
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_EQ(sp_sem_value(&sem), 0);
    ASSERT_EQ(test_count_fds(), fds0);
    ASSERT_NO_FAILURES();
    return 0;
}

/* --- rwlock: readers share, writers exclude, across shards --------------- */

#define RW_TASKS 12
#define RW_ITERS SCALE(5000)

static sp_rwlock_t rw;
static atomic_int rw_readers, rw_writers, rw_max_readers;
static long rw_value; /* written under the write lock only */

static intptr_t
rw_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < RW_ITERS; i++) {
        if ((i + id) % 4 == 0) {
            ASSERT_OK(sp_rwlock_wrlock(&rw));
            ASSERT_EQ(atomic_fetch_add(&rw_writers, 1), 0);
            ASSERT_EQ(atomic_load(&rw_readers), 0);
            long v = rw_value;
            if ((i & 7) == 0) {
                ASSERT_OK(sp_task_yield());
            }
            rw_value = v + 1;
            atomic_fetch_sub(&rw_writers, 1);
            ASSERT_OK(sp_rwlock_wrunlock(&rw));
        } else {
            ASSERT_OK(sp_rwlock_rdlock(&rw));
            int n = atomic_fetch_add(&rw_readers, 1) + 1;
            int max = atomic_load(&rw_max_readers);
            while (n > max && !atomic_compare_exchange_weak(&rw_max_readers, &max, n)) {
            }
            ASSERT_EQ(atomic_load(&rw_writers), 0);
            if ((i & 3) == 0) {
                ASSERT_OK(sp_task_yield());
            }
            atomic_fetch_sub(&rw_readers, 1);
            ASSERT_OK(sp_rwlock_rdunlock(&rw));
        }
    }
    return 0;
}

static intptr_t
rw_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_rwlock_init(&rw));
    rw_value = 0;
    atomic_store(&rw_max_readers, 0);
    sp_task_t t[RW_TASKS];
    for (int i = 0; i < RW_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, rw_worker, (void *)(intptr_t)i));
    }
    for (int i = 0; i < RW_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_EQ(rw_value, (long)RW_TASKS * RW_ITERS / 4);
    ASSERT_GE(atomic_load(&rw_max_readers), 2); /* readers did share */
    ASSERT_OK(sp_rwlock_destroy(&rw));
    return 0;
}

int
test_sync_rwlock_shared_exclusive(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, rw_main, NULL);
}

/* --- rwlock: a waiting writer is not overtaken; cancelling it admits the
 * readers behind it ------------------------------------------------------ */

static intptr_t
rw_writer_task(void *arg)
{
    (void)arg;
    int r = sp_rwlock_wrlock(&rw);
    if (r == 0) {
        fair_order[fair_n++] = 9;
        r = sp_rwlock_wrunlock(&rw);
    }
    return r;
}

static intptr_t
rw_reader_task(void *arg)
{
    int r = sp_rwlock_rdlock(&rw);
    if (r == 0) {
        fair_order[fair_n++] = (int)(intptr_t)arg;
        r = sp_rwlock_rdunlock(&rw);
    }
    return r;
}

static intptr_t
rw_fair_main(void *arg)
{
    (void)arg;
    fair_n = 0;
    ASSERT_OK(sp_rwlock_init(&rw));
    ASSERT_OK(sp_rwlock_rdlock(&rw));
    sp_task_t w, r1, r2;
    ASSERT_OK(sp_task_spawn(&w, NULL, rw_writer_task, NULL));
    ASSERT_OK(sp_task_yield()); /* the writer queues behind our read lock */
    ASSERT_ERR(sp_rwlock_tryrdlock(&rw), -EAGAIN); /* no overtaking it */
    ASSERT_ERR(sp_rwlock_trywrlock(&rw), -EAGAIN);
    ASSERT_OK(sp_task_spawn(&r1, NULL, rw_reader_task, (void *)(intptr_t)1));
    ASSERT_OK(sp_task_spawn(&r2, NULL, rw_reader_task, (void *)(intptr_t)2));
    ASSERT_OK(sp_task_yield());
    ASSERT_EQ(fair_n, 0);
    /* Cancel the writer: the readers behind it go in at once. */
    ASSERT_OK(sp_task_cancel(w));
    intptr_t res = 0;
    ASSERT_OK(sp_task_join(w, &res));
    ASSERT_ERR(res, -ECANCELED);
    ASSERT_OK(sp_task_join(r1, NULL));
    ASSERT_OK(sp_task_join(r2, NULL));
    ASSERT_EQ(fair_n, 2);
    ASSERT_OK(sp_rwlock_rdunlock(&rw));
    ASSERT_ERR(sp_rwlock_rdunlock(&rw), -EPERM);
    ASSERT_ERR(sp_rwlock_wrunlock(&rw), -EPERM);
    ASSERT_OK(sp_rwlock_wrlock(&rw));
    ASSERT_ERR(sp_rwlock_rdlock(&rw), -EDEADLK);
    ASSERT_ERR(sp_rwlock_destroy(&rw), -EBUSY);
    ASSERT_OK(sp_rwlock_wrunlock(&rw));
    ASSERT_OK(sp_rwlock_destroy(&rw));
    ASSERT_ERR(sp_rwlock_rdlock(&rw), -EINVAL);
    return 0;
}

int
test_sync_rwlock_writer_fair(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, rw_fair_main, NULL);
}

/* --- notify and event ---------------------------------------------------- */

static sp_notify_t nt;
static sp_event_t ev;
static atomic_int woke;

static intptr_t
notify_waiter(void *arg)
{
    (void)arg;
    int r = sp_notify_wait(&nt);
    if (r == 0) {
        atomic_fetch_add(&woke, 1);
    }
    return r;
}

static intptr_t
event_waiter(void *arg)
{
    (void)arg;
    int r = sp_event_wait(&ev);
    if (r == 0) {
        atomic_fetch_add(&woke, 1);
    }
    return r;
}

static intptr_t
notify_event_main(void *arg)
{
    (void)arg;
    atomic_store(&woke, 0);
    ASSERT_OK(sp_notify_init(&nt));
    /* A notify with nobody waiting leaves one permit, not two. */
    ASSERT_OK(sp_notify_one(&nt));
    ASSERT_OK(sp_notify_one(&nt));
    ASSERT_OK(sp_notify_try_wait(&nt));
    ASSERT_ERR(sp_notify_try_wait(&nt), -EAGAIN);
    sp_task_t t[6];
    for (int i = 0; i < 6; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, notify_waiter, NULL));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_notify_one(&nt));
    ASSERT_OK(sp_task_join(t[0], NULL)); /* the first in line */
    ASSERT_EQ(atomic_load(&woke), 1);
    ASSERT_EQ(sp_notify_all(&nt), 5);
    for (int i = 1; i < 6; i++) {
        ASSERT_OK(sp_task_join(t[i], NULL));
    }
    ASSERT_EQ(atomic_load(&woke), 6);
    ASSERT_ERR(sp_notify_try_wait(&nt), -EAGAIN); /* notify_all left no permit */
    ASSERT_OK(sp_notify_destroy(&nt));

    ASSERT_OK(sp_event_init(&ev));
    ASSERT_EQ(sp_event_is_set(&ev), 0);
    for (int i = 0; i < 6; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, event_waiter, NULL));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_ERR(sp_event_destroy(&ev), -EBUSY);
    ASSERT_OK(sp_event_set(&ev));
    for (int i = 0; i < 6; i++) {
        ASSERT_OK(sp_task_join(t[i], NULL));
    }
    ASSERT_EQ(atomic_load(&woke), 12);
    ASSERT_OK(sp_event_wait(&ev)); /* set: passes at once */
    ASSERT_OK(sp_event_reset(&ev));
    ASSERT_OK(sp_task_spawn(&t[0], NULL, event_waiter, NULL));
    sp_task_set_deadline(sp_now_ns() + SP_NSEC_PER_MSEC);
    ASSERT_ERR(sp_event_wait(&ev), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_OK(sp_event_set(&ev));
    ASSERT_OK(sp_task_join(t[0], NULL));
    ASSERT_OK(sp_event_destroy(&ev));
    ASSERT_ERR(sp_event_set(&ev), -EINVAL);
    ASSERT_ERR(sp_notify_one(&nt), -EINVAL);
    return 0;
}

int
test_sync_notify_event(void)
{
    sp_config_t cfg = test_config(1); /* counts who is parked: one shard */
    return test_run_main(&cfg, notify_event_main, NULL);
}

/* --- condition variable: a bounded queue across shards ------------------ */

#define CV_ITEMS SCALE(20000)
#define CV_CAP 4

static sp_cond_t cv_not_empty, cv_not_full;
static int cv_buf[CV_CAP];
static int cv_head, cv_len;
static long cv_sum;

static intptr_t
cv_producer(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < CV_ITEMS; i++) {
        ASSERT_OK(sp_mutex_lock(&mx));
        while (cv_len == CV_CAP) {
            ASSERT_OK(sp_cond_wait(&cv_not_full, &mx));
        }
        cv_buf[(cv_head + cv_len++) % CV_CAP] = base + i;
        ASSERT_OK(sp_cond_signal(&cv_not_empty));
        ASSERT_OK(sp_mutex_unlock(&mx));
    }
    return 0;
}

static intptr_t
cv_consumer(void *arg)
{
    (void)arg;
    for (int i = 0; i < CV_ITEMS; i++) {
        ASSERT_OK(sp_mutex_lock(&mx));
        while (cv_len == 0) {
            ASSERT_OK(sp_cond_wait(&cv_not_empty, &mx));
        }
        cv_sum += cv_buf[cv_head];
        cv_head = (cv_head + 1) % CV_CAP;
        cv_len--;
        ASSERT_OK(sp_cond_signal(&cv_not_full));
        ASSERT_OK(sp_mutex_unlock(&mx));
    }
    return 0;
}

static intptr_t
cv_cancelled_waiter(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_mutex_lock(&mx));
    cv_len = -1; /* "in the wait": seen by whoever takes the mutex next */
    int r = sp_cond_wait(&cv_not_empty, &mx);
    /* Whatever the wait returned, the mutex is ours again. */
    ASSERT_ERR(sp_mutex_trylock(&mx), -EDEADLK);
    ASSERT_OK(sp_mutex_unlock(&mx));
    return r;
}

static intptr_t
cv_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_mutex_init(&mx));
    ASSERT_OK(sp_cond_init(&cv_not_empty));
    ASSERT_OK(sp_cond_init(&cv_not_full));
    cv_head = cv_len = 0;
    cv_sum = 0;
    sp_task_t p[2], c[2];
    for (int i = 0; i < 2; i++) {
        sp_task_attr_t a;
        sp_task_attr_init(&a);
        a.place = SP_PLACE_ON;
        a.shard = i;
        ASSERT_OK(sp_task_spawn(&p[i], &a, cv_producer, (void *)(intptr_t)(i * CV_ITEMS)));
        a.shard = 1 - i;
        ASSERT_OK(sp_task_spawn(&c[i], &a, cv_consumer, NULL));
    }
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_task_join(p[i], NULL));
        ASSERT_OK(sp_task_join(c[i], NULL));
    }
    long n = 2L * CV_ITEMS;
    ASSERT_EQ(cv_sum, n * (n - 1) / 2);
    /* Cancelled while waiting: -ECANCELED, with the mutex held again even
     * though another task held it when the cancel came. */
    sp_task_t w;
    ASSERT_OK(sp_task_spawn(&w, NULL, cv_cancelled_waiter, NULL));
    for (;;) {
        ASSERT_OK(sp_mutex_lock(&mx));
        if (cv_len == -1) {
            break; /* it released the mutex inside sp_cond_wait */
        }
        ASSERT_OK(sp_mutex_unlock(&mx));
        ASSERT_OK(sp_task_yield());
    }
    ASSERT_OK(sp_task_cancel(w));
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC));
    ASSERT_OK(sp_mutex_unlock(&mx));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(w, &r));
    ASSERT_ERR(r, -ECANCELED);
    ASSERT_ERR(sp_cond_wait(&cv_not_empty, &mx), -EPERM); /* mutex not held */
    ASSERT_OK(sp_cond_destroy(&cv_not_empty));
    ASSERT_OK(sp_cond_destroy(&cv_not_full));
    ASSERT_ERR(sp_cond_signal(&cv_not_full), -EINVAL);
    ASSERT_OK(sp_mutex_destroy(&mx));
    return 0;
}

int
test_sync_cond_bounded_queue(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, cv_main, NULL);
}

/* --- wait group, barrier, once ------------------------------------------ */

#define WG_TASKS 100
#define BAR_TASKS 8
#define BAR_ROUNDS SCALE(2000)

static sp_waitgroup_t wg;
static sp_barrier_t bar;
static sp_once_t once = SP_ONCE_INIT;
static atomic_int once_runs, bar_leaders[BAR_ROUNDS], bar_phase[BAR_TASKS];
static int once_value;

static intptr_t
wg_worker(void *arg)
{
    (void)arg;
    sp_task_yield();
    atomic_fetch_add(&woke, 1);
    return sp_waitgroup_done(&wg);
}

static void
once_fn(void *arg)
{
    atomic_fetch_add(&once_runs, 1);
    sp_task_yield(); /* others arrive while it runs */
    once_value = (int)(intptr_t)arg;
}

static intptr_t
bar_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    ASSERT_OK(sp_once(&once, once_fn, (void *)(intptr_t)42));
    ASSERT_EQ(once_value, 42);
    for (int round = 0; round < BAR_ROUNDS; round++) {
        atomic_store(&bar_phase[id], round);
        int r = sp_barrier_wait(&bar);
        ASSERT_GE(r, 0);
        if (r == SP_BARRIER_LEADER) {
            atomic_fetch_add(&bar_leaders[round], 1);
        }
        /* Nobody can be a round behind once the barrier opened. */
        for (int j = 0; j < BAR_TASKS; j++) {
            ASSERT_GE(atomic_load(&bar_phase[j]), round);
        }
    }
    return 0;
}

static intptr_t
bar_leaver(void *arg)
{
    (void)arg;
    return sp_barrier_wait(&bar);
}

static intptr_t
wg_bar_main(void *arg)
{
    (void)arg;
    atomic_store(&woke, 0);
    ASSERT_OK(sp_waitgroup_init(&wg));
    ASSERT_OK(sp_waitgroup_wait(&wg)); /* zero: passes */
    ASSERT_OK(sp_waitgroup_add(&wg, WG_TASKS));
    for (int i = 0; i < WG_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(NULL, NULL, wg_worker, NULL));
    }
    ASSERT_OK(sp_waitgroup_wait(&wg));
    ASSERT_EQ(atomic_load(&woke), WG_TASKS);
    ASSERT_ERR(sp_waitgroup_done(&wg), -EINVAL); /* below zero */
    ASSERT_OK(sp_waitgroup_destroy(&wg));

    ASSERT_ERR(sp_barrier_init(&bar, 0), -EINVAL);
    ASSERT_OK(sp_barrier_init(&bar, BAR_TASKS));
    /* A task that leaves a round (cancelled) no longer counts. */
    sp_task_t l;
    ASSERT_OK(sp_task_spawn(&l, NULL, bar_leaver, NULL));
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC));
    ASSERT_OK(sp_task_cancel(l));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(l, &r));
    ASSERT_ERR(r, -ECANCELED);
    sp_task_t t[BAR_TASKS];
    for (int i = 0; i < BAR_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, bar_worker, (void *)(intptr_t)i));
    }
    for (int i = 0; i < BAR_TASKS; i++) {
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    for (int round = 0; round < BAR_ROUNDS; round++) {
        ASSERT_EQ(atomic_load(&bar_leaders[round]), 1);
    }
    ASSERT_EQ(atomic_load(&once_runs), 1);
    ASSERT_OK(sp_barrier_destroy(&bar));
    ASSERT_ERR(sp_barrier_wait(&bar), -EINVAL);
    ASSERT_ERR(sp_once(NULL, once_fn, NULL), -EINVAL);
    return 0;
}

int
test_sync_waitgroup_barrier_once(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, wg_bar_main, NULL);
}

/* --- hammer: no wakeup is lost between shards ---------------------------- */

/* Two tasks pinned on different shards pass a token back and forth through
 * two semaphores, with random delays (now and then long enough for the
 * other shard to fall asleep in the kernel). A lost wakeup hangs the test;
 * the runner's watchdog turns that into a failure. */
#define HAMMER_ROUNDS SCALE(200000)

static sp_sem_t ham_sem[2];
static long ham_did[2];

static intptr_t
ham_player(void *arg)
{
    int me = (int)(intptr_t)arg;
    ASSERT_EQ(sp_shard_id(), me);
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(me + 1);
    for (long i = 0; i < HAMMER_ROUNDS; i++) {
        ASSERT_OK(sp_sem_acquire(&ham_sem[me]));
        uint64_t x = test_rand(&seed);
        if ((x & 1023) == 0) {
            test_spin_ns(100 * SP_NSEC_PER_USEC);
        } else {
            test_spin_ns((x >> 10) % 3 * SP_NSEC_PER_USEC);
        }
        ham_did[me]++;
        ASSERT_OK(sp_sem_release(&ham_sem[1 - me], 1));
    }
    return 0;
}

/* Many tasks on both shards take one mutex with random deadlines; those
 * whose deadline passes must leave the queue cleanly: exclusion holds, the
 * rest all get through, and nothing hangs. */
#define STORM_TASKS 32
#define STORM_ITERS SCALE(2000)

static atomic_long storm_timeouts;

static intptr_t
storm_worker(void *arg)
{
    uint64_t seed = 0x2545f4914f6cdd1dull + (uint64_t)(intptr_t)arg;
    for (int i = 0; i < STORM_ITERS; i++) {
        uint64_t x = test_rand(&seed);
        if (x & 1) {
            sp_task_set_deadline(sp_now_ns() + (x >> 1) % (20 * SP_NSEC_PER_USEC));
        }
        int r = sp_mutex_lock(&mx);
        sp_task_set_deadline(SP_DEADLINE_NONE);
        if (r == -ETIMEDOUT) {
            atomic_fetch_add(&storm_timeouts, 1);
            continue;
        }
        ASSERT_OK(r);
        ASSERT_EQ(++mx_inside, 1);
        mx_counter++;
        if ((x & 6) == 0) {
            test_spin_ns(1000);
        }
        mx_inside--;
        ASSERT_OK(sp_mutex_unlock(&mx));
    }
    return 0;
}

static intptr_t
hammer_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_sem_init(&ham_sem[0], 1));
    ASSERT_OK(sp_sem_init(&ham_sem[1], 0));
    sp_task_t p[2];
    for (int i = 0; i < 2; i++) {
        sp_task_attr_t a;
        sp_task_attr_init(&a);
        a.place = SP_PLACE_ON;
        a.shard = i;
        ASSERT_OK(sp_task_spawn(&p[i], &a, ham_player, (void *)(intptr_t)i));
    }
    for (int i = 0; i < 2; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(p[i], &r));
        ASSERT_EQ(r, 0);
        ASSERT_EQ(ham_did[i], HAMMER_ROUNDS);
    }
    ASSERT_EQ(sp_sem_value(&ham_sem[0]), 1);
    ASSERT_EQ(sp_sem_value(&ham_sem[1]), 0);

    ASSERT_OK(sp_mutex_init(&mx));
    mx_counter = 0;
    mx_inside = 0;
    sp_task_t t[STORM_TASKS];
    for (int i = 0; i < STORM_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, storm_worker, (void *)(intptr_t)i));
    }
    for (int i = 0; i < STORM_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    long total = (long)STORM_TASKS * STORM_ITERS;
    printf("mutex storm: %ld of %ld locks timed out while queued\n", atomic_load(&storm_timeouts), total);
    ASSERT_EQ(mx_counter + atomic_load(&storm_timeouts), total);
    /* Exclusion held and the mutex is free again. */
    ASSERT_OK(sp_mutex_trylock(&mx));
    ASSERT_OK(sp_mutex_unlock(&mx));
    ASSERT_OK(sp_mutex_destroy(&mx));
    return 0;
}

int
test_sync_hammer_cross_shard(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, hammer_main, NULL);
}
