/* Socket addresses: building them from numeric text or Unix names,
 * formatting them, checking them as arguments, and reading a socket's own
 * and its peer's address. Nothing here suspends. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "util/log.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static int
check_port(const char *who, int port)
{
    if (port < 0 || port > 65535) {
        sp__log("%s: port = %d, expected 0..65535", who, port);
        return -EINVAL;
    }
    return 0;
}

/* "addr%scope": the scope is an interface name or number. */
static int
parse_v6(sp_addr_t *out, const char *ip)
{
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    const char *pct = strchr(ip, '%');
    size_t n = pct ? (size_t)(pct - ip) : strlen(ip);
    if (n >= INET6_ADDRSTRLEN) {
        return -EINVAL;
    }
    memcpy(buf, ip, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, &out->u.in6.sin6_addr) != 1) {
        return -EINVAL;
    }
    if (pct) {
        unsigned idx = if_nametoindex(pct + 1);
        char *end;
        unsigned long num = strtoul(pct + 1, &end, 10);
        if (idx == 0 && (*end != '\0' || end == pct + 1)) {
            return -EINVAL;
        }
        out->u.in6.sin6_scope_id = idx ? idx : (uint32_t)num;
    }
    out->u.in6.sin6_family = AF_INET6;
    out->len = sizeof(out->u.in6);
    return 0;
}

int
sp_addr_ip(sp_addr_t *out, const char *ip, int port)
{
    if (!out) {
        sp__log("sp_addr_ip: out is NULL");
        return -EINVAL;
    }
    if (check_port("sp_addr_ip", port) < 0) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (!ip || !*ip) {
        ip = "0.0.0.0";
    }
    if (inet_pton(AF_INET, ip, &out->u.in.sin_addr) == 1) {
        out->u.in.sin_family = AF_INET;
        out->u.in.sin_port = htons((uint16_t)port);
        out->len = sizeof(out->u.in);
        return 0;
    }
    if (parse_v6(out, ip) == 0) {
        out->u.in6.sin6_port = htons((uint16_t)port);
        return 0;
    }
    sp__log("sp_addr_ip: ip = \"%.64s\" is not a numeric IPv4 or IPv6 address", ip);
    memset(out, 0, sizeof(*out));
    return -EINVAL;
}

int
sp_addr_unix(sp_addr_t *out, const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (!out || n == 0 || n >= SUN_PATH_MAX) {
        sp__log("sp_addr_unix: %s", !out ? "out is NULL"
                                   : !path ? "path is NULL"
                                   : n == 0 ? "path is empty"
                                            : "path is longer than sun_path");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->u.un.sun_family = AF_UNIX;
    memcpy(out->u.un.sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int
sp_addr_unix_abstract(sp_addr_t *out, const void *name, size_t len)
{
    if (!out || !name || len == 0 || len >= SUN_PATH_MAX) {
        sp__log("sp_addr_unix_abstract: %s", !out ? "out is NULL"
                                            : !name ? "name is NULL"
                                                    : "len is 0 or too long");
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->u.un.sun_family = AF_UNIX;
    memcpy(out->u.un.sun_path + 1, name, len); /* sun_path[0] = 0: abstract */
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
    return 0;
}

static int
format_unix(const sp_addr_t *a, char *buf, size_t size)
{
    size_t base = offsetof(struct sockaddr_un, sun_path);
    if (a->len <= base) {
        return snprintf(buf, size, "(unnamed)");
    }
    size_t n = a->len - base;
    const char *p = a->u.un.sun_path;
    if (p[0] != '\0') {
        return snprintf(buf, size, "%.*s", (int)strnlen(p, n), p);
    }
    return snprintf(buf, size, "@%.*s", (int)(n - 1), p + 1);
}

int
sp_addr_format(const sp_addr_t *addr, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    if (!addr || !buf || size == 0) {
        sp__log("sp_addr_format: %s", !addr ? "addr is NULL" : "buf is NULL or size 0");
        return -EINVAL;
    }
    switch (addr->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &addr->u.in.sin_addr, ip, sizeof(ip));
        return snprintf(buf, size, "%s:%u", ip, ntohs(addr->u.in.sin_port));
    case AF_INET6:
        inet_ntop(AF_INET6, &addr->u.in6.sin6_addr, ip, sizeof(ip));
        if (addr->u.in6.sin6_scope_id) {
            return snprintf(buf, size, "[%s%%%u]:%u", ip, addr->u.in6.sin6_scope_id,
                            ntohs(addr->u.in6.sin6_port));
        }
        return snprintf(buf, size, "[%s]:%u", ip, ntohs(addr->u.in6.sin6_port));
    case AF_UNIX:
        return format_unix(addr, buf, size);
    default:
        buf[0] = '\0';
        return -EINVAL;
    }
}

int
sp_addr_port(const sp_addr_t *addr)
{
    if (addr && addr->u.sa.sa_family == AF_INET) {
        return ntohs(addr->u.in.sin_port);
    }
    if (addr && addr->u.sa.sa_family == AF_INET6) {
        return ntohs(addr->u.in6.sin6_port);
    }
    return -EINVAL;
}

int
sp__addr_check(const char *who, const sp_addr_t *addr, unsigned families)
{
    if (!addr) {
        sp__log("%s: addr is NULL", who);
        return -EINVAL;
    }
    int fam = addr->u.sa.sa_family;
    if (fam < 0 || fam >= 32 || !(families & SP__FAM(fam))) {
        sp__log("%s: addr has address family %d, not one this call takes", who, fam);
        return -EINVAL;
    }
    if (addr->len < sizeof(sa_family_t) || addr->len > sizeof(addr->u)) {
        sp__log("%s: addr->len = %u does not fit the address", who, (unsigned)addr->len);
        return -EINVAL;
    }
    return 0;
}

static int
get_name(int fd, sp_addr_t *out, int peer, const char *who)
{
    if (!out) {
        sp__log("%s: out is NULL", who);
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    socklen_t len = sizeof(out->u);
    int r = peer ? getpeername(fd, &out->u.sa, &len) : getsockname(fd, &out->u.sa, &len);
    if (r < 0) {
        return -errno;
    }
    out->len = len;
    return 0;
}

int
sp_sock_local_addr(int fd, sp_addr_t *out)
{
    return get_name(fd, out, 0, "sp_sock_local_addr");
}

int
sp_sock_peer_addr(int fd, sp_addr_t *out)
{
    return get_name(fd, out, 1, "sp_sock_peer_addr");
}
