/* Private header of the core layer: the task control block, the runtime,
 * and what other layers may call in src/core/.
 *
 * Field rules (who writes, who reads, what orders it) are written next to
 * each field, after tokio's task/mod.rs. */
#ifndef SP_CORE_CORE_H
#define SP_CORE_CORE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdint.h>

#include "spindle.h"
#include "arch/context.h"
#include "util/atomic.h"
#include "util/compiler.h"
#include "util/log.h"

struct sp__shard;
struct sp__fdtab;

/* Task state word: one of TS_* in the low bits, plus TS_NOTIFY. The
 * protocol is in docs/design/deque.md ("task state word"). */
enum {
    TS_FREE = 0,   /* control block on a free list */
    TS_ACTIVE = 1, /* running, switching out, or queued to run: a wake only
                    * leaves TS_NOTIFY behind */
    TS_PARKED = 2, /* switched out and waiting: the waker that moves it back
                    * to ACTIVE is the one that queues it */
    TS_DONE = 3,   /* entry returned; stack released */
    TS_MASK = 3,
    TS_NOTIFY = 4, /* a wake arrived while ACTIVE: the next park returns */
};

/* Why a task switched to its scheduler; written by the task just before the
 * switch, read by the scheduler of the same thread just after it.
 * YIELD_HELD: the task stays ACTIVE, not queued; code of its shard holds
 * it on a list of its own and queues it again (sp__requeue_held), on this
 * thread, after the switch. A yield that waits for something the
 * shard does soon (the epoll backend's next poll), without the park and
 * wake of a state-word round trip. A wake meanwhile only sets NOTIFY, so
 * the holder must queue it whatever happens. */
enum { YIELD_REQUEUE, YIELD_PARK, YIELD_DONE, YIELD_MOVE, YIELD_HELD };

/* Handle state: who holds the owning reference of the join handle. */
enum { H_ATTACHED, H_JOINING, H_DETACHED, H_RELEASED };

#define SP_NO_SHARD (-1)

struct sp__task {
    struct sp__ctx ctx;       /* owner: the thread running or resuming the task */
    struct sp__task *next;    /* link in exactly one queue at a time; written by
                               * the queue's pusher, read by its consumer */
    sp_task_fn fn;            /* set at spawn, read by the task */
    void *arg;
    intptr_t result;          /* written by the task; read after done (acquire) */
    struct sp_runtime *rt;

    /* TS_*; DONE is set (seq_cst) after `result` is written and pairs with
     * the joiner's seq_cst store of `joiner`, see task.c. */
    _Atomic uint32_t state;   /* TS_*; see the state-word protocol */
    _Atomic uint32_t refs;    /* 1 for the running task (until DONE) + 1 for the
                               * join handle (until join/detach) + temporary
                               * references taken by sp__task_get */
    _Atomic uint32_t handle;  /* H_*; CAS by join/detach */
    _Atomic uint64_t id_bits; /* generation << 32 | index; 0 while free */
    _Atomic int cancelled;    /* set once by sp_task_cancel (seq_cst), read at
                               * every suspension point */
    _Atomic int user_token;   /* sp_task_unpark's token */
    _Atomic(struct sp__task *) joiner; /* task parked in join, or NULL */

    /* Placement. home: SP_NO_SHARD for stealable, else the shard the task is
     * pinned to. resume: a shard the next wake must route to (set while a
     * timer of this task is armed there, or while its I/O operation is in
     * flight there). Written by the task itself (or its spawner before it
     * first runs), and resume also by the shard that dispatched the task's
     * I/O completion once it has won the wake (sp__wake_released); read by
     * wakers on any thread after they observe PARKED through the state
     * word (acquire). */
    _Atomic int home;
    _Atomic int resume;
    _Atomic int last_shard;   /* where it last ran: fallback wake target */
    _Atomic uint32_t enq_seq; /* when its run queue's owner queued it;
                               * relaxed: a peek may race with a thief that
                               * stole it and queues it again */
    int yield_reason;         /* YIELD_*, see above */
    int move_target;          /* with YIELD_MOVE */
    uint32_t index;           /* slot in the task table, fixed for life */
    uint32_t gen;             /* bumped at each spawn into this block */
    uint64_t deadline;        /* owner: the task itself */
    int last_send_fd;         /* owner: the fd of the task's last I/O call
                               * if it was a send, else -1 (src/io/run.c) */
    uint32_t recvs;           /* owner: socket receives, for follow.c */

    size_t stack_want;        /* usable size asked for at spawn */
    void *stack_map;          /* whole mapping, guard included; NULL until
                               * the first run */
    size_t stack_map_len;
    size_t stack_guard;       /* bytes of guard at the low end */
    unsigned stack_vg_id;     /* Valgrind stack id */

    void *locals[SP_TASK_LOCAL_MAX];
    char name[SP_TASK_NAME_MAX];
};

/* The global overflow queue for stealable tasks: where a full deque spills
 * half of itself and where idle shards look after the other deques. */
struct sp__injector {
    pthread_mutex_t lock;
    struct sp__task *head, *tail;
    _Atomic long len;         /* readable without the lock (a hint) */
};

/* Default-size stacks that shards have in excess, for shards that have
 * none: a stealable workload frees stacks where tasks end, not where they
 * were spawned. Above its high-water mark stacks are unmapped. */
struct sp__stack_depot {
    pthread_mutex_t lock;
    void **v;
    unsigned n, cap;
};

#define SP_TABLE_CHUNK_SHIFT 12
#define SP_TABLE_CHUNK (1u << SP_TABLE_CHUNK_SHIFT)
#define SP_TABLE_MAX_CHUNKS 4096 /* 16 M task slots */
#define SP_TABLE_FRESH 64        /* never-used blocks a shard takes at once */

struct sp_runtime {
    sp_config_t cfg;
    int nshards;
    struct sp__shard **shards;
    const struct sp__backend_ops *be;

    /* Read on every loop iteration, written once: a line of their own. */
    SP_ALIGNED_CL _Atomic int stopping; /* shutdown begun: spawns fail */
    _Atomic int stop;         /* shards leave their loops */
    SP_ALIGNED_CL _Atomic int sleepers; /* shards with sleeping = 1 */
    _Atomic int foreign_spawning; /* spawns in progress on non-shard threads */
    _Atomic unsigned rr;      /* round robin for foreign spawns */

    SP_ALIGNED_CL struct sp__injector inj;
    struct sp__stack_depot depot;

    /* The blocking pool (src/blocking/pool.c): made by the first request
     * (CAS from NULL, acq_rel), joined and freed by free_runtime. */
    _Atomic(struct sp__blocking_pool *) blocking;

    /* Task table: control blocks are never freed before the runtime, so a
     * stale handle can always be checked against id_bits. */
    pthread_mutex_t table_lock;
    struct sp__task *chunks[SP_TABLE_MAX_CHUNKS]; /* published with release */
    _Atomic uint32_t nchunks;
    _Atomic uint32_t slots_used;  /* blocks ever handed out: indices below */
    struct sp__task *free_global; /* under table_lock */

    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    int started;              /* shards done with setup; under start_lock */
    int start_err;            /* first setup error; under start_lock */

    /* Flow control of cross-shard calls (src/sync/call.c): a table of
     * nshards x nshards counters made by the first call (CAS from NULL,
     * acq_rel), freed with the runtime. */
    _Atomic(void *) calls;

    /* Operations in flight per fd, for close (src/io/fdtab.c); made on
     * first use, freed at destroy. */
    _Atomic(struct sp__fdtab *) fdtab;
    struct sp__stall *stall; /* the stall detector (src/sched/stall.c) */

    /* Set in the child of a fork (fork.c): this runtime is the parent's. */
    _Atomic int forked;
};

/* task.c */
void sp__task_main(void *arg);
struct sp__task *sp__task_current(void);
int sp__task_check(struct sp__task *t);
void sp__task_finish(struct sp__shard *sh, struct sp__task *t);
int sp__task_first_run(struct sp__shard *sh, struct sp__task *t);
struct sp__task *sp__task_get(struct sp_runtime *rt, sp_task_t h);
void sp__task_put(struct sp__task *t);
int sp__task_cancel_in(struct sp_runtime *rt, sp_task_t h);
int sp__task_spawn_on(struct sp_runtime *rt, struct sp__shard *from, sp_task_t *out,
                      const sp_task_attr_t *attr, sp_task_fn fn, void *arg);

/* local.c */
void sp__local_clear(struct sp__task *t);

/* fork.c */
void sp__fork_register(struct sp_runtime *rt);
void sp__fork_unregister(struct sp_runtime *rt);
int sp__fork_check(const struct sp_runtime *rt, const char *fn);

/* placement.c */
void sp__place_count(struct sp_runtime *rt, struct sp__shard *cur, int home,
                     long delta);

/* table.c */
struct sp__task *sp__table_alloc(struct sp_runtime *rt, struct sp__shard *sh);
void sp__table_free(struct sp_runtime *rt, struct sp__shard *sh, struct sp__task *t);
struct sp__task *sp__table_lookup(struct sp_runtime *rt, uint32_t index);
void sp__table_destroy(struct sp_runtime *rt);

/* stack.c */
int sp__stack_alloc(struct sp__shard *sh, struct sp__task *t, size_t size);
void sp__stack_free(struct sp__shard *sh, struct sp__task *t);
void sp__stack_pool_drain(struct sp__shard *sh);
void sp__stack_trash_flush(struct sp__shard *sh, unsigned max);
#define SP_STACK_TRASH_CHUNK 64u
void sp__stack_depot_destroy(struct sp_runtime *rt);
size_t sp__stack_default(const struct sp_runtime *rt);
int sp__stack_check_size(size_t size);

/* overflow.c */
int sp__overflow_install(void);
void sp__overflow_uninstall(void);
int sp__overflow_thread_init(void **altstack);
/* thread.c: pthread_create with every asynchronous signal blocked in the
 * new thread. Returns 0 or a positive errno, as pthread_create. */
int sp__thread_create(pthread_t *thread, void *(*fn)(void *), void *arg);
/* features.c: is `name` listed in SPINDLE_FEATURES_OFF? */
int sp__feature_off(const char *name);
void sp__overflow_thread_fini(void *altstack);

/* wake.c */
void sp__wake(struct sp__task *t);
void sp__wake_on(struct sp__shard *cur, struct sp__task *t);
void sp__wake_released(struct sp__shard *sh, struct sp__task *t);
void sp__requeue_held(struct sp__shard *sh, struct sp__task *t);
int sp__park(uint64_t until);
void sp__park_nointr(void);
void sp__wake_after_park(struct sp__shard *sh, struct sp__task *t);
uint64_t sp__now(void);
int sp__time_reached(uint64_t when);

/* What a suspension point reports once the task runs again: the sticky
 * cancellation and deadline conditions. */
static inline int
sp__suspend_result(struct sp__task *t)
{
    if (sp_unlikely(atomic_load_explicit(&t->cancelled, memory_order_seq_cst))) {
        return -ECANCELED;
    }
    if (sp_unlikely(t->deadline != SP_DEADLINE_NONE) && sp__time_reached(t->deadline)) {
        return -ETIMEDOUT;
    }
    return 0;
}

#endif
