/*
 * park-wake.pml -- the shard park/wake handshake of docs/design/park-wake.md
 * (src/sched/park.c, inbox.c, runq.c, steal.c; doorbells in src/io/uring.c).
 *
 * What it checks: no lost wakeup, and no stall with stealable work queued.
 * Two shards and one non-shard thread produce seven items: pinned items
 * posted to a shard's inbox (by a shard or by the outside thread) and
 * stealable items that a shard pushes on its own deque. Every item must be
 * consumed. The kernel wait has no timeout and no I/O: only a doorbell CQE
 * (MSG_RING from a shard, or the completion of the eventfd read the sleeper
 * keeps armed) can end it, so one missed doorbell leaves a shard asleep for
 * ever. Shard 0 starts with a task that spawns one stealable item and then
 * stays busy until another shard has taken it (the spin barrier of Go's
 * TestGoroutineParallelism): that item can only move if the push woke the
 * other shard.
 *
 * Two checks, both exhaustive (tests/run-models.sh runs them):
 *  1. Safety: spin -a; gcc -DSAFETY -DNOCLAIM pan.c; ./pan
 *     No assertion fails and no invalid end state. The kernel wait is a
 *     valid end state, so a run may stop with every shard asleep; the
 *     quiescence process (a Promela timeout is true only when nothing else
 *     can move) then asserts that every item was consumed.
 *  2. Liveness: spin -a; gcc -DNFAIR=3 pan.c; ./pan -a -f -A
 *     "eventually all consumed" holds on every weakly fair run: no
 *     acceptance cycle. -A leaves the assertions to check 1, so this check
 *     stands on the LTL formula alone.
 *
 * Abstraction: the inbox (Treiber stack) and the deque are counters, with
 * push, take-all, pop and steal as single atomic steps; the deque's own
 * protocol is checked in deque.pml. Each shared variable is one atomic
 * location and Spin explores sequentially consistent interleavings only:
 * the model shows the protocol right under seq_cst, and the design note
 * argues which orders the code needs for that. The parker's re-check reads
 * one location per step, as the code does. The bounded spin before parking
 * (step 1) only adds looks at the queues and is left out.
 *
 * The broken variants (park-wake-broken-*.pml) define one BROKEN_* macro
 * and include this file; tests/run-models.sh expects an error in each.
 *
 * Run all its checks: tests/run-models.sh park-wake
 */

#define NSH     2
#define TOTAL   7       /* items produced in a run, counted below */

byte inbox[NSH];        /* pinned items posted to shard s, not yet drained */
byte dq[NSH];           /* stealable items in shard s's deque */
bit  sleeping[NSH];     /* shard s may block: the Dekker flag (seq_cst) */
byte sleepers;          /* shards that counted themselves asleep (seq_cst) */
byte cqe_msg[NSH];      /* MSG_RING doorbell CQEs waiting in s's CQ */
bit  cqe_efd[NSH];      /* a completed eventfd read waits in s's CQ */
byte efd[NSH];          /* eventfd counter of shard s */
bit  rd[NSH];           /* kernel: an eventfd read of s is in flight */
bit  efd_armed[NSH];    /* shard s: read submitted, its CQE not yet seen */
bit  spawned;           /* shard 1 ran its first item (which spawns work) */
byte consumed;          /* items run so far */

/* Doorbell from a shard: an IORING_OP_MSG_RING CQE lands in s's CQ. */
inline ring_msg(s)
{
    cqe_msg[s]++
}

/* Doorbell from a non-shard thread: write s's eventfd. An armed read
 * completes and posts a CQE; otherwise the count waits for the next read. */
inline ring_efd(s)
{
    atomic {
        efd[s]++;
        if
        :: rd[s] -> rd[s] = 0; efd[s] = 0; cqe_efd[s] = 1
        :: else -> skip
        fi
    }
}

/* Waker steps 1-2 (sp__park_notify): load sleeping; if set, exchange it to
 * 0; only the waker whose exchange returned 1 rings, once per sleep. */
inline notify(s, from_thread)
{
    if
    :: sleeping[s] == 1 ->                              /* seq_cst load */
        atomic { old = sleeping[s]; sleeping[s] = 0 };  /* exchange */
        if
        :: old == 1 && from_thread -> ring_efd(s)
        :: old == 1 && !from_thread -> ring_msg(s)
        :: else -> skip
        fi
    :: else -> skip
    fi;
    old = 0
}

/* Any thread gives shard s a pinned item (sp__inbox_post). */
inline post_pinned(s, from_thread)
{
#ifdef BROKEN_LOAD_BEFORE_PUSH
    /* BROKEN: the waker reads sleeping before it pushes. */
    atomic { old2 = sleeping[s] };
    inbox[s]++;
    if
    :: old2 == 1 -> notify(s, from_thread)
    :: else -> skip
    fi;
    old2 = 0
#else
    inbox[s]++;                     /* 0. publish: seq_cst CAS push */
    notify(s, from_thread)          /* 1-2. */
#endif
}

/* Shard me pushes a stealable item on its own deque, then wakes a sleeping
 * shard (sp__park_notify_idle: with two shards, the other one). */
inline push_stealable()
{
    dq[me]++;                       /* 0. publish: tail store (release,
                                     *    then the seq_cst fence of the
                                     *    surplus path: one step here) */
#if defined(BROKEN_NO_STEAL_WAKE)
    skip
#elif defined(BROKEN_SURPLUS_ONLY)
    /* BROKEN (the "surplus" test): wake only if more than one item is
     * queued, as if the running task did not occupy the shard. */
    if
    :: dq[me] > 1 && sleepers > 0 -> notify(other, 0)
    :: else -> skip
    fi
#else
    if
    :: sleepers > 0 -> notify(other, 0)     /* seq_cst load */
    :: else -> skip
    fi
#endif
}

/* Shard me runs n items it took. The first item shard 1 runs spawns work:
 * a pinned item for shard 0 and a stealable item on shard 1's deque. */
inline run_items(n)
{
    consumed = consumed + n;
    if
    :: me == 1 && !spawned ->
        spawned = 1;
        post_pinned(0, 0);
        push_stealable()
    :: else -> skip
    fi
}

proctype Shard(byte me)
{
    byte other = 1 - me;
    byte n;
    bit old, old2, found;

    if
    :: me == 0 ->
        /* Shard 0's first task: a pinned item for shard 1, one stealable
         * child, then busy until the child has been stolen. */
        post_pinned(1, 0);
        push_stealable();
        (dq[0] == 0)
    :: else -> skip
    fi;

loop:
    /* The shard loop, reduced to what matters here: drain the inbox, run
     * the own deque, steal; whatever was taken runs, and the loop starts
     * over. */
    atomic { n = inbox[me]; inbox[me] = 0 };    /* exchange(NULL) */
    if
    :: n > 0 -> run_items(n); n = 0; goto loop
    :: else -> skip
    fi;
    if
    :: atomic { dq[me] > 0 -> dq[me]-- } -> run_items(1); goto loop
    :: atomic { dq[other] > 0 -> dq[other]-- } -> run_items(1); goto loop
    :: else -> skip
    fi;

    /* Park (sp__park_idle), steps 2-5. */
#if defined(BROKEN_RECHECK_FIRST)
    /* BROKEN: look for work before publishing sleeping. */
    found = (inbox[me] > 0);
    found = found || (dq[me] > 0);
    found = found || (dq[other] > 0);
    sleeping[me] = 1;
    sleepers++;
#elif defined(BROKEN_COUNT_AFTER_RECHECK)
    /* BROKEN: count in sleepers only after the re-check. */
    sleeping[me] = 1;
    found = (inbox[me] > 0);
    found = found || (dq[me] > 0);
    found = found || (dq[other] > 0);
    sleepers++;
#else
    sleeping[me] = 1;                           /* 2. seq_cst store, */
    sleepers++;                                 /*    seq_cst RMW */
    found = (inbox[me] > 0);                    /* 3. re-check, seq_cst */
    found = found || (dq[me] > 0);              /*    loads one by one */
    found = found || (dq[other] > 0);
#endif
    if
    :: found ->                                 /* 4. withdraw and run */
        atomic { old = sleeping[me]; sleeping[me] = 0 };
        sleepers--;
        found = 0; old = 0;
        goto loop
    :: else -> skip
    fi;

    /* 5. Sleep: arm the eventfd read if its last CQE was seen, submit and
     * wait for one CQE. A doorbell posted earlier is already in the CQ, and
     * a count left in the eventfd completes the new read at once. */
    atomic {
        if
        :: !efd_armed[me] ->
            efd_armed[me] = 1;
            if
            :: efd[me] > 0 -> efd[me] = 0; cqe_efd[me] = 1
            :: else -> rd[me] = 1
            fi
        :: else -> skip
        fi
    };
end_wait:
    (cqe_msg[me] > 0 || cqe_efd[me]);
    atomic { old = sleeping[me]; sleeping[me] = 0 };    /* withdraw */
    sleepers--;
    atomic {                                    /* dispatch every CQE */
        cqe_msg[me] = 0;
        if
        :: cqe_efd[me] -> cqe_efd[me] = 0; efd_armed[me] = 0
        :: else -> skip
        fi
    };
    old = 0;
    goto loop
}

/* A non-shard thread posts pinned items to shard 0, shard 1, then shard 0
 * again; the second post to shard 0 may write the eventfd while no read is
 * in flight. */
proctype External()
{
    bit old, old2;

    post_pinned(0, 1);
    post_pinned(1, 1);
    post_pinned(0, 1)
}

/* When nothing can move, every item must have been consumed. */
active proctype quiescence()
{
    timeout -> assert(consumed == TOTAL)
}

init
{
    atomic {
        rd[0] = 1; efd_armed[0] = 1;    /* armed at shard start */
        rd[1] = 1; efd_armed[1] = 1;
        run Shard(0);
        run Shard(1);
        run External()
    }
}

ltl all_consumed { <> (consumed == TOTAL) }
