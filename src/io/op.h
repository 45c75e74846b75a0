/* Private header of the I/O layer's operations: one table entry per kind
 * of operation (the kernel's opdef.c), and the one entry point every
 * public I/O call goes through.
 *
 * An operation is described by its opcode and a struct sp__io_args on the
 * caller's stack. sp__io_do() hands it to the runtime's backend:
 *   uring  prepares an SQE with the entry's prep(), parks the task until
 *          its CQE, and cancels it on its own ring on cancellation or
 *          deadline (docs/design/io.md);
 *   epoll  runs sync() non-blocking and waits for readiness (`poll`
 *          events) between attempts; entries with poll == 0 (files,
 *          paths) run sync() on the blocking pool.
 * Buffers are the caller's: a call returns only once the kernel is done
 * with them, cancelled or not. */
#ifndef SP_IO_OP_H
#define SP_IO_OP_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "io/sys.h"

struct io_uring_sqe;
struct statx;

enum sp__opcode {
    SP_OP_NOP,
    SP_OP_READ,      /* fd, buf, len, off (-1: current position) */
    SP_OP_WRITE,
    SP_OP_READV,     /* fd, iov, iovcnt, off */
    SP_OP_WRITEV,
    SP_OP_RECV,      /* fd, buf, len, flags */
    SP_OP_SEND,
    SP_OP_RECVMSG,   /* fd, msg, flags */
    SP_OP_SENDMSG,
    SP_OP_ACCEPT,    /* fd, addr, addrlen_p, flags (SOCK_*) */
    SP_OP_CONNECT,   /* fd, addr, addrlen */
    SP_OP_SHUTDOWN,  /* fd, flags = how */
    SP_OP_POLL,      /* fd, flags = poll events; result: revents */
    SP_OP_OPENAT,    /* dirfd, path, flags, mode */
    SP_OP_CLOSE,     /* fd */
    SP_OP_FSYNC,     /* fd, flags = 0 or IORING_FSYNC_DATASYNC */
    SP_OP_STATX,     /* dirfd, path, flags, mask, stx */
    SP_OP_RENAMEAT,  /* dirfd, path, dirfd2, path2, flags */
    SP_OP_UNLINKAT,  /* dirfd, path, flags */
    SP_OP_MKDIRAT,   /* dirfd, path, mode */
    SP_OP_FALLOCATE, /* fd, flags = mode, off, len */
    SP_OP_FTRUNCATE, /* fd, off = length */
    SP_OP_COUNT
};

/* The fields of the first line are common; each kind of operation uses one
 * member of the union (small: built and zeroed on every call). */
struct sp__io_args {
    int fd;
    int flags;
    void *buf;
    size_t len;
    int64_t off;
    union {
        struct { /* READV, WRITEV */
            const struct iovec *iov;
            int iovcnt;
        };
        struct msghdr *msg; /* RECVMSG, SENDMSG */
        struct {            /* ACCEPT, CONNECT */
            struct sockaddr *addr;
            socklen_t *addrlen_p;
            socklen_t addrlen;
        };
        struct { /* OPENAT, STATX, RENAMEAT, UNLINKAT, MKDIRAT */
            const char *path, *path2;
            struct statx *stx;
            int dirfd, dirfd2;
            mode_t mode;
            unsigned mask;
        };
    };
};

struct sp__opdef {
    const char *name;
    int uring_op;   /* IORING_OP_*, -1 if io_uring has none (sync only) */
    void (*prep)(struct io_uring_sqe *sqe, const struct sp__io_args *a);
    /* The plain system call, for the epoll backend (non-blocking for
     * sockets), the blocking pool, and kernels whose ring lacks the
     * opcode. Returns the result or -errno. */
    long (*sync)(const struct sp__io_args *a);
    unsigned poll;  /* epoll: readiness to wait for between attempts
                     * (POLLIN / POLLOUT); 0: may block, use the pool */
    int fd_op;      /* operates on a.fd: counted in the fd table so that
                     * a close can cancel it */
};

extern const struct sp__opdef sp__opdefs[SP_OP_COUNT];

/* recv, send, recvmsg or sendmsg made at once, with the call's flags plus
 * `more` (the epoll backend's MSG_DONTWAIT); sends never raise SIGPIPE.
 * The sync entries of these four ops, and inlined by the epoll backend's
 * socket path, which keeps no frame between a task and the system call
 * (sys.h). Returns the result or -errno. */
static inline long
sp__sock_call(enum sp__opcode op, const struct sp__io_args *a, int more)
{
    int fl = a->flags | more;
    switch (op) {
    case SP_OP_RECV:
        return sp__sys_recv(a->fd, a->buf, a->len, fl);
    case SP_OP_SEND:
        return sp__sys_send(a->fd, a->buf, a->len, fl | MSG_NOSIGNAL);
    case SP_OP_RECVMSG:
        return sp__sys_recvmsg(a->fd, a->msg, fl);
    default:
        return sp__sys_sendmsg(a->fd, a->msg, fl | MSG_NOSIGNAL);
    }
}

/* The SQEs of the socket receive and send, inline where the io_uring
 * backend prepares them (their table entries use the same). Sends never
 * raise SIGPIPE. Needs <liburing.h>. */
#define SP__PREP_RECV(sqe, a) io_uring_prep_recv((sqe), (a)->fd, (a)->buf, (a)->len, (a)->flags)
#define SP__PREP_SEND(sqe, a)                                                              \
    io_uring_prep_send((sqe), (a)->fd, (a)->buf, (a)->len, (a)->flags | MSG_NOSIGNAL)

/* Run one operation for the calling task; returns the result or -errno.
 * A suspension point: -ECANCELED / -ETIMEDOUT (checked before anything is
 * started, and on cancellation while in flight: the operation is
 * cancelled and waited for first). -EPERM outside a task. */
long sp__io_do(enum sp__opcode op, struct sp__io_args *a);

#endif
