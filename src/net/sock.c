/* Socket creation and the data calls every socket kind shares: recv,
 * send, their msghdr and vector forms, datagrams with addresses, the
 * send-all / receive-exact loops, shutdown.
 *
 * All of them go through sp__io_do (src/io/run.c), which checks the task's
 * cancellation and deadline, counts the call for sp_close, and runs it on
 * the backend. Sockets are created blocking under io_uring and O_NONBLOCK
 * under epoll (RELIABILITY B1.3); sp__sock_io still turns a stray -EAGAIN
 * into a readiness wait, so the caller never sees it. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "io/call.h"
#include "io/fdtab.h"
#include "io/io.h"
#include "net/net.h"
#include "spindle/io.h"
#include "util/log.h"

/* NOTE: every sp__io_args here sets off = -1: the epoll backend sends an
 * operation with off >= 0 to the blocking pool (a positioned file call). */

int
sp__sock_is_epoll(void)
{
    struct sp__task *t = sp__task_current();
    return t && t->rt->be == &sp__epoll_backend;
}

int
sp__sock_create(const char *who, int family, int type)
{
    struct sp__task *t = sp__task_current(); /* no switch below: read once */
    if (!t) {
        sp__log("%s: not called from a task", who);
        return -EPERM;
    }
    int epoll = t->rt->be == &sp__epoll_backend;
    int fd = socket(family, type | SOCK_CLOEXEC | (epoll ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        return -errno;
    }
    sp__fdtab_renew(t->rt, fd);
    return fd;
}

/* sp__sock_io's body, inlined into this file's calls, whose op is a
 * constant: the socket send and receive loops keep the whole call in
 * their own frame (call.h). */
static inline __attribute__((always_inline)) long
sock_io(enum sp__opcode op, struct sp__io_args *a, short events)
{
    for (;;) {
        long r = op == SP_OP_SEND || op == SP_OP_RECV ? sp__io_call(op, a, 1) : sp__io_do(op, a);
        if (r != -EAGAIN && r != -EWOULDBLOCK) {
            return r;
        }
        /* NOTE: io_uring may hand back -EAGAIN for a request it punted to
         * io-wq on a non-blocking socket (seastar b4eaa9f5). Wait for
         * readiness instead of surfacing it. */
        int p = sp_poll(a->fd, events);
        if (p < 0) {
            return p;
        }
    }
}

long
sp__sock_io(enum sp__opcode op, struct sp__io_args *a, short events)
{
    return sock_io(op, a, events);
}

int
sp__sock_connect(int fd, const sp_addr_t *addr)
{
    struct sp__io_args a = {.fd = fd, .off = -1, .addrlen = addr->len};
    a.addr = (struct sockaddr *)&addr->u.sa;
    long r = sp__sock_io(SP_OP_CONNECT, &a, POLLOUT);
    if (r < 0) {
        sp_close(fd);
        return (int)r;
    }
    return fd;
}

int
sp__sock_bind_listen(int fd, const sp_addr_t *addr, int backlog)
{
    if (bind(fd, &addr->u.sa, addr->len) < 0 ||
        (backlog >= 0 && listen(fd, backlog ? backlog : SOMAXCONN) < 0)) {
        int err = -errno;
        close(fd); /* never used for I/O: nothing to cancel */
        return err;
    }
    return fd;
}

/* --- data ---------------------------------------------------------------- */

ssize_t
sp_sock_recv(int fd, void *buf, size_t len, int flags)
{
    int err = sp__buf_check(buf, len);
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.fd = fd, .off = -1, .buf = buf, .len = len};
    a.flags = flags & ~MSG_DONTWAIT;
    return sock_io(SP_OP_RECV, &a, POLLIN);
}

ssize_t
sp_sock_send(int fd, const void *buf, size_t len, int flags)
{
    int err = sp__buf_check(buf, len);
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.fd = fd, .off = -1, .buf = (void *)buf, .len = len};
    a.flags = flags & ~MSG_DONTWAIT;
    return sock_io(SP_OP_SEND, &a, POLLOUT);
}

static int
check_msg(const struct msghdr *msg)
{
    if (!msg) {
        return -EFAULT;
    }
    if (msg->msg_iovlen > IOV_MAX) {
        return -EINVAL;
    }
    return msg->msg_iovlen > 0 && !msg->msg_iov ? -EFAULT : 0;
}

ssize_t
sp_sock_recvmsg(int fd, struct msghdr *msg, int flags)
{
    int err = check_msg(msg);
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.fd = fd, .off = -1, .msg = msg};
    a.flags = flags & ~MSG_DONTWAIT;
    return sp__sock_io(SP_OP_RECVMSG, &a, POLLIN);
}

ssize_t
sp_sock_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    int err = check_msg(msg);
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.fd = fd, .off = -1, .msg = (struct msghdr *)msg};
    a.flags = flags & ~MSG_DONTWAIT;
    return sp__sock_io(SP_OP_SENDMSG, &a, POLLOUT);
}

static int
iov_msg(struct msghdr *m, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0 || iovcnt > IOV_MAX) {
        return -EINVAL;
    }
    memset(m, 0, sizeof(*m));
    m->msg_iov = (struct iovec *)iov;
    m->msg_iovlen = (size_t)iovcnt;
    return 0;
}

ssize_t
sp_sock_readv(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr m;
    int err = iov_msg(&m, iov, iovcnt);
    return err < 0 ? err : sp_sock_recvmsg(fd, &m, 0);
}

ssize_t
sp_sock_writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr m;
    int err = iov_msg(&m, iov, iovcnt);
    return err < 0 ? err : sp_sock_sendmsg(fd, &m, 0);
}

/* The loops build their operation once and move along the buffer; each
 * step is one sp_sock_send / sp_sock_recv. */
ssize_t
sp_sock_send_all(int fd, const void *buf, size_t len, size_t *done)
{
    size_t off = 0;
    ssize_t err = sp__buf_check(buf, len);
    struct sp__io_args a = {.fd = fd, .off = -1};
    while (err == 0 && off < len) {
        a.buf = (char *)buf + off;
        a.len = len - off;
        ssize_t n = sock_io(SP_OP_SEND, &a, POLLOUT);
        if (n < 0) {
            err = n;
        } else {
            off += (size_t)n;
        }
    }
    if (done) {
        *done = off;
    }
    return err < 0 ? err : (ssize_t)off;
}

ssize_t
sp_sock_recv_exact(int fd, void *buf, size_t len, size_t *done)
{
    size_t off = 0;
    ssize_t err = sp__buf_check(buf, len);
    struct sp__io_args a = {.fd = fd, .off = -1};
    while (err == 0 && off < len) {
        a.buf = (char *)buf + off;
        a.len = len - off;
        ssize_t n = sock_io(SP_OP_RECV, &a, POLLIN);
        if (n < 0) {
            err = n;
        } else if (n == 0) {
            break; /* the peer closed: report the short count */
        } else {
            off += (size_t)n;
        }
    }
    if (done) {
        *done = off;
    }
    return err < 0 ? err : (ssize_t)off;
}

int
sp_sock_shutdown(int fd, int how)
{
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
        sp__log("sp_sock_shutdown: how = %d, expected SHUT_RD, SHUT_WR, SHUT_RDWR", how);
        return -EINVAL;
    }
    /* shutdown(2) never blocks: no operation, no suspension. */
    return shutdown(fd, how) < 0 ? -errno : 0;
}

/* --- datagrams with addresses -------------------------------------------- */

ssize_t
sp_sock_send_to(int fd, const void *buf, size_t len, const sp_addr_t *to)
{
    int err = sp__buf_check(buf, len);
    if (err < 0) {
        return err;
    }
    err = sp__addr_check("sp_sock_send_to", to, SP__FAM_IP | SP__FAM(AF_UNIX));
    if (err < 0) {
        return err;
    }
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_name = (void *)&to->u, .msg_namelen = to->len,
                       .msg_iov = &iov, .msg_iovlen = 1};
    return sp_sock_sendmsg(fd, &m, 0);
}

ssize_t
sp_sock_recv_from(int fd, void *buf, size_t len, sp_addr_t *from)
{
    int err = sp__buf_check(buf, len);
    if (err < 0) {
        return err;
    }
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (from) {
        memset(from, 0, sizeof(*from));
        m.msg_name = &from->u;
        m.msg_namelen = sizeof(from->u);
    }
    ssize_t n = sp_sock_recvmsg(fd, &m, 0);
    if (n >= 0 && from) {
        from->len = m.msg_namelen;
    }
    return n;
}
