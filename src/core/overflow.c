/* Stack overflow reports: a SIGSEGV inside the guard region of the running
 * task's stack prints "stack overflow in task NAME" and aborts, instead of a
 * bare segmentation fault (or silent corruption far away).
 *
 * The handler runs on a per-shard alternate signal stack (the task's own
 * stack is exactly what is exhausted). Faults that are not guard hits are
 * passed to the handler that was installed before ours, or to the default
 * action. The handler is installed while at least one runtime exists and
 * the previous disposition is restored after the last one. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/core.h"
#include "sched/sched.h"

#define ALTSTACK_SIZE (64u * 1024)

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static int install_count;
static struct sigaction previous;

static void
write_str(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static int
is_guard_hit(const struct sp__task *t, const void *addr)
{
    const char *lo = t->stack_map;
    /* A frame larger than the guard can skip past it; a fault just below the
     * mapping is reported too. */
    return lo && (const char *)addr >= lo - t->stack_guard &&
           (const char *)addr < lo + t->stack_guard;
}

static void
on_segv(int sig, siginfo_t *info, void *uctx)
{
    struct sp__shard *sh = sp__shard_current();
    struct sp__task *t = sh ? sp_load_relaxed(&sh->current) : NULL;
    if (t && is_guard_hit(t, info->si_addr)) {
        write_str("spindle: stack overflow in task ");
        write_str(t->name);
        write_str("\n");
        abort();
    }
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, info, uctx);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* Default action: restore it and return; the fault repeats and kills
     * the process with the usual SIGSEGV. */
    signal(SIGSEGV, SIG_DFL);
}

int
sp__overflow_install(void)
{
    pthread_mutex_lock(&install_lock);
    if (install_count++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &previous);
    }
    pthread_mutex_unlock(&install_lock);
    return 0;
}

void
sp__overflow_uninstall(void)
{
    pthread_mutex_lock(&install_lock);
    if (--install_count == 0) {
        /* Put the old handler back only if ours is still installed: the
         * application may have installed its own since. */
        struct sigaction now;
        if (sigaction(SIGSEGV, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
            now.sa_sigaction == on_segv) {
            sigaction(SIGSEGV, &previous, NULL);
        }
    }
    pthread_mutex_unlock(&install_lock);
}

int
sp__overflow_thread_init(void **altstack)
{
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        return -ENOMEM;
    }
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        int err = -errno;
        munmap(mem, ALTSTACK_SIZE);
        return err;
    }
    *altstack = mem;
    return 0;
}

void
sp__overflow_thread_fini(void *altstack)
{
    if (!altstack) {
        return;
    }
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(altstack, ALTSTACK_SIZE);
}
