/* Threads the runtime starts (shards, blocking-pool workers) run with every
 * asynchronous signal blocked (RELIABILITY.md B3.2).
 *
 * A process-directed signal goes to any thread that does not block it. On a
 * shard, its handler would run on whatever task stack is current (tasks
 * have small stacks and no SA_ONSTACK is required of users) and could
 * interrupt the runtime mid-switch. Blocked here, such signals go to the
 * program's own threads, or wait for a task that reads them from a
 * signalfd (docs/api/signals.md). Synchronous faults stay deliverable: they
 * are raised in the thread that caused them, and the stack overflow report
 * (overflow.c) needs SIGSEGV. glibc keeps its own internal signals (setxid,
 * cancellation) deliverable whatever the mask says.
 *
 * The mask is set in the creating thread around pthread_create, so the new
 * thread never runs a moment without it. */
#include <signal.h>

#include "core/core.h"

static const int synchronous[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};

int
sp__thread_create(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    for (size_t i = 0; i < sizeof(synchronous) / sizeof(synchronous[0]); i++) {
        sigdelset(&all, synchronous[i]);
    }
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}
