/* Thread-local state across migration (DESIGN.md hazard 1, RELIABILITY.md
 * B4.2). Built twice into the runner, at -O2 (-DVARIANT=O2) and at -O3
 * (-DVARIANT=O3), which defines test_tls_migrate_O2 and test_tls_migrate_O3.
 *
 * A stealable task on two shards with cfg.force_migrate changes thread at
 * every yield. After each yield it checks that what spindle says about where
 * it runs (sp_shard_id, sp_runtime_shard_tid) matches the thread it really
 * runs on (gettid through a function the compiler cannot inline), that a
 * __thread variable read through an opaque accessor holds the value that
 * the new thread stored, and that errno written and read back through
 * opaque helpers (without a suspension in between) round-trips. A library
 * that caches a thread pointer, a __thread address or &errno across its own
 * context switch fails here. */
#include "test.h"

#include <pthread.h>

#ifndef VARIANT
#define VARIANT O2
#endif
#define TLS_CAT_(a, b) a##b
#define TLS_CAT(a, b) TLS_CAT_(a, b)
#define TLS_TEST_FN TLS_CAT(test_tls_migrate_, VARIANT)
#define TLS_STR_(x) #x
#define TLS_STR(x) TLS_STR_(x)

#define OPAQUE TEST_OPAQUE

static __thread pid_t tls_slot;

static OPAQUE void
tls_store(pid_t v)
{
    tls_slot = v;
}

static OPAQUE pid_t
tls_load(void)
{
    return tls_slot;
}

static OPAQUE void *
tls_address(void)
{
    return &tls_slot;
}

static OPAQUE void
errno_store(int v)
{
    errno = v;
}

static OPAQUE int
errno_load(void)
{
    return errno;
}

static OPAQUE void *
errno_address(void)
{
    return &errno;
}

#define TLS_ITERS SCALE(100000)

struct shard_seen {
    pid_t tid;
    void *tls_addr;
    void *errno_addr;
};

static struct shard_seen seen[2];
static atomic_int pinned_done;

/* Runs pinned on shard arg: records what that shard's thread looks like and
 * stores its tid in the thread's slot, so every shard thread holds its own
 * tid before the migrating task starts. */
static intptr_t
record_shard(void *arg)
{
    int s = (int)(intptr_t)arg;
    ASSERT_EQ(sp_shard_id(), s);
    seen[s].tid = test_gettid();
    seen[s].tls_addr = tls_address();
    seen[s].errno_addr = errno_address();
    tls_store(test_gettid());
    atomic_fetch_add(&pinned_done, 1);
    return 0;
}

struct tls_result {
    long iters;
    long migrations;
    long bad_tid;      /* sp_runtime_shard_tid(sp_shard_id()) != gettid() */
    long bad_tls;      /* __thread value is not the current thread's */
    long bad_tls_addr; /* __thread address is not the current thread's */
    long bad_errno;
    long bad_errno_addr;
    long bad_yield;
};

static struct tls_result res;

static intptr_t
migrating_task(void *arg)
{
    (void)arg;
    sp_runtime_t *rt = sp_runtime_current();
    int last = sp_shard_id();
    for (long i = 0; i < TLS_ITERS; i++) {
        if (sp_task_yield() != 0) {
            res.bad_yield++;
        }
        int id = sp_shard_id();
        pid_t tid = test_gettid();
        if (id < 0 || id > 1) {
            res.bad_tid++;
            continue;
        }
        if (sp_runtime_shard_tid(rt, id) != tid || seen[id].tid != tid) {
            res.bad_tid++;
        }
        /* Every thread's slot holds its own tid: the pinned recorders and
         * this task (below) store the current thread's tid only. */
        if (tls_load() != tid) {
            res.bad_tls++;
        }
        if (tls_address() != seen[id].tls_addr) {
            res.bad_tls_addr++;
        }
        tls_store(tid);
        int e = (int)(i % 4000) + 1;
        errno_store(e);
        if (errno_load() != e) {
            res.bad_errno++;
        }
        if (errno_address() != seen[id].errno_addr) {
            res.bad_errno_addr++;
        }
        res.migrations += id != last;
        last = id;
        res.iters++;
    }
    return 0;
}

static intptr_t
tls_main(void *arg)
{
    (void)arg;
    sp_task_t p[2];
    for (int s = 0; s < 2; s++) {
        sp_task_attr_t on = test_attr(SP_PLACE_ON, s);
        ASSERT_OK(sp_task_spawn(&p[s], &on, record_shard, (void *)(intptr_t)s));
    }
    for (int s = 0; s < 2; s++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(p[s], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_EQ(atomic_load(&pinned_done), 2);
    ASSERT_NE(seen[0].tid, seen[1].tid);
    ASSERT_PTR_NE(seen[0].tls_addr, seen[1].tls_addr);
    ASSERT_PTR_NE(seen[0].errno_addr, seen[1].errno_addr);

    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, migrating_task, NULL));
    ASSERT_OK(sp_task_join(t, NULL));
    return 0;
}

int
TLS_TEST_FN(void)
{
    memset(&res, 0, sizeof(res));
    memset(seen, 0, sizeof(seen));
    atomic_store(&pinned_done, 0);
    sp_config_t cfg = test_config(2);
    cfg.force_migrate = 1;
    /* Each migration leaves one shard idle: let it sleep at once rather
     * than spin (a spin costs its whole budget on a two-vCPU VM). */
    cfg.spin_ns = 0;
    TEST_CHECK(test_run_main(&cfg, tls_main, NULL));
    printf("tls (%s): %ld iterations, %ld migrations; mismatches: tid %ld, tls %ld, "
           "tls address %ld, errno %ld, errno address %ld, yield errors %ld\n",
           TLS_STR(VARIANT), res.iters, res.migrations, res.bad_tid,
           res.bad_tls, res.bad_tls_addr, res.bad_errno, res.bad_errno_addr,
           res.bad_yield);
    ASSERT_EQ(res.iters, TLS_ITERS);
    ASSERT_EQ(res.bad_yield, 0);
    ASSERT_EQ(res.bad_tid, 0);
    ASSERT_EQ(res.bad_tls, 0);
    ASSERT_EQ(res.bad_tls_addr, 0);
    ASSERT_EQ(res.bad_errno, 0);
    ASSERT_EQ(res.bad_errno_addr, 0);
    ASSERT_GE(res.migrations, TLS_ITERS / 4);
    return 0;
}
