/* fork() with live runtimes (RELIABILITY.md B3.1).
 *
 * The child of a fork has one thread, a copy of the forking one; it has no
 * shard threads, and the rings' memory is not copied (uring.c marks it
 * MADV_DONTFORK). So in the child:
 *  - the forking thread stops being a shard (its shard pointer is
 *    cleared): a child forked from inside a task gets -EPERM ("not called
 *    from a task") from every task call instead of running a shard loop
 *    over memory that is gone;
 *  - every runtime that existed at the fork is marked as the parent's:
 *    sp_runtime_block_on and sp_runtime_destroy on it return -ECHILD with a
 *    log line instead of waiting for threads that do not exist.
 * The child may exec, _exit, or create and use a runtime of its own.
 *
 * The registry's lock is taken around fork (prepare/parent/child
 * handlers), so the child never inherits it held by a thread that does not
 * exist there. */
#include <errno.h>
#include <pthread.h>

#include "core/core.h"
#include "sched/sched.h"

#define MAX_RUNTIMES 64

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sp_runtime *reg[MAX_RUNTIMES];
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
before_fork(void)
{
    pthread_mutex_lock(&reg_lock);
}

static void
after_fork_parent(void)
{
    pthread_mutex_unlock(&reg_lock);
}

static void
after_fork_child(void)
{
    sp__shard_set_current(NULL);
    for (int i = 0; i < MAX_RUNTIMES; i++) {
        if (reg[i]) {
            sp_store_relaxed(&reg[i]->forked, 1);
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

static void
install(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void
sp__fork_register(struct sp_runtime *rt)
{
    pthread_once(&atfork_once, install);
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < MAX_RUNTIMES; i++) {
        if (!reg[i]) {
            reg[i] = rt;
            break;
        }
    }
    /* Past 64 live runtimes the rest go unmarked: a child could then hang
     * on them instead of getting -ECHILD. */
    pthread_mutex_unlock(&reg_lock);
}

void
sp__fork_unregister(struct sp_runtime *rt)
{
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < MAX_RUNTIMES; i++) {
        if (reg[i] == rt) {
            reg[i] = NULL;
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

int
sp__fork_check(const struct sp_runtime *rt, const char *fn)
{
    if (sp_unlikely(sp_load_relaxed(&rt->forked))) {
        sp__log("%s: the runtime belongs to the parent process (this is a child of "
                "fork); create a new runtime here", fn);
        return -ECHILD;
    }
    return 0;
}
