/* Private header of the network layer: what its files share.
 *
 * Every socket call goes through sp__io_do (src/io/op.h). What this layer
 * adds: sockets created to suit the backend (blocking for io_uring,
 * O_NONBLOCK for epoll, CLOEXEC always), argument checks with a log line
 * naming the argument, and a retry that turns an -EAGAIN that reaches us
 * from the ring into a readiness wait (RELIABILITY B1.3). */
#ifndef SP_NET_NET_H
#define SP_NET_NET_H

#include <errno.h>
#include <stdint.h>

#include "io/op.h"
#include "spindle/net.h"

/* The calling task's runtime runs the epoll backend. Only valid in a task. */
int sp__sock_is_epoll(void);

/* socket(2) with SOCK_CLOEXEC, plus SOCK_NONBLOCK under epoll. Returns the
 * fd or -errno; -EPERM (logged with `who`) outside a task. */
int sp__sock_create(const char *who, int family, int type);

/* Run a socket operation through sp__io_do; an -EAGAIN (io_uring only: the
 * epoll backend waits itself) becomes a wait for `events`, then a retry. */
long sp__sock_io(enum sp__opcode op, struct sp__io_args *a, short events);

/* Connect fd (created by the caller) to addr; on failure fd is closed.
 * Returns fd or -errno. */
int sp__sock_connect(int fd, const sp_addr_t *addr);

/* bind(2) addr to fd, then listen(2) if backlog >= 0 (SOMAXCONN for 0);
 * on failure fd is closed. Returns fd or -errno. */
int sp__sock_bind_listen(int fd, const sp_addr_t *addr, int backlog);

/* An IP socket of `type` bound to addr with SO_REUSEADDR and `flags`
 * (SP_NET_*), listening if backlog >= 0 (src/net/tcp.c). Returns the fd or
 * -errno; bad arguments are logged under `who`. */
int sp__tcp_bound_socket(const char *who, const sp_addr_t *addr, unsigned flags, int type,
                         int backlog);

/* Check an address argument for `who`: not NULL, a length that fits, and
 * one of the families in `families` (bit 1 << AF_*). 0 or -EINVAL, logged. */
int sp__addr_check(const char *who, const sp_addr_t *addr, unsigned families);

#define SP__FAM(f) (1u << (f))
#define SP__FAM_IP (SP__FAM(AF_INET) | SP__FAM(AF_INET6))

/* Check a buffer argument: -EFAULT NULL with len > 0, -EINVAL len above
 * SP_NET_MAX_LEN. */
static inline int
sp__buf_check(const void *buf, size_t len)
{
    if (len > SP_NET_MAX_LEN) {
        return -EINVAL;
    }
    return buf == NULL && len > 0 ? -EFAULT : 0;
}

#endif
