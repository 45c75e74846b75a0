/* UDP sockets: open, bind, connect (a default peer). Datagrams move with
 * sp_sock_send_to / sp_sock_recv_from (src/net/sock.c), or sp_sock_send /
 * sp_sock_recv once connected. Nothing here suspends. */
#include <errno.h>
#include <unistd.h>

#include "net/net.h"
#include "util/log.h"

int
sp_udp_open(int family)
{
    if (family != AF_INET && family != AF_INET6) {
        sp__log("sp_udp_open: family = %d, expected AF_INET or AF_INET6", family);
        return -EINVAL;
    }
    return sp__sock_create("sp_udp_open", family, SOCK_DGRAM);
}

int
sp_udp_bind(const sp_addr_t *addr, unsigned flags)
{
    return sp__tcp_bound_socket("sp_udp_bind", addr, flags, SOCK_DGRAM, -1);
}

int
sp_udp_connect(int fd, const sp_addr_t *addr)
{
    if (addr && addr->u.sa.sa_family == AF_UNSPEC) {
        struct sockaddr none = {.sa_family = AF_UNSPEC};
        return connect(fd, &none, sizeof(none)) < 0 ? -errno : 0;
    }
    int err = sp__addr_check("sp_udp_connect", addr, SP__FAM_IP | SP__FAM(AF_UNIX));
    if (err < 0) {
        return err;
    }
    /* A datagram connect only records the peer: it never blocks. */
    return connect(fd, &addr->u.sa, addr->len) < 0 ? -errno : 0;
}
