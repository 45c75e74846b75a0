/* File-descriptor I/O (include/spindle/io.h) on both backends: data moves
 * intact between shards, cancellation and deadlines end a parked call
 * only after the kernel is done, close cancels other tasks' calls, a full
 * completion queue is survived, bad input gets a clear error.
 *
 * Fixed interleavings use one shard. Shared state lives in statics. */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
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

static intptr_t
echo_main(void *arg)
{
    (void)arg;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    sp_task_t s;
    ASSERT_OK(sp_task_spawn(&s, NULL, echo_server, NULL));
    char out[64], in[64];
    for (int i = 0; i < ECHO_ROUNDS; i++) {
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
