/* File-descriptor I/O (include/spindle/io.h) on both backends: data moves
 * intact between shards, cancellation and deadlines end a parked call
 * only after the kernel is done, close cancels other tasks' calls, a full
 * completion queue is survived, bad input gets a clear error.
 *
 * Fixed interleavings use one shard. Shared state lives in statics. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static int pfd[2];
static int sv[2];

/* --- a pipe between shards, checksummed ---------------------------------- */

#define PIPE_BYTES (SCALE(8) * 1024 * 1024)

static uint64_t
mix(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static intptr_t
pipe_writer(void *arg)
{
    (void)arg;
    static unsigned char buf[65536];
    uint64_t seed = 7, h = 0xcbf29ce484222325ull;
    size_t left = PIPE_BYTES;
    while (left > 0) {
        size_t n = 1 + test_rand(&seed) % sizeof(buf);
        if (n > left) {
            n = left;
        }
        for (size_t i = 0; i < n; i++) {
            buf[i] = (unsigned char)(test_rand(&seed) >> 24);
        }
        h = mix(h, buf, n);
        size_t off = 0;
        while (off < n) {
            ssize_t w = sp_write(pfd[1], buf + off, n - off);
            ASSERT_GT(w, 0);
            off += (size_t)w;
        }
        left -= n;
    }
    ASSERT_OK(sp_close(pfd[1]));
    return (intptr_t)(h & 0x7fffffff);
}

static intptr_t
pipe_reader(void *arg)
{
    (void)arg;
    static unsigned char buf[40000];
    uint64_t h = 0xcbf29ce484222325ull;
    size_t total = 0;
    for (;;) {
        ssize_t r = sp_read(pfd[0], buf, sizeof(buf));
        ASSERT_GE(r, 0);
        if (r == 0) {
            break;
        }
        h = mix(h, buf, (size_t)r);
        total += (size_t)r;
    }
    ASSERT_EQ(total, PIPE_BYTES);
    ASSERT_OK(sp_close(pfd[0]));
    return (intptr_t)(h & 0x7fffffff);
}

static intptr_t
pipe_main(void *arg)
{
    (void)arg;
    ASSERT_OK(pipe2(pfd, O_CLOEXEC));
    sp_task_t w, r;
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.place = SP_PLACE_ON;
    a.shard = 0;
    ASSERT_OK(sp_task_spawn(&w, &a, pipe_writer, NULL));
    a.shard = sp_shard_count() - 1;
    ASSERT_OK(sp_task_spawn(&r, &a, pipe_reader, NULL));
    intptr_t hw = 0, hr = 1;
    ASSERT_OK(sp_task_join(w, &hw));
    ASSERT_OK(sp_task_join(r, &hr));
    ASSERT_EQ(hw, hr);
    return 0;
}

int
test_io_pipe_across_shards(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, pipe_main, NULL);
}

/* --- socketpair echo, stealable tasks ------------------------------------ */

#define ECHO_ROUNDS SCALE(20000)

static intptr_t
echo_server(void *arg)
{
    (void)arg;
    char buf[256];
    for (;;) {
        ssize_t n = sp_read(sv[1], buf, sizeof(buf));
        ASSERT_GE(n, 0);
        if (n == 0) {
            return 0;
        }
        ASSERT_EQ(sp_write(sv[1], buf, (size_t)n), n);
    }
}

/* One message numbered i out on sv[0], and back whole and equal. */
static int
echo_round(int i)
{
    char out[64], in[64];
    int n = snprintf(out, sizeof(out), "message %d", i);
    ASSERT_EQ(sp_write(sv[0], out, (size_t)n), n);
    ssize_t got = 0;
    while (got < n) {
        ssize_t r = sp_read(sv[0], in + got, sizeof(in) - (size_t)got);
        ASSERT_GT(r, 0);
        got += r;
    }
    ASSERT_EQ(got, n);
    ASSERT_OK(memcmp(in, out, (size_t)n));
    return 0;
}

static intptr_t
echo_main(void *arg)
{
    (void)arg;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    sp_task_t s;
    ASSERT_OK(sp_task_spawn(&s, NULL, echo_server, NULL));
    for (int i = 0; i < ECHO_ROUNDS; i++) {
        ASSERT_OK(echo_round(i));
        if ((i & 255) == 0) {
            sp_task_yield(); /* let a stealable main change shard */
        }
    }
    ASSERT_OK(shutdown(sv[0], SHUT_WR));
    ASSERT_OK(sp_task_join(s, NULL));
    ASSERT_OK(sp_close(sv[0]));
    ASSERT_OK(sp_close(sv[1]));
    return 0;
}

int
test_io_socketpair_echo(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, echo_main, NULL);
}

/* --- a storm of signals (RELIABILITY.md B3.2) ------------------------------ */

/* A handler installed without SA_RESTART, and 10,000 process-directed
 * SIGUSR1s while tasks echo over a socketpair, sleep and use the blocking
 * pool: no spindle call may fail with -EINTR, no byte may be lost, and the
 * handler must never run on a runtime thread (shards block asynchronous
 * signals: a handler there would run on a task's stack). */

#define STORM_SIGNALS 10000

static atomic_int sig_seen, sig_on_runtime;
static atomic_int storm_sent;

static void
on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&sig_seen, 1);
    if (sp_shard_id() >= 0) {
        atomic_fetch_add(&sig_on_runtime, 1);
    }
}

static void *
storm_thread(void *arg)
{
    (void)arg;
    /* Not to itself: the kernel gives a process-directed signal to a thread
     * that runs and does not block it, which would spare the others. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    for (int i = 0; i < STORM_SIGNALS; i++) {
        kill(getpid(), SIGUSR1);
        atomic_fetch_add(&storm_sent, 1);
        if (i % 64 == 63) {
            usleep(50); /* bursts, so that some land while shards sleep */
        }
    }
    return NULL;
}

static intptr_t
storm_join(void *arg)
{
    return pthread_join(*(pthread_t *)arg, NULL);
}

static intptr_t
storm_sleeper(void *arg)
{
    (void)arg;
    while (atomic_load(&storm_sent) < STORM_SIGNALS) {
        ASSERT_OK(sp_sleep_ns(20 * SP_NSEC_PER_USEC));
    }
    return 0;
}

static intptr_t
storm_pool_work(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20000};
    return nanosleep(&ts, NULL) == 0 ? 0 : -errno;
}

static intptr_t
storm_pool(void *arg)
{
    (void)arg;
    while (atomic_load(&storm_sent) < STORM_SIGNALS) {
        intptr_t r = -1;
        ASSERT_OK(sp_blocking_run(storm_pool_work, NULL, &r));
        ASSERT_OK(r); /* pool threads block the signal too: never EINTR */
    }
    return 0;
}

static intptr_t
storm_main(void *arg)
{
    (void)arg;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    sp_task_t server, sleeper, pool;
    ASSERT_OK(sp_task_spawn(&server, NULL, echo_server, NULL));
    ASSERT_OK(sp_task_spawn(&sleeper, NULL, storm_sleeper, NULL));
    ASSERT_OK(sp_task_spawn(&pool, NULL, storm_pool, NULL));
    pthread_t storm;
    ASSERT_OK(pthread_create(&storm, NULL, storm_thread, NULL));
    for (int i = 0; atomic_load(&storm_sent) < STORM_SIGNALS || i < 1000; i++) {
        ASSERT_OK(echo_round(i));
    }
    intptr_t r = -1;
    ASSERT_OK(sp_blocking_run(storm_join, &storm, &r));
    ASSERT_OK(r);
    ASSERT_OK(shutdown(sv[0], SHUT_WR));
    ASSERT_OK(sp_task_join(server, NULL));
    ASSERT_OK(sp_task_join(sleeper, &r));
    ASSERT_OK(r);
    ASSERT_OK(sp_task_join(pool, &r));
    ASSERT_OK(r);
    ASSERT_OK(sp_close(sv[0]));
    ASSERT_OK(sp_close(sv[1]));
    return 0;
}

/* sig's handler becomes fn, with no SA_RESTART (the harshest case). */
static int
set_handler(int sig, void (*fn)(int), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, old);
}

int
test_io_signal_storm(void)
{
    struct sigaction old;
    ASSERT_OK(set_handler(SIGUSR1, on_usr1, &old));
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, storm_main, NULL);
    /* Pending ones are delivered to this thread by now or discarded. */
    sigaction(SIGUSR1, &old, NULL);
    ASSERT_EQ(r, TEST_PASS);
    /* Signals coalesce, but the only thread that takes them (this one,
     * waiting in block_on) saw some, and no runtime thread saw any. */
    int seen = atomic_load(&sig_seen), on_runtime = atomic_load(&sig_on_runtime);
    ASSERT_GT(seen, 0);
    ASSERT_EQ(on_runtime, 0);
    return 0;
}

/* --- a write into a pipe nobody reads ------------------------------------ */

/* write(2) raises SIGPIPE in the thread that ran it: a shard. With
 * SIGPIPE at its default disposition that used to end the process; the
 * shard blocks it, and the call returns -EPIPE. */
static intptr_t
broken_pipe_main(void *arg)
{
    (void)arg;
    int p[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_OK(sp_close(p[0]));
    for (int i = 0; i < 100; i++) {
        ASSERT_ERR(sp_write(p[1], "x", 1), -EPIPE);
    }
    ASSERT_OK(sp_close(p[1]));
    return 0;
}

int
test_io_write_broken_pipe(void)
{
    struct sigaction old;
    ASSERT_OK(set_handler(SIGPIPE, SIG_DFL, &old));
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, broken_pipe_main, NULL);
    sigaction(SIGPIPE, &old, NULL);
    return r;
}

/* --- signals read by a task from a signalfd (docs/api/signals.md) -------- */

static void *
usr2_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        kill(getpid(), SIGUSR2);
        if (i % 16 == 15) {
            usleep(100);
        }
    }
    return NULL;
}

static intptr_t
signalfd_main(void *arg)
{
    (void)arg;
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    int sfd = signalfd(-1, &usr2, SFD_CLOEXEC);
    ASSERT_GE(sfd, 0);
    pthread_t sender;
    ASSERT_OK(pthread_create(&sender, NULL, usr2_sender, NULL));
    /* Signals coalesce while pending: at least one read, every record
     * whole and for SIGUSR2. Stop once the sender is done and nothing is
     * left (a 50 ms deadline then ends the last read). */
    int reads = 0;
    intptr_t joined = -1;
    for (;;) {
        struct signalfd_siginfo si[8];
        sp_task_set_deadline(sp_now_ns() + 50 * SP_NSEC_PER_MSEC);
        ssize_t n = sp_read(sfd, si, sizeof(si));
        sp_task_set_deadline(SP_DEADLINE_NONE);
        if (n == -ETIMEDOUT) {
            break;
        }
        ASSERT_GT(n, 0);
        ASSERT_EQ(n % (ssize_t)sizeof(si[0]), 0);
        for (ssize_t k = 0; k < n / (ssize_t)sizeof(si[0]); k++) {
            ASSERT_EQ(si[k].ssi_signo, (uint32_t)SIGUSR2);
        }
        reads++;
    }
    ASSERT_OK(sp_blocking_run(storm_join, &sender, &joined));
    ASSERT_OK(joined);
    ASSERT_GT(reads, 0);
    ASSERT_OK(sp_close(sfd));
    return 0;
}

int
test_io_signalfd_in_task(void)
{
    /* The recipe: block the signal in the program's own threads (here the
     * only one) before the runtime; the runtime's threads block it anyway. */
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    ASSERT_OK(pthread_sigmask(SIG_BLOCK, &usr2, &old));
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, signalfd_main, NULL);
    /* Drain what is still pending before unblocking (default: terminate). */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&usr2, NULL, &zero) == SIGUSR2) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* --- cancellation and deadline of a parked read -------------------------- */

static intptr_t
blocked_reader(void *arg)
{
    (void)arg;
    char c;
    return sp_read(pfd[0], &c, 1);
}

static intptr_t
cancel_main(void *arg)
{
    (void)arg;
    ASSERT_OK(pipe2(pfd, O_CLOEXEC));
    for (int i = 0; i < SCALE(200); i++) {
        sp_task_t r;
        ASSERT_OK(sp_task_spawn(&r, NULL, blocked_reader, NULL));
        if (i & 1) {
            ASSERT_OK(sp_task_yield()); /* sometimes parked, sometimes not yet */
        }
        ASSERT_OK(sp_task_cancel(r));
        intptr_t res = 0;
        ASSERT_OK(sp_task_join(r, &res));
        ASSERT_ERR(res, -ECANCELED);
    }
    /* The pipe is intact: nothing was consumed by the cancelled reads. */
    ASSERT_EQ(sp_write(pfd[1], "xy", 2), 2);
    char buf[2];
    ASSERT_EQ(sp_read(pfd[0], buf, 2), 2);
    ASSERT_OK(memcmp(buf, "xy", 2));
    /* A deadline that passes while parked. */
    sp_task_set_deadline(sp_now_ns() + 2 * SP_NSEC_PER_MSEC);
    ASSERT_ERR(sp_read(pfd[0], buf, 1), -ETIMEDOUT);
    ASSERT_ERR(sp_read(pfd[0], buf, 1), -ETIMEDOUT); /* sticky */
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_OK(sp_close(pfd[0]));
    ASSERT_OK(sp_close(pfd[1]));
    return 0;
}

int
test_io_cancel_and_deadline(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, cancel_main, NULL);
}

/* --- close cancels another task's read; the reused number is untouched --- */

static intptr_t
close_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < SCALE(1000); i++) {
        ASSERT_OK(pipe2(pfd, O_CLOEXEC));
        sp_task_t r;
        sp_task_attr_t a;
        sp_task_attr_init(&a);
        a.place = SP_PLACE_ON;
        a.shard = i % sp_shard_count();
        ASSERT_OK(sp_task_spawn(&r, &a, blocked_reader, NULL));
        ASSERT_OK(sp_sleep_ns(i % 3 == 0 ? 50 * SP_NSEC_PER_USEC : 0));
        int old = pfd[0];
        ASSERT_OK(sp_close(pfd[0]));
        intptr_t res = 0;
        /* Returns (a read still in flight would hang here): cancelled by the
         * close, turned away while the close ran, or started after it on a
         * number that is not open. Only then is the number reused, so a
         * late reader cannot take the new pipe's byte. */
        ASSERT_OK(sp_task_join(r, &res));
        ASSERT_ERR(res, -EBADF);
        /* The number comes back for a new pipe, and nothing reads it. */
        int q[2];
        ASSERT_OK(pipe2(q, O_CLOEXEC));
        ASSERT_EQ(q[0], old);
        ASSERT_EQ(sp_write(q[1], "z", 1), 1);
        char c = 0;
        ASSERT_EQ(sp_read(q[0], &c, 1), 1);
        ASSERT_EQ(c, 'z');
        ASSERT_OK(sp_close(q[0]));
        ASSERT_OK(sp_close(q[1]));
        ASSERT_OK(sp_close(pfd[1]));
    }
    return 0;
}

int
test_io_close_cancels_others(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, close_main, NULL);
}

/* --- files at offsets ----------------------------------------------------- */

static intptr_t
file_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/spindle-io-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    ASSERT_GE(fd, 0);
    unlink(path);
    static unsigned char block[4096];
    for (int b = 63; b >= 0; b--) { /* backwards: offsets, not the position */
        memset(block, b, sizeof(block));
        ASSERT_EQ(sp_pwrite(fd, block, sizeof(block), (off_t)b * 4096), 4096);
    }
    for (int b = 0; b < 64; b++) {
        ASSERT_EQ(sp_pread(fd, block, sizeof(block), (off_t)b * 4096), 4096);
        ASSERT_EQ(block[0], b);
        ASSERT_EQ(block[4095], b);
    }
    ASSERT_EQ(sp_pread(fd, block, sizeof(block), 64 * 4096), 0); /* end of file */
    /* Vector form at an offset, and at the current position. */
    char a[3], c[5];
    struct iovec iov[2] = {{a, sizeof(a)}, {c, sizeof(c)}};
    ASSERT_EQ(sp_readv(fd, iov, 2, 4096 * 5), 8);
    ASSERT_EQ(a[0], 5);
    ASSERT_EQ(c[4], 5);
    ASSERT_EQ(lseek(fd, 4096 * 7, SEEK_SET), 4096 * 7);
    ASSERT_EQ(sp_read(fd, a, 3), 3);
    ASSERT_EQ(a[2], 7);
    ASSERT_OK(sp_close(fd));
    return 0;
}

int
test_io_file_offsets(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, file_main, NULL);
}

/* --- a completion queue far smaller than the work ------------------------ */

#define CQ_TASKS SCALE_LIVE(1000, 100)
#define CQ_OPS 100

static int zero_fd;
static atomic_long cq_done;

static intptr_t
cq_worker(void *arg)
{
    (void)arg;
    char buf[8];
    for (int i = 0; i < CQ_OPS; i++) {
        memset(buf, 1, sizeof(buf));
        ssize_t r = sp_read(zero_fd, buf, sizeof(buf));
        ASSERT_EQ(r, (ssize_t)sizeof(buf));
        ASSERT_EQ(buf[0] | buf[7], 0);
        atomic_fetch_add(&cq_done, 1);
    }
    return 0;
}

static intptr_t
cq_main(void *arg)
{
    (void)arg;
    zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(zero_fd, 0);
    atomic_store(&cq_done, 0);
    static sp_task_t t[1000];
    for (int i = 0; i < CQ_TASKS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, cq_worker, NULL));
    }
    for (int i = 0; i < CQ_TASKS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    ASSERT_EQ(atomic_load(&cq_done), (long)CQ_TASKS * CQ_OPS);
    ASSERT_OK(sp_close(zero_fd));
    return 0;
}

int
test_io_small_ring_survives(void)
{
    sp_config_t cfg = test_config(2);
    cfg.ring_entries = 2; /* SQ 2, CQ 4 (RELIABILITY.md B1.1): every batch overflows */
    return test_run_main(&cfg, cq_main, NULL);
}

/* --- bad input ------------------------------------------------------------ */

static intptr_t
bad_main(void *arg)
{
    (void)arg;
    char buf[16];
    ASSERT_ERR(sp_read(-1, buf, 1), -EBADF);
    ASSERT_ERR(sp_read(9999, buf, 1), -EBADF);
    ASSERT_ERR(sp_write(9999, buf, 1), -EBADF);
    ASSERT_ERR(sp_close(-1), -EBADF);
    ASSERT_ERR(sp_close(9999), -EBADF);
    ASSERT_OK(pipe2(pfd, O_CLOEXEC));
    ASSERT_ERR(sp_read(pfd[0], NULL, 4), -EFAULT);
    ASSERT_ERR(sp_read(pfd[0], buf, (size_t)1 << 40), -EINVAL);
    ASSERT_ERR(sp_pread(pfd[0], buf, 1, -5), -EINVAL);
    ASSERT_ERR(sp_readv(pfd[0], NULL, -1, -1), -EINVAL);
    ASSERT_ERR(sp_readv(pfd[0], NULL, 2, -1), -EFAULT);
    ASSERT_EQ(sp_read(pfd[0], buf, 0), 0); /* zero length: returns at once */
    ASSERT_ERR(sp_write(pfd[0], "x", 1), -EBADF); /* read end */
    ASSERT_OK(sp_close(pfd[1]));
    ASSERT_EQ(sp_read(pfd[0], buf, sizeof(buf)), 0); /* writer gone: EOF */
    ASSERT_OK(sp_close(pfd[0]));
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir, 0);
    ASSERT_ERR(sp_read(dir, buf, sizeof(buf)), -EISDIR);
    ASSERT_OK(sp_close(dir));
    ASSERT_EQ(sp_poll(-1, POLLIN), -EBADF);
    return 0;
}

int
test_io_bad_input(void)
{
    sp_config_t cfg = test_config(1);
    ASSERT_ERR(sp_read(0, NULL, 0), -EPERM); /* outside a task */
    ASSERT_ERR(sp_close(0), -EPERM);
    return test_run_main(&cfg, bad_main, NULL);
}

/* --- a read at an offset that is only partly in the page cache ----------- */

#define PC_LEN (1024 * 1024)

static intptr_t
partly_cached_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/spindle-io-pc-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    ASSERT_GE(fd, 0);
    unlink(path);
    unsigned char *buf = malloc(PC_LEN);
    ASSERT_NOT_NULL(buf);
    for (size_t i = 0; i < PC_LEN; i++) {
        buf[i] = (unsigned char)(i * 31 + (i >> 12));
    }
    ASSERT_EQ(sp_pwrite(fd, buf, PC_LEN, 0), PC_LEN);
    ASSERT_OK(fdatasync(fd));
    /* Drop the file from the cache, then bring back only its first half:
     * a whole read finds a cached prefix, then must fetch the rest (the
     * RWF_NOWAIT attempt returns short, the usual path tops it up). */
    ASSERT_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
    ASSERT_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM)); /* no readahead */
    ASSERT_EQ(sp_pread(fd, buf, PC_LEN / 2, 0), PC_LEN / 2);
    memset(buf, 0, PC_LEN);
    ASSERT_EQ(sp_pread(fd, buf, PC_LEN, 0), PC_LEN);
    for (size_t i = 0; i < PC_LEN; i++) {
        if (buf[i] != (unsigned char)(i * 31 + (i >> 12))) {
            ASSERT_EQ(i, PC_LEN); /* names the first wrong byte */
        }
    }
    /* Past the end: 0; straddling it: the bytes that exist. */
    ASSERT_EQ(sp_pread(fd, buf, 16, PC_LEN), 0);
    ASSERT_EQ(sp_pread(fd, buf, 64, PC_LEN - 10), 10);
    free(buf);
    ASSERT_OK(sp_close(fd));
    return 0;
}

int
test_io_pread_partly_cached(void)
{
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, partly_cached_main, NULL);
}
