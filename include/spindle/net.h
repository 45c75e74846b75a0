/* Networking: TCP listeners and streams, UDP, Unix stream and datagram
 * sockets, connect with a deadline, name resolution on the blocking pool,
 * socket options and addresses.
 *
 * A socket is a plain file descriptor: spindle creates it (always
 * SOCK_CLOEXEC) and the caller owns it, to be closed with sp_close (which
 * first cancels other tasks' calls on it). The calls here are suspension
 * points with the contract of include/spindle/io.h: buffers and addresses
 * are borrowed until the call returns, the call returns only once the
 * kernel is done with them, cancellation and the task's deadline
 * (sp_task_set_deadline) end a parked call with -ECANCELED / -ETIMEDOUT,
 * unless the operation completed anyway (then its result is returned: an
 * accepted fd or received bytes are never lost).
 *
 * Backends: with io_uring sockets are created blocking (a send punted to
 * the kernel's worker threads on a non-blocking socket fails with a
 * spurious EAGAIN); with epoll they are created O_NONBLOCK, accepted ones
 * too. Pass sockets created elsewhere only if they follow that rule.
 * -EAGAIN never reaches the caller: it is turned into a wait for readiness
 * and a retry. Sends never raise SIGPIPE (MSG_NOSIGNAL): a send to a peer
 * that has gone returns -EPIPE or -ECONNRESET.
 *
 * docs/api/net.md has the details. */
#ifndef SPINDLE_NET_H
#define SPINDLE_NET_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "common.h"

SP_EXTERN_C_BEGIN

/* --- Addresses ------------------------------------------------------------ */

/* A socket address of any family spindle speaks (AF_INET, AF_INET6,
 * AF_UNIX) and its length. A plain value: copy it freely. */
typedef struct sp_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage storage;
    } u;
    socklen_t len;
} sp_addr_t;

/* Longest text sp_addr_format writes: "[v6%scope]:65535" or a Unix path. */
#define SP_ADDR_STRLEN 128

/* Fill *out from a numeric IPv4 ("127.0.0.1") or IPv6 ("::1", with an
 * optional "%scope") address and a port; NULL or "" means the IPv4
 * wildcard 0.0.0.0, "::" the IPv6 one. No name lookup.
 * Suspends: no. Context: any thread. Memory: ip borrowed for the call.
 * Errors: -EINVAL out NULL, ip not a numeric address, port not in
 *         0..65535 (a log line names the argument). */
SP_API int sp_addr_ip(sp_addr_t *out, const char *ip, int port);

/* Fill *out with a Unix socket path (filesystem name).
 * Errors: -EINVAL out or path NULL, path empty or longer than
 *         sizeof(sun_path) - 1. */
SP_API int sp_addr_unix(sp_addr_t *out, const char *path);

/* Fill *out with a Linux abstract Unix name: `len` bytes of `name` (any
 * bytes, NUL included), stored after the leading NUL of sun_path.
 * Errors: -EINVAL out or name NULL, len 0 or above sizeof(sun_path) - 1. */
SP_API int sp_addr_unix_abstract(sp_addr_t *out, const void *name, size_t len);

/* Write "1.2.3.4:80", "[::1]:80", a Unix path, or "@name" for an abstract
 * name into buf (NUL-terminated, truncated to size). Returns the length it
 * wanted (as snprintf). Errors: -EINVAL addr or buf NULL, size 0, unknown
 * family. */
SP_API int sp_addr_format(const sp_addr_t *addr, char *buf, size_t size);

/* The port of an AF_INET / AF_INET6 address (host order), -EINVAL for
 * other families. */
SP_API int sp_addr_port(const sp_addr_t *addr);

/* The local / peer address of a socket.
 * Suspends: no. Errors: -EBADF, -ENOTSOCK, -ENOTCONN (peer), -EINVAL out
 *         NULL. */
SP_API int sp_sock_local_addr(int fd, sp_addr_t *out);
SP_API int sp_sock_peer_addr(int fd, sp_addr_t *out);

/* --- TCP ------------------------------------------------------------------ */

/* Flags for sp_tcp_listen and sp_udp_bind. */
#define SP_NET_REUSEPORT 0x1u /* SO_REUSEPORT: several sockets share the port */
#define SP_NET_V6ONLY 0x2u    /* IPv6 only (no IPv4-mapped addresses) */

/* A listening TCP socket bound to addr (AF_INET or AF_INET6), with
 * SO_REUSEADDR always set. backlog <= 0 means SOMAXCONN. Returns the fd.
 * Suspends: no. Context: any task. Memory: addr borrowed for the call.
 * Errors: -EINVAL addr NULL, not an IP family, unknown flags;
 *         -EADDRINUSE, -EACCES, -EMFILE, ... of socket/bind/listen;
 *         -EPERM not in a task. */
SP_API int sp_tcp_listen(const sp_addr_t *addr, int backlog, unsigned flags);

/* sp_tcp_listen on a numeric address and port (sp_addr_ip). */
SP_API int sp_tcp_listen_ip(const char *ip, int port, int backlog, unsigned flags);

/* Accept one connection on a listening socket (TCP or Unix stream).
 * Returns the new fd (SOCK_CLOEXEC; O_NONBLOCK with epoll) and, if peer is
 * not NULL, the peer's address.
 * Suspends: yes. Context: any task.
 * Memory: peer borrowed until return. The returned fd is the caller's, even
 *         when the call raced a cancellation and won (then the caller's
 *         next suspension point reports the cancellation).
 * Errors: -EBADF; -EINVAL not listening; -EMFILE / -ENFILE out of fds
 *         (nothing is accepted; the connection stays queued: back off
 *         before retrying); -ECANCELED, -ETIMEDOUT; -EPERM. */
SP_API int sp_tcp_accept(int lfd, sp_addr_t *peer);

/* Connect a new TCP socket to addr; returns its fd. The task's deadline
 * bounds the whole call; on any failure the socket is closed.
 * Suspends: yes. Context: any task. Memory: addr borrowed until return.
 * Errors: -EINVAL addr NULL or not an IP family; -ECONNREFUSED,
 *         -ENETUNREACH, -EHOSTUNREACH, -ETIMEDOUT (the kernel gave up, or
 *         the task's deadline passed), -ECANCELED, -EMFILE, -EPERM. */
SP_API int sp_tcp_connect(const sp_addr_t *addr);

/* sp_tcp_connect bounded by timeout_ns from now as well as by the task's
 * own deadline (whichever comes first); the task's deadline is restored
 * afterwards. Errors: as sp_tcp_connect; -ETIMEDOUT when either passes. */
SP_API int sp_tcp_connect_timeout(const sp_addr_t *addr, uint64_t timeout_ns);

/* Resolve host (a name or a numeric address) with getaddrinfo on the
 * blocking pool, then try each address in turn until one connects.
 * Returns the fd. The task's deadline bounds the lookup and each attempt.
 * Suspends: yes. Context: any task. Memory: host borrowed until return.
 * Errors: -EINVAL host NULL or empty, port not in 1..65535;
 *         -ENOENT the name does not exist or has no address (EAI_NONAME,
 *         EAI_NODATA; a log line quotes gai_strerror);
 *         -EHOSTUNREACH the lookup failed for another reason (EAI_AGAIN,
 *         EAI_FAIL; logged the same way); -ENOMEM;
 *         otherwise the error of the last address tried (-ECONNREFUSED,
 *         ...); -ECANCELED, -ETIMEDOUT, -EPERM. */
SP_API int sp_tcp_connect_host(const char *host, int port);

/* --- Stream and datagram I/O on any socket -------------------------------- */

/* The largest length one call accepts (as SP_IO_MAX_LEN). */
#define SP_NET_MAX_LEN 0x7ffff000u

/* recv(2) / send(2). send always adds MSG_NOSIGNAL. Returns the count; recv
 * returns 0 when the peer closed its side (or for a 0-byte datagram).
 * Suspends: yes. Context: any task. Memory: buf borrowed until return.
 * Errors: -EBADF (also: closed by sp_close meanwhile); -EFAULT buf NULL
 *         with len > 0; -EINVAL len above SP_NET_MAX_LEN; -ECONNRESET;
 *         -EPIPE (send: the connection is shut down or the peer has gone);
 *         -ENOTCONN; -ECANCELED, -ETIMEDOUT; -EPERM; any errno of the
 *         system call. MSG_DONTWAIT in flags is ignored (use a deadline). */
SP_API ssize_t sp_sock_recv(int fd, void *buf, size_t len, int flags);
SP_API ssize_t sp_sock_send(int fd, const void *buf, size_t len, int flags);

/* recvmsg(2) / sendmsg(2) (MSG_NOSIGNAL added). msg and everything it
 * points to are borrowed until return.
 * Errors: as sp_sock_recv; -EFAULT msg NULL; -EINVAL msg_iovlen above
 *         IOV_MAX. */
SP_API ssize_t sp_sock_recvmsg(int fd, struct msghdr *msg, int flags);
SP_API ssize_t sp_sock_sendmsg(int fd, const struct msghdr *msg, int flags);

/* Vector forms for sockets (recvmsg/sendmsg underneath, so a send never
 * raises SIGPIPE, unlike sp_writev on a socket).
 * Errors: as sp_sock_recvmsg; -EINVAL iovcnt < 0 or > IOV_MAX. */
SP_API ssize_t sp_sock_readv(int fd, const struct iovec *iov, int iovcnt);
SP_API ssize_t sp_sock_writev(int fd, const struct iovec *iov, int iovcnt);

/* Send all len bytes, looping over short sends. Returns len, or -errno if
 * a send failed first; *done (if not NULL) always gets the bytes that were
 * sent, so after an error the caller knows how much the peer may have.
 * Errors: as sp_sock_send. */
SP_API ssize_t sp_sock_send_all(int fd, const void *buf, size_t len, size_t *done);

/* Receive exactly len bytes, looping over short receives. Returns len; the
 * (smaller) count received if the peer closed first (so 0 at a clean end
 * of stream); or -errno if a receive failed first. *done (if not NULL)
 * always gets the bytes received, error or not.
 * Errors: as sp_sock_recv. */
SP_API ssize_t sp_sock_recv_exact(int fd, void *buf, size_t len, size_t *done);

/* shutdown(2): how is SHUT_RD, SHUT_WR or SHUT_RDWR.
 * Suspends: yes (briefly, with io_uring). Errors: -EBADF, -ENOTCONN,
 *         -EINVAL bad how; -EPERM. */
SP_API int sp_sock_shutdown(int fd, int how);

/* Datagrams (UDP or Unix datagram): send one to `to` / receive one and,
 * if from is not NULL, its sender's address (from->len 0 for an unbound
 * Unix sender).
 * Suspends: yes. Memory: buf, to, from borrowed until return.
 * Errors: as sp_sock_send / sp_sock_recv; -EINVAL to NULL;
 *         -ECONNREFUSED (UDP: an earlier datagram met a closed port). */
SP_API ssize_t sp_sock_send_to(int fd, const void *buf, size_t len, const sp_addr_t *to);
SP_API ssize_t sp_sock_recv_from(int fd, void *buf, size_t len, sp_addr_t *from);

/* --- UDP ------------------------------------------------------------------ */

/* An unbound UDP socket of family AF_INET or AF_INET6; returns the fd.
 * Suspends: no. Context: any task. Errors: -EINVAL family; -EMFILE;
 *         -EPERM not in a task. */
SP_API int sp_udp_open(int family);

/* A UDP socket bound to addr (SO_REUSEADDR always; flags as
 * sp_tcp_listen). Returns the fd.
 * Errors: -EINVAL addr NULL or not an IP family; -EADDRINUSE, ... */
SP_API int sp_udp_bind(const sp_addr_t *addr, unsigned flags);

/* Set (or, with addr->u.sa.sa_family AF_UNSPEC, clear) the default peer of
 * a datagram socket (UDP or Unix datagram): sp_sock_send / sp_sock_recv
 * then talk to it alone. Suspends: no. Errors: -EINVAL addr NULL; errors
 *         of connect(2). */
SP_API int sp_udp_connect(int fd, const sp_addr_t *addr);

/* --- Unix sockets --------------------------------------------------------- */

/* A listening Unix stream socket bound to addr (sp_addr_unix or
 * sp_addr_unix_abstract). A filesystem name must not exist yet; the
 * caller unlinks it when done. backlog <= 0 means SOMAXCONN. Accept with
 * sp_tcp_accept. Suspends: no. Context: any task.
 * Errors: -EINVAL addr NULL or not AF_UNIX; -EADDRINUSE; ... */
SP_API int sp_unix_listen(const sp_addr_t *addr, int backlog);

/* Connect a new Unix stream socket to addr; returns its fd.
 * Suspends: yes. Errors: -EINVAL addr NULL or not AF_UNIX; -ENOENT no
 *         such path; -ECONNREFUSED nobody listens; -ECANCELED, -ETIMEDOUT,
 *         -EPERM. */
SP_API int sp_unix_connect(const sp_addr_t *addr);

/* A Unix datagram socket, bound to addr, or unbound if addr is NULL (it
 * can send but gets no replies). Returns the fd.
 * Suspends: no. Errors: -EINVAL addr not AF_UNIX; -EADDRINUSE; ... */
SP_API int sp_unix_dgram_open(const sp_addr_t *addr);

/* --- Socket options ------------------------------------------------------- */

/* TCP_NODELAY on or off. Suspends: no. Context: any thread.
 * Errors: -EBADF, -ENOTSOCK, -EOPNOTSUPP not TCP. */
SP_API int sp_tcp_set_nodelay(int fd, int on);

/* SO_KEEPALIVE on or off; when on, idle_s (TCP_KEEPIDLE), interval_s
 * (TCP_KEEPINTVL) and count (TCP_KEEPCNT) are set where > 0 (0 keeps the
 * system default). Errors: -EINVAL a negative value; as setsockopt. */
SP_API int sp_tcp_set_keepalive(int fd, int on, int idle_s, int interval_s, int count);

/* SO_SNDBUF / SO_RCVBUF (the kernel doubles and clamps the value) and the
 * sizes in effect. Errors: -EINVAL bytes <= 0 or out NULL; as setsockopt. */
SP_API int sp_sock_set_sndbuf(int fd, int bytes);
SP_API int sp_sock_set_rcvbuf(int fd, int bytes);
SP_API int sp_sock_sndbuf(int fd, int *out);
SP_API int sp_sock_rcvbuf(int fd, int *out);

/* SO_REUSEADDR / SO_REUSEPORT on or off (before bind). */
SP_API int sp_sock_set_reuseaddr(int fd, int on);
SP_API int sp_sock_set_reuseport(int fd, int on);

SP_EXTERN_C_END

#endif
