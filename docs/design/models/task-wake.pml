/*
 * task-wake.pml -- the task state word of docs/design/deque.md ("The task
 * state word"; src/sched/wake.c, src/core/core.h).
 *
 * What it checks, with one task, two shards and two wakers:
 *  - a wake is never lost: the task waits, in a park loop, until both
 *    wakers have set their event, and it must always get to run again and
 *    finish (DONE);
 *  - the task is never queued twice: a run queue holds it at most once;
 *  - it never runs on two shards at once: when a shard switches to the
 *    task, no shard is still on the task's stack.
 *
 * Two checks, both exhaustive (tests/run-models.sh runs them):
 *  1. Safety: spin -a; gcc -DSAFETY -DNOCLAIM pan.c; ./pan
 *     The assertions below, no invalid end state, and at quiescence (a
 *     Promela timeout) the task is DONE.
 *  2. Liveness: spin -a; gcc -DNFAIR=3 pan.c; ./pan -a -f -A
 *     "eventually DONE" holds on every weakly fair run.
 *
 * The word holds ACTIVE (running, switching out, or queued: a wake treats
 * these alike), PARKED or DONE, plus the NOTIFY bit. Both shards take the
 * task from one shared run queue, which covers a wake routed to either
 * shard and stealing. Every CAS is one atomic block and the load before it
 * a separate step, so the word can change in between and the CAS fails.
 * Spin checks sequentially consistent interleavings only; the memory orders
 * are argued in the design note.
 *
 * The broken variants (task-wake-broken-*.pml) define one BROKEN_* macro and
 * include this file; tests/run-models.sh expects an error in each.
 *
 * Run all its checks: tests/run-models.sh task-wake
 */

#define ACTIVE      1
#define PARKED      2
#define DONE        3
#define STATE       3   /* mask of the state bits */
#define NOTIFY      4

byte word = ACTIVE;     /* the task's state word; the task starts queued */
byte queued = 1;        /* run-queue entries for the task */
byte onstack;           /* shards running on the task's stack */
bit  ev[2];             /* the events the task waits for */

/* Compare-and-swap on the word: ok = 1 and word = new if word == exp. */
inline cas(exp, new)
{
    atomic {
        if
        :: word == exp -> word = new; ok = 1
        :: else -> ok = 0
        fi
    }
}

inline enqueue()
{
    atomic { assert(queued == 0); queued++ }
}

/* sp__wake, from any thread. */
inline wake()
{
    w = word;                                   /* acquire load */
    do
    :: (w & STATE) == PARKED ->
        cas(w, ACTIVE);                         /* one waker wins ... */
        if
        :: ok -> enqueue(); break               /* ... and queues it */
        :: else -> w = word                     /* CAS failed: reload */
        fi
    :: (w & STATE) == DONE -> break
    :: w == (ACTIVE | NOTIFY) -> break          /* already pending */
    :: (w & STATE) == ACTIVE && !(w & NOTIFY) ->
        cas(w, ACTIVE | NOTIFY);
        if
        :: ok -> break
        :: else -> w = word
        fi
    od;
    w = 0; ok = 0
}

proctype Waker(byte i)
{
    byte w;
    bit ok;

    ev[i] = 1;
    wake();
    wake()      /* a redundant second wake; it may find the task DONE */
}

/* sp__wake_after_park: the scheduler's half of a park, on the shard's own
 * stack. PARKED only if NOTIFY is clear; else consume it and requeue. */
inline after_park()
{
#ifdef BROKEN_STORE_PARKED
    /* BROKEN: test NOTIFY, then store PARKED without a CAS. */
    w = word;
    if
    :: w & NOTIFY -> word = ACTIVE; enqueue()
    :: else -> word = PARKED
    fi
#else
    cas(ACTIVE, PARKED);
    if
    :: ok -> skip
    :: else ->
        /* Only wakers write the word now, and only to set NOTIFY. */
        assert(word == (ACTIVE | NOTIFY));
        word = ACTIVE;                          /* exchange */
        enqueue()
    fi
#endif
}

proctype Shard()
{
    byte w;
    bit ok;

end_idle:
    do
    :: atomic { queued > 0 -> queued-- };
        assert((word & STATE) == ACTIVE);
        atomic { assert(onstack == 0); onstack++ };    /* switch to task */

        /* The task: for (;;) { if (ev0 && ev1) return; park(); } */
        do
        :: ev[0] && ev[1] ->
            onstack--;                          /* final switch out */
            word = DONE;                        /* exchange */
            break
        :: else ->
            /* sp__park: a pending NOTIFY is consumed and park returns. */
            w = word;                           /* acquire load */
            if
            :: w & NOTIFY -> word = ACTIVE      /* exchange; loop again */
            :: else ->
#ifdef BROKEN_PARK_BEFORE_SWITCH
                /* BROKEN: publish PARKED while still on the task's stack. */
                after_park();
                onstack--;
#else
                onstack--;                      /* switch to the scheduler */
                after_park();
#endif
                break
            fi
        od;
        w = 0; ok = 0
    od
}

/* When nothing can move, the task must have finished. */
active proctype quiescence()
{
    timeout -> assert(word == DONE)
}

init
{
    atomic {
        run Shard();
        run Shard();
        run Waker(0);
        run Waker(1)
    }
}

ltl finishes { <> (word == DONE) }
