/* The entry point of every I/O call (sp__io_do) and the calls on plain
 * file descriptors: read, write, vector forms, poll, close.
 *
 * Order of work in sp__io_do: the sticky cancellation/deadline check
 * (nothing is started for a cancelled task), then the fd table entry (a
 * close in progress turns the call away), then the backend. See
 * docs/design/io.md. */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blocking/blocking.h"
#include "io/call.h"
#include "io/fdtab.h"
#include "io/io.h"
#include "io/op.h"
#include "io/sys.h"
#include "sched/sched.h"

struct blocking_op {
    int op;
    struct sp__io_args *a;
};

static long
run_sync(void *arg)
{
    struct blocking_op *b = arg;
    return sp__opdefs[b->op].sync(b->a);
}

long
sp__io_blocking(int op, struct sp__io_args *a)
{
    /* On a pool thread: a regular file read may wait for the disk, and a
     * path lookup for a network file system. If the operation ran, its
     * result stands even if the task was cancelled meanwhile (an opened fd
     * must reach the caller, not leak). */
    struct blocking_op b = {op, a};
    return sp__blocking_call(run_sync, &b);
}

/* A read at an offset (a file): first ask for what the page cache holds
 * right now (preadv2 with RWF_NOWAIT: never blocks, never parks), which is
 * most reads of a warm file, for one syscall (~0.6 us here) instead of an
 * SQE, a park and a wake (~1.0-1.2 us), or the blocking pool's hop on
 * epoll (~8 us). Only what was not cached goes the usual way. A short
 * cached part is topped up, so the call still reads what pread would (a
 * file is read to its end or to len). Any error of the attempt (EAGAIN:
 * not cached; EOPNOTSUPP: a file system without it) falls back, and the
 * usual path reports the real one, except ESPIPE, which only this call
 * reports. */
long
sp__io_read_at(struct sp__shard *sh, struct sp__task *t, struct sp__io_args *a)
{
    struct iovec v = {a->buf, a->len};
    long got = a->len ? sp__sys_preadv2(a->fd, &v, 1, a->off, RWF_NOWAIT) : -EAGAIN;
    if (got < 0) {
        /* A pipe or socket: the ring would read it, offset ignored. */
        return got == -ESPIPE ? -ESPIPE : t->rt->be->io(sh, t, SP_OP_READ, a);
    }
    if (got == 0 || (size_t)got == a->len) {
        return got;
    }
    struct sp__io_args rest = *a;
    rest.buf = (char *)a->buf + got;
    rest.len = a->len - (size_t)got;
    rest.off = a->off + got;
    long more = t->rt->be->io(sh, t, SP_OP_READ, &rest);
    return more < 0 ? got : got + more;
}

long
sp__io_do(enum sp__opcode op, struct sp__io_args *a)
{
    return sp__io_call(op, a, sp__opdefs[op].fd_op);
}

/* --- close --------------------------------------------------------------- */

static intptr_t
cancel_fd_here(void *arg)
{
    struct sp__shard *sh = sp__shard_current();
    sh->rt->be->cancel_fd(sh, (int)(intptr_t)arg);
    return 0;
}

/* Cancel fd's operations on every shard that ran one, then wait until
 * none is in flight. Cancellation of the closer does not stop this: a
 * close must finish. */
static void
drain_fd(struct sp_runtime *rt, struct sp__fdent *fe, int fd)
{
    uint32_t mask = sp_load_seqcst(&fe->shards);
    struct sp__shard *here = sp__shard_current();
    for (int i = 0; i < rt->nshards; i++) {
        if (!(mask & (i < 32 ? 1u << i : ~0u))) {
            continue;
        }
        if (i == here->index) {
            rt->be->cancel_fd(here, fd);
            continue;
        }
        sp_task_attr_t a;
        sp_task_attr_init(&a);
        a.place = SP_PLACE_ON;
        a.shard = i;
        a.name = "close-cancel";
        if (sp_task_spawn(NULL, &a, cancel_fd_here, (void *)(intptr_t)fd) < 0) {
            sp__log("sp_close: could not reach shard %d to cancel fd %d", i, fd);
        }
    }
    for (unsigned spins = 0; sp_load_seqcst(&fe->inflight) > 0; spins++) {
        if (spins < 64) {
            sp_task_yield();
        } else {
            sp_sleep_ns(20 * SP_NSEC_PER_USEC);
        }
    }
}

int
sp_close(int fd)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        sp__log("sp_close: not called from a task");
        return -EPERM;
    }
    if (fd < 0) {
        return -EBADF;
    }
    struct sp_runtime *rt = t->rt;
    struct sp__fdent *fe = sp__fdtab_get(rt, fd);
    if (fe) {
        /* seq_cst: the Dekker pair with sp__fdtab_enter (fdtab.c). */
        sp_store_seqcst(&fe->closing, 1);
        if (sp_load_seqcst(&fe->inflight) > 0) {
            drain_fd(rt, fe, fd);
        }
        sp_store_relaxed(&fe->shards, 0);
        /* Before close(2): a wait on a file that reuses the number comes
         * after it and must see the change (epoll.c, registration). */
        sp__fdtab_renew(rt, fd);
    }
    int r = close(fd);
    int err = r < 0 ? -errno : 0;
    if (fe) {
        sp_store_seqcst(&fe->closing, 0);
    }
    /* EINTR: the fd is gone anyway on Linux; report success as POSIX.1-2024. */
    return err == -EINTR ? 0 : err;
}

/* --- read, write --------------------------------------------------------- */

static long
check_buf(const void *buf, size_t len)
{
    if (len > SP_IO_MAX_LEN) {
        return -EINVAL;
    }
    return buf == NULL && len > 0 ? -EFAULT : 0;
}

static ssize_t
rw(enum sp__opcode op, int fd, void *buf, size_t len, off_t off)
{
    long err = check_buf(buf, len);
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.fd = fd, .buf = buf, .len = len, .off = off};
    return sp__io_do(op, &a);
}

ssize_t
sp_read(int fd, void *buf, size_t len)
{
    return rw(SP_OP_READ, fd, buf, len, -1);
}

ssize_t
sp_write(int fd, const void *buf, size_t len)
{
    return rw(SP_OP_WRITE, fd, (void *)buf, len, -1);
}

ssize_t
sp_pread(int fd, void *buf, size_t len, off_t off)
{
    return off < 0 ? -EINVAL : rw(SP_OP_READ, fd, buf, len, off);
}

ssize_t
sp_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return off < 0 ? -EINVAL : rw(SP_OP_WRITE, fd, (void *)buf, len, off);
}

static ssize_t
rwv(enum sp__opcode op, int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (iovcnt < 0 || iovcnt > IOV_MAX || off < -1) {
        return -EINVAL;
    }
    if (iovcnt > 0 && !iov) {
        return -EFAULT;
    }
    struct sp__io_args a = {.fd = fd, .iov = iov, .iovcnt = iovcnt, .off = off};
    return sp__io_do(op, &a);
}

ssize_t
sp_readv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return rwv(SP_OP_READV, fd, iov, iovcnt, off);
}

ssize_t
sp_writev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return rwv(SP_OP_WRITEV, fd, iov, iovcnt, off);
}

int
sp_poll(int fd, int events)
{
    struct sp__io_args a = {.fd = fd, .flags = events};
    return (int)sp__io_do(SP_OP_POLL, &a);
}
