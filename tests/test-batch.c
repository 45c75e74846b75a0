/* sp_io_batch (include/spindle/io.h) on both backends: data through
 * batches longer than one backend piece, per-request errors beside good
 * requests, the call's own errors, cancellation and deadlines in the
 * middle of a long batch, and sp_close racing a batch. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 512
#define NBLOCKS 200 /* more than three backend pieces of 64 */

/* An unlinked temporary file of nblocks zeroed blocks; its fd or -1. */
static int
temp_file(unsigned nblocks)
{
    const char *t = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/spindle-batch-XXXXXX", t && t[0] ? t : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) {
        unlink(path);
        if (ftruncate(fd, (off_t)nblocks * BLOCK) < 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static unsigned char
pattern(unsigned block, unsigned i)
{
    return (unsigned char)(block * 31u + i * 7u + 1u);
}

/* --- data ------------------------------------------------------------------ */

static unsigned char wbuf[NBLOCKS][BLOCK], rbuf[NBLOCKS][BLOCK];
static sp_io_req_t reqs[NBLOCKS];

static intptr_t
data_main(void *arg)
{
    (void)arg;
    int fd = temp_file(NBLOCKS);
    ASSERT_GE(fd, 0);
    /* Writes in a shuffled order: each lands at its own offset. */
    for (unsigned i = 0; i < NBLOCKS; i++) {
        unsigned b = (i * 37u) % NBLOCKS;
        for (unsigned k = 0; k < BLOCK; k++) {
            wbuf[b][k] = pattern(b, k);
        }
        reqs[i] = (sp_io_req_t){.op = SP_IO_PWRITE, .fd = fd, .buf = wbuf[b], .len = BLOCK,
                                .off = (off_t)b * BLOCK, .res = 12345};
    }
    ASSERT_OK(sp_io_batch(reqs, NBLOCKS));
    for (unsigned i = 0; i < NBLOCKS; i++) {
        ASSERT_EQ(reqs[i].res, BLOCK);
    }
    /* Read back through the batch, and check with plain pread too. */
    memset(rbuf, 0, sizeof(rbuf));
    for (unsigned b = 0; b < NBLOCKS; b++) {
        reqs[b] = (sp_io_req_t){.op = SP_IO_PREAD, .fd = fd, .buf = rbuf[b], .len = BLOCK,
                                .off = (off_t)b * BLOCK};
    }
    ASSERT_OK(sp_io_batch(reqs, NBLOCKS));
    unsigned char one[BLOCK];
    for (unsigned b = 0; b < NBLOCKS; b++) {
        ASSERT_EQ(reqs[b].res, BLOCK);
        ASSERT_EQ(memcmp(rbuf[b], wbuf[b], BLOCK), 0);
        ASSERT_EQ(pread(fd, one, BLOCK, (off_t)b * BLOCK), BLOCK);
        ASSERT_EQ(memcmp(one, wbuf[b], BLOCK), 0);
    }
    /* A read across the end is short, one past it reads 0, as pread. */
    sp_io_req_t tail[2] = {
        {.op = SP_IO_PREAD, .fd = fd, .buf = rbuf[0], .len = BLOCK,
         .off = (off_t)NBLOCKS * BLOCK - 100},
        {.op = SP_IO_PREAD, .fd = fd, .buf = rbuf[1], .len = BLOCK,
         .off = (off_t)NBLOCKS * BLOCK},
    };
    ASSERT_OK(sp_io_batch(tail, 2));
    ASSERT_EQ(tail[0].res, 100);
    ASSERT_EQ(tail[1].res, 0);
    /* Two files in one batch, reads and writes mixed. */
    int fd2 = temp_file(1);
    ASSERT_GE(fd2, 0);
    sp_io_req_t mix[3] = {
        {.op = SP_IO_PWRITE, .fd = fd2, .buf = wbuf[7], .len = BLOCK, .off = 0},
        {.op = SP_IO_PREAD, .fd = fd, .buf = rbuf[2], .len = BLOCK, .off = 9 * BLOCK},
        {.op = SP_IO_PREAD, .fd = fd, .buf = rbuf[3], .len = 0, .off = 0},
    };
    ASSERT_OK(sp_io_batch(mix, 3));
    ASSERT_EQ(mix[0].res, BLOCK);
    ASSERT_EQ(mix[1].res, BLOCK);
    ASSERT_EQ(mix[2].res, 0);
    ASSERT_EQ(memcmp(rbuf[2], wbuf[9], BLOCK), 0);
    ASSERT_EQ(pread(fd2, one, BLOCK, 0), BLOCK);
    ASSERT_EQ(memcmp(one, wbuf[7], BLOCK), 0);
    ASSERT_OK(sp_io_batch(NULL, 0));
    ASSERT_OK(sp_close(fd2));
    ASSERT_OK(sp_close(fd));
    return 0;
}

int
test_io_batch_data(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, data_main, NULL);
}

/* --- bad input ------------------------------------------------------------- */

static intptr_t
bad_main(void *arg)
{
    (void)arg;
    int fd = temp_file(4);
    ASSERT_GE(fd, 0);
    int p[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_EQ(write(p[1], "data", 4), 4);
    int efd = eventfd(5, EFD_CLOEXEC);
    ASSERT_GE(efd, 0);
    int rofd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(rofd, 0);
    int dfd = open(getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp",
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dfd, 0);
    int closed = dup(fd); /* the lowest free number: stays free below */
    ASSERT_GE(closed, 0);
    close(closed);
    char b[8][64];
    sp_io_req_t r[] = {
        {.op = SP_IO_PREAD, .fd = fd, .buf = b[0], .len = 64, .off = 0},     /* good */
        {.op = (sp_io_op_t)7, .fd = fd, .buf = b[1], .len = 64, .off = 0},   /* bad op */
        {.op = SP_IO_PREAD, .fd = fd, .buf = b[2], .len = 64, .off = -1},    /* bad off */
        {.op = SP_IO_PREAD, .fd = fd, .buf = NULL, .len = 64, .off = 0},     /* NULL */
        {.op = SP_IO_PREAD, .fd = -1, .buf = b[4], .len = 64, .off = 0},     /* fd < 0 */
        {.op = SP_IO_PREAD, .fd = closed, .buf = b[5], .len = 64, .off = 0}, /* not open */
        {.op = SP_IO_PREAD, .fd = p[0], .buf = b[6], .len = 4, .off = 0},    /* a pipe */
        {.op = SP_IO_PWRITE, .fd = p[1], .buf = b[6], .len = 4, .off = 0},   /* a pipe */
        {.op = SP_IO_PREAD, .fd = dfd, .buf = b[7], .len = 64, .off = 0},    /* a dir */
        {.op = SP_IO_PREAD, .fd = fd, .buf = b[0], .len = SP_IO_MAX_LEN + 1ul, .off = 0},
        {.op = SP_IO_PWRITE, .fd = fd, .buf = "ok", .len = 2, .off = 5},     /* good */
        {.op = SP_IO_PREAD, .fd = efd, .buf = b[0], .len = 8, .off = 0},     /* eventfd */
        {.op = SP_IO_PWRITE, .fd = rofd, .buf = "no", .len = 2, .off = 0},   /* read-only */
        {.op = SP_IO_PREAD, .fd = fd, .buf = b[1], .len = 8, .off = 5},      /* good */
    };
    size_t n = sizeof(r) / sizeof(r[0]);
    ASSERT_OK(sp_io_batch(r, n));
    ASSERT_EQ(r[0].res, 64);
    ASSERT_ERR(r[1].res, -EINVAL);
    ASSERT_ERR(r[2].res, -EINVAL);
    ASSERT_ERR(r[3].res, -EFAULT);
    ASSERT_ERR(r[4].res, -EBADF);
    ASSERT_ERR(r[5].res, -EBADF);
    ASSERT_ERR(r[6].res, -ESPIPE);
    ASSERT_ERR(r[7].res, -ESPIPE);
    ASSERT_ERR(r[8].res, -EISDIR);
    ASSERT_ERR(r[9].res, -EINVAL);
    ASSERT_EQ(r[10].res, 2);
    ASSERT_ERR(r[11].res, -ESPIPE); /* the ring would take the counter */
    ASSERT_ERR(r[12].res, -EBADF);
    ASSERT_EQ(r[13].res, 8);         /* after the write: a run of its own */
    uint64_t count = 0;
    ASSERT_EQ(read(efd, &count, 8), 8);
    ASSERT_U64_EQ(count, 5);
    ASSERT_ERR(sp_pread(efd, &count, 8, 0), -ESPIPE);
    errno = ESPIPE; /* a stale errno changes nothing */
    ASSERT_EQ(sp_pread(fd, b[0], 0, 0), 0);
    /* Nothing was taken from the pipe. */
    char d[4];
    ASSERT_EQ(read(p[0], d, 4), 4);
    ASSERT_EQ(memcmp(d, "data", 4), 0);
    /* sp_pread agrees on a pipe (the ring would ignore the offset). */
    ASSERT_ERR(sp_pread(p[0], d, 4, 0), -ESPIPE);
    ASSERT_ERR(sp_io_batch(NULL, 3), -EFAULT);
    close(dfd);
    close(rofd);
    ASSERT_OK(sp_close(efd));
    ASSERT_OK(sp_close(p[0]));
    ASSERT_OK(sp_close(p[1]));
    ASSERT_OK(sp_close(fd));
    return 0;
}

int
test_io_batch_bad_input(void)
{
    sp_io_req_t r = {.op = SP_IO_PREAD, .fd = 0, .buf = &r, .len = 1, .off = 0};
    ASSERT_ERR(sp_io_batch(&r, 1), -EPERM); /* not in a task */
    sp_config_t cfg = test_config(1);
    return test_run_main(&cfg, bad_main, NULL);
}

/* --- cancellation and deadlines --------------------------------------------- */

#define LONG_BATCH 4096
#define CANCEL_ROUNDS SCALE(200)

static sp_io_req_t long_reqs[LONG_BATCH];
static unsigned char long_buf[64][BLOCK];
static int long_fd;
static _Atomic int long_started;

static void
prepare_long(void)
{
    for (unsigned i = 0; i < LONG_BATCH; i++) {
        long_reqs[i] = (sp_io_req_t){.op = SP_IO_PREAD, .fd = long_fd, .buf = long_buf[i % 64],
                                     .len = BLOCK, .off = (off_t)(i % NBLOCKS) * BLOCK,
                                     .res = 777};
    }
}

/* A batch for a reader task to run. */
struct batch_job {
    sp_io_req_t *reqs;
    size_t n;
};

static intptr_t
batch_reader(void *arg)
{
    struct batch_job *j = arg;
    atomic_store(&long_started, 1);
    return sp_io_batch(j->reqs, j->n);
}

/* Start job on shard 1, wait until it is in its batch, then let it run
 * for spin_ns more (the caller then cancels or closes under it). */
static int
start_reader(sp_task_t *t, struct batch_job *job, uint64_t spin_ns)
{
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    atomic_store(&long_started, 0);
    ASSERT_OK(sp_task_spawn(t, &on1, batch_reader, job));
    while (!atomic_load(&long_started)) {
        sp_task_yield();
    }
    test_spin_ns(spin_ns);
    return 0;
}

/* After a batch that stopped with err: the requests before some point
 * completed, every one after it says err, none is left unset. */
static int
check_stopped(int err)
{
    for (unsigned i = 0; i < LONG_BATCH; i++) {
        if (err == 0 || long_reqs[i].res != BLOCK) {
            ASSERT_ERR(long_reqs[i].res, err == 0 ? BLOCK : err);
        }
    }
    return 0;
}

/* Reads that wait for the device, so that a cancel may find them in
 * flight: O_DIRECT ones, and buffered ones of pages just dropped from the
 * cache (io_uring may queue those to its workers, where a cancel stops
 * them). Each read has its block or says -ECANCELED. O_DIRECT rounds are
 * skipped where the file system has none (tmpfs). */
#define DIRECT_REQS 64
#define DIRECT_BLOCK 4096

static unsigned char dbuf[DIRECT_REQS][DIRECT_BLOCK] __attribute__((aligned(4096)));
static sp_io_req_t dreqs[DIRECT_REQS];

static int
direct_rounds(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", long_fd);
    memset(dbuf, 0x5a, sizeof(dbuf));
    for (unsigned i = 0; i < DIRECT_REQS; i++) {
        ASSERT_EQ(pwrite(long_fd, dbuf[i], DIRECT_BLOCK, (off_t)i * DIRECT_BLOCK), DIRECT_BLOCK);
    }
    ASSERT_OK(fsync(long_fd));
    int direct = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (direct < 0) {
        printf("no O_DIRECT here (%s): those rounds skipped\n", strerror(errno));
    }
    struct batch_job job = {dreqs, DIRECT_REQS};
    long done[2] = {0, 0}, cut[2] = {0, 0};
    for (int round = 0; round < CANCEL_ROUNDS; round++) {
        int uncached = round % 2, fd = uncached ? long_fd : direct;
        if (fd < 0) {
            continue;
        }
        if (uncached) {
            ASSERT_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
        }
        for (unsigned i = 0; i < DIRECT_REQS; i++) {
            dreqs[i] = (sp_io_req_t){.op = SP_IO_PREAD, .fd = fd, .buf = dbuf[i],
                                     .len = DIRECT_BLOCK, .off = (off_t)i * DIRECT_BLOCK,
                                     .res = 777};
        }
        sp_task_t t;
        ASSERT_OK(start_reader(&t, &job, (uint64_t)(round % 10) * 5000));
        ASSERT_OK(sp_task_cancel(t));
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t, &r));
        if (r < 0) {
            ASSERT_ERR(r, -ECANCELED);
        }
        for (unsigned i = 0; i < DIRECT_REQS; i++) {
            if (dreqs[i].res == DIRECT_BLOCK) {
                done[uncached]++;
            } else {
                ASSERT_ERR(dreqs[i].res, -ECANCELED);
                ASSERT_ERR(r, -ECANCELED); /* a cancelled read means a cancelled call */
                cut[uncached]++;
            }
        }
    }
    printf("O_DIRECT: %ld reads done, %ld cancelled; dropped from the cache: %ld done, "
           "%ld cancelled\n", done[0], cut[0], done[1], cut[1]);
    if (direct >= 0) {
        close(direct);
    }
    return 0;
}

static intptr_t
cancel_main(void *arg)
{
    (void)arg;
    long_fd = temp_file(NBLOCKS);
    ASSERT_GE(long_fd, 0);
    struct batch_job job = {long_reqs, LONG_BATCH};
    long cut = 0;
    for (int round = 0; round < CANCEL_ROUNDS; round++) {
        prepare_long();
        sp_task_t t;
        ASSERT_OK(start_reader(&t, &job, (uint64_t)(round % 20) * 2000));
        ASSERT_OK(sp_task_cancel(t));
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t, &r));
        if (r == 0) {
            ASSERT_OK(check_stopped(0)); /* all done before the cancel */
        } else {
            ASSERT_ERR(r, -ECANCELED);
            ASSERT_OK(check_stopped(-ECANCELED));
            cut++;
        }
    }
    printf("%ld of %d batches cut short by their cancel\n", cut, CANCEL_ROUNDS);
    ASSERT_OK(direct_rounds());
    /* A deadline that passes during the batch. */
    prepare_long();
    sp_task_set_deadline(sp_now_ns() + 20000);
    int r = sp_io_batch(long_reqs, LONG_BATCH);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    if (r < 0) {
        ASSERT_ERR(r, -ETIMEDOUT);
    }
    ASSERT_OK(check_stopped(r));
    /* One already past: nothing starts, every request says so. */
    prepare_long();
    sp_task_set_deadline(sp_now_ns() - 1);
    ASSERT_ERR(sp_io_batch(long_reqs, LONG_BATCH), -ETIMEDOUT);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    for (unsigned i = 0; i < LONG_BATCH; i++) {
        ASSERT_ERR(long_reqs[i].res, -ETIMEDOUT);
    }
    ASSERT_OK(sp_close(long_fd));
    return 0;
}

int
test_io_batch_cancel(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, cancel_main, NULL);
}

/* --- sp_close racing a batch ------------------------------------------------ */

#define CLOSE_ROUNDS SCALE(200)

static intptr_t
close_main(void *arg)
{
    (void)arg;
    struct batch_job job = {long_reqs, LONG_BATCH};
    long refused = 0;
    for (int round = 0; round < CLOSE_ROUNDS; round++) {
        long_fd = temp_file(NBLOCKS);
        ASSERT_GE(long_fd, 0);
        prepare_long();
        sp_task_t t;
        ASSERT_OK(start_reader(&t, &job, (uint64_t)(round % 20) * 2000));
        ASSERT_OK(sp_close(long_fd));
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t, &r));
        ASSERT_OK(r); /* the close is not the reader's own error */
        /* Each request read its block or was refused; none is unset. */
        for (unsigned i = 0; i < LONG_BATCH; i++) {
            if (long_reqs[i].res != BLOCK) {
                ASSERT_ERR(long_reqs[i].res, -EBADF);
                refused++;
            }
        }
    }
    printf("%ld requests refused by a close\n", refused);
    return 0;
}

int
test_io_batch_close_race(void)
{
    sp_config_t cfg = test_config(2);
    /* test_run_main checks that the fd count is back at its baseline. */
    return test_run_main(&cfg, close_main, NULL);
}
