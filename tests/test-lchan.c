/* Shard-local channels (sp_lchan_t, include/spindle/chan.h): exactly-once
 * FIFO delivery between tasks pinned to one shard, close, cancellation of
 * parked tasks from another shard's thread, and misuse from another shard
 * or from a stealable task.
 *
 * The channel lives on shard 0: each test's body runs in a task pinned
 * there (on_shard0). A task runs until it suspends, so "parked" is known
 * without a clock. */
#include "test.h"

/* Run fn in a task pinned to shard 0 and return its result. */
static intptr_t
on_shard0(sp_task_fn fn)
{
    sp_task_attr_t a = test_attr(SP_PLACE_ON, 0);
    sp_task_t t;
    intptr_t r = 1;
    ASSERT_OK(sp_task_spawn(&t, &a, fn, NULL));
    ASSERT_OK(sp_task_join(t, &r));
    return r;
}

static intptr_t
run_pinned(void *fn)
{
    return on_shard0((sp_task_fn)fn);
}

static sp_lchan_t lch;

static sp_task_attr_t
local(void)
{
    return test_attr(SP_PLACE_LOCAL, 0);
}

/* --- many items, several senders and receivers, exactly once, FIFO ------- */

#define LX_SENDERS 3
#define LX_RECEIVERS 3
#define LX_PER_SENDER SCALE(100000)

static uint64_t lx_count[LX_SENDERS], lx_sum[LX_SENDERS];

static intptr_t
lx_sender(void *arg)
{
    uint64_t p = (uint64_t)(intptr_t)arg;
    for (uint64_t s = 0; s < LX_PER_SENDER; s++) {
        uint64_t v = p << 32 | s;
        ASSERT_OK(sp_lchan_send(&lch, &v));
        if ((s & 63) == 0) {
            ASSERT_OK(sp_task_yield()); /* mix the senders' turns */
        }
    }
    return 0;
}

static intptr_t
lx_receiver(void *arg)
{
    (void)arg;
    int64_t last[LX_SENDERS] = {-1, -1, -1};
    uint64_t v;
    int r;
    while ((r = sp_lchan_recv(&lch, &v)) == 0) {
        uint64_t p = v >> 32, s = v & 0xffffffffu;
        ASSERT_LT(p, LX_SENDERS);
        ASSERT_GT((int64_t)s, last[p]); /* each sender's items in order */
        last[p] = (int64_t)s;
        lx_count[p]++;
        lx_sum[p] += s;
    }
    ASSERT_ERR(r, -EPIPE);
    return 0;
}

static int
lx_round(size_t cap)
{
    memset(lx_count, 0, sizeof(lx_count));
    memset(lx_sum, 0, sizeof(lx_sum));
    ASSERT_OK(sp_lchan_init(&lch, sizeof(uint64_t), cap));
    sp_task_attr_t a = local();
    sp_task_t s[LX_SENDERS], r[LX_RECEIVERS];
    for (int i = 0; i < LX_RECEIVERS; i++) {
        ASSERT_OK(sp_task_spawn(&r[i], &a, lx_receiver, NULL));
    }
    for (int i = 0; i < LX_SENDERS; i++) {
        ASSERT_OK(sp_task_spawn(&s[i], &a, lx_sender, (void *)(intptr_t)i));
    }
    for (int i = 0; i < LX_SENDERS; i++) {
        intptr_t res = 1;
        ASSERT_OK(sp_task_join(s[i], &res));
        ASSERT_OK(res);
    }
    ASSERT_OK(sp_lchan_close(&lch));
    for (int i = 0; i < LX_RECEIVERS; i++) {
        intptr_t res = 1;
        ASSERT_OK(sp_task_join(r[i], &res));
        ASSERT_OK(res);
    }
    uint64_t want = (uint64_t)LX_PER_SENDER * (LX_PER_SENDER - 1) / 2;
    for (int p = 0; p < LX_SENDERS; p++) {
        ASSERT_U64_EQ(lx_count[p], LX_PER_SENDER);
        ASSERT_U64_EQ(lx_sum[p], want);
    }
    ASSERT_OK(sp_lchan_destroy(&lch));
    return 0;
}

static intptr_t
lx_main(void *arg)
{
    (void)arg;
    ASSERT_OK(lx_round(0));
    ASSERT_OK(lx_round(1));
    ASSERT_OK(lx_round(16));
    return 0;
}

int
test_lchan_exactly_once(void)
{
    sp_config_t cfg = test_config(2); /* shard 1 idles: nothing may leak there */
    return test_run_main(&cfg, run_pinned, (void *)lx_main);
}

/* --- close and cancellation ---------------------------------------------- */

static intptr_t
lc_sender(void *arg)
{
    uint64_t v = (uint64_t)(intptr_t)arg;
    return sp_lchan_send(&lch, &v);
}

static intptr_t
lc_receiver(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    int r = sp_lchan_recv(&lch, &v);
    return r < 0 ? r : (intptr_t)v;
}

/* Runs on shard 1: cancels a task parked on shard 0's channel from another
 * thread, which goes through the task state word only. */
static intptr_t
lc_canceller(void *arg)
{
    sp_task_t *h = arg;
    return sp_task_cancel(*h);
}

static int
cancel_from_shard1(sp_task_t h)
{
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    sp_task_t c;
    intptr_t r = 1;
    ASSERT_OK(sp_task_spawn(&c, &on1, lc_canceller, &h));
    ASSERT_OK(sp_task_join(c, &r));
    ASSERT_OK(r);
    return 0;
}

static intptr_t
lc_main(void *arg)
{
    (void)arg;
    sp_task_attr_t a = local();
    /* Senders parked on a full ring; the middle one is cancelled from
     * shard 1 and its item never arrives. */
    ASSERT_OK(sp_lchan_init(&lch, sizeof(uint64_t), 1));
    uint64_t v = 1;
    ASSERT_OK(sp_lchan_send(&lch, &v));
    ASSERT_ERR(sp_lchan_try_send(&lch, &v), -EAGAIN);
    sp_task_t s[3];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_spawn(&s[i], &a, lc_sender, (void *)(intptr_t)(i + 2)));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_ERR(sp_lchan_destroy(&lch), -EBUSY);
    ASSERT_OK(cancel_from_shard1(s[1]));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(s[1], &r));
    ASSERT_ERR(r, -ECANCELED);
    for (uint64_t want = 1; want <= 4; want++) {
        if (want == 3) {
            continue;
        }
        ASSERT_OK(sp_lchan_recv(&lch, &v));
        ASSERT_U64_EQ(v, want);
    }
    ASSERT_OK(sp_task_join(s[0], &r));
    ASSERT_OK(r);
    ASSERT_OK(sp_task_join(s[2], &r));
    ASSERT_OK(r);
    ASSERT_ERR(sp_lchan_try_recv(&lch, &v), -EAGAIN);

    /* A cancelled receiver takes nothing. */
    sp_task_t rc;
    ASSERT_OK(sp_task_spawn(&rc, &a, lc_receiver, NULL));
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(cancel_from_shard1(rc));
    ASSERT_OK(sp_task_join(rc, &r));
    ASSERT_ERR(r, -ECANCELED);
    v = 9;
    ASSERT_OK(sp_lchan_send(&lch, &v));
    ASSERT_OK(sp_lchan_recv(&lch, &v));
    ASSERT_U64_EQ(v, 9);

    /* Close: parked senders get -EPIPE; buffered items still drain. */
    v = 5;
    ASSERT_OK(sp_lchan_send(&lch, &v));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_spawn(&s[i], &a, lc_sender, (void *)(intptr_t)7));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_lchan_close(&lch));
    ASSERT_ERR(sp_lchan_close(&lch), -EPIPE);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_task_join(s[i], &r));
        ASSERT_ERR(r, -EPIPE);
    }
    ASSERT_ERR(sp_lchan_send(&lch, &v), -EPIPE);
    ASSERT_ERR(sp_lchan_try_send(&lch, &v), -EPIPE);
    ASSERT_OK(sp_lchan_recv(&lch, &v));
    ASSERT_U64_EQ(v, 5);
    ASSERT_ERR(sp_lchan_recv(&lch, &v), -EPIPE);
    ASSERT_ERR(sp_lchan_try_recv(&lch, &v), -EPIPE);
    ASSERT_OK(sp_lchan_destroy(&lch));

    /* Close: parked receivers (unbuffered) get -EPIPE. */
    ASSERT_OK(sp_lchan_init(&lch, sizeof(uint64_t), 0));
    sp_task_t rs[20];
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(sp_task_spawn(&rs[i], &a, lc_receiver, NULL));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_lchan_close(&lch));
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(sp_task_join(rs[i], &r));
        ASSERT_ERR(r, -EPIPE);
    }
    ASSERT_OK(sp_lchan_destroy(&lch));
    return 0;
}

int
test_lchan_close_and_cancel(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, run_pinned, (void *)lc_main);
}

/* --- misuse: another shard, a stealable task, a dead channel ------------- */

/* Every call on lch from the calling task must fail with -EPERM. */
static intptr_t
lm_intruder(void *arg)
{
    (void)arg;
    uint64_t v = 1;
    ASSERT_ERR(sp_lchan_send(&lch, &v), -EPERM);
    ASSERT_ERR(sp_lchan_recv(&lch, &v), -EPERM);
    ASSERT_ERR(sp_lchan_try_send(&lch, &v), -EPERM);
    ASSERT_ERR(sp_lchan_try_recv(&lch, &v), -EPERM);
    ASSERT_ERR(sp_lchan_close(&lch), -EPERM);
    ASSERT_ERR(sp_lchan_destroy(&lch), -EPERM);
    sp_lchan_t other;
    if (sp_task_placement() == SP_PLACE_STEALABLE) {
        ASSERT_ERR(sp_lchan_init(&other, sizeof(v), 1), -EPERM);
    }
    return 0;
}

static int
run_intruder(const sp_task_attr_t *attr)
{
    sp_task_t t;
    intptr_t r = 1;
    ASSERT_OK(sp_task_spawn(&t, attr, lm_intruder, NULL));
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_OK(r);
    return 0;
}

static intptr_t
lm_main(void *arg)
{
    (void)arg;
    uint64_t v = 3;
    ASSERT_ERR(sp_lchan_init(NULL, 8, 1), -EINVAL);
    ASSERT_ERR(sp_lchan_init(&lch, 0, 1), -EINVAL);
    ASSERT_OK(sp_lchan_init(&lch, sizeof(v), 1));
    ASSERT_OK(sp_lchan_send(&lch, &v));
    /* A task pinned to the other shard, and a stealable one (wherever it
     * runs, even here: it could move at its next suspension point). */
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    ASSERT_OK(run_intruder(&on1));
    sp_task_attr_t steal = test_attr(SP_PLACE_STEALABLE, 0);
    ASSERT_OK(run_intruder(&steal));
    /* The owner is not disturbed: the item is still there. */
    ASSERT_OK(sp_lchan_recv(&lch, &v));
    ASSERT_U64_EQ(v, 3);
    ASSERT_ERR(sp_lchan_send(&lch, NULL), -EINVAL);
    /* The owner itself, once unpinned, is refused too. */
    ASSERT_OK(sp_task_unpin());
    ASSERT_ERR(sp_lchan_try_recv(&lch, &v), -EPERM);
    ASSERT_OK(sp_task_pin());
    ASSERT_EQ(sp_shard_id(), 0);
    ASSERT_OK(sp_lchan_destroy(&lch));
    ASSERT_ERR(sp_lchan_send(&lch, &v), -EINVAL);
    ASSERT_ERR(sp_lchan_destroy(&lch), -EINVAL);
    return 0;
}

int
test_lchan_misuse_eperm(void)
{
    sp_config_t cfg = test_config(2);
    TEST_CHECK(test_run_main(&cfg, run_pinned, (void *)lm_main));
    /* Outside any task. */
    sp_lchan_t c;
    ASSERT_ERR(sp_lchan_init(&c, 8, 1), -EPERM);
    return 0;
}
