/* System calls of the hot paths, made directly (src/io: the page-cache
 * read attempt, direct sends, the epoll backend's attempts and its
 * per-iteration poll).
 *
 * glibc makes read, write, send, recv, preadv2, epoll_wait and the like
 * cancellation points: in a process with more than one thread it brackets
 * each call with two atomic read-modify-writes of the thread's cancel
 * state, ~30 ns here (a failing send: 154 -> 122 ns with another thread
 * alive). spindle's threads are never cancelled with pthread_cancel, so
 * the bracket buys nothing. Same convention as the libc calls: -1 and
 * errno. 64-bit targets only (x86-64, aarch64), as the rest of spindle.
 * Under the sanitizers the libc calls stay: ThreadSanitizer learns
 * happens-before from them (a send and the receive that gets its bytes),
 * AddressSanitizer checks their buffers. */
#ifndef SP_IO_SYS_H
#define SP_IO_SYS_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/compiler.h"

#if defined(SP_TSAN) || defined(SP_ASAN)
#define SP__SYS(libc, raw) (libc)
#else
#define SP__SYS(libc, raw) (raw)
#endif

static inline ssize_t
sp__sys_read(int fd, void *buf, size_t len)
{
    return SP__SYS(read(fd, buf, len), syscall(SYS_read, (long)fd, buf, len));
}

static inline ssize_t
sp__sys_write(int fd, const void *buf, size_t len)
{
    return SP__SYS(write(fd, buf, len), syscall(SYS_write, (long)fd, buf, len));
}

static inline ssize_t
sp__sys_pread(int fd, void *buf, size_t len, off_t off)
{
    return SP__SYS(pread(fd, buf, len, off), syscall(SYS_pread64, (long)fd, buf, len, (long)off));
}

static inline ssize_t
sp__sys_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return SP__SYS(pwrite(fd, buf, len, off),
                   syscall(SYS_pwrite64, (long)fd, buf, len, (long)off));
}

/* The offset goes as two halves (low, high), as the kernel's preadv2
 * takes it; on a 64-bit kernel the low half is all of it. */
static inline ssize_t
sp__sys_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return SP__SYS(preadv2(fd, iov, cnt, off, flags),
                   syscall(SYS_preadv2, (long)fd, iov, (long)cnt, (long)off,
                           (long)((uint64_t)off >> 32), (long)flags));
}

static inline ssize_t
sp__sys_recv(int fd, void *buf, size_t len, int flags)
{
    return SP__SYS(recv(fd, buf, len, flags),
                   syscall(SYS_recvfrom, (long)fd, buf, len, (long)flags, NULL, NULL));
}

static inline ssize_t
sp__sys_send(int fd, const void *buf, size_t len, int flags)
{
    return SP__SYS(send(fd, buf, len, flags),
                   syscall(SYS_sendto, (long)fd, buf, len, (long)flags, NULL, 0L));
}

static inline ssize_t
sp__sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
    return SP__SYS(recvmsg(fd, msg, flags), syscall(SYS_recvmsg, (long)fd, msg, (long)flags));
}

static inline ssize_t
sp__sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return SP__SYS(sendmsg(fd, msg, flags), syscall(SYS_sendmsg, (long)fd, msg, (long)flags));
}

/* epoll_wait is not in aarch64's table: epoll_pwait with no mask. */
static inline int
sp__sys_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout_ms)
{
    return SP__SYS(epoll_wait(epfd, evs, max, timeout_ms),
                   (int)syscall(SYS_epoll_pwait, (long)epfd, evs, (long)max, (long)timeout_ms,
                                NULL, 0L));
}

#endif
