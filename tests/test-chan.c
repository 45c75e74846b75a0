/* Channels, select and oneshot (include/spindle/chan.h): exactly-once
 * delivery across shards, rendezvous, close, cancellation and deadlines of
 * parked tasks, select's one-winner rule, misuse.
 *
 * Fixed interleavings use one shard, where a task runs until it suspends,
 * so "parked" is known without looking at the clock. Shared state lives in
 * statics reset by each test's main task. */
#include "test.h"

static sp_task_attr_t
spread(int i)
{
    /* Even: pinned, alternating shards; odd: stealable. */
    if (i % 2 == 0) {
        return test_attr(SP_PLACE_ON, (i / 2) % sp_shard_count());
    }
    return test_attr(SP_PLACE_STEALABLE, 0);
}

/* A 64-bit mix (splitmix64's finaliser) for order-free checksums. */
static uint64_t
mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* --- 10^6 messages, 4 producers, 4 consumers, both shards ---------------- */

#define MP_PRODUCERS 4
#define MP_CONSUMERS 4
#define MP_PER_PRODUCER (SCALE(1000000) / MP_PRODUCERS)

struct mp_item {
    uint32_t producer;
    uint32_t check; /* low bits of mix(seq): catches torn copies */
    uint64_t seq;
};

static sp_chan_t mp_ch;
static _Atomic uint64_t mp_count[MP_PRODUCERS];
static _Atomic uint64_t mp_sum[MP_PRODUCERS];
static _Atomic uint64_t mp_mixsum[MP_PRODUCERS];

static intptr_t
mp_producer(void *arg)
{
    uint32_t p = (uint32_t)(intptr_t)arg;
    for (uint64_t s = 0; s < MP_PER_PRODUCER; s++) {
        struct mp_item it = {.producer = p, .check = (uint32_t)mix(s), .seq = s};
        ASSERT_OK(sp_chan_send(&mp_ch, &it));
    }
    return 0;
}

static intptr_t
mp_consumer(void *arg)
{
    (void)arg;
    /* Each producer's items reach any one consumer in increasing order:
     * a producer's sends are ordered and the channel is FIFO. */
    int64_t last[MP_PRODUCERS];
    for (int i = 0; i < MP_PRODUCERS; i++) {
        last[i] = -1;
    }
    struct mp_item it;
    int r;
    while ((r = sp_chan_recv(&mp_ch, &it)) == 0) {
        ASSERT_LT(it.producer, MP_PRODUCERS);
        ASSERT_EQ(it.check, (uint32_t)mix(it.seq));
        ASSERT_GT((int64_t)it.seq, last[it.producer]);
        last[it.producer] = (int64_t)it.seq;
        atomic_fetch_add(&mp_count[it.producer], 1);
        atomic_fetch_add(&mp_sum[it.producer], it.seq);
        atomic_fetch_add(&mp_mixsum[it.producer], mix(it.seq));
    }
    ASSERT_ERR(r, -EPIPE);
    return 0;
}

static intptr_t
mp_main(void *arg)
{
    size_t cap = (size_t)(intptr_t)arg;
    ASSERT_OK(sp_chan_init(&mp_ch, sizeof(struct mp_item), cap));
    for (int i = 0; i < MP_PRODUCERS; i++) {
        atomic_store(&mp_count[i], 0);
        atomic_store(&mp_sum[i], 0);
        atomic_store(&mp_mixsum[i], 0);
    }
    sp_task_t prod[MP_PRODUCERS], cons[MP_CONSUMERS];
    for (int i = 0; i < MP_CONSUMERS; i++) {
        sp_task_attr_t a = spread(i);
        ASSERT_OK(sp_task_spawn(&cons[i], &a, mp_consumer, NULL));
    }
    for (int i = 0; i < MP_PRODUCERS; i++) {
        sp_task_attr_t a = spread(i + 1);
        ASSERT_OK(sp_task_spawn(&prod[i], &a, mp_producer, (void *)(intptr_t)i));
    }
    for (int i = 0; i < MP_PRODUCERS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(prod[i], &r));
        ASSERT_EQ(r, 0);
    }
    /* Every item is sent; the consumers drain the ring, then see -EPIPE. */
    ASSERT_OK(sp_chan_close(&mp_ch));
    for (int i = 0; i < MP_CONSUMERS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(cons[i], &r));
        ASSERT_EQ(r, 0);
    }
    uint64_t n = MP_PER_PRODUCER, mixes = 0;
    for (uint64_t s = 0; s < n; s++) {
        mixes += mix(s);
    }
    for (int i = 0; i < MP_PRODUCERS; i++) {
        ASSERT_U64_EQ(atomic_load(&mp_count[i]), n);
        ASSERT_U64_EQ(atomic_load(&mp_sum[i]), n * (n - 1) / 2);
        ASSERT_U64_EQ(atomic_load(&mp_mixsum[i]), mixes);
    }
    ASSERT_EQ(sp_chan_len(&mp_ch), 0);
    ASSERT_OK(sp_chan_destroy(&mp_ch));
    return 0;
}

int
test_chan_mpmc_exactly_once(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, mp_main, (void *)(intptr_t)64);
}

int
test_chan_mpmc_unbuffered_exactly_once(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, mp_main, (void *)(intptr_t)0);
}

/* --- unbuffered: a send completes only when a receiver takes it ---------- */

static sp_chan_t ch;
static int step; /* one shard: plain */

static intptr_t
rv_sender(void *arg)
{
    uint64_t v = (uint64_t)(intptr_t)arg;
    step = 1;
    ASSERT_OK(sp_chan_send(&ch, &v));
    step = 2;
    return 0;
}

static intptr_t
rv_receiver(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    ASSERT_OK(sp_chan_recv(&ch, &v));
    return (intptr_t)v;
}

static intptr_t
rv_receiver_on(void *arg)
{
    uint64_t v = 0;
    int r = sp_chan_recv(arg, &v);
    return r == 0 ? (intptr_t)v : r;
}

static intptr_t
rv_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), 0));
    ASSERT_EQ(sp_chan_cap(&ch), 0);
    uint64_t v = 7;
    ASSERT_ERR(sp_chan_try_send(&ch, &v), -EAGAIN); /* nobody receives */
    ASSERT_ERR(sp_chan_try_recv(&ch, &v), -EAGAIN);
    /* A sender parks until a receiver arrives. */
    step = 0;
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, rv_sender, (void *)(intptr_t)41));
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(sp_task_yield());
    }
    ASSERT_EQ(step, 1);
    ASSERT_EQ(sp_chan_len(&ch), 0);
    ASSERT_OK(sp_chan_recv(&ch, &v)); /* takes the parked sender's item */
    ASSERT_EQ(v, 41);
    ASSERT_OK(sp_task_join(t, NULL));
    ASSERT_EQ(step, 2);
    /* A receiver parked first: try_send hands over directly. */
    ASSERT_OK(sp_task_spawn(&t, NULL, rv_receiver, NULL));
    ASSERT_OK(sp_task_yield());
    v = 42;
    ASSERT_OK(sp_chan_try_send(&ch, &v));
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 42);
    /* A parked sender: try_recv takes its item. */
    ASSERT_OK(sp_task_spawn(&t, NULL, rv_sender, (void *)(intptr_t)43));
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_chan_try_recv(&ch, &v));
    ASSERT_EQ(v, 43);
    ASSERT_OK(sp_task_join(t, NULL));
    ASSERT_OK(sp_chan_destroy(&ch));
    return 0;
}

int
test_chan_unbuffered_rendezvous(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, rv_main, NULL);
}

/* --- buffered: FIFO across the ring and the parked senders --------------- */

static intptr_t
fifo_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), 3));
    ASSERT_EQ(sp_chan_cap(&ch), 3);
    sp_task_t t[5];
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, rv_sender, (void *)(intptr_t)(i + 1)));
    }
    ASSERT_OK(sp_task_yield()); /* 1-3 buffered, 4 and 5 parked in order */
    ASSERT_EQ(sp_chan_len(&ch), 3);
    uint64_t v = 0;
    ASSERT_ERR(sp_chan_try_send(&ch, &v), -EAGAIN);
    for (uint64_t i = 1; i <= 5; i++) {
        ASSERT_OK(sp_chan_recv(&ch, &v));
        ASSERT_U64_EQ(v, i);
        /* The freed slot is refilled from the first parked sender. */
        ASSERT_EQ(sp_chan_len(&ch), i <= 2 ? 3 : 5 - (long)i);
    }
    ASSERT_ERR(sp_chan_try_recv(&ch, &v), -EAGAIN);
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(sp_task_join(t[i], NULL));
    }
    ASSERT_OK(sp_chan_destroy(&ch));
    return 0;
}

int
test_chan_fifo_ring_and_parked(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, fifo_main, NULL);
}

/* --- close with senders and receivers parked ----------------------------- */

static intptr_t
close_sender(void *arg)
{
    uint64_t v = (uint64_t)(intptr_t)arg;
    return sp_chan_send(&ch, &v);
}

static intptr_t
close_receiver(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    return sp_chan_recv(&ch, &v);
}

static intptr_t
close_main(void *arg)
{
    (void)arg;
    /* Senders parked on a full ring. */
    ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), 2));
    sp_task_t s[5];
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(sp_task_spawn(&s[i], NULL, close_sender, (void *)(intptr_t)(i + 1)));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_ERR(sp_chan_destroy(&ch), -EBUSY);
    ASSERT_OK(sp_chan_close(&ch));
    ASSERT_ERR(sp_chan_close(&ch), -EPIPE);
    for (int i = 0; i < 5; i++) {
        intptr_t r = 1;
        ASSERT_OK(sp_task_join(s[i], &r));
        ASSERT_ERR(r, i < 2 ? 0 : -EPIPE); /* 1 and 2 were buffered */
    }
    uint64_t v = 0;
    ASSERT_ERR(sp_chan_send(&ch, &v), -EPIPE);
    ASSERT_ERR(sp_chan_try_send(&ch, &v), -EPIPE);
    ASSERT_OK(sp_chan_recv(&ch, &v)); /* the buffered items still drain */
    ASSERT_U64_EQ(v, 1);
    ASSERT_OK(sp_chan_try_recv(&ch, &v));
    ASSERT_U64_EQ(v, 2);
    ASSERT_ERR(sp_chan_recv(&ch, &v), -EPIPE);
    ASSERT_ERR(sp_chan_try_recv(&ch, &v), -EPIPE);
    ASSERT_OK(sp_chan_destroy(&ch));
    /* Receivers parked on an empty channel (more than one wake batch). */
    ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), 1));
    sp_task_t r[40];
    for (int i = 0; i < 40; i++) {
        ASSERT_OK(sp_task_spawn(&r[i], NULL, close_receiver, NULL));
    }
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_chan_close(&ch));
    for (int i = 0; i < 40; i++) {
        intptr_t res = 0;
        ASSERT_OK(sp_task_join(r[i], &res));
        ASSERT_ERR(res, -EPIPE);
    }
    ASSERT_OK(sp_chan_destroy(&ch));
    return 0;
}

int
test_chan_close_wakes_parked(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, close_main, NULL);
}

/* --- cancelling parked senders and receivers loses no item --------------- */

static intptr_t
cancel_fixed_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), 1));
    uint64_t v = 1;
    ASSERT_OK(sp_chan_send(&ch, &v));
    sp_task_t a, b, c;
    ASSERT_OK(sp_task_spawn(&a, NULL, close_sender, (void *)(intptr_t)2));
    ASSERT_OK(sp_task_spawn(&b, NULL, close_sender, (void *)(intptr_t)3));
    ASSERT_OK(sp_task_spawn(&c, NULL, close_sender, (void *)(intptr_t)4));
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_task_cancel(b)); /* parked in the middle of the queue */
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(b, &r));
    ASSERT_ERR(r, -ECANCELED);
    for (uint64_t want = 1; want <= 4; want++) {
        if (want == 3) {
            continue; /* b's item was never sent */
        }
        ASSERT_OK(sp_chan_recv(&ch, &v));
        ASSERT_U64_EQ(v, want);
    }
    ASSERT_OK(sp_task_join(a, &r));
    ASSERT_OK(r);
    ASSERT_OK(sp_task_join(c, &r));
    ASSERT_OK(r);
    /* A cancelled receiver takes nothing: the next item stays buffered. */
    ASSERT_OK(sp_task_spawn(&a, NULL, close_receiver, NULL));
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_task_cancel(a));
    ASSERT_OK(sp_task_join(a, &r));
    ASSERT_ERR(r, -ECANCELED);
    v = 9;
    ASSERT_OK(sp_chan_send(&ch, &v));
    ASSERT_EQ(sp_chan_len(&ch), 1);
    ASSERT_OK(sp_chan_recv(&ch, &v));
    ASSERT_U64_EQ(v, 9);
    ASSERT_OK(sp_chan_destroy(&ch));
    return 0;
}

int
test_chan_cancel_parked_fixed(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, cancel_fixed_main, NULL);
}

/* Racing: senders on both shards, some cancelled while they may be parked,
 * being granted, or already done. The items received must be exactly those
 * of the senders whose send returned 0. */
#define CR_ROUNDS SCALE(300)
#define CR_SENDERS 32

static _Atomic uint64_t cr_got_mask; /* bit i: sender i's item received */

static intptr_t
cr_drain(void *arg)
{
    (void)arg;
    uint64_t v;
    int r;
    while ((r = sp_chan_recv(&ch, &v)) == 0) {
        uint64_t bit = 1ull << v;
        EXPECT_EQ(atomic_fetch_or(&cr_got_mask, bit) & bit, 0); /* no duplicate */
        if ((v & 3) == 0) {
            sp_task_yield(); /* let the ring fill and senders park */
        }
    }
    return r == -EPIPE ? 0 : r;
}

static intptr_t
cr_receiver(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    int r = sp_chan_recv(&ch, &v);
    return r == 0 ? (intptr_t)v : r;
}

static intptr_t
cancel_race_main(void *arg)
{
    (void)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < CR_ROUNDS; round++) {
        ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), round % 3));
        atomic_store(&cr_got_mask, 0);
        sp_task_t d, s[CR_SENDERS];
        sp_task_attr_t da = spread(round);
        ASSERT_OK(sp_task_spawn(&d, &da, cr_drain, NULL));
        for (int i = 0; i < CR_SENDERS; i++) {
            sp_task_attr_t a = spread(i + round);
            ASSERT_OK(sp_task_spawn(&s[i], &a, close_sender, (void *)(intptr_t)i));
        }
        uint64_t cancelled = test_rand(&rng) & test_rand(&rng);
        for (int i = 0; i < CR_SENDERS; i++) {
            if (cancelled >> i & 1) {
                ASSERT_OK(sp_task_cancel(s[i]));
            }
            if ((test_rand(&rng) & 7) == 0) {
                sp_task_yield();
            }
        }
        uint64_t sent = 0;
        for (int i = 0; i < CR_SENDERS; i++) {
            intptr_t r = 1;
            ASSERT_OK(sp_task_join(s[i], &r));
            if (r == 0) {
                sent |= 1ull << i;
            } else {
                ASSERT_ERR(r, -ECANCELED);
                ASSERT(cancelled >> i & 1);
            }
        }
        ASSERT_OK(sp_chan_close(&ch));
        intptr_t r = 1;
        ASSERT_OK(sp_task_join(d, &r));
        ASSERT_OK(r);
        ASSERT_U64_EQ(atomic_load(&cr_got_mask), sent);
        ASSERT_OK(sp_chan_destroy(&ch));

        /* Receivers, some cancelled: every sent item is received exactly
         * once, by a receiver that returned it or from the ring. */
        ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), round % 3));
        sp_task_t rc[8];
        for (int i = 0; i < 8; i++) {
            sp_task_attr_t a = spread(i + round);
            ASSERT_OK(sp_task_spawn(&rc[i], &a, cr_receiver, NULL));
        }
        uint64_t want = 0, got = 0;
        cancelled = test_rand(&rng);
        for (uint64_t i = 0; i < 8; i++) {
            if (cancelled >> i & 1) {
                ASSERT_OK(sp_task_cancel(rc[i]));
            }
            /* try_send: the main task must not wait on cancelled receivers. */
            uint64_t v = i + 1;
            if (sp_chan_try_send(&ch, &v) == 0) {
                want |= 1ull << v;
            }
        }
        /* Receivers that got nothing are woken with -EPIPE; the ring
         * still drains below. */
        ASSERT_OK(sp_chan_close(&ch));
        for (int i = 0; i < 8; i++) {
            r = 0;
            ASSERT_OK(sp_task_join(rc[i], &r));
            if (r > 0) {
                ASSERT_EQ(got & (1ull << r), 0);
                got |= 1ull << r;
            } else if (r != -EPIPE) {
                ASSERT_ERR(r, -ECANCELED);
            }
        }
        uint64_t v;
        while (sp_chan_try_recv(&ch, &v) == 0) {
            ASSERT_EQ(got & (1ull << v), 0);
            got |= 1ull << v;
        }
        ASSERT_U64_EQ(got, want);
        ASSERT_OK(sp_chan_destroy(&ch));
    }
    return 0;
}

int
test_chan_cancel_parked_race(void)
{
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, cancel_race_main, NULL);
    ASSERT_NO_FAILURES();
    return r;
}

/* --- deadline ------------------------------------------------------------- */

static intptr_t
deadline_main(void *arg)
{
    (void)arg;
    ASSERT_OK(sp_chan_init(&ch, sizeof(uint64_t), 1));
    uint64_t v = 5;
    sp_task_set_deadline(sp_now_ns() + 2 * SP_NSEC_PER_MSEC);
    ASSERT_OK(sp_chan_send(&ch, &v)); /* room: no wait */
    ASSERT_ERR(sp_chan_send(&ch, &v), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_EQ(sp_chan_len(&ch), 1);
    ASSERT_OK(sp_chan_recv(&ch, &v));
    ASSERT_U64_EQ(v, 5);
    v = 0;
    sp_task_set_deadline(sp_now_ns() + 2 * SP_NSEC_PER_MSEC);
    ASSERT_ERR(sp_chan_recv(&ch, &v), -ETIMEDOUT);
    ASSERT_U64_EQ(v, 0); /* untouched */
    sp_select_case_t c[2] = {{SP_SELECT_RECV, &ch, &v, 1}, {SP_SELECT_RECV, &ch, &v, 1}};
    ASSERT_ERR(sp_select(c, 2), -ETIMEDOUT);
    ASSERT_EQ(c[0].result, 1);
    ASSERT_EQ(c[1].result, 1);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    /* The timed-out waiters left the queues. */
    ASSERT_OK(sp_chan_destroy(&ch));
    return 0;
}

int
test_chan_deadline_timedout(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, deadline_main, NULL);
}

/* --- select: exactly one case fires, every item accounted once ----------- */

#define SEL_CHANS 4
#define SEL_TRIALS SCALE(100000)
#define SEL_SELECTORS 4

static sp_chan_t sel_ch[SEL_CHANS];
static _Atomic uint64_t sel_token;   /* next item value (items are >= 1) */
static _Atomic int sel_stop;
static _Atomic uint64_t sent_n, sent_sum, sent_mix, recv_n, recv_sum, recv_mix;

static void
account(int sent, uint64_t v)
{
    atomic_fetch_add(sent ? &sent_n : &recv_n, 1);
    atomic_fetch_add(sent ? &sent_sum : &recv_sum, v);
    atomic_fetch_add(sent ? &sent_mix : &recv_mix, mix(v));
}

/* Keeps every channel supplied: one select sending to all of them. */
static intptr_t
sel_feeder(void *arg)
{
    (void)arg;
    while (!atomic_load(&sel_stop)) {
        uint64_t v[SEL_CHANS];
        sp_select_case_t c[SEL_CHANS];
        for (int i = 0; i < SEL_CHANS; i++) {
            v[i] = atomic_fetch_add(&sel_token, 1);
            c[i] = (sp_select_case_t){SP_SELECT_SEND, &sel_ch[i], &v[i], 1};
        }
        int r = sp_select(c, SEL_CHANS);
        ASSERT(r >= 0 && r < SEL_CHANS);
        if (c[r].result < 0) {
            ASSERT_ERR(c[r].result, -EPIPE);
            break;
        }
        account(1, v[r]);
    }
    return 0;
}

/* Keeps every channel drained, until all are closed and empty. */
static intptr_t
sel_drainer(void *arg)
{
    (void)arg;
    uint64_t v[SEL_CHANS];
    sp_select_case_t c[SEL_CHANS];
    int n = SEL_CHANS;
    for (int i = 0; i < n; i++) {
        c[i] = (sp_select_case_t){SP_SELECT_RECV, &sel_ch[i], &v[i], 1};
    }
    while (n > 0) {
        for (int i = 0; i < n; i++) {
            v[i] = 0;
        }
        int r = sp_select(c, n);
        ASSERT(r >= 0 && r < n);
        for (int i = 0; i < n; i++) {
            ASSERT_U64_EQ(v[i], i == r && c[r].result == 0 ? v[r] : 0);
        }
        if (c[r].result == 0) {
            ASSERT_U64_NE(v[r], 0);
            account(0, v[r]);
        } else {
            ASSERT_ERR(c[r].result, -EPIPE);
            c[r] = c[--n];
            c[r].item = &v[r]; /* keep buffer i with case i */
        }
    }
    return 0;
}

static intptr_t
sel_selector(void *arg)
{
    uint64_t rng = (uint64_t)(intptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    for (int t = 0; t < SEL_TRIALS / SEL_SELECTORS; t++) {
        int n = 1 + (int)(test_rand(&rng) % 4);
        uint64_t v[4];
        sp_select_case_t c[4];
        for (int i = 0; i < n; i++) {
            uint64_t x = test_rand(&rng);
            int send = x & 1;
            v[i] = send ? atomic_fetch_add(&sel_token, 1) : 0;
            c[i] = (sp_select_case_t){send ? SP_SELECT_SEND : SP_SELECT_RECV,
                                      &sel_ch[(x >> 1) % SEL_CHANS], &v[i], 1};
        }
        int try = (test_rand(&rng) & 7) == 0;
        int r = try ? sp_select_try(c, n) : sp_select(c, n);
        if (try && r == -EAGAIN) {
            for (int i = 0; i < n; i++) {
                ASSERT_EQ(c[i].result, 1);
                ASSERT(c[i].op == SP_SELECT_SEND || v[i] == 0);
            }
            continue;
        }
        ASSERT(r >= 0 && r < n);
        for (int i = 0; i < n; i++) {
            if (i == r) {
                ASSERT_OK(c[i].result);
            } else {
                ASSERT_EQ(c[i].result, 1); /* untouched */
                ASSERT(c[i].op == SP_SELECT_SEND || v[i] == 0);
            }
        }
        ASSERT_U64_NE(v[r], 0);
        account(c[r].op == SP_SELECT_SEND, v[r]);
    }
    return 0;
}

static intptr_t
sel_main(void *arg)
{
    (void)arg;
    static const size_t caps[SEL_CHANS] = {0, 1, 4, 0};
    for (int i = 0; i < SEL_CHANS; i++) {
        ASSERT_OK(sp_chan_init(&sel_ch[i], sizeof(uint64_t), caps[i]));
    }
    atomic_store(&sel_token, 1);
    atomic_store(&sel_stop, 0);
    atomic_store(&sent_n, 0);
    atomic_store(&sent_sum, 0);
    atomic_store(&sent_mix, 0);
    atomic_store(&recv_n, 0);
    atomic_store(&recv_sum, 0);
    atomic_store(&recv_mix, 0);
    sp_task_t f[2], d[2], s[SEL_SELECTORS];
    for (int i = 0; i < 2; i++) {
        sp_task_attr_t a = test_attr(SP_PLACE_ON, i % sp_shard_count());
        ASSERT_OK(sp_task_spawn(&f[i], &a, sel_feeder, NULL));
        ASSERT_OK(sp_task_spawn(&d[i], &a, sel_drainer, NULL));
    }
    for (int i = 0; i < SEL_SELECTORS; i++) {
        sp_task_attr_t a = spread(i);
        ASSERT_OK(sp_task_spawn(&s[i], &a, sel_selector, (void *)(intptr_t)(i + 1)));
    }
    for (int i = 0; i < SEL_SELECTORS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(s[i], &r));
        ASSERT_EQ(r, 0);
    }
    atomic_store(&sel_stop, 1);
    for (int i = 0; i < SEL_CHANS; i++) {
        ASSERT_OK(sp_chan_close(&sel_ch[i]));
    }
    for (int i = 0; i < 2; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(f[i], &r));
        ASSERT_EQ(r, 0);
        ASSERT_OK(sp_task_join(d[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_U64_EQ(atomic_load(&recv_n), atomic_load(&sent_n));
    ASSERT_U64_EQ(atomic_load(&recv_sum), atomic_load(&sent_sum));
    ASSERT_U64_EQ(atomic_load(&recv_mix), atomic_load(&sent_mix));
    ASSERT_U64_GE(atomic_load(&sent_n), SEL_TRIALS / 4);
    for (int i = 0; i < SEL_CHANS; i++) {
        ASSERT_EQ(sp_chan_len(&sel_ch[i]), 0);
        ASSERT_OK(sp_chan_destroy(&sel_ch[i]));
    }
    return 0;
}

int
test_chan_select_exactly_one(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, sel_main, NULL);
}

/* --- select: closed channels, select_try, cancellation -------------------- */

static intptr_t
sel_parked(void *arg)
{
    sp_select_case_t *c = arg;
    return sp_select(c, 3);
}

static intptr_t
sel_closed_main(void *arg)
{
    (void)arg;
    sp_chan_t cs[3];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_chan_init(&cs[i], sizeof(uint64_t), i));
    }
    /* Parked on three open channels; closing them wakes it with -EPIPE. */
    uint64_t v[3] = {0, 0, 0};
    sp_select_case_t c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (sp_select_case_t){SP_SELECT_RECV, &cs[i], &v[i], 1};
    }
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, sel_parked, c));
    ASSERT_OK(sp_task_yield());
    ASSERT_ERR(sp_chan_destroy(&cs[2]), -EBUSY);
    ASSERT_OK(sp_chan_close(&cs[2]));
    intptr_t r = -1;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 2);
    ASSERT_ERR(c[2].result, -EPIPE);
    ASSERT_EQ(c[0].result, 1);
    ASSERT_EQ(c[1].result, 1);
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(sp_chan_close(&cs[i]));
    }
    /* All closed and empty: every case is ready with -EPIPE, picked at
     * random (so each comes up in 300 tries, but for 3 * (2/3)^300). */
    int seen[3] = {0, 0, 0};
    for (int k = 0; k < 300; k++) {
        for (int i = 0; i < 3; i++) {
            c[i].op = (k + i) % 2 ? SP_SELECT_SEND : SP_SELECT_RECV;
            c[i].result = 1;
        }
        int idx = k % 2 ? sp_select(c, 3) : sp_select_try(c, 3);
        ASSERT(idx >= 0 && idx < 3);
        ASSERT_ERR(c[idx].result, -EPIPE);
        seen[idx]++;
    }
    for (int i = 0; i < 3; i++) {
        ASSERT_GT(seen[i], 0);
    }
    /* Closed with an item buffered: the item is still received. */
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_chan_destroy(&cs[i]));
        ASSERT_OK(sp_chan_init(&cs[i], sizeof(uint64_t), 1));
    }
    uint64_t x = 77;
    ASSERT_OK(sp_chan_send(&cs[1], &x));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_chan_close(&cs[i]));
        c[i] = (sp_select_case_t){SP_SELECT_RECV, &cs[i], &v[i], 1};
    }
    int got = 0;
    for (int k = 0; k < 100 && !got; k++) {
        int idx = sp_select(c, 3);
        ASSERT(idx >= 0 && idx < 3);
        if (c[idx].result == 0) {
            ASSERT_EQ(idx, 1);
            ASSERT_U64_EQ(v[1], 77);
            got = 1;
        }
        c[idx].result = 1;
    }
    ASSERT(got);
    ASSERT_EQ(sp_chan_len(&cs[1]), 0);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_chan_destroy(&cs[i]));
    }
    return 0;
}

int
test_chan_select_all_closed(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, sel_closed_main, NULL);
}

static intptr_t
sel_try_main(void *arg)
{
    (void)arg;
    sp_chan_t a, b;
    ASSERT_OK(sp_chan_init(&a, sizeof(uint64_t), 0));
    ASSERT_OK(sp_chan_init(&b, sizeof(uint64_t), 2));
    uint64_t va = 1, vb = 0;
    sp_select_case_t c[3] = {
        {SP_SELECT_SEND, &a, &va, 1}, /* nobody receives */
        {SP_SELECT_RECV, &b, &vb, 1}, /* empty */
        {SP_SELECT_RECV, &a, &vb, 1}, /* nobody sends */
    };
    ASSERT_ERR(sp_select_try(c, 3), -EAGAIN);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(c[i].result, 1);
    }
    uint64_t x = 5;
    ASSERT_OK(sp_chan_send(&b, &x));
    ASSERT_EQ(sp_select_try(c, 3), 1);
    ASSERT_OK(c[1].result);
    ASSERT_U64_EQ(vb, 5);
    c[1].result = 1;
    /* A parked receiver on a makes the send case ready: direct hand-off. */
    sp_task_t t;
    ASSERT_OK(sp_task_spawn(&t, NULL, rv_receiver_on, &a));
    ASSERT_OK(sp_task_yield());
    va = 99;
    ASSERT_EQ(sp_select_try(c, 2), 0);
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_EQ(r, 99);
    /* A parked select, cancelled: no case completes and its waiters leave
     * every queue (destroy would see them otherwise). */
    c[0].result = 1;
    ASSERT_OK(sp_task_spawn(&t, NULL, sel_parked, c));
    ASSERT_OK(sp_task_yield());
    ASSERT_OK(sp_task_cancel(t));
    ASSERT_OK(sp_task_join(t, &r));
    ASSERT_ERR(r, -ECANCELED);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(c[i].result, 1);
    }
    ASSERT_EQ(sp_chan_len(&b), 0);
    ASSERT_OK(sp_chan_destroy(&a));
    ASSERT_OK(sp_chan_destroy(&b));
    return 0;
}

int
test_chan_select_try(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, sel_try_main, NULL);
}

/* --- oneshot -------------------------------------------------------------- */

static sp_oneshot_t os;

static intptr_t
os_receiver(void *arg)
{
    (void)arg;
    intptr_t v = 0;
    int r = sp_oneshot_recv(&os, &v);
    return r == 0 ? v : r;
}

static intptr_t
os_main(void *arg)
{
    (void)arg;
    /* Sent before anyone waits; taken once. */
    ASSERT_OK(sp_oneshot_init(&os));
    intptr_t v = 0;
    ASSERT_ERR(sp_oneshot_try_recv(&os, &v), -EAGAIN);
    ASSERT_OK(sp_oneshot_send(&os, 1234));
    ASSERT_ERR(sp_oneshot_send(&os, 1), -EALREADY);
    ASSERT_OK(sp_oneshot_recv(&os, &v));
    ASSERT_EQ(v, 1234);
    ASSERT_ERR(sp_oneshot_recv(&os, &v), -EPIPE); /* spent */
    ASSERT_OK(sp_oneshot_close(&os));             /* after a send: no change */
    ASSERT_OK(sp_oneshot_destroy(&os));
    /* Receivers parked on the other shard: one gets it, the rest -EPIPE. */
    sp_oneshot_t zero = SP_ONESHOT_INIT;
    os = zero;
    sp_task_t t[3];
    for (int i = 0; i < 3; i++) {
        sp_task_attr_t a = test_attr(SP_PLACE_ON, 1 % sp_shard_count());
        ASSERT_OK(sp_task_spawn(&t[i], &a, os_receiver, NULL));
    }
    ASSERT_OK(sp_oneshot_send(&os, 77));
    int got = 0;
    for (int i = 0; i < 3; i++) {
        intptr_t r = 0;
        ASSERT_OK(sp_task_join(t[i], &r));
        if (r == 77) {
            got++;
        } else {
            ASSERT_ERR(r, -EPIPE);
        }
    }
    ASSERT_EQ(got, 1);
    ASSERT_OK(sp_oneshot_destroy(&os));
    /* The sender goes away without sending. Both receivers must be parked
     * before the destroy: on this shard, with us pinned, one yield runs
     * them first (stealable, another shard could start them late). */
    ASSERT_OK(sp_task_pin());
    ASSERT_OK(sp_oneshot_init(&os));
    sp_task_attr_t here = test_attr(SP_PLACE_ON, sp_shard_id());
    ASSERT_OK(sp_task_spawn(&t[0], &here, os_receiver, NULL));
    sp_task_t c;
    ASSERT_OK(sp_task_spawn(&c, &here, os_receiver, NULL));
    ASSERT_OK(sp_task_yield());
    ASSERT_ERR(sp_oneshot_destroy(&os), -EBUSY);
    ASSERT_OK(sp_task_cancel(c)); /* a cancelled receiver just leaves */
    intptr_t r = 0;
    ASSERT_OK(sp_task_join(c, &r));
    ASSERT_ERR(r, -ECANCELED);
    ASSERT_OK(sp_oneshot_close(&os));
    ASSERT_OK(sp_task_join(t[0], &r));
    ASSERT_ERR(r, -EPIPE);
    ASSERT_ERR(sp_oneshot_send(&os, 1), -EPIPE);
    ASSERT_ERR(sp_oneshot_try_recv(&os, &v), -EPIPE);
    ASSERT_OK(sp_oneshot_destroy(&os));
    ASSERT_ERR(sp_oneshot_send(&os, 1), -EINVAL); /* destroyed */
    ASSERT_ERR(sp_oneshot_recv(NULL, &v), -EINVAL);
    ASSERT_ERR(sp_oneshot_init(NULL), -EINVAL);
    return 0;
}

int
test_chan_oneshot(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, os_main, NULL);
}

/* --- misuse --------------------------------------------------------------- */

static intptr_t
misuse_main(void *arg)
{
    (void)arg;
    sp_chan_t c;
    uint64_t v = 0;
    ASSERT_ERR(sp_chan_init(&c, 0, 4), -EINVAL); /* zero item size */
    ASSERT_ERR(sp_chan_init(&c, SP_CHAN_ITEM_MAX + 1, 1), -EINVAL);
    ASSERT_ERR(sp_chan_init(&c, 8, SP_CHAN_CAP_MAX + 1), -EINVAL);
    ASSERT_ERR(sp_chan_init(&c, SP_CHAN_ITEM_MAX, SP_CHAN_CAP_MAX), -EINVAL);
    ASSERT_ERR(sp_chan_init(&c, (size_t)-1, (size_t)-1), -EINVAL);
    ASSERT_ERR(sp_chan_init(NULL, 8, 1), -EINVAL);
    ASSERT_ERR(sp_chan_send(NULL, &v), -EINVAL);
    ASSERT_ERR(sp_chan_recv(NULL, &v), -EINVAL);
    ASSERT_ERR(sp_chan_try_send(NULL, &v), -EINVAL);
    ASSERT_ERR(sp_chan_close(NULL), -EINVAL);
    ASSERT_ERR(sp_chan_len(NULL), -EINVAL);
    ASSERT_ERR(sp_chan_destroy(NULL), -EINVAL);
    sp_chan_t zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    ASSERT_ERR(sp_chan_send(&zeroed, &v), -EINVAL); /* never initialised */
    ASSERT_OK(sp_chan_init(&c, sizeof v, 1));
    ASSERT_ERR(sp_chan_send(&c, NULL), -EINVAL);
    ASSERT_ERR(sp_chan_recv(&c, NULL), -EINVAL);
    sp_select_case_t sc[1] = {{SP_SELECT_RECV, &c, &v, 1}};
    ASSERT_ERR(sp_select(NULL, 1), -EINVAL);
    ASSERT_ERR(sp_select(sc, 0), -EINVAL);
    ASSERT_ERR(sp_select(sc, SP_SELECT_MAX + 1), -EINVAL);
    sc[0].op = (sp_select_op_t)7;
    ASSERT_ERR(sp_select(sc, 1), -EINVAL);
    sc[0].op = SP_SELECT_RECV;
    sc[0].ch = NULL;
    ASSERT_ERR(sp_select_try(sc, 1), -EINVAL);
    sc[0].ch = &c;
    ASSERT_OK(sp_chan_destroy(&c));
    ASSERT_ERR(sp_chan_destroy(&c), -EINVAL);
    ASSERT_ERR(sp_chan_send(&c, &v), -EINVAL); /* destroyed */
    ASSERT_ERR(sp_chan_try_recv(&c, &v), -EINVAL);
    ASSERT_ERR(sp_chan_close(&c), -EINVAL);
    ASSERT_ERR(sp_chan_cap(&c), -EINVAL);
    ASSERT_ERR(sp_select(sc, 1), -EINVAL);
    return 0;
}

int
test_chan_misuse(void)
{
    sp_chan_t c;
    uint64_t v = 3;
    /* Outside a task: blocking calls refuse, non-blocking ones work. */
    ASSERT_OK(sp_chan_init(&c, sizeof v, 1));
    ASSERT_OK(sp_chan_try_send(&c, &v));
    ASSERT_ERR(sp_chan_send(&c, &v), -EPERM);
    ASSERT_ERR(sp_chan_recv(&c, &v), -EPERM);
    sp_select_case_t sc[1] = {{SP_SELECT_RECV, &c, &v, 1}};
    ASSERT_ERR(sp_select(sc, 1), -EPERM);
    ASSERT_EQ(sp_select_try(sc, 1), 0);
    ASSERT_OK(sp_chan_destroy(&c));
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, misuse_main, NULL);
}
