/* Tasks: spawn, join, detach, cancel, yield, park/unpark, identity and
 * task-local storage (include/spindle/task.h).
 *
 * Tests that need a fixed interleaving use one shard: there, a task runs
 * until it suspends, so "spawned but not yet run" is a state the test can
 * rely on. State shared with tasks lives in static variables, reset at the
 * start of each test, never on a stack that may be gone when a task reads
 * it. */
#include "test.h"

#include <pthread.h>

/* --- join returns the task's result -------------------------------------- */

static intptr_t
times_seven(void *arg)
{
    intptr_t v = (intptr_t)arg;
    for (intptr_t i = 0; i < v % 4; i++) {
        sp_task_yield();
    }
    return v * 7 + 1;
}

static intptr_t
return_negative(void *arg)
{
    (void)arg;
    return -42;
}

#define JOIN_N 64

static intptr_t
join_main(void *arg)
{
    (void)arg;
    sp_task_t t[JOIN_N];
    for (int i = 0; i < JOIN_N; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, times_seven, (void *)(intptr_t)i));
        ASSERT_U64_NE(t[i].bits, 0);
    }
    /* Join in reverse order: some are done, some are not yet. */
    for (int i = JOIN_N - 1; i >= 0; i--) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, i * 7 + 1);
    }
    sp_task_t n;
    intptr_t r = 0;
    ASSERT_OK(sp_task_spawn(&n, NULL, return_negative, NULL));
    ASSERT_OK(sp_task_join(n, &r));
    ASSERT_EQ(r, -42);
    /* A NULL result pointer is allowed. */
    ASSERT_OK(sp_task_spawn(&n, NULL, times_seven, (void *)(intptr_t)3));
    ASSERT_OK(sp_task_join(n, NULL));
    return 0;
}

int
test_task_join_returns_result(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, join_main, NULL);
}

/* --- a detached task still runs to completion ---------------------------- */

static atomic_int detach_done;
static sp_task_t detach_waiter;

static intptr_t
detached_child(void *arg)
{
    (void)arg;
    sp_task_t waiter = detach_waiter; /* read before signalling: see below */
    for (int i = 0; i < 10; i++) {
        sp_task_yield();
    }
    sp_sleep_ns(SP_NSEC_PER_MSEC);
    /* Once done is set the waiter may return; only the copied handle is
     * used after this point (a stale handle is detected, never followed). */
    atomic_fetch_add(&detach_done, 1);
    sp_task_unpark(waiter);
    return 5;
}

static intptr_t
detach_main(void *arg)
{
    (void)arg;
    detach_waiter = sp_task_self();
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, detached_child, NULL));
    ASSERT_OK(sp_task_detach(t));
    /* Detached at spawn: out == NULL. */
    ASSERT_OK(sp_task_spawn(NULL, NULL, detached_child, NULL));
    while (atomic_load(&detach_done) < 2) {
        ASSERT_OK(sp_task_park());
    }
    return 0;
}

int
test_task_detach_runs_to_completion(void)
{
    atomic_store(&detach_done, 0);
    sp_config_t cfg = test_config(2);
    TEST_CHECK(test_run_main(&cfg, detach_main, NULL));
    ASSERT_EQ(atomic_load(&detach_done), 2);
    return 0;
}

/* --- join after detach, double join, concurrent join, join self ---------- */

static atomic_int hold_release;
static atomic_int hold_finished;

/* Stays alive until hold_release is set, without needing an unpark. */
static intptr_t
held_child(void *arg)
{
    while (!atomic_load(&hold_release)) {
        if (sp_sleep_ns(100 * SP_NSEC_PER_USEC) == -ECANCELED) {
            return -1;
        }
    }
    atomic_fetch_add(&hold_finished, 1);
    return (intptr_t)arg;
}

static intptr_t
join_after_detach_main(void *arg)
{
    (void)arg;
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, held_child, (void *)(intptr_t)9));
    ASSERT_OK(sp_task_detach(t));
    intptr_t r = 0;
    /* The task is alive, so the handle is known to be detached. */
    ASSERT_ERR(sp_task_join(t, &r), -EINVAL);
    ASSERT_ERR(sp_task_detach(t), -EINVAL);
    atomic_store(&hold_release, 1);
    while (!atomic_load(&hold_finished)) {
        ASSERT_OK(sp_sleep_ns(100 * SP_NSEC_PER_USEC));
    }
    /* Finished (maybe freed already): detached or unknown, never success. */
    int j = sp_task_join(t, &r);
    if (j != -EINVAL && j != -ESRCH) {
        ASSERT_ERR(j, -EINVAL);
    }
    return 0;
}

int
test_task_join_after_detach_einval(void)
{
    atomic_store(&hold_release, 0);
    atomic_store(&hold_finished, 0);
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, join_after_detach_main, NULL);
}

static atomic_int joiner_started;
static sp_task_t joiner_target;

static intptr_t
joiner(void *arg)
{
    (void)arg;
    atomic_store(&joiner_started, 1);
    intptr_t r = -1;
    int j = sp_task_join(joiner_target, &r);
    if (j != 0) {
        fprintf(stderr, "joiner: join returned %d %s\n", j, sp_err_name(j));
        return -1000;
    }
    return r;
}

static intptr_t
double_join_main(void *arg)
{
    (void)arg;
    sp_task_t t;
    intptr_t r = 0;
    ASSERT_OK(sp_task_spawn(&t, NULL, times_seven, (void *)(intptr_t)2));
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 15);
    int j = sp_task_join(t, &r);
    if (j != -EINVAL && j != -ESRCH) {
        ASSERT_ERR(j, -EINVAL);
    }
    j = sp_task_detach(t);
    if (j != -EINVAL && j != -ESRCH) {
        ASSERT_ERR(j, -EINVAL);
    }

    /* One shard: the joiner runs until it suspends in join, and only then
     * does this task get the CPU back. A second joiner is refused. */
    sp_task_attr_t local = test_attr(SP_PLACE_LOCAL, 0);
    sp_task_t j1;
    ASSERT_OK(sp_task_spawn(&joiner_target, &local, held_child, (void *)(intptr_t)33));
    ASSERT_OK(sp_task_spawn(&j1, &local, joiner, NULL));
    while (!atomic_load(&joiner_started)) {
        ASSERT_OK(sp_task_yield());
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_ERR(sp_task_join(joiner_target, &r), -EINVAL);
    ASSERT_ERR(sp_task_detach(joiner_target), -EINVAL);
    atomic_store(&hold_release, 1);
    r = 0;
    ASSERT_OK(sp_task_join(j1, &r));
    ASSERT_EQ(r, 33);
    return 0;
}

int
test_task_double_join_einval(void)
{
    atomic_store(&hold_release, 0);
    atomic_store(&hold_finished, 0);
    atomic_store(&joiner_started, 0);
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, double_join_main, NULL);
}

static intptr_t
join_self_child(void *arg)
{
    (void)arg;
    intptr_t r = 0;
    ASSERT_ERR(sp_task_join(sp_task_self(), &r), -EINVAL);
    return 0;
}

static intptr_t
join_self_main(void *arg)
{
    (void)arg;
    intptr_t r = 0;
    ASSERT_ERR(sp_task_join(sp_task_self(), &r), -EINVAL);
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, join_self_child, NULL));
    r = -1;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 0);
    /* Spawn errors: a failed spawn never runs fn. */
    ASSERT_ERR(sp_task_spawn(&t, NULL, NULL, NULL), -EINVAL);
    return 0;
}

int
test_task_join_self_einval(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, join_self_main, NULL);
}

/* --- cancellation -------------------------------------------------------- */

static atomic_int park_entered;

/* Parks until cancelled; spurious returns of 0 go back to sleep. */
static intptr_t
park_until_cancelled(void *arg)
{
    (void)arg;
    atomic_fetch_add(&park_entered, 1);
    for (;;) {
        int r = sp_task_park();
        if (r == -ECANCELED) {
            return 7;
        }
        if (r != 0) {
            fprintf(stderr, "park returned %d %s\n", r, sp_err_name(r));
            return 100;
        }
    }
}

static intptr_t
cancel_parked_main(void *arg)
{
    (void)arg;
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, &on1, park_until_cancelled, NULL));
    while (!atomic_load(&park_entered)) {
        ASSERT_OK(sp_sleep_ns(50 * SP_NSEC_PER_USEC));
    }
    ASSERT_OK(sp_sleep_ns(SP_NSEC_PER_MSEC)); /* let it reach the park */
    ASSERT_OK(sp_task_cancel(t));
    ASSERT_OK(sp_task_cancel(t)); /* twice is fine */
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 7);
    return 0;
}

int
test_task_cancel_parked(void)
{
    atomic_store(&park_entered, 0);
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, cancel_parked_main, NULL);
}

/* The same, cancelled by a thread that is not a shard. */
static sp_task_t foreign_target;

static intptr_t
spawn_parker(void *arg)
{
    (void)arg;
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    ASSERT_OK(sp_task_spawn(&foreign_target, &on1, park_until_cancelled, NULL));
    return 0;
}

static intptr_t
join_parker(void *arg)
{
    (void)arg;
    intptr_t r = 0;
    /* A wakeup that never arrives fails here, not in the runner's timeout
     * (sp_runtime_destroy then cancels the parked task). */
    sp_task_set_deadline(sp_now_ns() + 10 * SP_NSEC_PER_SEC);
    int j = sp_task_join(foreign_target, &r);
    if (j != 0) {
        fprintf(stderr, "join of the parked task: %d %s (it was never woken)\n", j,
                sp_err_name(j));
        return -1000 + j;
    }
    return r;
}

int
test_task_cancel_from_foreign_thread(void)
{
    atomic_store(&park_entered, 0);
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r1 = -1, r2 = -1;
    int b1 = sp_runtime_block_on(rt, NULL, spawn_parker, NULL, &r1);
    while (b1 == 0 && r1 == 0 && !atomic_load(&park_entered)) {
        test_spin_ns(10000);
    }
    int c = sp_task_cancel(foreign_target); /* from this (non-shard) thread */
    int b2 = 0;
    if (c == 0) { /* otherwise the join would wait forever */
        b2 = sp_runtime_block_on(rt, NULL, join_parker, NULL, &r2);
    }
    int d = sp_runtime_destroy(rt);
    ASSERT_OK(b1);
    ASSERT_EQ(r1, 0);
    ASSERT_ERR(c, 0);
    ASSERT_OK(b2);
    ASSERT_EQ(r2, 7);
    ASSERT_OK(d);
    return 0;
}

/* Unpark and detach from a thread that is not a shard ("any task or
 * thread"). */
static atomic_int foreign_flag;

static intptr_t
park_until_flag(void *arg)
{
    (void)arg;
    atomic_fetch_add(&park_entered, 1);
    while (!atomic_load(&foreign_flag)) {
        if (sp_task_park() == -ECANCELED) {
            return -1;
        }
    }
    return 8;
}

static intptr_t
spawn_flag_parker(void *arg)
{
    (void)arg;
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    ASSERT_OK(sp_task_spawn(&foreign_target, &on1, park_until_flag, NULL));
    return 0;
}

int
test_task_unpark_from_foreign_thread(void)
{
    atomic_store(&park_entered, 0);
    atomic_store(&foreign_flag, 0);
    sp_config_t cfg = test_config(2);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    intptr_t r1 = -1, r2 = -1;
    int b1 = sp_runtime_block_on(rt, NULL, spawn_flag_parker, NULL, &r1);
    while (b1 == 0 && r1 == 0 && !atomic_load(&park_entered)) {
        test_spin_ns(10000);
    }
    atomic_store(&foreign_flag, 1);
    int u = sp_task_unpark(foreign_target); /* from this (non-shard) thread */
    int b2 = 0;
    if (u == 0) { /* otherwise the join would wait forever */
        b2 = sp_runtime_block_on(rt, NULL, join_parker, NULL, &r2);
    }
    /* Detach from a foreign thread: a second parker, released by destroy. */
    intptr_t r3 = -1;
    atomic_store(&foreign_flag, 0);
    int b3 = sp_runtime_block_on(rt, NULL, spawn_flag_parker, NULL, &r3);
    int dt = sp_task_detach(foreign_target);
    int d = sp_runtime_destroy(rt);
    ASSERT_OK(b1);
    ASSERT_EQ(r1, 0);
    ASSERT_ERR(u, 0);
    ASSERT_OK(b2);
    ASSERT_EQ(r2, 8);
    ASSERT_OK(b3);
    ASSERT_EQ(r3, 0);
    ASSERT_ERR(dt, 0);
    ASSERT_OK(d);
    return 0;
}

struct sticky_seen {
    int before;
    int yield1, yield2, park, sleep, join;
    int is_cancelled;
};

static atomic_int sticky_go;
static atomic_int sticky_started;
static struct sticky_seen sticky;

static intptr_t
sticky_child(void *arg)
{
    (void)arg;
    sticky.before = sp_task_is_cancelled();
    atomic_store(&sticky_started, 1);
    while (!atomic_load(&sticky_go)) {
        sp_task_yield();
    }
    sticky.yield1 = sp_task_yield();
    sticky.yield2 = sp_task_yield();
    sticky.park = sp_task_park();
    sticky.sleep = sp_sleep_ns(SP_NSEC_PER_MSEC);
    sp_task_t t;
    if (sp_task_spawn(&t, NULL, times_seven, (void *)(intptr_t)1) == 0) {
        intptr_t r;
        sticky.join = sp_task_join(t, &r);
        if (sticky.join != 0) {
            sp_task_detach(t);
        }
    }
    sticky.is_cancelled = sp_task_is_cancelled();
    return 3;
}

static intptr_t
sticky_main(void *arg)
{
    (void)arg;
    sp_task_attr_t local = test_attr(SP_PLACE_LOCAL, 0);
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, &local, sticky_child, NULL));
    while (!atomic_load(&sticky_started)) { /* one shard: it is in its loop now */
        ASSERT_OK(sp_task_yield());
    }
    ASSERT_OK(sp_task_cancel(t));
    atomic_store(&sticky_go, 1);
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 3);
    ASSERT_EQ(sticky.before, 0);
    ASSERT_ERR(sticky.yield1, -ECANCELED);
    ASSERT_ERR(sticky.yield2, -ECANCELED);
    ASSERT_ERR(sticky.park, -ECANCELED);
    ASSERT_ERR(sticky.sleep, -ECANCELED);
    ASSERT_ERR(sticky.join, -ECANCELED);
    ASSERT_NE(sticky.is_cancelled, 0);
    /* Cancelling another task did not cancel this one. */
    ASSERT_EQ(sp_task_is_cancelled(), 0);
    ASSERT_OK(sp_task_yield());
    return 0;
}

int
test_task_cancel_is_sticky(void)
{
    atomic_store(&sticky_go, 0);
    atomic_store(&sticky_started, 0);
    memset(&sticky, 0x55, sizeof(sticky));
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, sticky_main, NULL);
}

static atomic_int early_ran;
static atomic_int early_saw_cancel;
static atomic_int early_yield;

static intptr_t
early_child(void *arg)
{
    (void)arg;
    atomic_store(&early_ran, 1);
    atomic_store(&early_saw_cancel, sp_task_is_cancelled());
    atomic_store(&early_yield, sp_task_yield());
    return 11;
}

static intptr_t
cancel_early_main(void *arg)
{
    (void)arg;
    sp_task_attr_t local = test_attr(SP_PLACE_LOCAL, 0);
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, &local, early_child, NULL));
    /* One shard and no suspension since the spawn: it has not run. */
    ASSERT_EQ(atomic_load(&early_ran), 0);
    ASSERT_OK(sp_task_cancel(t));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 11);
    ASSERT_EQ(atomic_load(&early_ran), 1);
    ASSERT_NE(atomic_load(&early_saw_cancel), 0);
    ASSERT_ERR(atomic_load(&early_yield), -ECANCELED);
    return 0;
}

int
test_task_cancel_before_first_run(void)
{
    atomic_store(&early_ran, 0);
    atomic_store(&early_saw_cancel, 0);
    atomic_store(&early_yield, 12345);
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, cancel_early_main, NULL);
}

/* --- yield interleaves tasks on one shard -------------------------------- */

#define YIELD_ROUNDS 20
static char yield_log[2 * YIELD_ROUNDS + 1];
static atomic_int yield_pos;

static intptr_t
yield_logger(void *arg)
{
    char c = (char)(intptr_t)arg;
    for (int i = 0; i < YIELD_ROUNDS; i++) {
        yield_log[atomic_fetch_add(&yield_pos, 1)] = c;
        if (sp_task_yield() != 0) {
            return 1;
        }
    }
    return 0;
}

static intptr_t
yield_main(void *arg)
{
    (void)arg;
    sp_task_t a, b;
    ASSERT_OK(sp_task_spawn(&a, NULL, yield_logger, (void *)(intptr_t)'A'));
    ASSERT_OK(sp_task_spawn(&b, NULL, yield_logger, (void *)(intptr_t)'B'));
    intptr_t ra = -1, rb = -1;
    ASSERT_OK(sp_task_join(a, &ra));
    ASSERT_OK(sp_task_join(b, &rb));
    ASSERT_EQ(ra, 0);
    ASSERT_EQ(rb, 0);
    ASSERT_EQ(atomic_load(&yield_pos), 2 * YIELD_ROUNDS);
    printf("yield order: %s\n", yield_log);
    /* Strict alternation: ABAB... (or BABA... if new tasks run LIFO). */
    for (int i = 1; i < 2 * YIELD_ROUNDS; i++) {
        ASSERT_NE(yield_log[i], yield_log[i - 1]);
    }
    return 0;
}

int
test_task_yield_interleaves(void)
{
    memset(yield_log, 0, sizeof(yield_log));
    atomic_store(&yield_pos, 0);
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, yield_main, NULL);
}

/* One yield lets the other runnable tasks of the shard run: with one shard,
 * a stealable task that yields once must not get the CPU back before a
 * runnable pinned (or stealable) task that was queued before it. Repeated,
 * so that no alternation between the shard's queues can hide a miss. */
static atomic_int yield_child_ran;

static intptr_t
mark_ran(void *arg)
{
    (void)arg;
    atomic_fetch_add(&yield_child_ran, 1);
    return 0;
}

static intptr_t
yield_others_main(void *arg)
{
    (void)arg;
    int missed = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (int round = 0; round < 16; round++) {
            sp_task_attr_t a = test_attr(kind ? SP_PLACE_LOCAL : SP_PLACE_STEALABLE, 0);
            sp_task_t t;
            /* 0 to 3 lone yields first, so that rounds begin at every
             * point of any alternation the scheduler keeps between its
             * queues. */
            for (int k = 0; k < round % 4; k++) {
                ASSERT_OK(sp_task_yield());
            }
            atomic_store(&yield_child_ran, 0);
            ASSERT_OK(sp_task_spawn(&t, &a, mark_ran, NULL));
            ASSERT_OK(sp_task_yield());
            if (!atomic_load(&yield_child_ran)) {
                fprintf(stderr, "round %d: a runnable %s task did not run during a yield\n",
                        round, kind ? "pinned" : "stealable");
                missed++;
            }
            ASSERT_OK(sp_task_join(t, NULL));
        }
    }
    ASSERT_EQ(missed, 0);
    return 0;
}

int
test_task_yield_lets_others_run(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, yield_others_main, NULL);
}

/* --- identity: self, id, name -------------------------------------------- */

struct ident {
    char name[64];
    uint64_t id;
    uint64_t self;
};

static struct ident idents[4];

static intptr_t
record_ident(void *arg)
{
    struct ident *in = arg;
    snprintf(in->name, sizeof(in->name), "%s", sp_task_name());
    in->id = sp_task_id();
    in->self = sp_task_self().bits;
    return 0;
}

static intptr_t
ident_main(void *arg)
{
    (void)arg;
    ASSERT_STR_EQ(sp_task_name(), "main-task");
    uint64_t my_id = sp_task_id();
    ASSERT_U64_NE(my_id, 0);
    ASSERT_U64_NE(sp_task_self().bits, 0);

    char buf[64];
    snprintf(buf, sizeof(buf), "copied-name");
    char longname[41];
    memset(longname, 'n', 40);
    longname[40] = '\0';
    longname[0] = 'L';

    sp_task_attr_t attr[3];
    for (int i = 0; i < 3; i++) {
        attr[i] = test_attr(SP_PLACE_LOCAL, 0);
    }
    attr[0].name = buf;
    attr[1].name = longname;
    attr[2].name = NULL;
    sp_task_t t[3];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], &attr[i], record_ident, &idents[i]));
    }
    /* The name was copied at spawn (one shard: the child has not run). */
    memset(buf, 'x', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_join(t[i], NULL));
    }
    ASSERT_STR_EQ(idents[0].name, "copied-name");
    ASSERT_EQ(strlen(idents[1].name), SP_TASK_NAME_MAX - 1);
    ASSERT_OK(strncmp(idents[1].name, longname, SP_TASK_NAME_MAX - 1));
    ASSERT_STR_EQ(idents[2].name, "task");
    for (int i = 0; i < 3; i++) {
        ASSERT_U64_NE(idents[i].id, 0);
        ASSERT_U64_NE(idents[i].id, my_id);
        ASSERT_U64_EQ(idents[i].self, t[i].bits);
        for (int k = 0; k < i; k++) {
            ASSERT_U64_NE(idents[i].id, idents[k].id);
        }
    }
    return 0;
}

int
test_task_self_id_name(void)
{
    memset(idents, 0, sizeof(idents));
    sp_config_t cfg = test_config(1);
    sp_runtime_t *rt;
    TEST_CHECK(test_runtime_create(&rt, &cfg));
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.name = "main-task";
    intptr_t r = -1;
    int b = sp_runtime_block_on(rt, &attr, ident_main, NULL, &r);
    int d = sp_runtime_destroy(rt);
    ASSERT_OK(b);
    ASSERT_EQ(r, 0);
    ASSERT_OK(d);
    return 0;
}

/* --- task-local storage -------------------------------------------------- */

/* Keys are process-wide and never freed: count the ones this process made. */
static int task_local_keys_made;
static sp_task_local_t tl_key;
static atomic_long tl_migrations;
static int tl_values[8];

#define TL_TASKS 4

static intptr_t
tl_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    void *mine = &tl_values[id];
    ASSERT_NULL(sp_task_local_get(tl_key)); /* starts NULL in a new task */
    ASSERT_OK(sp_task_local_set(tl_key, mine));
    int shard = sp_shard_id();
    long moved = 0;
    for (int i = 0; i < SCALE(20000); i++) {
        ASSERT_OK(sp_task_yield());
        ASSERT_PTR_EQ(sp_task_local_get(tl_key), mine);
        int now = sp_shard_id();
        moved += now != shard;
        shard = now;
    }
    atomic_fetch_add(&tl_migrations, moved);
    return 0;
}

static intptr_t
tl_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_task_local_create(&tl_key));
    task_local_keys_made++;
    int main_value = 0;
    ASSERT_OK(sp_task_local_set(tl_key, &main_value));
    sp_task_t t[TL_TASKS];
    for (int i = 0; i < TL_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, tl_worker, (void *)(intptr_t)i));
    }
    for (int i = 0; i < TL_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_PTR_EQ(sp_task_local_get(tl_key), &main_value);
    /* force_migrate: every stealable yield changes shard. */
    printf("task-local: %ld migrations\n", atomic_load(&tl_migrations));
    ASSERT_GE(atomic_load(&tl_migrations), TL_TASKS * SCALE(20000) / 4);
    return 0;
}

int
test_task_local_survives_migration(void)
{
    atomic_store(&tl_migrations, 0);
    sp_config_t cfg = test_config(2);
    cfg.force_migrate = 1;
    cfg.spin_ns = 0; /* see variant-tls.c */
    return test_run_main(&cfg, tl_main, NULL);
}

static intptr_t
tl_exhaust_main(void *arg)
{
    (void)arg;
    ASSERT_ERR(sp_task_local_create(NULL), -EINVAL);
    sp_task_local_t keys[SP_TASK_LOCAL_MAX + 1];
    int n = 0;
    int r = 0;
    while (n <= SP_TASK_LOCAL_MAX && (r = sp_task_local_create(&keys[n])) == 0) {
        n++;
    }
    ASSERT_ERR(r, -EAGAIN);
    ASSERT_EQ(n, SP_TASK_LOCAL_MAX - task_local_keys_made);
    ASSERT_ERR(sp_task_local_create(&keys[n]), -EAGAIN);
    task_local_keys_made += n;
    /* Every key is distinct and usable. */
    static int vals[SP_TASK_LOCAL_MAX];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++) {
            ASSERT_NE(keys[i].index, keys[k].index);
        }
        ASSERT_OK(sp_task_local_set(keys[i], &vals[i]));
    }
    for (int i = 0; i < n; i++) {
        ASSERT_PTR_EQ(sp_task_local_get(keys[i]), &vals[i]);
    }
    sp_task_local_t bad = {.index = -1};
    ASSERT_ERR(sp_task_local_set(bad, vals), -EINVAL);
    ASSERT_NULL(sp_task_local_get(bad));
    bad.index = SP_TASK_LOCAL_MAX;
    ASSERT_ERR(sp_task_local_set(bad, vals), -EINVAL);
    ASSERT_NULL(sp_task_local_get(bad));
    return 0;
}

/* --- a recycled control block starts with NULL task locals --------------- */

/* Task locals are cleared when a control block goes back to the free list
 * (sp__local_clear in sp__task_put), not at spawn: a task that reuses the
 * block of one that set a value must still read NULL. */
static sp_task_local_t reuse_key;
static int reuse_marker;
static intptr_t reuse_last_slot; /* the setter's slot in the task table */

static intptr_t
reuse_setter(void *arg)
{
    (void)arg;
    if (sp_task_local_set(reuse_key, &reuse_marker) != 0) {
        return -1;
    }
    reuse_last_slot = (intptr_t)(uint32_t)sp_task_self().bits;
    return 0;
}

static intptr_t
reuse_checker(void *arg)
{
    (void)arg;
    if (sp_task_local_get(reuse_key) != NULL) {
        return -1;
    }
    return (intptr_t)(uint32_t)sp_task_self().bits;
}

static intptr_t
tl_reuse_main(void *arg)
{
    (void)arg;
    int r = sp_task_local_create(&reuse_key);
    if (r == -EAGAIN) {
        reuse_key.index = 0; /* every key exists already: any one will do */
    } else {
        ASSERT_OK(r);
        task_local_keys_made++;
    }
    sp_task_attr_t local = test_attr(SP_PLACE_LOCAL, 0);
    int reused = 0;
    for (int i = 0; i < 64; i++) {
        sp_task_t a, b;
        intptr_t ra = 0, rb = 0;
        reuse_last_slot = -1;
        /* Odd rounds detach the setter: its block is freed when it ends,
         * not by a join. */
        ASSERT_OK(sp_task_spawn(i % 2 ? NULL : &a, &local, reuse_setter, NULL));
        if (i % 2) {
            ASSERT_OK(sp_task_yield()); /* it runs and ends before we go on */
        } else {
            ASSERT_OK(sp_task_join(a, &ra));
            ASSERT_OK(ra);
        }
        ASSERT_GE(reuse_last_slot, 0);
        ASSERT_OK(sp_task_spawn(&b, &local, reuse_checker, NULL));
        ASSERT_OK(sp_task_join(b, &rb));
        ASSERT_GE(rb, 0); /* -1: the checker saw the setter's value */
        reused += rb == reuse_last_slot;
    }
    /* The test means something only if blocks were in fact reused. */
    ASSERT_GT(reused, 0);
    return 0;
}

int
test_task_local_cleared_on_reuse(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, tl_reuse_main, NULL);
}

int
test_task_local_exhausts_eagain(void)
{
    sp_config_t cfg = test_config(1);
    TEST_CHECK(test_run_main(&cfg, tl_exhaust_main, NULL));
    /* Outside a task: -EPERM. */
    sp_task_local_t k = {.index = 0};
    ASSERT_ERR(sp_task_local_set(k, &k), -EPERM);
    ASSERT_NULL(sp_task_local_get(k));
    return 0;
}

/* --- unpark is a token ----------------------------------------------------- */

static intptr_t
token_child(void *arg)
{
    (void)arg;
    /* The token was given before this task first ran: the park returns at
     * once. The deadline turns a missing token into a failure, not a hang. */
    sp_task_set_deadline(sp_now_ns() + 10 * SP_NSEC_PER_SEC);
    int r = sp_task_park();
    sp_task_set_deadline(SP_DEADLINE_NONE);
    return r == 0 ? 0 : 100 - r;
}

static intptr_t
token_main(void *arg)
{
    (void)arg;
    sp_task_set_deadline(sp_now_ns() + 10 * SP_NSEC_PER_SEC);
    ASSERT_OK(sp_task_unpark(sp_task_self()));
    ASSERT_ERR(sp_task_park(), 0);
    sp_task_set_deadline(SP_DEADLINE_NONE);

    sp_task_attr_t local = test_attr(SP_PLACE_LOCAL, 0);
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, &local, token_child, NULL));
    ASSERT_OK(sp_task_unpark(t));
    intptr_t r = -1;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 0);
    return 0;
}

int
test_task_unpark_token(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, token_main, NULL);
}

static intptr_t
unpark_finished_main(void *arg)
{
    (void)arg;
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, times_seven, (void *)(intptr_t)1));
    ASSERT_OK(sp_task_join(t, NULL));
    ASSERT_ERR(sp_task_unpark(t), -ESRCH);
    ASSERT_ERR(sp_task_cancel(t), -ESRCH);
    return 0;
}

int
test_task_unpark_finished_esrch(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, unpark_finished_main, NULL);
}
