/* Private header of the scheduler layer: the shard, its queues, and what
 * other layers may call in src/sched/.
 *
 * A shard's state is split in two (CONVENTIONS.md): the owner-private part
 * (plain fields, touched only by the shard's own thread) and the shared
 * part (atomics on their own cache lines, written by other threads). */
#ifndef SP_SCHED_SCHED_H
#define SP_SCHED_SCHED_H

#include <sys/types.h>

#include "core/core.h"
#include "sched/deque.h"
#include "time/timer.h"

struct sp__fifo {
    struct sp__task *head, *tail;
    size_t len;
};

/* Counters: written by the owner with sp_counter_add, read by anyone. */
struct sp__stats {
    _Atomic uint64_t spawned, switches, stolen, steal_attempts, parks, wakes_sent,
        messages, timers_fired, stalls, follows;
};

struct sp__shard {
    /* --- owner-private ------------------------------------------------ */
    struct sp__ctx sched_ctx;      /* the shard thread's own stack */
    /* The task running now, or NULL. Atomic (relaxed: plain moves) only
     * because the stall detector (stall.c) reads it from its thread. */
    _Atomic(struct sp__task *) current;
    struct sp__fifo fifo;          /* runnable pinned tasks (and timer resumes) */
    struct sp__task *next_slot;    /* a stealable task the running task just
                                    * woke: runs next, invisible to thieves
                                    * (runq.h, "the next slot") */
    unsigned next_streak;          /* next-slot runs in a row */
    struct sp__timer_heap timers;
    void **pool;                   /* warm default-size stack mappings */
    unsigned pool_n, pool_cap;
    void **trash;                  /* stacks to unmap when idle (stack.c) */
    unsigned trash_n, trash_cap;
    unsigned stack_color;          /* rotates stack tops by 64-byte steps */
    struct sp__task *free_tasks;   /* recycled control blocks */
    uint32_t free_n;               /* length of free_tasks */
    _Atomic long pinned_own;       /* pinned here by this shard, net; owner
                                    * writes (relaxed), anyone reads */
    void *backend;                 /* the backend's per-shard state */
    void *altstack;                /* signal stack for overflow reports */
    uint64_t rng;                  /* victim choice */
    uint32_t enq_seq;              /* stamps queued tasks: oldest runs first */
    int index;
    struct sp_runtime *rt;
    pthread_t thread;
    int running;                   /* thread created, not yet joined */
    struct sp__stats stats;

    /* --- shared -------------------------------------------------------- */
    struct sp__deque deque;        /* stealable tasks (own cache lines) */
    SP_ALIGNED_CL _Atomic(struct sp__task *) inbox; /* MPSC, see inbox.c */
    SP_ALIGNED_CL _Atomic int sleeping; /* park/wake handshake (park.c) */
    _Atomic int tid;               /* kernel thread id, set at start */
    _Atomic int cpu;               /* the CPU its thread ran on at the top of
                                    * its last loop iteration (follow.c) */
    _Atomic long pinned_remote;    /* pinned here by other threads, net */
    int wake_fd;                   /* eventfd doorbell; fixed after setup */
    int ring_fd;                   /* MSG_RING target, -1 without uring */
};

/* The shard of the calling thread, read through an opaque call so that no
 * caller can cache it across a switch (DESIGN.md, hazard 1). */
struct sp__shard *sp__shard_current(void);
void sp__shard_set_current(struct sp__shard *sh);

/* shard.c */
/* Describe the calling thread's own stack in ctx (for the sanitizers), so
 * that tasks can switch back to it: shard threads and pool threads. */
void sp__shard_init_thread_ctx(struct sp__ctx *ctx);
struct sp__shard *sp__shard_alloc(struct sp_runtime *rt, int index);
int sp__shard_start(struct sp__shard *sh);
void sp__shard_join(struct sp__shard *sh);
void sp__shard_free(struct sp__shard *sh);
/* Task side: give the CPU back to the loop of whichever shard runs us now.
 * Inline, so that a resumed task returns through one frame fewer: after a
 * stack switch every return mispredicts (the return-stack buffer holds the
 * other stack's call sites). */
static inline void
sp__shard_switch_out(struct sp__shard *sh, struct sp__task *t, int reason)
{
    t->yield_reason = reason;
    sp__ctx_jump(&t->ctx, &sh->sched_ctx, reason == YIELD_DONE);
}

static inline void
sp__shard_to_scheduler(struct sp__task *t, int reason)
{
    sp__shard_switch_out(sp__shard_current(), t, reason);
}

/* Park the calling task until a wake, its cancellation, its deadline or
 * `until` (absolute ns, SP_DEADLINE_NONE for none). Returns 0 (woken, or
 * `until` reached), -ECANCELED or -ETIMEDOUT (the task deadline). May
 * return 0 spuriously. sp__park_on: for the task t running on sh, which
 * the caller has at hand (and knows it is still on sh). sp__park (wake.c)
 * is this out of line, for the current task; the I/O waits inline it: the task resumes in their
 * frame, one mispredicted return fewer after each switch back (the return
 * stack buffer then holds the scheduler's frames). */
static inline __attribute__((always_inline)) int
sp__park_on(struct sp__shard *sh, struct sp__task *t, uint64_t until)
{
    int err = sp__suspend_result(t);
    if (err < 0) {
        return err;
    }
    uint32_t s = sp_load_acquire(&t->state);
    if (s & TS_NOTIFY) {
        sp_xchg_acqrel(&t->state, TS_ACTIVE);
        return 0;
    }
    if (t->deadline < until) {
        until = t->deadline;
    }
    struct sp__timer tm;
    struct sp__shard *armed_on = NULL;
    if (until != SP_DEADLINE_NONE) {
        if (sp__time_reached(until)) {
            return sp__suspend_result(t);
        }
        armed_on = sh;
        tm.when = until;
        tm.task = t;
        if (sp__timer_arm(&armed_on->timers, &tm) < 0) {
            return -ENOMEM;
        }
        sp_store_relaxed(&t->resume, armed_on->index);
    }
    sp__shard_switch_out(sh, t, YIELD_PARK);
    /* sh is stale from here on: a stealable task may have moved. */
    if (armed_on) {
        /* Routing brought us back to the timer's shard (resume), so the heap
         * is ours to touch again. */
        SP_ASSERT(sp__shard_current() == armed_on);
        sp__timer_cancel(&armed_on->timers, &tm);
        sp_store_relaxed(&t->resume, SP_NO_SHARD);
    }
    return sp__suspend_result(t);
}

/* runq.c (and the inline runq.h): where a runnable task goes. */
void sp__runq_submit(struct sp_runtime *rt, struct sp__task *t, int target);

/* inbox.c */
void sp__inbox_post(struct sp__shard *to, struct sp__task *t);
size_t sp__inbox_drain(struct sp__shard *sh);

static inline int
sp__inbox_is_empty(struct sp__shard *sh)
{
    return sp_load_seqcst(&sh->inbox) == NULL;
}

/* Anything runnable here: queued, in the next slot, or posted. Inline: an
 * I/O call alone on its shard asks before every submit (uring.c). */
static inline int
sp__runq_has_work(struct sp__shard *sh)
{
    return sh->next_slot != NULL || sh->fifo.len || sp__deque_len(&sh->deque) ||
           !sp__inbox_is_empty(sh);
}

/* steal.c */
int sp__steal(struct sp__shard *sh);
int sp__injector_push_batch(struct sp_runtime *rt, struct sp__task *head,
                            struct sp__task *tail, long n);
int sp__injector_take(struct sp__shard *sh);
int sp__steal_visible(struct sp__shard *sh);

/* stall.c: the stall detector's watchdog thread (none if cfg.stall_ns is
 * 0). Start after the shards; told to stop with them, joined after them
 * (it reads only what free_runtime frees later). */
int sp__stall_start(struct sp_runtime *rt);
/* Tell the watchdog to exit (begin: without waiting, so that its exit
 * overlaps the shards'); stop also joins it and frees its state. */
void sp__stall_stop_begin(struct sp_runtime *rt);
void sp__stall_stop(struct sp_runtime *rt);

/* park.c */
void sp__park_idle(struct sp__shard *sh);
int sp__park_notify(struct sp__shard *to);
void sp__park_notify_idle(struct sp_runtime *rt);

#endif
