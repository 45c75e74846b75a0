/*
 * deque.pml -- the work-stealing deque of docs/design/deque.md
 * (src/sched/deque.c: sp__deque_push, _pop, _claim_half, _steal).
 *
 * What it checks: every item pushed is taken exactly once, whoever takes
 * it (the owner's pop, a thief's steal-half, or the owner's spill of half
 * a full ring to the injector), and nobody takes an empty slot. The owner
 * pushes ids 1..NIDS and pops at any point in between, so on some runs the
 * ring wraps and fills up (spill); two thieves steal half any number of
 * times. The ring has CAP = 4 slots (256 in the code). The u32 indices are
 * bytes here and start at 254, so they also wrap past 0 during a run, as
 * the u32 counters do in a long-lived deque.
 *
 * Check: safety, exhaustive (tests/run-models.sh runs it):
 *     spin -a deque.pml; gcc -DSAFETY pan.c; ./pan
 * No assertion fails and no invalid end state. Each take asserts that its
 * id is real and taken for the first time; once both thieves stop, the
 * owner drains the ring and asserts that every id was taken exactly once.
 *
 * Each load, store and CAS of head, tail or one slot is one Promela step.
 * Spin explores sequentially consistent interleavings only, so the memory
 * orders are argued in the design note, not checked here.
 *
 * The broken variants (deque-broken-*.pml) define one BROKEN_* macro and
 * include this file; tests/run-models.sh expects an error in each.
 *
 * Run all its checks: tests/run-models.sh deque
 */

#define CAP     4
#define HALF    2       /* CAP / 2 */
#define NIDS    5
#define START   254

#define IDX(x)          ((x) % 256)             /* u32 wrap, scaled down */
#define DIFF(a, b)      (((a) + 256 - (b)) % 256)

byte head = START;      /* next slot to take; CAS by anyone */
byte tail = START;      /* next slot to fill; written by the owner only */
byte slot[CAP];         /* relaxed atomics; 0 is never a valid id */
byte taken[NIDS + 1];   /* how many times each id was taken */
byte thieves_done;

/* Record that id x was taken: a real id, taken for the first time. */
inline take(x)
{
    atomic {
        assert(x >= 1 && x <= NIDS);
        taken[x]++;
        assert(taken[x] == 1)
    }
}

/* CAS on head: ok = 1 and head = new if head == exp. */
inline cas_head(exp, new)
{
    atomic {
        if
        :: head == exp -> head = new; ok = 1
        :: else -> ok = 0
        fi
    }
}

/* Owner: push id v (sp__deque_push). On a full ring, spill half of it to
 * the injector (sp__deque_claim_half; deque_push in runq.c) and retry. */
inline push(v)
{
    do
    :: h = head;                                /* load-acquire */
        if
        :: DIFF(tail, h) < CAP ->
#ifdef BROKEN_TAIL_BEFORE_SLOT
            /* BROKEN: publish the slot before writing it. */
            t = tail;
            tail = IDX(t + 1);
            slot[t % CAP] = v;
#else
            slot[tail % CAP] = v;               /* relaxed store */
            tail = IDX(tail + 1);               /* store-release (seq_cst) */
#endif
            break
        :: else ->
            /* Full: claim the oldest half. Reload head, read the slots
             * first (as a thief does), trust them only once the CAS has
             * succeeded. */
            h = head;                           /* load-acquire */
            n = DIFF(tail, h) / 2;
            i = 0;
            do
            :: i < n -> obuf[i] = slot[(h + i) % CAP]; i++
            :: else -> break
            od;
            if
            :: n > 0 ->
                cas_head(h, IDX(h + n));
                if
                :: ok ->
                    i = 0;
                    do
                    :: i < n -> take(obuf[i]); i++
                    :: else -> break
                    od
                :: else -> skip     /* a thief took some: retry */
                fi
            :: else -> skip             /* thieves emptied it meanwhile */
            fi;
            n = 0; i = 0; obuf[0] = 0; obuf[1] = 0
        fi
    od;
    h = 0; t = 0; ok = 0
}

/* Owner: pop one item from the head, if any (sp__deque_pop). */
inline pop()
{
    do
    :: h = head;                                /* load-acquire */
        if
        :: tail == h -> break                   /* empty */
        :: else ->
            x = slot[h % CAP];
            cas_head(h, IDX(h + 1));
            if
            :: ok -> take(x); break
            :: else -> skip
            fi
        fi
    od;
    h = 0; x = 0; ok = 0
}

proctype Owner()
{
    byte h, t, x, n, i, next = 1;
    byte obuf[HALF];
    bit ok;

    do
    :: next <= NIDS -> push(next); next++
    :: next <= NIDS -> pop()
    :: else -> break
    od;
    thieves_done == 2;
    do
    :: head != tail -> pop()
    :: else -> break
    od;
    next = 1;
    do
    :: next <= NIDS -> assert(taken[next] == 1); next++
    :: else -> break
    od
}

/* Thief: steal half (sp__deque_steal) into a buffer that stands for the
 * thief's own slots past its tail; after a successful CAS the thief
 * publishes them with one tail store. */
inline steal()
{
    do
    :: h = head;                                /* load-acquire */
        t = tail;                               /* load-acquire */
        n = DIFF(t, h);
        n = n - n / 2;
        if
        :: n == 0 -> break                      /* empty */
#ifndef BROKEN_NO_TORN_CHECK
        :: n > HALF -> skip                     /* torn h/t pair: retry */
#endif
        :: else ->
#ifndef BROKEN_READ_AFTER_CAS
            i = 0;                              /* copy BEFORE the CAS */
            do
            :: i < n -> buf[i] = slot[(h + i) % CAP]; i++
            :: else -> break
            od;
#endif
            cas_head(h, IDX(h + n));
            if
            :: ok ->
#ifdef BROKEN_READ_AFTER_CAS
                /* BROKEN: copy after the CAS; the owner may have refilled
                 * those slots by now. */
                i = 0;
                do
                :: i < n -> buf[i] = slot[(h + i) % CAP]; i++
                :: else -> break
                od;
#endif
                i = 0;
                do
                :: i < n -> take(buf[i]); i++
                :: else -> break
                od;
                break
            :: else -> skip
            fi
        fi
    od;
    h = 0; t = 0; n = 0; i = 0; ok = 0;
    buf[0] = 0; buf[1] = 0
}

proctype Thief()
{
    byte h, t, n, i;
    byte buf[HALF];
    bit ok;

    do
    :: steal()
    :: break
    od;
    thieves_done++
}

init
{
    atomic {
        run Owner();
        run Thief();
        run Thief()
    }
}
