/* The test runner: one binary holding every test in tests/list.h.
 *
 *   runner                 run every test in a child process, once per
 *                          backend (SPINDLE_BACKEND=uring, then epoll; tests
 *                          flagged TEST_URING_ONLY only on uring), each
 *                          under a watchdog;
 *   runner -f SUBSTR       the same, only tests whose name contains SUBSTR;
 *   runner -b uring|epoll  the same, one backend only;
 *   runner -b noring       the I/O tests (io_, net_, fs_) in processes where a
 *                          seccomp filter denies io_uring_setup and
 *                          SPINDLE_BACKEND is unset: the automatic fallback
 *                          to epoll must carry them;
 *   runner -q              the same, leaving out tests flagged TEST_SLOW;
 *   runner -v              the same, printing every child's output and time;
 *   runner --list          print the test names;
 *   runner NAME [NAME...]  run the named tests in this process (for gdb),
 *                          with whatever SPINDLE_BACKEND the environment has.
 *
 * A child runs `runner NAME` through /proc/self/exe, in a process group of
 * its own, with stdout and stderr sent to a temporary file that is printed
 * only when the test fails (or with -v). A child that crashes, hangs past
 * its timeout (x3 in sanitized builds), or prints a sanitizer report fails
 * that one test. The last line is `N passed, N failed, N skipped`; the exit
 * status is 0 if and only if nothing failed. Tests run one at a time: most
 * of them use both CPUs. */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST(name, timeout, flags) int test_##name(void);
#include "list.h"
#undef TEST

struct test_entry {
    const char *name;
    int (*fn)(void);
    int timeout_s;
    int flags;
};

static const struct test_entry tests[] = {
#define TEST(name, timeout, flags) {#name, test_##name, timeout, flags},
#include "list.h"
#undef TEST
};

#define NTESTS ((int)(sizeof(tests) / sizeof(tests[0])))

atomic_int test_failures;

/* Output that means a sanitizer or a debugger saw something wrong even if the
 * test itself passed (RELIABILITY.md B4.3). */
static const char *const bad_output[] = {
    "ignoring requested __asan_handle_no_return",
    "client switching stacks",
    "ThreadSanitizer",
    "runtime error:",
    "AddressSanitizer",
    "LeakSanitizer",
};

/* --- Helpers declared in test.h ------------------------------------------ */

int
test_run_child(void (*child)(void *arg), void *arg, char *out, size_t size, int *status)
{
    char path[] = "/tmp/spindle-child-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    unlink(path);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        child(arg);
        _exit(3);
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    ssize_t n = pread(fd, out, size - 1, 0);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return 0;
}

/* Entries of a /proc directory, "." and ".." excluded; -1 on error. */
static int
count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

int
test_count_fds(void)
{
    int n = count_entries("/proc/self/fd");
    return n < 0 ? -1 : n - 1; /* the directory stream's own fd */
}

int
test_count_threads(void)
{
    return count_entries("/proc/self/task");
}

int
test_settled_threads(int want)
{
    /* pthread_join returns when the kernel clears the thread's tid, which
     * happens before the exiting thread leaves /proc/self/task: give it
     * up to ~5 s to go, so a slow machine cannot fail a correct shutdown. */
    int n = test_count_threads();
    for (int i = 0; i < 5000 && n > want; i++) {
        usleep(1000);
        n = test_count_threads();
    }
    return n;
}

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

int
test_can_deny_io_uring(void)
{
#ifdef TEST_AUDIT_ARCH
    return 1;
#else
    return 0;
#endif
}

int
test_deny_io_uring(int err)
{
#ifdef TEST_AUDIT_ARCH
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        return -errno;
    }
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? -errno : 0;
#else
    (void)err;
    return -ENOSYS;
#endif
}

int
test_await_at_least(atomic_int *v, int want)
{
    while (atomic_load(v) < want) {
        int err = sp_task_yield();
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

int
test_count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL) {
        return -1;
    }
    int n = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        if (c == '\n') {
            n++;
        }
    }
    fclose(f);
    return n;
}

long
test_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib;
}

uint64_t
test_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
test_spin_ns(uint64_t ns)
{
    uint64_t end = test_clock_ns() + ns;
    while (test_clock_ns() < end) {
        __asm__ __volatile__("" ::: "memory");
    }
}

TEST_OPAQUE pid_t
test_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

uint64_t
test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static int
uring_forced(void)
{
    const char *b = getenv("SPINDLE_BACKEND");
    return b != NULL && strcmp(b, "uring") == 0;
}

int
test_runtime_create(sp_runtime_t **rt, const sp_config_t *cfg)
{
    int r = sp_runtime_create(rt, cfg);
    if (r == 0) {
        return TEST_PASS;
    }
    if ((r == -ENOSYS || r == -EPERM) && uring_forced()) {
        printf("skip: io_uring unavailable: %s\n", sp_strerror(r));
        return TEST_SKIP;
    }
    fprintf(stderr, "sp_runtime_create failed: %d %s (%s)\n", r, sp_err_name(r),
            sp_strerror(r));
    return TEST_FAIL;
}

int
test_run_main(const sp_config_t *cfg, sp_task_fn fn, void *arg)
{
    int fds0 = test_count_fds();
    int threads0 = test_count_threads();
    sp_runtime_t *rt;
    int r = test_runtime_create(&rt, cfg);
    if (r != TEST_PASS) {
        return r;
    }
    intptr_t result = -12345;
    int b = sp_runtime_block_on(rt, NULL, fn, arg, &result);
    int d = sp_runtime_destroy(rt);
    ASSERT_ERR(b, 0);
    ASSERT_ERR(d, 0);
    ASSERT_EQ(result, 0);
    /* Shutdown left no fd open and no shard thread running. */
    ASSERT_EQ(test_count_fds(), fds0);
    ASSERT_EQ(test_settled_threads(threads0), threads0);
    return TEST_PASS;
}

sp_config_t
test_config(int shards)
{
    sp_config_t cfg;
    sp_config_init(&cfg);
    cfg.shards = shards;
    return cfg;
}

/* --- Running tests ------------------------------------------------------- */

static int verbose;
static int quick;
static const char *filter;
#define NORING "noring"

static const char *only_backend;

static const struct test_entry *
find_test(const char *name)
{
    for (int i = 0; i < NTESTS; i++) {
        if (strcmp(tests[i].name, name) == 0) {
            return &tests[i];
        }
    }
    return NULL;
}

#ifdef TEST_TSAN
static void *
noop_thread(void *arg)
{
    return arg;
}
#endif

/* Run tests in this process: the mode a child uses, and the mode for gdb. */
static int
run_in_process(int argc, char **argv)
{
    int worst = TEST_PASS;
#ifdef TEST_TSAN
    /* ThreadSanitizer starts a background thread of its own with the first
     * pthread_create: start it now, so thread counts taken in tests before
     * and after a runtime's life compare like with like. */
    pthread_t th;
    if (pthread_create(&th, NULL, noop_thread, NULL) == 0) {
        pthread_join(th, NULL);
    }
#endif
    for (int i = 0; i < argc; i++) {
        const struct test_entry *t = find_test(argv[i]);
        if (t == NULL) {
            fprintf(stderr, "no such test: %s\n", argv[i]);
            return 1;
        }
        atomic_store(&test_failures, 0);
        int r = t->fn();
        fflush(stdout);
        fflush(stderr);
        if (argc == 1) {
            return r;
        }
        const char *b = getenv("SPINDLE_BACKEND");
        printf("%s %s [%s]\n", r == 0 ? "ok" : r == TEST_SKIP ? "skip" : "FAIL",
               t->name, b ? b : "auto");
        if (r != TEST_PASS && r != TEST_SKIP) {
            worst = TEST_FAIL;
        }
    }
    return worst;
}

static int
timeout_multiplier(void)
{
    const char *m = getenv("SP_TEST_TIMEOUT_MULT");
    if (m != NULL && atoi(m) > 0) {
        return atoi(m);
    }
#ifdef SP_TEST_SANITIZED
    return 3;
#else
    return 1;
#endif
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait for pid until deadline_ns. Returns 0 with *status set, or -1 on
 * timeout (the child is still running). */
static int
wait_child(pid_t pid, uint64_t deadline_ns, int *status)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) {
            if (pfd >= 0) {
                close(pfd);
            }
            return 0;
        }
        uint64_t now = test_clock_ns();
        if (now >= deadline_ns) {
            if (pfd >= 0) {
                close(pfd);
            }
            return -1;
        }
        int ms = (int)((deadline_ns - now) / 1000000u) + 1;
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            poll(&p, 1, ms > 1000 ? 1000 : ms);
        } else {
            sleep_ms(ms > 5 ? 5 : ms);
        }
    }
}

static char *
read_file(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        return NULL;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t r = pread(fd, buf + n, (size_t)st.st_size - n, (off_t)n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* memmem over the whole output: it may hold NUL bytes. */
static const char *
find_bad_output(const char *out, size_t len)
{
    for (size_t i = 0; i < sizeof(bad_output) / sizeof(bad_output[0]); i++) {
        if (memmem(out, len, bad_output[i], strlen(bad_output[i])) != NULL) {
            return bad_output[i];
        }
    }
    return NULL;
}

/* The reason a test skipped: its line starting with "skip:". */
static void
print_skip_reason(const char *out)
{
    const char *p = strstr(out, "skip:");
    if (p == NULL) {
        printf("\n");
        return;
    }
    const char *e = strchr(p, '\n');
    int n = e ? (int)(e - p) : (int)strlen(p);
    printf(" (%.*s)\n", n, p);
}

enum outcome { OUT_PASS, OUT_FAIL, OUT_SKIP };

static enum outcome
run_child(const char *self, const struct test_entry *t, const char *backend)
{
    const char *tmpdir = getenv("TMPDIR");
    char tpath[4096];
    snprintf(tpath, sizeof(tpath), "%s/spindle-test-XXXXXX",
             tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
    int fd = mkostemp(tpath, O_CLOEXEC);
    if (fd < 0) {
        perror(tpath);
        exit(2);
    }
    unlink(tpath);

    fflush(stdout);
    fflush(stderr);
    uint64_t start = test_clock_ns();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* If the runner is killed (a CI time limit), its test goes too. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(2);
        }
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (strcmp(backend, NORING) == 0) {
            /* A sandbox without io_uring: the default backend must find
             * out by itself and fall back to epoll. */
            unsetenv("SPINDLE_BACKEND");
            if (test_deny_io_uring(EPERM) < 0) {
                perror("seccomp");
                _exit(2);
            }
        } else {
            setenv("SPINDLE_BACKEND", backend, 1);
        }
        char *args[] = {(char *)self, (char *)t->name, NULL};
        execv("/proc/self/exe", args);
        perror("execv");
        _exit(2);
    }
    setpgid(pid, pid);

    uint64_t limit = (uint64_t)t->timeout_s * (uint64_t)timeout_multiplier() *
                     1000000000ull;
    int status = 0;
    int timed_out = wait_child(pid, start + limit, &status) != 0;
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    kill(-pid, SIGKILL); /* grandchildren the test left behind */
    double secs = (double)(test_clock_ns() - start) / 1e9;

    size_t len = 0;
    char *out = read_file(fd, &len);
    close(fd);
    const char *bad = out ? find_bad_output(out, len) : NULL;

    char why[160] = "";
    enum outcome o = OUT_FAIL;
    if (timed_out) {
        snprintf(why, sizeof(why), "timeout after %ds", t->timeout_s * timeout_multiplier());
    } else if (WIFSIGNALED(status)) {
        snprintf(why, sizeof(why), "signal %d", WTERMSIG(status));
    } else if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != TEST_SKIP) {
        snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
    } else if (bad == NULL) {
        o = WEXITSTATUS(status) == TEST_SKIP ? OUT_SKIP : OUT_PASS;
    }
    if (o == OUT_FAIL && bad != NULL) {
        size_t w = strlen(why);
        snprintf(why + w, sizeof(why) - w, "%soutput contains \"%s\"", w ? ", " : "", bad);
    }

    if (o == OUT_PASS) {
        printf("ok %s [%s]", t->name, backend);
        if (verbose) {
            printf(" %.2fs", secs);
        }
        printf("\n");
    } else if (o == OUT_SKIP) {
        printf("skip %s [%s]", t->name, backend);
        print_skip_reason(out ? out : "");
    } else {
        printf("FAIL %s [%s] (%s)\n", t->name, backend, why);
    }
    if ((o == OUT_FAIL || verbose) && out != NULL && len > 0) {
        printf("--- output of %s [%s] ---\n", t->name, backend);
        fwrite(out, 1, len, stdout);
        if (out[len - 1] != '\n') {
            printf("\n");
        }
        printf("--- end of %s [%s] ---\n", t->name, backend);
    }
    fflush(stdout);
    free(out);
    return o;
}

/* The I/O layer's tests: they also run in the NORING pass. */
static int
is_io_test(const char *name)
{
    return strncmp(name, "io_", 3) == 0 || strncmp(name, "net_", 4) == 0 ||
           strncmp(name, "fs_", 3) == 0;
}

static int
run_all(const char *self)
{
    static const char *const backends[] = {"uring", "epoll", NORING};
    int passed = 0, failed = 0, skipped = 0;
    uint64_t start = test_clock_ns();

    for (int i = 0; i < NTESTS; i++) {
        const struct test_entry *t = &tests[i];
        if (filter != NULL && strstr(t->name, filter) == NULL) {
            continue;
        }
        if (quick && (t->flags & TEST_SLOW)) {
            continue;
        }
        for (int b = 0; b < 3; b++) {
            if (b >= 1 && (t->flags & TEST_URING_ONLY)) {
                continue;
            }
            /* The NORING pass runs only when asked for, and only the I/O
             * tests: everything else is the same as the epoll pass. */
            if (b == 2 && (only_backend == NULL || !is_io_test(t->name) ||
                           !test_can_deny_io_uring())) {
                continue;
            }
            if (only_backend != NULL && strcmp(only_backend, backends[b]) != 0) {
                continue;
            }
            switch (run_child(self, t, backends[b])) {
            case OUT_PASS: passed++; break;
            case OUT_SKIP: skipped++; break;
            case OUT_FAIL: failed++; break;
            }
        }
    }
    if (verbose) {
        printf("# total %.1fs\n", (double)(test_clock_ns() - start) / 1e9);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    fflush(stdout);
    return failed == 0 ? 0 : 1;
}

static void
usage(const char *self)
{
    fprintf(stderr,
            "usage: %s [-v] [-q] [-f SUBSTR] [-b uring|epoll|noring]\n"
            "       %s --list\n"
            "       %s NAME [NAME...]   (in this process)\n",
            self, self, self);
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Each test chooses its own shard count. */
    unsetenv("SPINDLE_SHARDS");
#if defined(__SANITIZE_ADDRESS__)
    /* RELIABILITY.md B4.3: the suite runs with fake stacks enabled, which is
     * what exercises the fiber-switch annotations. */
    setenv("ASAN_OPTIONS", "detect_stack_use_after_return=1", 0);
#endif

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--list") == 0) {
            for (int k = 0; k < NTESTS; k++) {
                printf("%s%s%s\n", tests[k].name,
                       tests[k].flags & TEST_URING_ONLY ? " [uring only]" : "",
                       tests[k].flags & TEST_SLOW ? " [slow]" : "");
            }
            return 0;
        } else if (strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if (strcmp(a, "-q") == 0) {
            quick = 1;
        } else if (strcmp(a, "-f") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(a, "-b") == 0 && i + 1 < argc) {
            only_backend = argv[++i];
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (i < argc) {
        return run_in_process(argc - i, argv + i);
    }
    return run_all(argv[0]);
}
