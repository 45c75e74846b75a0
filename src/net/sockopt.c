/* Socket options: thin setsockopt/getsockopt wrappers that return -errno
 * and check their arguments. Nothing here suspends, and any thread may
 * call them. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "net/net.h"
#include "util/log.h"

static int
set_int(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

static int
get_int(int fd, int level, int name, int *out)
{
    socklen_t len = sizeof(*out);
    return getsockopt(fd, level, name, out, &len) < 0 ? -errno : 0;
}

int
sp_tcp_set_nodelay(int fd, int on)
{
    return set_int(fd, IPPROTO_TCP, TCP_NODELAY, !!on);
}

int
sp_tcp_set_keepalive(int fd, int on, int idle_s, int interval_s, int count)
{
    if (idle_s < 0 || interval_s < 0 || count < 0) {
        sp__log("sp_tcp_set_keepalive: %s is negative",
                idle_s < 0 ? "idle_s" : interval_s < 0 ? "interval_s" : "count");
        return -EINVAL;
    }
    int err = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, !!on);
    if (err < 0 || !on) {
        return err;
    }
    if (idle_s > 0 && (err = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s)) < 0) {
        return err;
    }
    if (interval_s > 0) {
        err = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval_s);
    }
    if (err < 0) {
        return err;
    }
    return count > 0 ? set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, count) : 0;
}

static int
set_buf(const char *who, int fd, int name, int bytes)
{
    if (bytes <= 0) {
        sp__log("%s: bytes = %d, expected > 0", who, bytes);
        return -EINVAL;
    }
    return set_int(fd, SOL_SOCKET, name, bytes);
}

int
sp_sock_set_sndbuf(int fd, int bytes)
{
    return set_buf("sp_sock_set_sndbuf", fd, SO_SNDBUF, bytes);
}

int
sp_sock_set_rcvbuf(int fd, int bytes)
{
    return set_buf("sp_sock_set_rcvbuf", fd, SO_RCVBUF, bytes);
}

int
sp_sock_sndbuf(int fd, int *out)
{
    if (!out) {
        sp__log("sp_sock_sndbuf: out is NULL");
        return -EINVAL;
    }
    return get_int(fd, SOL_SOCKET, SO_SNDBUF, out);
}

int
sp_sock_rcvbuf(int fd, int *out)
{
    if (!out) {
        sp__log("sp_sock_rcvbuf: out is NULL");
        return -EINVAL;
    }
    return get_int(fd, SOL_SOCKET, SO_RCVBUF, out);
}

int
sp_sock_set_reuseaddr(int fd, int on)
{
    return set_int(fd, SOL_SOCKET, SO_REUSEADDR, !!on);
}

int
sp_sock_set_reuseport(int fd, int on)
{
    return set_int(fd, SOL_SOCKET, SO_REUSEPORT, !!on);
}
