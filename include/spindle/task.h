/* Tasks: stackful coroutines with a placement chosen at spawn.
 *
 * A task runs fn(arg) on its own stack. Its placement says where it may run:
 *   SP_PLACE_STEALABLE  any shard; an idle shard may take it at any
 *                       suspension point (the default);
 *   SP_PLACE_LOCAL      pinned to the shard of the spawning task;
 *   SP_PLACE_ON         pinned to shard attr.shard;
 *   SP_PLACE_PINNED     pinned to the least-loaded shard, chosen at spawn.
 * A pinned task never changes thread, so it may keep shard-local state.
 * A stealable task must not keep pointers to per-thread state (__thread,
 * errno) across a suspension point; task-local storage below moves with it.
 *
 * Suspension points (sp_task_yield, sp_task_join, sp_task_park, sleeps and
 * every I/O call) return -ECANCELED once the task has been cancelled and
 * -ETIMEDOUT once its deadline has passed; both conditions are sticky.
 *
 * Floating-point control modes (rounding, exception masks) belong to the
 * shard thread, not the task: a task that changes them with fesetround or
 * fesetenv must restore them before its next suspension point, unless
 * spindle is built with -DSP_SAVE_FPU_CONTROL=1 (about 35 ns more per
 * switch). New tasks start with the ABI's default modes. */
#ifndef SPINDLE_TASK_H
#define SPINDLE_TASK_H

#include "common.h"

SP_EXTERN_C_BEGIN

/* A task's entry point. Its return value is what sp_task_join() reports. */
typedef intptr_t (*sp_task_fn)(void *arg);

struct sp_runtime;

/* A task handle: a generation-checked id, copied by value. A stale handle
 * (the task was detached, or joined already) is detected, never followed.
 * rt names the runtime so that threads outside it can cancel or unpark; a
 * handle rebuilt from bits alone (rt NULL) refers to the caller's runtime. */
typedef struct sp_task {
    uint64_t bits;
    struct sp_runtime *rt;
} sp_task_t;

typedef enum sp_place {
    SP_PLACE_STEALABLE = 0,
    SP_PLACE_LOCAL,
    SP_PLACE_ON,
    SP_PLACE_PINNED,
} sp_place_t;

typedef struct sp_task_attr {
    sp_place_t place;
    int shard;          /* with SP_PLACE_ON: the shard index */
    size_t stack_size;  /* 0: the runtime's default */
    const char *name;   /* copied (up to 31 bytes); NULL: "task" */
} sp_task_attr_t;

#define SP_TASK_NAME_MAX 32
#define SP_TASK_LOCAL_MAX 16

/* Defaults: stealable, default stack, no name. */
SP_API void sp_task_attr_init(sp_task_attr_t *attr);

/* Create a task running fn(arg). attr may be NULL (defaults).
 * If out is NULL the task is detached: it frees itself when it returns.
 * The stack is mapped when the task first runs; if that fails, the task
 * ends with result -ENOMEM and fn never runs (a log line says so).
 * Suspends: no. Context: any task (for LOCAL: a task; from a non-shard
 * thread use sp_runtime_block_on).
 * Memory: arg is borrowed by the task; *out belongs to the caller and is
 * released exactly once, by sp_task_join or sp_task_detach.
 * Errors: -EINVAL NULL fn, unknown shard, stack size 0 < n < 16 KiB or
 *         > 1 GiB; -ESHUTDOWN runtime stopping; -ENOMEM;
 *         -EPERM called outside any task.
 * A failed spawn never runs fn. */
SP_API int sp_task_spawn(sp_task_t *out, const sp_task_attr_t *attr, sp_task_fn fn,
                         void *arg);

/* Wait for t to return and release the handle; *result (may be NULL)
 * receives fn's return value.
 * Suspends: yes. Context: any task.
 * A target that has already returned is joined at once, even by a caller
 * that is cancelled or past its deadline (nothing suspends).
 * Errors: -ECANCELED / -ETIMEDOUT the caller was cancelled / its deadline
 *         passed while waiting (t is not released; join again or detach);
 *         -EINVAL the handle is detached, being joined by another task,
 *         belongs to another runtime, or is the caller itself; -ESRCH no
 *         such task (never existed, or joined or detached and recycled);
 *         -ENOMEM the caller has a deadline and no timer could be armed;
 *         -EPERM not called from a task. */
SP_API int sp_task_join(sp_task_t t, intptr_t *result);

/* Release the handle without waiting; the task frees itself when done.
 * Suspends: no. Context: any task or thread.
 * Errors: -EINVAL already detached or being joined; -ESRCH no such task
 *         (joined or detached and recycled); -EPERM a handle without its
 *         runtime (rebuilt from bits) used outside a task. */
SP_API int sp_task_detach(sp_task_t t);

/* Ask t to stop: its current suspension point (if it is parked) and every
 * later one return -ECANCELED. Cooperative: a task that never suspends is
 * not interrupted.
 * Suspends: no. Context: any task or thread.
 * Errors: -ESRCH the task has finished and its handle was released;
 *         -EPERM a handle without its runtime used outside a task. */
SP_API int sp_task_cancel(sp_task_t t);

/* Let other tasks run; the caller is requeued (a stealable task may come
 * back on another shard). Always yields, then reports:
 * Suspends: yes. Context: any task.
 * Errors: -ECANCELED, -ETIMEDOUT (sticky conditions, see above);
 *         -EPERM not called from a task. */
SP_API int sp_task_yield(void);

/* Suspend until another party calls sp_task_unpark() on this task (a
 * token: an unpark that comes first makes the next park return at once,
 * and a pending token is consumed even by a cancelled task), or the task is
 * cancelled or its deadline passes. The token may be stale (an unpark meant
 * for an earlier wait), so callers re-check their condition in a loop.
 * Suspends: yes. Context: any task.
 * Errors: -ECANCELED, -ETIMEDOUT, -EPERM not in a task; -ENOMEM with a
 *         deadline and no timer could be armed. */
SP_API int sp_task_park(void);

/* Make t runnable if it is parked in sp_task_park(), or give it the token.
 * Suspends: no. Context: any task or thread.
 * Errors: -ESRCH no such task; -EPERM a handle without its runtime used
 *         outside a task. */
SP_API int sp_task_unpark(sp_task_t t);

/* The calling task's handle (not an owning reference: never join or detach
 * it). bits == 0 outside a task. */
SP_API sp_task_t sp_task_self(void);

/* A number unique among live tasks (0 outside a task). */
SP_API uint64_t sp_task_id(void);

/* The calling task's name ("" outside a task). */
SP_API const char *sp_task_name(void);

/* Nonzero if the calling task has been cancelled. */
SP_API int sp_task_is_cancelled(void);

/* Index of the shard the caller runs on now, or -1 outside a shard. A
 * stealable task must re-read it after every suspension point. */
SP_API int sp_shard_id(void);

/* Shard count of the caller's runtime, or 0 outside a runtime. */
SP_API int sp_shard_count(void);

/* --- Placement changes ------------------------------------------------- */

/* Pin the caller to the shard it runs on now. Suspends: no.
 * Errors: -EPERM not in a task. */
SP_API int sp_task_pin(void);

/* Move the caller to shard k and pin it there; returns on shard k.
 * Suspends: yes. Errors: -EINVAL unknown shard; -EPERM not in a task;
 * -ECANCELED / -ETIMEDOUT (the move still happens). */
SP_API int sp_task_move_to(int shard);

/* Make the caller stealable. Suspends: no. Errors: -EPERM not in a task. */
SP_API int sp_task_unpin(void);

/* The caller's placement: SP_PLACE_STEALABLE or SP_PLACE_ON (pinned). */
SP_API sp_place_t sp_task_placement(void);

/* --- Task-local storage -------------------------------------------------
 * Up to SP_TASK_LOCAL_MAX keys per process. Values travel with the task
 * across shards; they start NULL in every new task. */
typedef struct sp_task_local {
    int index;
} sp_task_local_t;

/* Allocate a key. Errors: -EAGAIN all keys are in use; -EINVAL NULL. */
SP_API int sp_task_local_create(sp_task_local_t *key);

/* Read / write the calling task's value for key.
 * Errors (set): -EINVAL invalid key; -EPERM not in a task. get returns NULL
 * for those. */
SP_API void *sp_task_local_get(sp_task_local_t key);
SP_API int sp_task_local_set(sp_task_local_t key, void *value);

SP_EXTERN_C_END

#endif
