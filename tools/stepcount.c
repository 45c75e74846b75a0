/* stepcount: count the user-space instructions a program executes, thread
 * by thread, by single-stepping it under ptrace.
 *
 *   stepcount [-o FILE] PROGRAM [ARG...]
 *
 * Prints one line per thread (in order of creation) and a total, on
 * stderr:  "stepcount: thread N: COUNT". With -o, also writes FILE: for
 * every instruction address inside PROGRAM's own mapping, "OFFSET COUNT"
 * (hex offset from the mapping's start, all threads), for addr2line -e
 * PROGRAM (x86-64 only).
 *
 * Why: valgrind cannot run spindle's io_uring backend, and this machine's
 * virtual CPU has no performance counters. A count does not move with the
 * machine's speed, where a timing needs a dozen interleaved invocations to
 * show a 1% change (bench/icount.sh). It is slow: a few microseconds per
 * instruction, so runs must be short. The stop after each instruction
 * dilates time: code that runs by the clock (spinning before a park, a
 * watchdog's period) runs more or less often than it would. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_THREADS 256
#define HIST_MAX (64u << 20) /* offsets counted inside the program's mapping */

struct thread {
    pid_t tid;
    uint64_t count;
};

static struct thread threads[MAX_THREADS];
static int nthreads;

static struct thread *
thread_of(pid_t tid)
{
    for (int i = 0; i < nthreads; i++) {
        if (threads[i].tid == tid) {
            return &threads[i];
        }
    }
    if (nthreads == MAX_THREADS) {
        return NULL;
    }
    threads[nthreads].tid = tid;
    return &threads[nthreads++];
}

/* The first and last address of the mapping of the program's own file. */
static int
find_mapping(pid_t pid, unsigned long *lo, unsigned long *hi)
{
    char path[64], exe[4096], line[4096 + 128];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof(exe) - 1);
    if (n <= 0) {
        return -1;
    }
    exe[n] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    *lo = *hi = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        char *name = strchr(line, '/');
        if (name && sscanf(line, "%lx-%lx", &a, &b) == 2 && strncmp(name, exe, (size_t)n) == 0 &&
            (name[n] == '\n' || name[n] == '\0')) {
            if (*lo == 0) {
                *lo = a;
            }
            *hi = b;
        }
    }
    fclose(f);
    return *lo ? 0 : -1;
}

/* The thread's instruction pointer, or 0 where this is not written. */
static unsigned long
pc_of(pid_t tid)
{
#if defined(__x86_64__)
    struct user_regs_struct r;
    return ptrace(PTRACE_GETREGS, tid, NULL, &r) == 0 ? r.rip : 0;
#else
    (void)tid;
    return 0;
#endif
}

static int
usage(void)
{
    fprintf(stderr, "usage: stepcount [-o FILE] PROGRAM [ARG...]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *out = NULL;
    int argi = 1;
    if (argi + 1 < argc && strcmp(argv[argi], "-o") == 0) {
        out = argv[argi + 1];
        argi += 2;
    }
    if (argi >= argc || argv[argi][0] == '-') {
        return usage();
    }
    pid_t child = fork();
    if (child < 0) {
        perror("stepcount: fork");
        return 1;
    }
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
            _exit(127);
        }
        raise(SIGSTOP);
        execvp(argv[argi], argv + argi);
        fprintf(stderr, "stepcount: %s: %s\n", argv[argi], strerror(errno));
        _exit(127);
    }
    int st;
    if (waitpid(child, &st, 0) < 0 || !WIFSTOPPED(st)) {
        fprintf(stderr, "stepcount: the child did not stop\n");
        return 1;
    }
    ptrace(PTRACE_SETOPTIONS, child, NULL,
           (void *)(long)(PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL));
    /* Run to the exec, then step from the program's first instruction. */
    ptrace(PTRACE_CONT, child, NULL, NULL);
    if (waitpid(child, &st, 0) < 0 || !WIFSTOPPED(st) || (st >> 16) != PTRACE_EVENT_EXEC) {
        fprintf(stderr, "stepcount: %s did not start\n", argv[argi]);
        return 1;
    }
    unsigned long lo = 0, hi = 0;
    uint32_t *hist = NULL;
    if (out) {
        if (find_mapping(child, &lo, &hi) < 0 || hi - lo > HIST_MAX ||
            !(hist = calloc(hi - lo, sizeof(*hist)))) {
            fprintf(stderr, "stepcount: cannot map %s's addresses\n", argv[argi]);
            return 1;
        }
    }
    thread_of(child);
    ptrace(PTRACE_SINGLESTEP, child, NULL, NULL);
    int live = 1, status = 0;
    while (live > 0) {
        pid_t tid = waitpid(-1, &st, __WALL);
        if (tid < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            live--;
            if (tid == child) {
                status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            continue;
        }
        int sig = WSTOPSIG(st), deliver = 0;
        if (sig == SIGTRAP && (st >> 16) == PTRACE_EVENT_CLONE) {
            unsigned long nt = 0;
            ptrace(PTRACE_GETEVENTMSG, tid, NULL, &nt);
            thread_of((pid_t)nt);
            live++;
        } else if (sig == SIGTRAP && (st >> 16) == 0) {
            struct thread *t = thread_of(tid);
            if (t) {
                t->count++;
            }
            unsigned long pc = hist ? pc_of(tid) : 0;
            if (pc >= lo && pc < hi) {
                hist[pc - lo]++;
            }
        } else if (sig != SIGSTOP && sig != SIGTRAP) {
            deliver = sig; /* the program's own signal */
        }
        ptrace(PTRACE_SINGLESTEP, tid, NULL, (void *)(long)deliver);
    }
    uint64_t total = 0;
    for (int i = 0; i < nthreads; i++) {
        fprintf(stderr, "stepcount: thread %d: %llu\n", i, (unsigned long long)threads[i].count);
        total += threads[i].count;
    }
    fprintf(stderr, "stepcount: total: %llu\n", (unsigned long long)total);
    if (hist) {
        FILE *f = fopen(out, "w");
        if (!f) {
            fprintf(stderr, "stepcount: %s: %s\n", out, strerror(errno));
            return 1;
        }
        for (unsigned long i = 0; i < hi - lo; i++) {
            if (hist[i]) {
                fprintf(f, "%lx %u\n", i, hist[i]);
            }
        }
        fclose(f);
    }
    return status;
}
