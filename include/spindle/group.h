/* Structured concurrency: cross-shard calls, cancellation tokens, task
 * groups.
 *
 *   sp_shard_call        run a function as a task on another shard and wait
 *                        for its result (Seastar's submit_to), with flow
 *                        control per pair of shards;
 *   sp_cancel_token_t    a cancellation signal that forms a tree (tokio's
 *                        CancellationToken, Go's context): cancelling a
 *                        token cancels its descendants, wakes its waiters
 *                        and cancels the tasks bound to it;
 *   sp_group_t           a set of tasks joined together (a nursery): the
 *                        first child that fails cancels its siblings, and
 *                        no child outlives the join.
 *
 * The caller's cancellation and deadline reach what it waits for: a call's
 * callee starts with the caller's deadline and is cancelled with it, and a
 * group's join cancels the children when its caller is cancelled. In both
 * cases the waiting call still waits until the tasks it started have
 * returned (they may use memory on the caller's stack), and only then
 * reports -ECANCELED or -ETIMEDOUT.
 *
 * Objects are embeddable, as in sync.h: their storage belongs to the
 * caller, who keeps it alive and in place from init until destroy returns.
 * Using an object after destroy (while its memory is still there) returns
 * -EINVAL with a log line; so do NULL objects. The fields are private.
 * docs/api/group.md has the full contracts. */
#ifndef SPINDLE_GROUP_H
#define SPINDLE_GROUP_H

#include "common.h"
#include "task.h"

SP_EXTERN_C_BEGIN

/* --- cross-shard call --------------------------------------------------- */

/* Calls in flight from one shard to another (counted per ordered pair of
 * shards, from the shard the caller runs on when it calls): a caller
 * beyond this many waits, in arrival order, for one of them to return. */
#define SP_SHARD_CALL_MAX_INFLIGHT 64

/* Run fn(arg) as a task pinned to shard `shard` and wait for it to return.
 * The callee starts with the caller's deadline. If the caller is cancelled
 * or its deadline passes while it waits, the callee is cancelled (its
 * suspension points return -ECANCELED) and the call still waits for fn to
 * return before it reports -ECANCELED or -ETIMEDOUT; it reports them also
 * when fn returned on its own just as the condition arose.
 * Suspends: yes. Context: any task (shard may be the caller's own).
 * Memory: arg is borrowed until the call returns, whatever it returns, so
 *         it may point into the caller's stack. *result (may be NULL)
 *         receives fn's return value whenever fn ran, also with
 *         -ECANCELED / -ETIMEDOUT.
 * Errors: -ECANCELED / -ETIMEDOUT the caller was cancelled / past its
 *         deadline (before fn started: fn never runs; after: fn was
 *         cancelled and has returned); -EINVAL NULL fn or unknown shard;
 *         -EPERM not in a task; -ESHUTDOWN the runtime is stopping;
 *         -ENOMEM no task or stack for the callee (fn never ran). */
SP_API int sp_shard_call(int shard, sp_task_fn fn, void *arg, intptr_t *result);

/* --- cancellation token ------------------------------------------------- */

typedef struct sp_cancel_token {
    uint64_t private_[16];
} sp_cancel_token_t;

/* A token, not cancelled, child of parent (NULL: a root). A child of a
 * cancelled parent starts cancelled. The parent must outlive the child.
 * Suspends: no. Context: any task or thread.
 * Memory: parent is borrowed until sp_cancel_token_destroy(tok).
 * Errors: -EINVAL tok NULL, parent destroyed or never initialised. */
SP_API int sp_cancel_token_init(sp_cancel_token_t *tok, sp_cancel_token_t *parent);

/* Unlink tok from its parent and forget its bound tasks (they are not
 * cancelled). Suspends: no (may spin while a concurrent cancel finishes
 * with tok). Context: any task or thread.
 * Errors: -EBUSY tok has children or waiting tasks (it stays usable);
 *         -EINVAL. */
SP_API int sp_cancel_token_destroy(sp_cancel_token_t *tok);

/* Cancel tok and all its descendants: wake every task waiting on them and
 * sp_task_cancel every task bound to them. Once it returns, tok and every
 * descendant report cancelled. Cancelling twice does nothing more.
 * Suspends: no. Context: any task or thread.
 * Errors: -EINVAL. */
SP_API int sp_cancel_token_cancel(sp_cancel_token_t *tok);

/* 1 cancelled, 0 not, -EINVAL. Suspends: no. Context: any thread. */
SP_API int sp_cancel_token_is_cancelled(sp_cancel_token_t *tok);

/* Wait until tok is cancelled; returns 0 at once if it is.
 * Suspends: yes. Context: any task.
 * Errors: -ECANCELED / -ETIMEDOUT the waiting task itself was cancelled /
 *         is past its deadline; -EINVAL; -EPERM not in a task. */
SP_API int sp_cancel_token_wait(sp_cancel_token_t *tok);

/* Make task follow tok: cancelling tok (or an ancestor) calls
 * sp_task_cancel(task). Binding to a cancelled token cancels the task at
 * once. A task that has finished stays bound harmlessly (its handle is
 * stale) until unbind or destroy.
 * Suspends: no. Context: any task or thread (task.rt needed outside the
 * runtime). Memory: the handle is copied.
 * Errors: -ENOMEM; -EINVAL tok invalid, or task.bits 0. */
SP_API int sp_cancel_token_bind(sp_cancel_token_t *tok, sp_task_t task);

/* Undo one sp_cancel_token_bind(tok, task).
 * Errors: -ENOENT not bound; -EINVAL. */
SP_API int sp_cancel_token_unbind(sp_cancel_token_t *tok, sp_task_t task);

/* --- task group --------------------------------------------------------- */

typedef struct sp_group {
    uint64_t private_[16];
} sp_group_t;

/* An empty group. deadline_ns (sp_now_ns() scale, SP_DEADLINE_NONE for
 * none) is given to every child: past it their suspension points return
 * -ETIMEDOUT. Suspends: no. Context: any task or thread.
 * Errors: -EINVAL g NULL. */
SP_API int sp_group_init(sp_group_t *g, uint64_t deadline_ns);

/* Free the group. Suspends: no. Context: any task or thread.
 * Errors: -EBUSY children were spawned and the group was not joined (it
 *         stays usable); -EINVAL. */
SP_API int sp_group_destroy(sp_group_t *g);

/* Spawn fn(arg) as a child of g with attr (NULL: defaults; any placement).
 * The child starts with the group's deadline (not the spawner's). A child
 * that returns a negative value fails the group: the first failure is
 * recorded and cancels every other child. Children may spawn into their
 * own group, also while it is being joined.
 * Suspends: no. Context: any task.
 * Memory: the group owns the child's handle; arg is borrowed by the child.
 * Errors: -ECANCELED the group was cancelled (sp_group_cancel, a child
 *         failed, or its joiner was cancelled); -ESHUTDOWN the group has
 *         been joined, or the runtime is stopping; -ENOMEM; -EINVAL g
 *         invalid, fn NULL, or bad attr; -EPERM not in a task.
 *         A failed spawn never runs fn. */
SP_API int sp_group_spawn(sp_group_t *g, const sp_task_attr_t *attr, sp_task_fn fn,
                          void *arg);

/* Cancel every child, and refuse later spawns with -ECANCELED.
 * Suspends: no. Context: any task or thread. Errors: -EINVAL. */
SP_API int sp_group_cancel(sp_group_t *g);

/* Wait until every child has returned. *first_error (may be NULL) gets the
 * first negative value a child returned (0 if none did). If the caller is
 * cancelled or passes its deadline while it waits, the children are
 * cancelled and the join still waits for all of them. One joiner at a
 * time; once a join has returned 0 the group is closed to spawns.
 * Suspends: yes (unless every child has returned). Context: any task.
 * Errors: -ECANCELED / -ETIMEDOUT the caller was cancelled / past its
 *         deadline (the children were cancelled and have all returned:
 *         *first_error is written and the group is joined); -EINVAL g
 *         invalid, or joined or being joined already; -EPERM not in a
 *         task. */
SP_API int sp_group_join(sp_group_t *g, intptr_t *first_error);

SP_EXTERN_C_END

#endif
