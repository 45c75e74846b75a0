/* Connect by host name: getaddrinfo runs on the blocking pool (it may
 * read files and wait for DNS) while the task parks, then each address is
 * tried in turn.
 *
 * getaddrinfo's EAI_* codes are not errno values; they are mapped to the
 * negative errnos that sp_strerror knows, and logged with gai_strerror so
 * the original reason is not lost:
 *   EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY  -> -ENOENT (no such name)
 *   EAI_AGAIN, EAI_FAIL, anything else      -> -EHOSTUNREACH
 *   EAI_MEMORY -> -ENOMEM, EAI_SYSTEM -> -errno, EAI_SERVICE etc. -> -EINVAL */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "blocking/blocking.h"
#include "net/net.h"
#include "spindle/error.h"
#include "util/log.h"

struct lookup {
    const char *host;
    char port[8];
    struct addrinfo *res;
    int gai;
    int sys_errno; /* errno of EAI_SYSTEM, read on the pool thread */
};

static long
run_lookup(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    l->gai = getaddrinfo(l->host, l->port, &hints, &l->res);
    l->sys_errno = errno;
    return 0;
}

static int
map_gai(const struct lookup *l)
{
    switch (l->gai) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENOENT;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return l->sys_errno > 0 ? -l->sys_errno : -EHOSTUNREACH;
    case EAI_SERVICE:
    case EAI_FAMILY:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
        return -EINVAL;
    default:
        return -EHOSTUNREACH;
    }
}

/* Try each address until one connects; the error of the last one
 * otherwise. Cancellation and the deadline stop the walk. */
static int
connect_any(const struct addrinfo *ai)
{
    int err = -EHOSTUNREACH;
    for (; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(((sp_addr_t *)0)->u)) {
            continue;
        }
        sp_addr_t a;
        memset(&a, 0, sizeof(a));
        memcpy(&a.u, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        int fd = sp_tcp_connect(&a);
        if (fd >= 0) {
            return fd;
        }
        err = fd;
        if (err == -ECANCELED || err == -ETIMEDOUT || err == -EPERM) {
            break;
        }
    }
    return err;
}

int
sp_tcp_connect_host(const char *host, int port)
{
    if (!host || !*host || port <= 0 || port > 65535) {
        sp__log("sp_tcp_connect_host: %s", !host || !*host ? "host is NULL or empty"
                                                            : "port is not in 1..65535");
        return -EINVAL;
    }
    struct lookup l = {.host = host};
    snprintf(l.port, sizeof(l.port), "%d", port);
    long r = sp__blocking_call(run_lookup, &l);
    if (r < 0) {
        return (int)r; /* never started: cancelled, past the deadline, no pool */
    }
    if (l.gai != 0) {
        int err = map_gai(&l);
        sp__log("sp_tcp_connect_host: cannot resolve \"%.200s\": %s (%s)", host,
                gai_strerror(l.gai), sp_err_name(err));
        return err;
    }
    int fd = connect_any(l.res);
    freeaddrinfo(l.res);
    return fd;
}
