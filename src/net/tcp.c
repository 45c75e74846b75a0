/* TCP: listen, accept (also for Unix stream listeners), connect with the
 * task's deadline or a timeout of its own, and connect by host name.
 *
 * A connect that fails for any reason closes its socket before returning,
 * so a timed-out or cancelled attempt leaks nothing (RELIABILITY B2.4).
 * An accept that completes while the task is being cancelled returns its
 * fd to the caller: the backend keeps a result that raced the cancel
 * (RELIABILITY B2.1), and this file adds no step between the kernel and
 * the caller where the fd could be dropped. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "net/net.h"
#include "spindle/io.h"
#include "spindle/time.h"
#include "util/log.h"

#define LISTEN_FLAGS (SP_NET_REUSEPORT | SP_NET_V6ONLY)

/* Options every bound TCP/UDP socket gets before bind. */
static int
bind_options(int fd, const sp_addr_t *addr, unsigned flags)
{
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        return -errno;
    }
    if ((flags & SP_NET_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        return -errno;
    }
    if ((flags & SP_NET_V6ONLY) && addr->u.sa.sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
        return -errno;
    }
    return 0;
}

int
sp__tcp_bound_socket(const char *who, const sp_addr_t *addr, unsigned flags, int type,
                     int backlog)
{
    int err = sp__addr_check(who, addr, SP__FAM_IP);
    if (err < 0) {
        return err;
    }
    if (flags & ~LISTEN_FLAGS) {
        sp__log("%s: flags = 0x%x has unknown bits", who, flags);
        return -EINVAL;
    }
    int fd = sp__sock_create(who, addr->u.sa.sa_family, type);
    if (fd < 0) {
        return fd;
    }
    if ((err = bind_options(fd, addr, flags)) < 0) {
        close(fd);
        return err;
    }
    return sp__sock_bind_listen(fd, addr, backlog);
}

int
sp_tcp_listen(const sp_addr_t *addr, int backlog, unsigned flags)
{
    return sp__tcp_bound_socket("sp_tcp_listen", addr, flags, SOCK_STREAM,
                                backlog > 0 ? backlog : 0);
}

int
sp_tcp_listen_ip(const char *ip, int port, int backlog, unsigned flags)
{
    sp_addr_t a;
    int err = sp_addr_ip(&a, ip, port);
    return err < 0 ? err : sp_tcp_listen(&a, backlog, flags);
}

int
sp_tcp_accept(int lfd, sp_addr_t *peer)
{
    socklen_t len = 0;
    struct sp__io_args a = {.fd = lfd, .off = -1, .flags = SOCK_CLOEXEC};
    if (sp__sock_is_epoll()) {
        a.flags |= SOCK_NONBLOCK;
    }
    if (peer) {
        memset(peer, 0, sizeof(*peer));
        len = sizeof(peer->u);
        a.addr = &peer->u.sa;
        a.addrlen_p = &len;
    }
    long r = sp__sock_io(SP_OP_ACCEPT, &a, POLLIN);
    if (r >= 0 && peer) {
        peer->len = len;
    }
    return (int)r;
}

int
sp_tcp_connect(const sp_addr_t *addr)
{
    int err = sp__addr_check("sp_tcp_connect", addr, SP__FAM_IP);
    if (err < 0) {
        return err;
    }
    int fd = sp__sock_create("sp_tcp_connect", addr->u.sa.sa_family, SOCK_STREAM);
    return fd < 0 ? fd : sp__sock_connect(fd, addr);
}

int
sp_tcp_connect_timeout(const sp_addr_t *addr, uint64_t timeout_ns)
{
    uint64_t now = sp_now_ns();
    uint64_t old = sp_task_deadline();
    uint64_t mine = SP_DEADLINE_NONE;
    if (timeout_ns < SP_DEADLINE_NONE - now) {
        mine = now + timeout_ns;
    }
    if (mine < old) {
        sp_task_set_deadline(mine);
    }
    int r = sp_tcp_connect(addr);
    /* The task's own deadline again: ours must not stay sticky. */
    sp_task_set_deadline(old);
    return r;
}
