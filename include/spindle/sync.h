/* Task synchronisation: mutex, read-write lock, semaphore, notify, event,
 * condition variable, wait group, barrier, once.
 *
 * These park the calling task, never its thread, and work between tasks on
 * any shards (pinned or stealable). Waiters are served in arrival order.
 * Every blocking call is a suspension point: it returns -ECANCELED once the
 * task is cancelled and -ETIMEDOUT once its deadline (sp_task_set_deadline)
 * has passed, and then it has not taken what it waited for. A call that can
 * succeed without waiting succeeds even for a cancelled task. try_ calls
 * never suspend and return -EAGAIN where the blocking call would wait.
 *
 * Objects are embeddable: their storage belongs to the caller, who must
 * keep it alive and in place from init until destroy returns. Objects with
 * an SP_..._INIT initialiser may be zero-initialised instead of init'ed.
 * Using an object after destroy (while its memory is still there) returns
 * -EINVAL with a log line; NULL objects return -EINVAL. The fields are
 * private. docs/api/sync.md has the full contracts. */
#ifndef SPINDLE_SYNC_H
#define SPINDLE_SYNC_H

#include "common.h"

SP_EXTERN_C_BEGIN

/* --- mutex ------------------------------------------------------------- */

typedef struct sp_mutex {
    uint64_t private_[6];
} sp_mutex_t;
#define SP_MUTEX_INIT {{0}}

/* Suspends: no. Context: any thread. Errors: -EINVAL NULL. */
SP_API int sp_mutex_init(sp_mutex_t *m);

/* Errors: -EBUSY locked or waited on (the mutex stays usable); -EINVAL. */
SP_API int sp_mutex_destroy(sp_mutex_t *m);

/* Lock, waiting in FIFO order: an unlock hands the mutex straight to the
 * first waiter, so no later arrival can overtake it.
 * Suspends: yes. Context: any task.
 * Errors: -ECANCELED, -ETIMEDOUT (not locked); -EDEADLK the caller holds
 *         it already; -EINVAL; -EPERM not in a task. */
SP_API int sp_mutex_lock(sp_mutex_t *m);

/* Suspends: no. Errors: -EAGAIN held by another task; -EDEADLK; -EINVAL;
 * -EPERM. */
SP_API int sp_mutex_trylock(sp_mutex_t *m);

/* Suspends: no. Context: the task that holds it.
 * Errors: -EPERM the caller does not hold it; -EINVAL. */
SP_API int sp_mutex_unlock(sp_mutex_t *m);

/* --- read-write lock --------------------------------------------------- */

typedef struct sp_rwlock {
    uint64_t private_[6];
} sp_rwlock_t;
#define SP_RWLOCK_INIT {{0}}

SP_API int sp_rwlock_init(sp_rwlock_t *l);
/* Errors: -EBUSY held or waited on; -EINVAL. */
SP_API int sp_rwlock_destroy(sp_rwlock_t *l);

/* Shared lock. A reader that arrives while a writer waits queues behind
 * it (writers are not starved). Suspends: yes. Context: any task.
 * Errors: -ECANCELED, -ETIMEDOUT, -EINVAL, -EPERM. */
SP_API int sp_rwlock_rdlock(sp_rwlock_t *l);
SP_API int sp_rwlock_tryrdlock(sp_rwlock_t *l);
/* Exclusive lock. Errors: as rdlock, and -EDEADLK the caller holds the
 * write lock already. */
SP_API int sp_rwlock_wrlock(sp_rwlock_t *l);
SP_API int sp_rwlock_trywrlock(sp_rwlock_t *l);
/* Errors: -EPERM no read lock is held / the caller does not hold the write
 * lock; -EINVAL. */
SP_API int sp_rwlock_rdunlock(sp_rwlock_t *l);
SP_API int sp_rwlock_wrunlock(sp_rwlock_t *l);

/* --- semaphore ---------------------------------------------------------- */

typedef struct sp_sem {
    uint64_t private_[6];
} sp_sem_t;

/* Errors: -EINVAL NULL or value > SP_SEM_MAX. */
#define SP_SEM_MAX 0x7fffffffu
SP_API int sp_sem_init(sp_sem_t *s, unsigned value);
/* Errors: -EBUSY tasks are waiting; -EINVAL. */
SP_API int sp_sem_destroy(sp_sem_t *s);

/* Take one permit, waiting (FIFO) while there is none.
 * Suspends: yes. Errors: -ECANCELED, -ETIMEDOUT, -EINVAL, -EPERM. */
SP_API int sp_sem_acquire(sp_sem_t *s);
SP_API int sp_sem_try_acquire(sp_sem_t *s);

/* Add n permits, handing them to waiters first. Suspends: no. Context:
 * any task or thread. Errors: -EOVERFLOW the count would pass SP_SEM_MAX
 * (nothing added); -EINVAL. */
SP_API int sp_sem_release(sp_sem_t *s, unsigned n);

/* Permits available now (a snapshot), or -EINVAL. */
SP_API long sp_sem_value(sp_sem_t *s);

/* --- notify ------------------------------------------------------------- */

/* Wake-up signal without data (tokio's Notify): notify_one wakes one
 * waiter, or, with nobody waiting, leaves one permit that the next wait
 * consumes at once; notify_all wakes everyone waiting now. */
typedef struct sp_notify {
    uint64_t private_[6];
} sp_notify_t;
#define SP_NOTIFY_INIT {{0}}

SP_API int sp_notify_init(sp_notify_t *n);
/* Errors: -EBUSY tasks are waiting; -EINVAL. */
SP_API int sp_notify_destroy(sp_notify_t *n);
/* Suspends: yes. Errors: -ECANCELED, -ETIMEDOUT, -EINVAL, -EPERM. */
SP_API int sp_notify_wait(sp_notify_t *n);
/* Take the permit if there is one. Errors: -EAGAIN none; -EINVAL; -EPERM. */
SP_API int sp_notify_try_wait(sp_notify_t *n);
/* Suspends: no. Context: any task or thread. Errors: -EINVAL. */
SP_API int sp_notify_one(sp_notify_t *n);
/* Returns how many waiters were woken, or -EINVAL. */
SP_API int sp_notify_all(sp_notify_t *n);

/* --- event -------------------------------------------------------------- */

/* A flag tasks can wait for: set wakes every waiter and lets later waits
 * through until reset. */
typedef struct sp_event {
    uint64_t private_[6];
} sp_event_t;
#define SP_EVENT_INIT {{0}}

SP_API int sp_event_init(sp_event_t *e);
SP_API int sp_event_destroy(sp_event_t *e);
/* Suspends: yes (unless set). Errors: -ECANCELED, -ETIMEDOUT, -EINVAL,
 * -EPERM. */
SP_API int sp_event_wait(sp_event_t *e);
/* Suspends: no. Context: any task or thread. Errors: -EINVAL. */
SP_API int sp_event_set(sp_event_t *e);
SP_API int sp_event_reset(sp_event_t *e);
/* 1 set, 0 not, or -EINVAL. */
SP_API int sp_event_is_set(sp_event_t *e);

/* --- condition variable ------------------------------------------------- */

typedef struct sp_cond {
    uint64_t private_[6];
} sp_cond_t;
#define SP_COND_INIT {{0}}

SP_API int sp_cond_init(sp_cond_t *c);
/* Errors: -EBUSY tasks are waiting; -EINVAL. */
SP_API int sp_cond_destroy(sp_cond_t *c);

/* Unlock m, wait for a signal, lock m again. m is held again when this
 * returns, whatever it returns (as with pthread_cond_wait); wake-ups may be
 * spurious, so wait in a loop on the condition.
 * Suspends: yes. Context: a task holding m.
 * Errors: -ECANCELED, -ETIMEDOUT (m held again); -EPERM the caller does not
 *         hold m, or not in a task; -EINVAL. */
SP_API int sp_cond_wait(sp_cond_t *c, sp_mutex_t *m);
/* Suspends: no. Context: any task or thread. Errors: -EINVAL. */
SP_API int sp_cond_signal(sp_cond_t *c);
SP_API int sp_cond_broadcast(sp_cond_t *c);

/* --- wait group --------------------------------------------------------- */

typedef struct sp_waitgroup {
    uint64_t private_[6];
} sp_waitgroup_t;
#define SP_WAITGROUP_INIT {{0}}

SP_API int sp_waitgroup_init(sp_waitgroup_t *wg);
/* Errors: -EBUSY tasks are waiting; -EINVAL. */
SP_API int sp_waitgroup_destroy(sp_waitgroup_t *wg);
/* Add delta (may be negative) to the counter; reaching 0 releases every
 * waiter. Suspends: no. Context: any task or thread.
 * Errors: -EINVAL the counter would go below 0 (unchanged), NULL. */
SP_API int sp_waitgroup_add(sp_waitgroup_t *wg, long delta);
/* sp_waitgroup_add(wg, -1). */
SP_API int sp_waitgroup_done(sp_waitgroup_t *wg);
/* Wait until the counter is 0. Suspends: yes (unless it is 0).
 * Errors: -ECANCELED, -ETIMEDOUT, -EINVAL, -EPERM. */
SP_API int sp_waitgroup_wait(sp_waitgroup_t *wg);

/* --- barrier ------------------------------------------------------------ */

typedef struct sp_barrier {
    uint64_t private_[6];
} sp_barrier_t;

/* Errors: -EINVAL NULL or count 0. */
SP_API int sp_barrier_init(sp_barrier_t *b, unsigned count);
SP_API int sp_barrier_destroy(sp_barrier_t *b);

/* Wait until `count` tasks have arrived; then all go on and the barrier is
 * ready for the next round. Returns SP_BARRIER_LEADER in exactly one task
 * of each round (the last to arrive), 0 in the others.
 * Suspends: yes. Errors: -ECANCELED, -ETIMEDOUT (the task leaves the
 * round: it no longer counts as arrived), -EINVAL, -EPERM. */
#define SP_BARRIER_LEADER 1
SP_API int sp_barrier_wait(sp_barrier_t *b);

/* --- once --------------------------------------------------------------- */

typedef struct sp_once {
    uint64_t private_[6];
} sp_once_t;
#define SP_ONCE_INIT {{0}}

/* Run fn(arg) exactly once per sp_once_t, however many tasks call this;
 * callers that arrive while it runs wait for it to finish. Returns 0 once
 * fn has run (in this call or an earlier one).
 * Suspends: yes (while another task runs fn). Context: any task.
 * Errors: -ECANCELED, -ETIMEDOUT (only while waiting for another task's
 *         fn; fn itself always runs to completion); -EINVAL NULL; -EPERM. */
SP_API int sp_once(sp_once_t *once, void (*fn)(void *arg), void *arg);

SP_EXTERN_C_END

#endif
