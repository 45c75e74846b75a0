/* System calls of the hot paths, made directly (src/io: the page-cache
 * read attempt, direct sends, the epoll backend's attempts and its
 * per-iteration poll).
 *
 * glibc makes read, write, send, recv, preadv2, epoll_wait and the like
 * cancellation points: in a process with more than one thread it brackets
 * each call with two atomic read-modify-writes of the thread's cancel
 * state, ~30 ns here (a failing send: 154 -> 122 ns with another thread
 * alive). spindle's threads are never cancelled with pthread_cancel, so
 * the bracket buys nothing. 64-bit targets only (x86-64, aarch64), as
 * the rest of spindle.
 * Under the sanitizers the libc calls stay: ThreadSanitizer learns
 * happens-before from them (a send and the receive that gets its bytes),
 * AddressSanitizer checks their buffers. */
#ifndef SP_IO_SYS_H
#define SP_IO_SYS_H

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/compiler.h"

/* Every call returns the result or -errno (the kernel's own convention):
 * errno is neither written nor read on these paths. */
#if defined(SP_TSAN) || defined(SP_ASAN)
#define SP__SYS(libc, nr, ...) sp__sys_libc((long)(libc))
static inline long
sp__sys_libc(long r)
{
    return r < 0 ? -errno : r;
}
#elif defined(__x86_64__)
/* Made inline, not through syscall(3): the return after a system call
 * whose kernel path is deep (a loopback send wakes the receiver) is
 * mispredicted, ~12 ns each here (the kernel's calls overwrote the return
 * stack buffer), so each function level between the caller and the
 * instruction costs that much once per call. */
#define SP__SYS(libc, nr, ...) sp__syscall6((nr), __VA_ARGS__)
static inline __attribute__((always_inline)) long
sp__syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ __volatile__("syscall"
                         : "=a"(ret)
                         : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
#define SP__SYS(libc, nr, ...) sp__syscall6((nr), __VA_ARGS__)
static inline __attribute__((always_inline)) long
sp__syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a1;
    register long x1 __asm__("x1") = a2;
    register long x2 __asm__("x2") = a3;
    register long x3 __asm__("x3") = a4;
    register long x4 __asm__("x4") = a5;
    register long x5 __asm__("x5") = a6;
    __asm__ __volatile__("svc 0"
                         : "+r"(x0)
                         : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                         : "memory");
    return x0;
}
#else
#define SP__SYS(libc, nr, ...) sp__sys_libc(syscall((nr), __VA_ARGS__))
static inline long
sp__sys_libc(long r)
{
    return r < 0 ? -errno : r;
}
#endif

#define SP__A(x) ((long)(x))

static inline long
sp__sys_read(int fd, void *buf, size_t len)
{
    return SP__SYS(read(fd, buf, len), SYS_read, SP__A(fd), SP__A(buf), SP__A(len), 0, 0, 0);
}

static inline long
sp__sys_write(int fd, const void *buf, size_t len)
{
    return SP__SYS(write(fd, buf, len), SYS_write, SP__A(fd), SP__A(buf), SP__A(len), 0, 0, 0);
}

static inline long
sp__sys_pread(int fd, void *buf, size_t len, off_t off)
{
    return SP__SYS(pread(fd, buf, len, off), SYS_pread64, SP__A(fd), SP__A(buf), SP__A(len),
                   SP__A(off), 0, 0);
}

static inline long
sp__sys_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return SP__SYS(pwrite(fd, buf, len, off), SYS_pwrite64, SP__A(fd), SP__A(buf), SP__A(len),
                   SP__A(off), 0, 0);
}

/* The offset goes as two halves (low, high), as the kernel's preadv2
 * takes it; on a 64-bit kernel the low half is all of it. */
static inline long
sp__sys_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return SP__SYS(preadv2(fd, iov, cnt, off, flags), SYS_preadv2, SP__A(fd), SP__A(iov),
                   SP__A(cnt), SP__A(off), SP__A((uint64_t)off >> 32), SP__A(flags));
}

static inline long
sp__sys_recv(int fd, void *buf, size_t len, int flags)
{
    return SP__SYS(recv(fd, buf, len, flags), SYS_recvfrom, SP__A(fd), SP__A(buf), SP__A(len),
                   SP__A(flags), 0, 0);
}

static inline long
sp__sys_send(int fd, const void *buf, size_t len, int flags)
{
    return SP__SYS(send(fd, buf, len, flags), SYS_sendto, SP__A(fd), SP__A(buf), SP__A(len),
                   SP__A(flags), 0, 0);
}

static inline long
sp__sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
    return SP__SYS(recvmsg(fd, msg, flags), SYS_recvmsg, SP__A(fd), SP__A(msg), SP__A(flags), 0,
                   0, 0);
}

static inline long
sp__sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return SP__SYS(sendmsg(fd, msg, flags), SYS_sendmsg, SP__A(fd), SP__A(msg), SP__A(flags), 0,
                   0, 0);
}

static inline long
sp__sys_io_uring_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
    return SP__SYS(syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0),
                   __NR_io_uring_enter, SP__A(fd), SP__A(submit), SP__A(wait), SP__A(flags), 0,
                   0);
}

/* epoll_wait is not in aarch64's table: epoll_pwait with no mask. */
static inline long
sp__sys_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout_ms)
{
    return SP__SYS(epoll_wait(epfd, evs, max, timeout_ms), SYS_epoll_pwait, SP__A(epfd),
                   SP__A(evs), SP__A(max), SP__A(timeout_ms), 0, 0);
}

#endif
