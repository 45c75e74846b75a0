/* The runtime: a set of shards (one OS thread, one io_uring ring, run
 * queues and timers each) that run tasks.
 *
 * Lifecycle: sp_runtime_create() starts the shard threads; any thread that
 * is not a shard then hands work in with sp_runtime_block_on();
 * sp_runtime_destroy() shuts down gracefully (cancels every task that is
 * still alive, waits for each to return, stops the shards and frees every
 * stack, ring and fd). sp_run() does all three for the common case. */
#ifndef SPINDLE_RUNTIME_H
#define SPINDLE_RUNTIME_H

#include "common.h"
#include "task.h"

SP_EXTERN_C_BEGIN

typedef struct sp_runtime sp_runtime_t;

typedef enum sp_backend {
    SP_BACKEND_AUTO = 0, /* io_uring, falling back to epoll if ring setup fails */
    SP_BACKEND_URING,    /* io_uring or fail with the reason */
    SP_BACKEND_EPOLL,    /* epoll + eventfd */
} sp_backend_t;

/* Runtime configuration. Fill it with sp_config_init(), then change fields.
 * The environment overrides it at sp_runtime_create():
 *   SPINDLE_SHARDS=N         shard count
 *   SPINDLE_BACKEND=uring|epoll
 *   SPINDLE_SPIN_NS=N        spin-before-park budget
 *   SPINDLE_PIN=0|1          pin shard threads to CPUs
 *   SPINDLE_BLOCKING_THREADS=N  blocking pool bound (spindle/blocking.h)
 *   SPINDLE_STALL_MS=N       stall report threshold, ms (0: off) */
typedef struct sp_config {
    int shards;              /* 0: the number of CPUs the process may use */
    int pin_threads;         /* nonzero: pin shard i to the i-th allowed CPU */
    unsigned ring_entries;   /* io_uring SQ size (power of two, 2..32768) */
    size_t stack_size;       /* default task stack, bytes (16 KiB .. 1 GiB) */
    sp_backend_t backend;
    uint64_t spin_ns;        /* how long an idle shard polls before sleeping */
    unsigned stack_pool_max; /* warm stacks kept per shard; the excess goes to
                              * a shared depot of as many per shard, and
                              * beyond that is unmapped */
    int force_migrate;       /* testing: every stealable yield changes shard */
    unsigned blocking_max_threads; /* blocking pool threads at most (1..4096;
                                    * default 64); more requests queue */
    uint64_t blocking_idle_ns; /* a pool thread idle this long exits (at most
                                * one hour; default 10 s) */
    uint64_t stall_ns;       /* report a task that runs this long without a
                              * suspension point (default 100 ms; 0: off;
                              * at most one hour) */
} sp_config_t;

/* Per-shard counters, cumulative since the runtime started. */
typedef struct sp_shard_stats {
    uint64_t spawned;        /* tasks created by code running on this shard */
    uint64_t switches;       /* task resumptions */
    uint64_t stolen;         /* tasks this shard took from other shards */
    uint64_t steal_attempts; /* times this shard looked for work to steal */
    uint64_t parks;          /* times the shard slept in the kernel */
    uint64_t wakes_sent;     /* wake-ups this shard sent to sleeping shards */
    uint64_t messages;       /* inbox items this shard received */
    uint64_t timers_fired;   /* timers that expired on this shard */
    uint64_t stalls;         /* tasks that ran cfg.stall_ns or longer without
                              * a suspension point (each logged once) */
    uint64_t follows;        /* stealable tasks that left this shard for the
                              * shard whose CPU feeds their socket */
} sp_shard_stats_t;

/* Fill *cfg with defaults.
 * Suspends: no. Context: any thread. Memory: writes *cfg only. */
SP_API void sp_config_init(sp_config_t *cfg);

/* Create a runtime and start its shard threads. cfg may be NULL (defaults).
 * Suspends: no. Context: a thread that is not a shard.
 * Memory: *out is owned by the caller until sp_runtime_destroy().
 * Errors: -EINVAL a field or environment variable is out of range (a
 *         message names it), out is NULL, or called from a shard;
 *         -ENOMEM; -ENOSYS / -EPERM io_uring unavailable and backend=uring;
 *         -EAGAIN no thread could be created; other negative errno values
 *         from ring, eventfd or signal-stack setup (logged). */
SP_API int sp_runtime_create(sp_runtime_t **out, const sp_config_t *cfg);

/* Spawn fn(arg) into the runtime from a thread that is not a shard, and
 * block that thread (without spinning) until the task returns.
 * attr may be NULL (stealable, default stack).
 * Suspends: blocks the calling OS thread. Context: any non-shard thread.
 * Memory: arg is borrowed by the task. *result receives the task's return.
 * Errors: -EINVAL NULL fn or called from a shard thread (it would deadlock);
 *         -ESHUTDOWN the runtime is shutting down; spawn errors. */
SP_API int sp_runtime_block_on(sp_runtime_t *rt, const sp_task_attr_t *attr,
                               sp_task_fn fn, void *arg, intptr_t *result);

/* Graceful shutdown: cancel every live task, wait for each to return, stop
 * the shards, free everything. Tasks must honour cancellation (every
 * suspension point returns -ECANCELED once a task is cancelled).
 * Suspends: blocks the calling thread. Context: a non-shard thread.
 * Memory: rt is freed. Errors: -EINVAL rt NULL or called from a shard. */
SP_API int sp_runtime_destroy(sp_runtime_t *rt);

/* Create a runtime, run fn(arg) as its main task, destroy it.
 * Returns the main task's result, or a negative errno if the runtime could
 * not be created or the main task not spawned (then fn never ran). A main
 * task that itself returns a negative value is indistinguishable from it. */
SP_API intptr_t sp_run(const sp_config_t *cfg, sp_task_fn fn, void *arg);

/* Number of shards. Context: any thread. */
SP_API int sp_runtime_shard_count(const sp_runtime_t *rt);

/* The runtime the calling task runs in, or NULL outside a task. */
SP_API sp_runtime_t *sp_runtime_current(void);

/* The backend in use: "uring" or "epoll". */
SP_API const char *sp_runtime_backend_name(const sp_runtime_t *rt);

/* Copy shard i's counters to *out.
 * Errors: -EINVAL unknown shard index or NULL pointer. */
SP_API int sp_runtime_stats(const sp_runtime_t *rt, int shard, sp_shard_stats_t *out);

/* Kernel thread id of shard i's thread (for tests and tooling), or a
 * negative errno (-EINVAL unknown shard). */
SP_API int sp_runtime_shard_tid(const sp_runtime_t *rt, int shard);

SP_EXTERN_C_END

#endif
