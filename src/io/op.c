/* The operation table: for each kind of operation, how to prepare its SQE
 * and the plain system call that does the same thing (used by the epoll
 * backend, the blocking pool, and rings whose kernel lacks the opcode).
 * Checked against the kernel's opcodes once, at backend probe time. */
#include <errno.h>
#include <poll.h>
#include <stdio.h> /* renameat2 */
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "io/op.h"
#include "io/sys.h"

static long
ret(long r)
{
    return r < 0 ? -errno : r;
}

/* --- prep ---------------------------------------------------------------- */

static void
prep_nop(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    (void)a;
    io_uring_prep_nop(s);
}

static void
prep_read(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_read(s, a->fd, a->buf, (unsigned)a->len, (uint64_t)a->off);
}

static void
prep_write(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_write(s, a->fd, a->buf, (unsigned)a->len, (uint64_t)a->off);
}

static void
prep_readv(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_readv(s, a->fd, a->iov, (unsigned)a->iovcnt, (uint64_t)a->off);
}

static void
prep_writev(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_writev(s, a->fd, a->iov, (unsigned)a->iovcnt, (uint64_t)a->off);
}

static void
prep_recv(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    SP__PREP_RECV(s, a);
}

static void
prep_send(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    SP__PREP_SEND(s, a);
}

static void
prep_recvmsg(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_recvmsg(s, a->fd, a->msg, (unsigned)a->flags);
}

static void
prep_sendmsg(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_sendmsg(s, a->fd, a->msg, (unsigned)a->flags | MSG_NOSIGNAL);
}

static void
prep_accept(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_accept(s, a->fd, a->addr, a->addrlen_p, a->flags);
}

static void
prep_connect(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_connect(s, a->fd, a->addr, a->addrlen);
}

static void
prep_shutdown(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_shutdown(s, a->fd, a->flags);
}

static void
prep_poll(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_poll_add(s, a->fd, (unsigned)a->flags);
}

static void
prep_openat(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_openat(s, a->dirfd, a->path, a->flags | O_CLOEXEC, a->mode);
}

static void
prep_close(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_close(s, a->fd);
}

static void
prep_fsync(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_fsync(s, a->fd, (unsigned)a->flags);
}

static void
prep_statx(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_statx(s, a->dirfd, a->path, a->flags, a->mask, a->stx);
}

static void
prep_renameat(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_renameat(s, a->dirfd, a->path, a->dirfd2, a->path2, (unsigned)a->flags);
}

static void
prep_unlinkat(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_unlinkat(s, a->dirfd, a->path, a->flags);
}

static void
prep_mkdirat(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_mkdirat(s, a->dirfd, a->path, a->mode);
}

static void
prep_fallocate(struct io_uring_sqe *s, const struct sp__io_args *a)
{
    io_uring_prep_fallocate(s, a->fd, a->flags, (uint64_t)a->off, (uint64_t)a->len);
}

/* --- sync ---------------------------------------------------------------- */

static long
sync_nop(const struct sp__io_args *a)
{
    (void)a;
    return 0;
}

static long
sync_read(const struct sp__io_args *a)
{
    return a->off < 0 ? sp__sys_read(a->fd, a->buf, a->len)
                      : sp__sys_pread(a->fd, a->buf, a->len, a->off);
}

static long
sync_write(const struct sp__io_args *a)
{
    return a->off < 0 ? sp__sys_write(a->fd, a->buf, a->len)
                      : sp__sys_pwrite(a->fd, a->buf, a->len, a->off);
}

static long
sync_readv(const struct sp__io_args *a)
{
    return ret(a->off < 0 ? readv(a->fd, a->iov, a->iovcnt)
                          : preadv(a->fd, a->iov, a->iovcnt, a->off));
}

static long
sync_writev(const struct sp__io_args *a)
{
    return ret(a->off < 0 ? writev(a->fd, a->iov, a->iovcnt)
                          : pwritev(a->fd, a->iov, a->iovcnt, a->off));
}

static long
sync_recv(const struct sp__io_args *a)
{
    return sp__sock_call(SP_OP_RECV, a, 0);
}

static long
sync_send(const struct sp__io_args *a)
{
    return sp__sock_call(SP_OP_SEND, a, 0);
}

static long
sync_recvmsg(const struct sp__io_args *a)
{
    return sp__sock_call(SP_OP_RECVMSG, a, 0);
}

static long
sync_sendmsg(const struct sp__io_args *a)
{
    return sp__sock_call(SP_OP_SENDMSG, a, 0);
}

static long
sync_accept(const struct sp__io_args *a)
{
    return ret(accept4(a->fd, a->addr, a->addrlen_p, a->flags));
}

static long
sync_connect(const struct sp__io_args *a)
{
    return ret(connect(a->fd, a->addr, a->addrlen));
}

static long
sync_shutdown(const struct sp__io_args *a)
{
    return ret(shutdown(a->fd, a->flags));
}

static long
sync_poll(const struct sp__io_args *a)
{
    struct pollfd p = {.fd = a->fd, .events = (short)a->flags};
    long r = ret(poll(&p, 1, 0));
    return r <= 0 ? (r == 0 ? -EAGAIN : r) : (long)(unsigned short)p.revents;
}

static long
sync_openat(const struct sp__io_args *a)
{
    return ret(openat(a->dirfd, a->path, a->flags | O_CLOEXEC, a->mode));
}

static long
sync_close(const struct sp__io_args *a)
{
    return ret(close(a->fd));
}

static long
sync_fsync(const struct sp__io_args *a)
{
    return ret(a->flags ? fdatasync(a->fd) : fsync(a->fd));
}

static long
sync_statx(const struct sp__io_args *a)
{
    return ret(statx(a->dirfd, a->path, a->flags, a->mask, a->stx));
}

static long
sync_renameat(const struct sp__io_args *a)
{
    return ret(renameat2(a->dirfd, a->path, a->dirfd2, a->path2, (unsigned)a->flags));
}

static long
sync_unlinkat(const struct sp__io_args *a)
{
    return ret(unlinkat(a->dirfd, a->path, a->flags));
}

static long
sync_mkdirat(const struct sp__io_args *a)
{
    return ret(mkdirat(a->dirfd, a->path, a->mode));
}

static long
sync_fallocate(const struct sp__io_args *a)
{
    return ret(fallocate(a->fd, a->flags, a->off, (off_t)a->len));
}

static long
sync_ftruncate(const struct sp__io_args *a)
{
    return ret(ftruncate(a->fd, a->off));
}

/* --- the table ----------------------------------------------------------- */

#define OP(code, uop, name, poll_ev, fdop)                                            \
    [SP_OP_##code] = {#name, uop, prep_##name, sync_##name, poll_ev, fdop}

const struct sp__opdef sp__opdefs[SP_OP_COUNT] = {
    OP(NOP, IORING_OP_NOP, nop, 0, 0),
    OP(READ, IORING_OP_READ, read, POLLIN, 1),
    OP(WRITE, IORING_OP_WRITE, write, POLLOUT, 1),
    OP(READV, IORING_OP_READV, readv, POLLIN, 1),
    OP(WRITEV, IORING_OP_WRITEV, writev, POLLOUT, 1),
    OP(RECV, IORING_OP_RECV, recv, POLLIN, 1),
    OP(SEND, IORING_OP_SEND, send, POLLOUT, 1),
    OP(RECVMSG, IORING_OP_RECVMSG, recvmsg, POLLIN, 1),
    OP(SENDMSG, IORING_OP_SENDMSG, sendmsg, POLLOUT, 1),
    OP(ACCEPT, IORING_OP_ACCEPT, accept, POLLIN, 1),
    OP(CONNECT, IORING_OP_CONNECT, connect, POLLOUT, 1),
    OP(SHUTDOWN, IORING_OP_SHUTDOWN, shutdown, 0, 1),
    OP(POLL, IORING_OP_POLL_ADD, poll, 0, 1),
    OP(OPENAT, IORING_OP_OPENAT, openat, 0, 0),
    OP(CLOSE, IORING_OP_CLOSE, close, 0, 0),
    OP(FSYNC, IORING_OP_FSYNC, fsync, 0, 1),
    OP(STATX, IORING_OP_STATX, statx, 0, 0),
    OP(RENAMEAT, IORING_OP_RENAMEAT, renameat, 0, 0),
    OP(UNLINKAT, IORING_OP_UNLINKAT, unlinkat, 0, 0),
    OP(MKDIRAT, IORING_OP_MKDIRAT, mkdirat, 0, 0),
    OP(FALLOCATE, IORING_OP_FALLOCATE, fallocate, 0, 1),
    /* NOTE: IORING_OP_FTRUNCATE arrived in 6.9, after Debian 12's liburing
     * 2.3: always the plain call. */
    [SP_OP_FTRUNCATE] = {"ftruncate", -1, NULL, sync_ftruncate, 0, 1},
};
