/* Placement: pinned tasks stay on their shard, stealable tasks spread,
 * SP_PLACE_ON / PINNED / LOCAL land where they should, and move_to, pin and
 * unpin change a running task's placement (include/spindle/task.h).
 *
 * Several tests set cfg.force_migrate, which moves a stealable task to
 * another shard at every yield: the strongest temptation a pinned task can
 * be exposed to, and a way to make stealable tasks really migrate. */
#include "test.h"

static atomic_int place_stop;
static atomic_long busy_moves;

/* A stealable task that yields until told to stop, counting shard changes. */
static intptr_t
busy_stealable(void *arg)
{
    (void)arg;
    int shard = sp_shard_id();
    long moved = 0;
    while (!atomic_load(&place_stop)) {
        test_spin_ns(500);
        if (sp_task_yield() != 0) {
            break;
        }
        int now = sp_shard_id();
        moved += now != shard;
        shard = now;
    }
    atomic_fetch_add(&busy_moves, moved);
    return 0;
}

/* --- pinned tasks never change shard ----------------------------------- */

#define PIN_YIELDS SCALE(1000000)
#define PIN_BUSY 4

static intptr_t
pinned_checker(void *arg)
{
    int expect = (int)(intptr_t)arg;
    int shard = sp_shard_id();
    pid_t tid = test_gettid();
    ASSERT_EQ(shard, expect);
    ASSERT_EQ(sp_task_placement(), SP_PLACE_ON);
    for (int i = 0; i < PIN_YIELDS; i++) {
        ASSERT_OK(sp_task_yield());
        ASSERT_EQ(sp_shard_id(), shard);
        ASSERT_EQ(test_gettid(), tid);
    }
    ASSERT_EQ(sp_task_placement(), SP_PLACE_ON);
    return 0;
}

static intptr_t
pinned_main(void *arg)
{
    (void)arg;
    sp_task_t busy[PIN_BUSY];
    for (int i = 0; i < PIN_BUSY; i++) {
        ASSERT_OK(sp_task_spawn(&busy[i], NULL, busy_stealable, NULL));
    }
    sp_task_attr_t local = test_attr(SP_PLACE_LOCAL, 0);
    sp_task_attr_t on0 = test_attr(SP_PLACE_ON, 0);
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    sp_task_t c[3];
    /* No suspension between reading the shard and the LOCAL spawn. */
    int here = sp_shard_id();
    ASSERT_OK(sp_task_spawn(&c[0], &local, pinned_checker, (void *)(intptr_t)here));
    ASSERT_OK(sp_task_spawn(&c[1], &on0, pinned_checker, (void *)(intptr_t)0));
    ASSERT_OK(sp_task_spawn(&c[2], &on1, pinned_checker, (void *)(intptr_t)1));
    int failed = 0;
    for (int i = 0; i < 3; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(c[i], &r));
        if (r != 0) {
            fprintf(stderr, "pinned checker %d failed\n", i);
            failed = 1;
        }
    }
    atomic_store(&place_stop, 1);
    for (int i = 0; i < PIN_BUSY; i++) {
        ASSERT_OK(sp_task_join(busy[i], NULL));
    }
    ASSERT_EQ(failed, 0);
    /* The temptation was real: the stealable tasks did move. */
    printf("busy stealable tasks changed shard %ld times\n", atomic_load(&busy_moves));
    ASSERT_GT(atomic_load(&busy_moves), 0);
    return 0;
}

int
test_place_pinned_never_moves(void)
{
    atomic_store(&place_stop, 0);
    atomic_store(&busy_moves, 0);
    sp_config_t cfg = test_config(2);
    cfg.force_migrate = 1;
    return test_run_main(&cfg, pinned_main, NULL);
}

/* --- stealable tasks spread over both shards ----------------------------- */

#define SPREAD_TASKS 64
#define SPREAD_MIN_ROUNDS 10
#define SPREAD_MAX_ROUNDS 2000

static atomic_int spread_union;
static atomic_int spread_on[2]; /* tasks that ran on shard i at least once */

static intptr_t
spread_worker(void *arg)
{
    (void)arg;
    int mask = 0;
    for (int round = 0; round < SPREAD_MAX_ROUNDS; round++) {
        int s = sp_shard_id();
        if (s < 0 || s > 1) {
            return 1;
        }
        mask |= 1 << s;
        atomic_fetch_or(&spread_union, 1 << s);
        if (round >= SPREAD_MIN_ROUNDS && atomic_load(&spread_union) == 3) {
            break;
        }
        test_spin_ns(20 * SP_NSEC_PER_USEC);
        if (sp_task_yield() != 0) {
            return 1;
        }
    }
    for (int s = 0; s < 2; s++) {
        if (mask & (1 << s)) {
            atomic_fetch_add(&spread_on[s], 1);
        }
    }
    return 0;
}

static intptr_t
spread_flooder(void *arg)
{
    (void)arg;
    ASSERT_EQ(sp_shard_id(), 0);
    sp_task_t t[SPREAD_TASKS];
    for (int i = 0; i < SPREAD_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, spread_worker, NULL));
    }
    for (int i = 0; i < SPREAD_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    return 0;
}

static intptr_t
spread_main(void *arg)
{
    (void)arg;
    sp_task_attr_t on0 = test_attr(SP_PLACE_ON, 0);
    sp_task_t f;
    intptr_t r = -1;
    ASSERT_OK(sp_task_spawn(&f, &on0, spread_flooder, NULL));
    ASSERT_OK(sp_task_join(f, &r));
    ASSERT_EQ(r, 0);
    printf("tasks that ran on shard 0: %d, on shard 1: %d\n",
           atomic_load(&spread_on[0]), atomic_load(&spread_on[1]));
    ASSERT_EQ(atomic_load(&spread_union), 3);
    ASSERT_GT(atomic_load(&spread_on[1]), 0);
    uint64_t stolen = 0;
    for (int s = 0; s < 2; s++) {
        sp_shard_stats_t st;
        ASSERT_OK(sp_runtime_stats(sp_runtime_current(), s, &st));
        printf("shard %d: stolen %" PRIu64 ", steal attempts %" PRIu64 "\n", s, st.stolen,
               st.steal_attempts);
        stolen += st.stolen;
    }
    ASSERT_U64_GT(stolen, 0);
    return 0;
}

int
test_place_stealable_spreads(void)
{
    atomic_store(&spread_union, 0);
    atomic_store(&spread_on[0], 0);
    atomic_store(&spread_on[1], 0);
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, spread_main, NULL);
}

/* --- SP_PLACE_ON out of range -------------------------------------------- */

static atomic_int never_ran;

static intptr_t
must_not_run(void *arg)
{
    (void)arg;
    atomic_store(&never_ran, 1);
    return 0;
}

static intptr_t
out_of_range_main(void *arg)
{
    (void)arg;
    sp_task_t t;
    static const int bad[] = {2, 3, -1, 1000};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp_task_attr_t a = test_attr(SP_PLACE_ON, bad[i]);
        ASSERT_ERR(sp_task_spawn(&t, &a, must_not_run, NULL), -EINVAL);
        ASSERT_ERR(sp_task_move_to(bad[i]), -EINVAL);
    }
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(sp_task_yield());
    }
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC));
    ASSERT_EQ(atomic_load(&never_ran), 0);
    return 0;
}

int
test_place_on_out_of_range_einval(void)
{
    atomic_store(&never_ran, 0);
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, out_of_range_main, NULL);
}

/* --- SP_PLACE_PINNED distributes ----------------------------------------- */

static atomic_int pinned_shard[2];
static atomic_int pinned_placement_bad;

static intptr_t
pinned_resident(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (sp_task_placement() != SP_PLACE_ON) {
        atomic_store(&pinned_placement_bad, 1);
    }
    atomic_store(&pinned_shard[i], sp_shard_id());
    while (sp_task_park() != -ECANCELED) {
    }
    return 0;
}

static intptr_t
pinned_spread_main(void *arg)
{
    (void)arg;
    sp_task_attr_t p = test_attr(SP_PLACE_PINNED, 0);
    sp_task_t t[2];
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], &p, pinned_resident, (void *)(intptr_t)i));
    }
    while (atomic_load(&pinned_shard[0]) < 0 || atomic_load(&pinned_shard[1]) < 0) {
        ASSERT_OK(sp_sleep_ns(100 * SP_NSEC_PER_USEC));
    }
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_task_cancel(t[i]));
        ASSERT_OK(sp_task_join(t[i], NULL));
    }
    printf("pinned tasks landed on shards %d and %d\n", atomic_load(&pinned_shard[0]),
           atomic_load(&pinned_shard[1]));
    ASSERT_EQ(atomic_load(&pinned_placement_bad), 0);
    ASSERT_NE(atomic_load(&pinned_shard[0]), atomic_load(&pinned_shard[1]));
    return 0;
}

int
test_place_pinned_distributes(void)
{
    atomic_store(&pinned_shard[0], -1);
    atomic_store(&pinned_shard[1], -1);
    atomic_store(&pinned_placement_bad, 0);
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, pinned_spread_main, NULL);
}

/* --- move_to, pin, unpin --------------------------------------------------- */

static intptr_t
move_main(void *arg)
{
    (void)arg;
    sp_runtime_t *rt = sp_runtime_current();
    ASSERT_NOT_NULL(rt);
    ASSERT_EQ(sp_task_placement(), SP_PLACE_STEALABLE);
    for (int round = 0; round < 4; round++) {
        int k = (round + 1) % 2;
        ASSERT_OK(sp_task_move_to(k));
        ASSERT_EQ(sp_shard_id(), k);
        ASSERT_EQ(test_gettid(), sp_runtime_shard_tid(rt, k));
        ASSERT_EQ(sp_task_placement(), SP_PLACE_ON);
        for (int i = 0; i < SCALE(10000); i++) {
            ASSERT_OK(sp_task_yield());
            ASSERT_EQ(sp_shard_id(), k);
        }
    }
    /* Moving to the shard it is on already. */
    int here = sp_shard_id();
    ASSERT_OK(sp_task_move_to(here));
    ASSERT_EQ(sp_shard_id(), here);
    return 0;
}

int
test_place_move_to_lands(void)
{
    sp_config_t cfg = test_config(2);
    cfg.force_migrate = 1;
    return test_run_main(&cfg, move_main, NULL);
}

/* Yield n times; return how many times the shard changed. */
static int
count_moves(int n)
{
    int shard = sp_shard_id();
    int moved = 0;
    for (int i = 0; i < n; i++) {
        if (sp_task_yield() != 0) {
            return -1;
        }
        int now = sp_shard_id();
        moved += now != shard;
        shard = now;
    }
    return moved;
}

static intptr_t
pin_main(void *arg)
{
    (void)arg;
    ASSERT_EQ(sp_task_placement(), SP_PLACE_STEALABLE);
    ASSERT_GT(count_moves(100), 0); /* force_migrate works */

    ASSERT_OK(sp_task_pin());
    ASSERT_EQ(sp_task_placement(), SP_PLACE_ON);
    int shard = sp_shard_id();
    pid_t tid = test_gettid();
    for (int i = 0; i < SCALE(20000); i++) {
        ASSERT_OK(sp_task_yield());
        ASSERT_EQ(sp_shard_id(), shard);
        ASSERT_EQ(test_gettid(), tid);
    }
    ASSERT_OK(sp_task_pin()); /* pinning a pinned task is harmless */
    ASSERT_EQ(count_moves(100), 0);

    ASSERT_OK(sp_task_unpin());
    ASSERT_EQ(sp_task_placement(), SP_PLACE_STEALABLE);
    ASSERT_GT(count_moves(100), 0);
    return 0;
}

int
test_place_pin_unpin(void)
{
    sp_config_t cfg = test_config(2);
    cfg.force_migrate = 1;
    return test_run_main(&cfg, pin_main, NULL);
}

/* A task spawned ON a shard may unpin itself and then migrate. */
static intptr_t
unpin_child(void *arg)
{
    (void)arg;
    ASSERT_EQ(sp_shard_id(), 1);
    ASSERT_EQ(sp_task_placement(), SP_PLACE_ON);
    ASSERT_EQ(count_moves(100), 0);
    ASSERT_OK(sp_task_unpin());
    ASSERT_EQ(sp_task_placement(), SP_PLACE_STEALABLE);
    ASSERT_GT(count_moves(100), 0);
    return 0;
}

static intptr_t
unpin_main(void *arg)
{
    (void)arg;
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    sp_task_t t;
    intptr_t r = -1;
    ASSERT_OK(sp_task_spawn(&t, &on1, unpin_child, NULL));
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 0);
    return 0;
}

int
test_place_unpin_spawned_on(void)
{
    sp_config_t cfg = test_config(2);
    cfg.force_migrate = 1;
    return test_run_main(&cfg, unpin_main, NULL);
}
