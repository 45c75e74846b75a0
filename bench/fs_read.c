/* fs_read: 4 KiB reads from a 16 MiB page-cached file (BENCHMARKS.md).
 *
 *   fs_read_rtt_4k              256 sequential reads, one at a time (queue
 *                               depth 1); ns per read
 *   fs_read_throughput_4k_qd32  4,096 reads in 128 batches of 32 concurrent
 *                               reads; ns per read (lower is better)
 *
 * spindle runs one shard: qd1 is one task calling sp_pread. qd32 runs two
 * ways: one task hands each batch of 32 to sp_io_batch (one submission, one
 * park: the form we recommend, and the goal's row), and, as Go or tokio
 * code would, 32 pinned tasks spawned per batch, each reading one block, and
 * joined (spawn and join are inside the timing). The peers run in this
 * program on the same file: plain pread(2) in a loop (syscall-raw), and a hand-written
 * single-thread liburing loop (liburing-raw): at qd1 one submit-and-wait per
 * read, at qd32 32 SQEs per submit-and-wait. An epoll-backend row shows the
 * blocking-pool path for comparison.
 *
 * Each repetition runs the shape `passes` times (64, quick 8) and reports
 * the mean per read; ratios against the peers are printed as "# ratio"
 * lines (median of per-repetition ratios, repetitions interleaved). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "harness.h"

#define FILE_BYTES (16u << 20)
#define BLOCK 4096u
#define NBLOCKS (FILE_BYTES / BLOCK)
#define RTT_READS 256
#define QD 32
#define BATCHES 128

static int file_fd = -1;
static unsigned char bufs[QD][BLOCK] __attribute__((aligned(4096)));

static uint64_t
passes(void)
{
    return bench_size(64, 8);
}

/* The file: created, filled, unlinked (nothing is left behind), read once
 * so that every page is cached. */
static int
make_file(void)
{
    const char *t = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/spindle-fs-read-XXXXXX", t && t[0] ? t : "/tmp");
    file_fd = mkostemp(path, O_CLOEXEC);
    if (file_fd < 0) {
        return bench_fail("mkostemp", -errno);
    }
    unlink(path);
    static unsigned char block[BLOCK];
    for (unsigned b = 0; b < NBLOCKS; b++) {
        memset(block, (int)(b * 37u), sizeof(block));
        if (pwrite(file_fd, block, BLOCK, (off_t)b * BLOCK) != (ssize_t)BLOCK) {
            return bench_fail("pwrite", -errno);
        }
    }
    for (unsigned b = 0; b < NBLOCKS; b++) {
        if (pread(file_fd, block, BLOCK, (off_t)b * BLOCK) != (ssize_t)BLOCK) {
            return bench_fail("pread", -errno);
        }
    }
    return 0;
}

/* The block a read of block b must see starts with this byte. */
static int
check(const unsigned char *buf, unsigned b)
{
    return buf[0] == (unsigned char)(b * 37u) ? 0 : -EIO;
}

/* --- spindle ---------------------------------------------------------------- */

struct run {
    uint64_t elapsed_ns;
    uint64_t reads;
};

static intptr_t
rtt_body(void *arg)
{
    struct run *run = arg;
    uint64_t n = passes(), t0 = sp_now_ns();
    for (uint64_t p = 0; p < n; p++) {
        for (unsigned i = 0; i < RTT_READS; i++) {
            unsigned b = (unsigned)((p * RTT_READS + i) % NBLOCKS);
            if (sp_pread(file_fd, bufs[0], BLOCK, (off_t)b * BLOCK) != (ssize_t)BLOCK ||
                check(bufs[0], b) < 0) {
                return -EIO;
            }
        }
    }
    run->elapsed_ns = sp_now_ns() - t0;
    run->reads = n * RTT_READS;
    return 0;
}

static intptr_t
one_read(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    unsigned slot = (unsigned)(v % QD), b = (unsigned)(v / QD);
    if (sp_pread(file_fd, bufs[slot], BLOCK, (off_t)b * BLOCK) != (ssize_t)BLOCK) {
        return -EIO;
    }
    return check(bufs[slot], b);
}

static intptr_t
qd32_body(void *arg)
{
    struct run *run = arg;
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.place = SP_PLACE_LOCAL;
    sp_task_t t[QD];
    uint64_t n = passes(), t0 = sp_now_ns();
    for (uint64_t p = 0; p < n; p++) {
        for (unsigned batch = 0; batch < BATCHES; batch++) {
            for (unsigned i = 0; i < QD; i++) {
                unsigned b = (batch * QD + i) % NBLOCKS;
                int rc = sp_task_spawn(&t[i], &a, one_read, (void *)(uintptr_t)(b * QD + i));
                if (rc < 0) {
                    return rc;
                }
            }
            intptr_t bad = 0;
            for (unsigned i = 0; i < QD; i++) {
                intptr_t r = 0;
                sp_task_join(t[i], &r);
                bad |= r;
            }
            if (bad) {
                return -EIO;
            }
        }
    }
    run->elapsed_ns = sp_now_ns() - t0;
    run->reads = n * BATCHES * QD;
    return 0;
}

/* The same batches from one task with sp_io_batch: 32 reads in flight, one
 * park per batch (the shape's recommended form in spindle). */
static intptr_t
qd32_batch_body(void *arg)
{
    struct run *run = arg;
    sp_io_req_t r[QD];
    uint64_t n = passes(), t0 = sp_now_ns();
    for (uint64_t p = 0; p < n; p++) {
        for (unsigned batch = 0; batch < BATCHES; batch++) {
            for (unsigned i = 0; i < QD; i++) {
                unsigned b = (batch * QD + i) % NBLOCKS;
                r[i] = (sp_io_req_t){.op = SP_IO_PREAD, .fd = file_fd, .buf = bufs[i],
                                     .len = BLOCK, .off = (off_t)b * BLOCK};
            }
            int rc = sp_io_batch(r, QD);
            if (rc < 0) {
                return rc;
            }
            for (unsigned i = 0; i < QD; i++) {
                if (r[i].res != (ssize_t)BLOCK || check(bufs[i], (batch * QD + i) % NBLOCKS) < 0) {
                    return -EIO;
                }
            }
        }
    }
    run->elapsed_ns = sp_now_ns() - t0;
    run->reads = n * BATCHES * QD;
    return 0;
}

struct sp_params {
    sp_task_fn body;
    sp_backend_t backend;
};

static int
sp_case(bench_case_t *c, double *value)
{
    const struct sp_params *p = c->arg;
    struct run run = {0};
    sp_config_t cfg;
    bench_config(&cfg, 1);
    cfg.backend = p->backend;
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, p->body, &run, &res);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    *value = (double)run.elapsed_ns / (double)run.reads;
    return 0;
}

/* --- peers --------------------------------------------------------------- */

static int
pread_case(bench_case_t *c, double *value)
{
    (void)c;
    uint64_t n = passes(), t0 = bench_now_ns();
    for (uint64_t p = 0; p < n; p++) {
        for (unsigned i = 0; i < RTT_READS; i++) {
            unsigned b = (unsigned)((p * RTT_READS + i) % NBLOCKS);
            if (pread(file_fd, bufs[0], BLOCK, (off_t)b * BLOCK) != (ssize_t)BLOCK ||
                check(bufs[0], b) < 0) {
                return -EIO;
            }
        }
    }
    *value = (double)(bench_now_ns() - t0) / (double)(n * RTT_READS);
    return 0;
}

/* Submit `depth` reads of blocks first.., wait for all, check them. */
static int
uring_batch(struct io_uring *ring, unsigned first, unsigned depth)
{
    for (unsigned i = 0; i < depth; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        unsigned b = (first + i) % NBLOCKS;
        io_uring_prep_read(sqe, file_fd, bufs[i], BLOCK, (uint64_t)b * BLOCK);
        io_uring_sqe_set_data64(sqe, i | (uint64_t)b << 8);
    }
    int rc = io_uring_submit_and_wait(ring, depth);
    if (rc < 0) {
        return rc;
    }
    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(ring, head, cqe)
    {
        uint64_t ud = cqe->user_data;
        if (cqe->res != (int)BLOCK || check(bufs[ud & 0xff], (unsigned)(ud >> 8)) < 0) {
            return -EIO;
        }
        seen++;
    }
    io_uring_cq_advance(ring, seen);
    return seen == depth ? 0 : -EPROTO;
}

static int
uring_case(bench_case_t *c, double *value)
{
    unsigned depth = (unsigned)(uintptr_t)c->arg;
    struct io_uring ring;
    int rc = io_uring_queue_init(64, &ring, 0);
    if (rc < 0) {
        return bench_fail("io_uring_queue_init", rc);
    }
    uint64_t n = passes(), reads = depth == 1 ? RTT_READS : BATCHES * QD;
    uint64_t t0 = bench_now_ns();
    for (uint64_t p = 0; p < n && rc == 0; p++) {
        for (uint64_t r = 0; r < reads && rc == 0; r += depth) {
            rc = uring_batch(&ring, (unsigned)((p * reads + r) % NBLOCKS), depth);
        }
    }
    uint64_t elapsed = bench_now_ns() - t0;
    io_uring_queue_exit(&ring);
    *value = (double)elapsed / (double)(n * reads);
    return rc;
}

/* --- cases ------------------------------------------------------------------ */

static const struct sp_params SP_RTT = {rtt_body, SP_BACKEND_URING};
static const struct sp_params SP_RTT_EPOLL = {rtt_body, SP_BACKEND_EPOLL};
static const struct sp_params SP_QD32 = {qd32_body, SP_BACKEND_URING};
static const struct sp_params SP_QD32_BATCH = {qd32_batch_body, SP_BACKEND_URING};
static const struct sp_params SP_QD32_BATCH_EPOLL = {qd32_batch_body, SP_BACKEND_EPOLL};
static const struct sp_params SP_QD32_EPOLL = {qd32_body, SP_BACKEND_EPOLL};

#define RTT "fs_read_rtt_4k"
#define QD32 "fs_read_throughput_4k_qd32"

static bench_case_t cases[] = {
    BENCH_CASE(RTT, "uring-1shard", "ns", sp_case, &SP_RTT),
    BENCH_PEER(RTT, "syscall-raw", "pread", "ns", pread_case, NULL),
    BENCH_PEER(RTT, "liburing-raw", "qd1", "ns", uring_case, (void *)1),
    BENCH_CASE(RTT, "epoll-1shard", "ns", sp_case, &SP_RTT_EPOLL),
    BENCH_CASE(QD32, "uring-1shard", "ns", sp_case, &SP_QD32),
    BENCH_PEER(QD32, "liburing-raw", "batch32", "ns", uring_case, (void *)QD),
    BENCH_CASE(QD32, "epoll-1shard", "ns", sp_case, &SP_QD32_EPOLL),
    BENCH_CASE(QD32, "uring-1shard-batch", "ns", sp_case, &SP_QD32_BATCH),
    BENCH_CASE(QD32, "epoll-1shard-batch", "ns", sp_case, &SP_QD32_BATCH_EPOLL),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "4 KiB reads from a 16 MiB page-cached file at queue depth 1 and 32,\n"
               "ns per read; peers: pread(2) and a hand-written liburing loop.\n");
    if (make_file() < 0) {
        return 1;
    }
    int status = bench_run(cases, sizeof cases / sizeof cases[0]);
    bench_print_ratio(&cases[0], &cases[1], "spindle-uring/pread (goal <= 1.5)");
    bench_print_ratio(&cases[0], &cases[2], "spindle-uring/liburing-qd1");
    /* Throughput share: raw ns per read over ours. */
    bench_print_ratio(&cases[5], &cases[7], "liburing-batch32/spindle-uring-batch (goal >= 0.9)");
    bench_print_ratio(&cases[5], &cases[4], "liburing-batch32/spindle-uring-spawn-per-read");
    close(file_fd);
    return status;
}
