/* Cross-shard calls, cancellation tokens and task groups
 * (include/spindle/group.h).
 *
 * Shared state lives in statics reset by each test's main task. Tasks wait
 * for each other's progress by yielding until a counter moves (events,
 * never elapsed time); the few deadlines below only trigger the behaviour
 * under test, nothing asserts on how long anything took. */
#include "test.h"

static sp_task_attr_t
on_shard(int shard)
{
    return test_attr(SP_PLACE_ON, shard);
}

/* Park until the task's own cancellation or deadline; returns which. */
static int
park_until_stopped(void)
{
    int err;
    while ((err = sp_task_park()) == 0) {
    }
    return err;
}

/* --- call: to a busy shard ------------------------------------------------ */

#define BUSY_CALLS SCALE(200)

static atomic_int stop_load;

static intptr_t
load_task(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_load)) {
        sp_task_yield();
    }
    return 0;
}

static intptr_t
double_on(void *arg)
{
    intptr_t *x = arg; /* on the caller's stack */
    if ((*x & 7) == 0) {
        ASSERT_OK(sp_task_yield()); /* the callee may suspend */
    }
    return (*x * 2) | ((intptr_t)sp_shard_id() << 32);
}

static intptr_t
busy_caller(void *arg)
{
    int target = (int)(intptr_t)arg;
    for (intptr_t i = 0; i < BUSY_CALLS; i++) {
        intptr_t x = i, r = -1;
        ASSERT_OK(sp_shard_call(target, double_on, &x, &r));
        ASSERT_EQ(r & 0xffffffff, 2 * i);
        ASSERT_EQ(r >> 32, target);
    }
    return 0;
}

static intptr_t
call_busy_main(void *arg)
{
    (void)arg;
    atomic_store(&stop_load, 0);
    sp_task_t load[4], c0, c1;
    for (int i = 0; i < 4; i++) {
        sp_task_attr_t a = on_shard(1);
        ASSERT_OK(sp_task_spawn(&load[i], &a, load_task, NULL));
    }
    sp_task_attr_t a0 = on_shard(0);
    ASSERT_OK(sp_task_spawn(&c0, &a0, busy_caller, (void *)1));  /* across */
    ASSERT_OK(sp_task_spawn(&c1, &a0, busy_caller, (void *)0));  /* own shard */
    intptr_t r = -1;
    ASSERT_OK(sp_task_join(c0, &r));
    ASSERT_EQ(r, 0);
    ASSERT_OK(sp_task_join(c1, &r));
    ASSERT_EQ(r, 0);
    atomic_store(&stop_load, 1);
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(sp_task_join(load[i], NULL));
    }
    return 0;
}

int
test_group_call_busy_shard(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, call_busy_main, NULL);
}

/* --- call: the caller is cancelled midway -------------------------------- */

static atomic_int callee_started, callee_finished, callee_saw;

static intptr_t
slow_callee(void *arg)
{
    int *on_caller_stack = arg;
    atomic_store(&callee_started, 1);
    int err = park_until_stopped();
    atomic_store(&callee_saw, err);
    /* Finishing takes a few more switches; the caller must wait for them. */
    for (int i = 0; i < 10; i++) {
        sp_task_yield();
    }
    *on_caller_stack = 7;
    atomic_store(&callee_finished, 1);
    return 42;
}

static intptr_t
cancelled_caller(void *arg)
{
    (void)arg;
    int mine = 0;
    intptr_t r = -1;
    int err = sp_shard_call(1, slow_callee, &mine, &r);
    /* Only now may the caller's stack go: the callee has finished. */
    ASSERT_EQ(atomic_load(&callee_finished), 1);
    ASSERT_EQ(mine, 7);
    ASSERT_EQ(r, 42);
    ASSERT(sp_task_is_cancelled()); /* the condition stays sticky */
    return err;
}

static intptr_t
call_cancel_main(void *arg)
{
    (void)arg;
    atomic_store(&callee_started, 0);
    atomic_store(&callee_finished, 0);
    atomic_store(&callee_saw, 0);
    sp_task_attr_t a0 = on_shard(0);
    sp_task_t c;
    ASSERT_OK(sp_task_spawn(&c, &a0, cancelled_caller, NULL));
    ASSERT_OK(test_await_at_least(&callee_started, 1));
    ASSERT_OK(sp_task_cancel(c));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(c, &r));
    ASSERT_ERR(r, -ECANCELED);
    ASSERT_ERR(atomic_load(&callee_saw), -ECANCELED);
    /* A caller cancelled before the call starts nothing. */
    ASSERT_OK(sp_task_cancel(sp_task_self()));
    atomic_store(&callee_started, 0);
    ASSERT_ERR(sp_shard_call(1, slow_callee, NULL, NULL), -ECANCELED);
    ASSERT_EQ(atomic_load(&callee_started), 0);
    return 0;
}

int
test_group_call_cancelled(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, call_cancel_main, NULL);
}

/* --- call: the caller's deadline passes ---------------------------------- */

static uint64_t callee_deadline;

static intptr_t
deadline_callee(void *arg)
{
    (void)arg;
    callee_deadline = sp_task_deadline();
    atomic_store(&callee_started, 1);
    int err = park_until_stopped();
    atomic_store(&callee_saw, err);
    atomic_store(&callee_finished, 1);
    return err;
}

static intptr_t
deadline_caller(void *arg)
{
    (void)arg;
    uint64_t dl = sp_now_ns() + 5 * SP_NSEC_PER_MSEC;
    sp_task_set_deadline(dl);
    intptr_t r = 0;
    ASSERT_ERR(sp_shard_call(1, deadline_callee, NULL, &r), -ETIMEDOUT);
    ASSERT_EQ(atomic_load(&callee_finished), 1);
    ASSERT_U64_EQ(callee_deadline, dl); /* the callee started with it */
    /* Either its own timer or the caller's cancel stopped it. */
    ASSERT(r == -ETIMEDOUT || r == -ECANCELED);
    return 0;
}

static intptr_t
call_deadline_main(void *arg)
{
    (void)arg;
    atomic_store(&callee_finished, 0);
    sp_task_attr_t a0 = on_shard(0);
    sp_task_t c;
    ASSERT_OK(sp_task_spawn(&c, &a0, deadline_caller, NULL));
    intptr_t r = -1;
    ASSERT_OK(sp_task_join(c, &r));
    ASSERT_EQ(r, 0);
    return 0;
}

int
test_group_call_deadline(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, call_deadline_main, NULL);
}

/* --- call: flow control -------------------------------------------------- */

#define FC_CALLERS (3 * SP_SHARD_CALL_MAX_INFLIGHT)

static atomic_int fc_arrived, fc_inside, fc_max, fc_entered;
static sp_cancel_token_t fc_gate;

static intptr_t
fc_callee(void *arg)
{
    (void)arg;
    int now = atomic_fetch_add(&fc_inside, 1) + 1;
    int m = atomic_load(&fc_max);
    while (now > m && !atomic_compare_exchange_weak(&fc_max, &m, now)) {
    }
    atomic_fetch_add(&fc_entered, 1);
    int err = sp_cancel_token_wait(&fc_gate);
    atomic_fetch_sub(&fc_inside, 1);
    return err;
}

static intptr_t
fc_caller(void *arg)
{
    (void)arg;
    atomic_fetch_add(&fc_arrived, 1);
    intptr_t r = -1;
    ASSERT_OK(sp_shard_call(1, fc_callee, NULL, &r));
    ASSERT_EQ(r, 0);
    return 0;
}

static intptr_t
call_flow_main(void *arg)
{
    (void)arg;
    atomic_store(&fc_arrived, 0);
    atomic_store(&fc_inside, 0);
    atomic_store(&fc_max, 0);
    atomic_store(&fc_entered, 0);
    ASSERT_OK(sp_cancel_token_init(&fc_gate, NULL));
    static sp_task_t c[FC_CALLERS];
    sp_task_attr_t a0 = on_shard(0);
    for (int i = 0; i < FC_CALLERS; i++) {
        ASSERT_OK(sp_task_spawn(&c[i], &a0, fc_caller, NULL));
    }
    /* Every caller has called, and N callees are in. */
    ASSERT_OK(test_await_at_least(&fc_arrived, FC_CALLERS));
    ASSERT_OK(test_await_at_least(&fc_entered, SP_SHARD_CALL_MAX_INFLIGHT));
    for (int i = 0; i < 100; i++) {
        sp_task_yield(); /* room for a wrongly admitted callee to show up */
    }
    ASSERT_EQ(atomic_load(&fc_entered), SP_SHARD_CALL_MAX_INFLIGHT);
    ASSERT_OK(sp_cancel_token_cancel(&fc_gate));
    for (int i = 0; i < FC_CALLERS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(c[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_EQ(atomic_load(&fc_entered), FC_CALLERS);
    ASSERT_EQ(atomic_load(&fc_max), SP_SHARD_CALL_MAX_INFLIGHT);
    ASSERT_OK(sp_cancel_token_destroy(&fc_gate));
    return 0;
}

int
test_group_call_flow_control(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, call_flow_main, NULL);
}

/* --- call: bad arguments ------------------------------------------------- */

static intptr_t
nothing(void *arg)
{
    return (intptr_t)arg;
}

static intptr_t
call_bad_main(void *arg)
{
    (void)arg;
    ASSERT_ERR(sp_shard_call(-1, nothing, NULL, NULL), -EINVAL);
    ASSERT_ERR(sp_shard_call(sp_shard_count(), nothing, NULL, NULL), -EINVAL);
    ASSERT_ERR(sp_shard_call(0, NULL, NULL, NULL), -EINVAL);
    intptr_t r = 0;
    ASSERT_OK(sp_shard_call(1, nothing, (void *)5, &r));
    ASSERT_EQ(r, 5);
    return 0;
}

int
test_group_call_bad_shard(void)
{
    ASSERT_ERR(sp_shard_call(0, nothing, NULL, NULL), -EPERM); /* not in a task */
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, call_bad_main, NULL);
}

/* --- tokens: a tree ------------------------------------------------------ */

static sp_cancel_token_t tk_root, tk_a, tk_b, tk_aa;
static atomic_int tk_woken, tk_waiting, tk_bound_saw;

static intptr_t
tk_waiter(void *arg)
{
    atomic_fetch_add(&tk_waiting, 1);
    ASSERT_OK(sp_cancel_token_wait(arg));
    ASSERT_EQ(sp_cancel_token_is_cancelled(arg), 1);
    atomic_fetch_add(&tk_woken, 1);
    return 0;
}

static intptr_t
tk_bound(void *arg)
{
    (void)arg;
    atomic_fetch_add(&tk_waiting, 1);
    atomic_store(&tk_bound_saw, park_until_stopped());
    return 0;
}

static intptr_t
token_tree_main(void *arg)
{
    (void)arg;
    atomic_store(&tk_woken, 0);
    atomic_store(&tk_waiting, 0);
    atomic_store(&tk_bound_saw, 0);
    ASSERT_OK(sp_cancel_token_init(&tk_root, NULL));
    ASSERT_OK(sp_cancel_token_init(&tk_a, &tk_root));
    ASSERT_OK(sp_cancel_token_init(&tk_b, &tk_root));
    ASSERT_OK(sp_cancel_token_init(&tk_aa, &tk_a));

    /* Cancelling a leaf leaves its parent and siblings alone. */
    sp_cancel_token_t leaf;
    ASSERT_OK(sp_cancel_token_init(&leaf, &tk_b));
    ASSERT_OK(sp_cancel_token_cancel(&leaf));
    ASSERT_EQ(sp_cancel_token_is_cancelled(&leaf), 1);
    ASSERT_EQ(sp_cancel_token_is_cancelled(&tk_b), 0);
    ASSERT_OK(sp_cancel_token_wait(&leaf)); /* cancelled: returns at once */
    ASSERT_OK(sp_cancel_token_destroy(&leaf));

    /* Waiters on a grandchild and on a child, on both shards; a task bound
     * to the grandchild. */
    sp_task_t w[4], b;
    for (int i = 0; i < 4; i++) {
        sp_task_attr_t a = on_shard(i % 2);
        ASSERT_OK(sp_task_spawn(&w[i], &a, tk_waiter, i < 2 ? &tk_aa : &tk_b));
    }
    sp_task_attr_t a1 = on_shard(1);
    ASSERT_OK(sp_task_spawn(&b, &a1, tk_bound, NULL));
    ASSERT_OK(sp_cancel_token_bind(&tk_aa, b));
    ASSERT_OK(test_await_at_least(&tk_waiting, 5));
    ASSERT_ERR(sp_cancel_token_destroy(&tk_a), -EBUSY); /* has a child */

    ASSERT_OK(sp_cancel_token_cancel(&tk_root));
    ASSERT_EQ(sp_cancel_token_is_cancelled(&tk_root), 1);
    ASSERT_EQ(sp_cancel_token_is_cancelled(&tk_a), 1);
    ASSERT_EQ(sp_cancel_token_is_cancelled(&tk_b), 1);
    ASSERT_EQ(sp_cancel_token_is_cancelled(&tk_aa), 1);
    for (int i = 0; i < 4; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(w[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_EQ(atomic_load(&tk_woken), 4);
    ASSERT_OK(sp_task_join(b, NULL));
    ASSERT_ERR(atomic_load(&tk_bound_saw), -ECANCELED);

    /* A child of a cancelled token starts cancelled; binding to it cancels
     * the task at once. */
    sp_cancel_token_t late;
    ASSERT_OK(sp_cancel_token_init(&late, &tk_aa));
    ASSERT_EQ(sp_cancel_token_is_cancelled(&late), 1);
    atomic_store(&tk_bound_saw, 0);
    ASSERT_OK(sp_task_spawn(&b, &a1, tk_bound, NULL));
    ASSERT_OK(sp_cancel_token_bind(&late, b));
    ASSERT_OK(sp_task_join(b, NULL));
    ASSERT_ERR(atomic_load(&tk_bound_saw), -ECANCELED);
    ASSERT_OK(sp_cancel_token_destroy(&late));

    ASSERT_OK(sp_cancel_token_destroy(&tk_aa));
    ASSERT_OK(sp_cancel_token_destroy(&tk_a));
    ASSERT_OK(sp_cancel_token_destroy(&tk_b));
    ASSERT_OK(sp_cancel_token_destroy(&tk_root));
    return 0;
}

int
test_group_token_tree(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, token_tree_main, NULL);
}

/* --- tokens: a waiter's own cancellation; cancel from a thread ------------ */

static intptr_t
tk_wait_ret(void *arg)
{
    atomic_fetch_add(&tk_waiting, 1);
    return sp_cancel_token_wait(arg);
}

static intptr_t
token_wait_main(void *arg)
{
    (void)arg;
    atomic_store(&tk_waiting, 0);
    sp_cancel_token_t t;
    ASSERT_OK(sp_cancel_token_init(&t, NULL));
    sp_task_t w;
    ASSERT_OK(sp_task_spawn(&w, NULL, tk_wait_ret, &t));
    ASSERT_OK(test_await_at_least(&tk_waiting, 1));
    ASSERT_OK(sp_task_cancel(w));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(w, &r));
    ASSERT_ERR(r, -ECANCELED);
    ASSERT_EQ(sp_cancel_token_is_cancelled(&t), 0);
    /* The waiter's deadline. */
    sp_task_set_deadline(sp_now_ns() + 2 * SP_NSEC_PER_MSEC);
    ASSERT_ERR(sp_cancel_token_wait(&t), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    /* Bind, unbind: an unbound task is not cancelled. */
    sp_task_t self = sp_task_self();
    ASSERT_OK(sp_cancel_token_bind(&t, self));
    ASSERT_OK(sp_cancel_token_unbind(&t, self));
    ASSERT_ERR(sp_cancel_token_unbind(&t, self), -ENOENT);
    for (int i = 0; i < 9; i++) { /* grows the binding array */
        ASSERT_OK(sp_cancel_token_bind(&t, w));
    }
    ASSERT_OK(sp_cancel_token_cancel(&t)); /* w is gone: nothing to cancel */
    ASSERT_EQ(sp_task_is_cancelled(), 0);
    ASSERT_OK(sp_cancel_token_destroy(&t));
    return 0;
}

int
test_group_token_wait_cancelled(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, token_wait_main, NULL);
}

/* --- tokens: misuse ------------------------------------------------------- */

static intptr_t
token_misuse_main(void *arg)
{
    (void)arg;
    sp_cancel_token_t t, child;
    ASSERT_ERR(sp_cancel_token_init(NULL, NULL), -EINVAL);
    ASSERT_ERR(sp_cancel_token_cancel(NULL), -EINVAL);
    ASSERT_ERR(sp_cancel_token_is_cancelled(NULL), -EINVAL);
    ASSERT_ERR(sp_cancel_token_wait(NULL), -EINVAL);
    ASSERT_ERR(sp_cancel_token_destroy(NULL), -EINVAL);
    ASSERT_ERR(sp_cancel_token_bind(NULL, sp_task_self()), -EINVAL);
    ASSERT_OK(sp_cancel_token_init(&t, NULL));
    sp_task_t none = {0, NULL};
    ASSERT_ERR(sp_cancel_token_bind(&t, none), -EINVAL);
    ASSERT_OK(sp_cancel_token_destroy(&t));
    ASSERT_ERR(sp_cancel_token_cancel(&t), -EINVAL);
    ASSERT_ERR(sp_cancel_token_is_cancelled(&t), -EINVAL);
    ASSERT_ERR(sp_cancel_token_wait(&t), -EINVAL);
    ASSERT_ERR(sp_cancel_token_destroy(&t), -EINVAL);
    ASSERT_ERR(sp_cancel_token_init(&child, &t), -EINVAL); /* dead parent */
    return 0;
}

int
test_group_token_misuse(void)
{
    sp_cancel_token_t t;
    ASSERT_OK(sp_cancel_token_init(&t, NULL)); /* any thread */
    ASSERT_ERR(sp_cancel_token_wait(&t), -EPERM);
    ASSERT_OK(sp_cancel_token_cancel(&t));
    ASSERT_OK(sp_cancel_token_destroy(&t));
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, token_misuse_main, NULL);
}

/* --- group: the first failure cancels the siblings ------------------------ */

#define GF_SIBLINGS 6

static atomic_int gf_started, gf_cancelled;

static intptr_t
gf_sibling(void *arg)
{
    (void)arg;
    atomic_fetch_add(&gf_started, 1);
    int err = park_until_stopped();
    if (err == -ECANCELED) {
        atomic_fetch_add(&gf_cancelled, 1);
    }
    return err;
}

static intptr_t
gf_failer(void *arg)
{
    (void)arg;
    ASSERT_OK(test_await_at_least(&gf_started, GF_SIBLINGS));
    return -EIO;
}

static intptr_t
group_fail_main(void *arg)
{
    (void)arg;
    atomic_store(&gf_started, 0);
    atomic_store(&gf_cancelled, 0);
    sp_group_t g;
    ASSERT_OK(sp_group_init(&g, SP_DEADLINE_NONE));
    for (int i = 0; i < GF_SIBLINGS; i++) {
        sp_task_attr_t a = on_shard(i % 2);
        ASSERT_OK(sp_group_spawn(&g, i % 3 ? &a : NULL, gf_sibling, NULL));
    }
    ASSERT_OK(sp_group_spawn(&g, NULL, gf_failer, NULL));
    intptr_t first = 0;
    ASSERT_OK(sp_group_join(&g, &first));
    ASSERT_ERR(first, -EIO);
    ASSERT_EQ(atomic_load(&gf_cancelled), GF_SIBLINGS);
    ASSERT_ERR(sp_group_spawn(&g, NULL, nothing, NULL), -ESHUTDOWN);
    ASSERT_OK(sp_group_destroy(&g));

    /* sp_group_cancel: children see -ECANCELED, later spawns are refused. */
    atomic_store(&gf_started, 0);
    atomic_store(&gf_cancelled, 0);
    ASSERT_OK(sp_group_init(&g, SP_DEADLINE_NONE));
    for (int i = 0; i < GF_SIBLINGS; i++) {
        ASSERT_OK(sp_group_spawn(&g, NULL, gf_sibling, NULL));
    }
    ASSERT_OK(test_await_at_least(&gf_started, GF_SIBLINGS));
    ASSERT_OK(sp_group_cancel(&g));
    ASSERT_ERR(sp_group_spawn(&g, NULL, nothing, NULL), -ECANCELED);
    ASSERT_OK(sp_group_join(&g, &first));
    ASSERT_ERR(first, -ECANCELED);
    ASSERT_EQ(atomic_load(&gf_cancelled), GF_SIBLINGS);
    ASSERT_OK(sp_group_destroy(&g));
    return 0;
}

int
test_group_first_error_cancels(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, group_fail_main, NULL);
}

/* --- group: deadline ------------------------------------------------------ */

static uint64_t gd_deadline;
static atomic_int gd_timed_out;

static intptr_t
gd_child(void *arg)
{
    (void)arg;
    ASSERT_U64_EQ(sp_task_deadline(), gd_deadline);
    int err = park_until_stopped();
    if (err == -ETIMEDOUT) {
        atomic_fetch_add(&gd_timed_out, 1);
    }
    /* A sibling's -ETIMEDOUT may cancel this one first. */
    return err;
}

static intptr_t
group_deadline_main(void *arg)
{
    (void)arg;
    atomic_store(&gd_timed_out, 0);
    gd_deadline = sp_now_ns() + 5 * SP_NSEC_PER_MSEC;
    sp_group_t g;
    ASSERT_OK(sp_group_init(&g, gd_deadline));
    for (int i = 0; i < 4; i++) {
        sp_task_attr_t a = on_shard(i % 2);
        int r = sp_group_spawn(&g, &a, gd_child, NULL);
        if (r == -ECANCELED && i > 0) {
            /* A slow machine: the deadline passed while we spawned, a child
             * reported it, and the group closed itself to spawns. */
            break;
        }
        ASSERT_OK(r);
    }
    intptr_t first = 0;
    ASSERT_OK(sp_group_join(&g, &first)); /* the joiner has no deadline */
    ASSERT_ERR(first, -ETIMEDOUT);
    ASSERT_GE(atomic_load(&gd_timed_out), 1);
    ASSERT_U64_EQ(sp_task_deadline(), SP_DEADLINE_NONE);
    ASSERT_OK(sp_group_destroy(&g));
    return 0;
}

int
test_group_deadline(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, group_deadline_main, NULL);
}

/* --- group: mixed placements, children spawning children ----------------- */

#define GM_KINDS 5

static atomic_int gm_done, gm_wrong_shard;
static sp_group_t gm_group;

static intptr_t
gm_leaf(void *arg)
{
    int want = (int)(intptr_t)arg;
    sp_task_yield();
    if (want >= 0 && sp_shard_id() != want) {
        atomic_fetch_add(&gm_wrong_shard, 1);
    }
    atomic_fetch_add(&gm_done, 1);
    return 0;
}

static intptr_t
gm_spawner(void *arg)
{
    (void)arg;
    /* A child adds siblings while the parent may already be joining. */
    for (int s = 0; s < 2; s++) {
        sp_task_attr_t a = on_shard(s);
        ASSERT_OK(sp_group_spawn(&gm_group, &a, gm_leaf, (void *)(intptr_t)s));
        sp_task_yield();
    }
    atomic_fetch_add(&gm_done, 1);
    return 0;
}

static intptr_t
group_mixed_main(void *arg)
{
    (void)arg;
    atomic_store(&gm_done, 0);
    atomic_store(&gm_wrong_shard, 0);
    ASSERT_OK(sp_group_init(&gm_group, SP_DEADLINE_NONE));
    ASSERT_OK(sp_task_pin()); /* so that LOCAL names one shard */
    int n = 0;
    for (int i = 0; i < 40; i++) {
        sp_place_t kinds[GM_KINDS] = {SP_PLACE_ON, SP_PLACE_ON, SP_PLACE_LOCAL,
                                      SP_PLACE_STEALABLE, SP_PLACE_PINNED};
        sp_task_attr_t a = test_attr(kinds[i % GM_KINDS], i % 2);
        int want = a.place == SP_PLACE_ON ? a.shard
                   : a.place == SP_PLACE_LOCAL ? sp_shard_id() : -1;
        ASSERT_OK(sp_group_spawn(&gm_group, &a, gm_leaf, (void *)(intptr_t)want));
        n++;
    }
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(sp_group_spawn(&gm_group, NULL, gm_spawner, NULL));
        n += 3;
    }
    intptr_t first = -1;
    ASSERT_OK(sp_group_join(&gm_group, &first));
    ASSERT_EQ(first, 0);
    ASSERT_EQ(atomic_load(&gm_done), n);
    ASSERT_EQ(atomic_load(&gm_wrong_shard), 0);
    ASSERT_ERR(sp_group_spawn(&gm_group, NULL, nothing, NULL), -ESHUTDOWN);
    ASSERT_OK(sp_group_destroy(&gm_group));
    ASSERT_OK(sp_task_unpin());
    return 0;
}

int
test_group_mixed_placements(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, group_mixed_main, NULL);
}

/* --- group: the joiner is cancelled --------------------------------------- */

static atomic_int gj_finished;

static intptr_t
gj_child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&gf_started, 1);
    int err = park_until_stopped();
    for (int i = 0; i < 5; i++) {
        sp_task_yield();
    }
    atomic_fetch_add(&gj_finished, 1);
    return err;
}

static intptr_t
gj_parent(void *arg)
{
    (void)arg;
    sp_group_t g;
    ASSERT_OK(sp_group_init(&g, SP_DEADLINE_NONE));
    for (int i = 0; i < 8; i++) {
        sp_task_attr_t a = on_shard(i % 2);
        ASSERT_OK(sp_group_spawn(&g, &a, gj_child, NULL));
    }
    intptr_t first = 0;
    int err = sp_group_join(&g, &first);
    /* No child outlives the join. */
    ASSERT_EQ(atomic_load(&gj_finished), 8);
    ASSERT_ERR(first, -ECANCELED);
    ASSERT_ERR(sp_group_join(&g, &first), -EINVAL); /* joined already */
    ASSERT_OK(sp_group_destroy(&g));
    return err;
}

static intptr_t
group_join_cancel_main(void *arg)
{
    (void)arg;
    atomic_store(&gf_started, 0);
    atomic_store(&gj_finished, 0);
    sp_task_t p;
    ASSERT_OK(sp_task_spawn(&p, NULL, gj_parent, NULL));
    ASSERT_OK(test_await_at_least(&gf_started, 8));
    ASSERT_OK(sp_task_cancel(p));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(p, &r));
    ASSERT_ERR(r, -ECANCELED);
    return 0;
}

int
test_group_join_cancelled(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, group_join_cancel_main, NULL);
}

/* --- group: misuse -------------------------------------------------------- */

static intptr_t
group_misuse_main(void *arg)
{
    (void)arg;
    sp_group_t g;
    intptr_t first = 0;
    ASSERT_ERR(sp_group_init(NULL, SP_DEADLINE_NONE), -EINVAL);
    ASSERT_ERR(sp_group_spawn(NULL, NULL, nothing, NULL), -EINVAL);
    ASSERT_ERR(sp_group_join(NULL, &first), -EINVAL);
    ASSERT_ERR(sp_group_cancel(NULL), -EINVAL);
    ASSERT_ERR(sp_group_destroy(NULL), -EINVAL);
    ASSERT_OK(sp_group_init(&g, SP_DEADLINE_NONE));
    ASSERT_ERR(sp_group_spawn(&g, NULL, NULL, NULL), -EINVAL);
    sp_task_attr_t bad = on_shard(99);
    ASSERT_ERR(sp_group_spawn(&g, &bad, nothing, NULL), -EINVAL);
    ASSERT_OK(sp_group_spawn(&g, NULL, nothing, (void *)3));
    ASSERT_ERR(sp_group_destroy(&g), -EBUSY); /* not joined */
    ASSERT_OK(sp_group_join(&g, &first));
    ASSERT_EQ(first, 0);
    ASSERT_OK(sp_group_destroy(&g));
    ASSERT_ERR(sp_group_spawn(&g, NULL, nothing, NULL), -EINVAL);
    ASSERT_ERR(sp_group_join(&g, &first), -EINVAL);
    ASSERT_ERR(sp_group_cancel(&g), -EINVAL);
    ASSERT_ERR(sp_group_destroy(&g), -EINVAL);
    /* An empty group joins at once and may be destroyed without a join. */
    ASSERT_OK(sp_group_init(&g, SP_DEADLINE_NONE));
    ASSERT_OK(sp_group_join(&g, NULL));
    ASSERT_OK(sp_group_destroy(&g));
    ASSERT_OK(sp_group_init(&g, SP_DEADLINE_NONE));
    ASSERT_OK(sp_group_destroy(&g));
    return 0;
}

int
test_group_misuse(void)
{
    sp_group_t g;
    ASSERT_OK(sp_group_init(&g, SP_DEADLINE_NONE));
    ASSERT_ERR(sp_group_spawn(&g, NULL, nothing, NULL), -EPERM);
    ASSERT_ERR(sp_group_join(&g, NULL), -EPERM);
    ASSERT_OK(sp_group_destroy(&g));
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, group_misuse_main, NULL);
}
