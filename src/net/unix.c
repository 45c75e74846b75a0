/* Unix domain sockets: stream listen/connect (accept is sp_tcp_accept)
 * and datagram sockets, with filesystem or abstract names (the address
 * builders are in src/net/addr.c). */
#include <errno.h>
#include <unistd.h>

#include "net/net.h"

int
sp_unix_listen(const sp_addr_t *addr, int backlog)
{
    int err = sp__addr_check("sp_unix_listen", addr, SP__FAM(AF_UNIX));
    if (err < 0) {
        return err;
    }
    int fd = sp__sock_create("sp_unix_listen", AF_UNIX, SOCK_STREAM);
    return fd < 0 ? fd : sp__sock_bind_listen(fd, addr, backlog > 0 ? backlog : 0);
}

int
sp_unix_connect(const sp_addr_t *addr)
{
    int err = sp__addr_check("sp_unix_connect", addr, SP__FAM(AF_UNIX));
    if (err < 0) {
        return err;
    }
    int fd = sp__sock_create("sp_unix_connect", AF_UNIX, SOCK_STREAM);
    return fd < 0 ? fd : sp__sock_connect(fd, addr);
}

int
sp_unix_dgram_open(const sp_addr_t *addr)
{
    int err = addr ? sp__addr_check("sp_unix_dgram_open", addr, SP__FAM(AF_UNIX)) : 0;
    if (err < 0) {
        return err;
    }
    int fd = sp__sock_create("sp_unix_dgram_open", AF_UNIX, SOCK_DGRAM);
    return fd < 0 || !addr ? fd : sp__sock_bind_listen(fd, addr, -1);
}
