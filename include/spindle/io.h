/* File-descriptor I/O that parks the calling task, not its thread: read,
 * write (at the current position or at an offset), their vector forms,
 * readiness polling, and close.
 *
 * Every call here is a suspension point that looks like the blocking
 * POSIX call: the buffer is the caller's plain pointer, borrowed until the
 * call returns, and the call returns only once the kernel is done with it,
 * even when it was cancelled. Results are a count or a negative errno
 * (never errno). Cancellation and the task's deadline are honoured: the
 * call returns -ECANCELED / -ETIMEDOUT, having cancelled the operation in
 * the kernel and waited for it, unless the operation completed anyway
 * (then its result is returned, so no data or fd is lost).
 *
 * Backends: with io_uring each call is one SQE on the ring of the shard
 * the task runs on (the task stays on that shard until the CQE); with
 * epoll, sockets and pipes wait for readiness and regular files run on the
 * blocking pool. docs/api/io.md has the details. */
#ifndef SPINDLE_IO_H
#define SPINDLE_IO_H

#include <sys/types.h>
#include <sys/uio.h>

#include "common.h"

SP_EXTERN_C_BEGIN

/* The largest length one call accepts (Linux's own per-call limit). */
#define SP_IO_MAX_LEN 0x7ffff000u

/* Read up to len bytes at the current position (sockets, pipes, files).
 * Returns the count, 0 at end of file / peer closed.
 * Suspends: yes. Context: any task. Memory: buf borrowed until return.
 * Errors: -EBADF bad fd, or the fd was closed by sp_close while the call
 *         waited; -EFAULT buf NULL with len > 0; -EINVAL len above
 *         SP_IO_MAX_LEN; -ECANCELED, -ETIMEDOUT; -EPERM not in a task;
 *         any errno of read(2). */
SP_API ssize_t sp_read(int fd, void *buf, size_t len);
SP_API ssize_t sp_write(int fd, const void *buf, size_t len);

/* At an offset (off >= 0), leaving the file position alone.
 * Errors: as sp_read, and -EINVAL off < 0. */
SP_API ssize_t sp_pread(int fd, void *buf, size_t len, off_t off);
SP_API ssize_t sp_pwrite(int fd, const void *buf, size_t len, off_t off);

/* Vector forms; off -1 means the current position.
 * Errors: -EINVAL iovcnt < 0 or > IOV_MAX; as sp_read. */
SP_API ssize_t sp_readv(int fd, const struct iovec *iov, int iovcnt, off_t off);
SP_API ssize_t sp_writev(int fd, const struct iovec *iov, int iovcnt, off_t off);

/* Many reads and writes at offsets in flight at once from one task, for one
 * park: a storage engine's page reads, a scatter of blocks. */
typedef enum {
    SP_IO_PREAD = 1,  /* as sp_pread */
    SP_IO_PWRITE = 2, /* as sp_pwrite */
} sp_io_op_t;

typedef struct sp_io_req {
    sp_io_op_t op;
    int fd;
    void *buf;   /* borrowed until sp_io_batch returns */
    size_t len;
    off_t off;   /* >= 0 */
    ssize_t res; /* out: what sp_pread / sp_pwrite would have returned, or
                  * -errno; -ECANCELED / -ETIMEDOUT if it never ran */
} sp_io_req_t;

/* Start every request of reqs[0..n) and wait until all are done, in no
 * particular order (overlapping writes: undefined order). With io_uring,
 * up to 64 go to the ring in one submission and run concurrently, and the
 * task is woken once, when the last completes; with epoll, what the page
 * cache holds is read at once and the rest runs in turn on one blocking-
 * pool thread. Each request's result is in its res: a bad request fails
 * alone there (-EINVAL unknown op, off < 0, len > SP_IO_MAX_LEN; -EFAULT
 * NULL buf with len > 0; -EBADF bad fd or wrong direction; -ESPIPE an fd
 * without offsets: pipe, socket, eventfd; -EAGAIN / -ENOMEM epoll: no pool
 * thread could take them).
 * Returns 0 once every request has its result, or the call's own error:
 * -EPERM not in a task; -EFAULT reqs NULL with n > 0; -ECANCELED,
 * -ETIMEDOUT: requests in flight were cancelled in the kernel and waited
 * for (those that completed anyway keep their result; the rest say why).
 * A close of one of the fds waits until the requests of the batch's
 * current piece of 64 are done, on any fd.
 * Suspends: yes. Context: any task. Memory: reqs and the buffers borrowed
 * until return. */
SP_API int sp_io_batch(sp_io_req_t *reqs, size_t n);

/* Wait until fd is ready for events (POLLIN, POLLOUT, ...); returns the
 * events that are ready (POLLERR / POLLHUP may be among them).
 * Suspends: yes. Errors: -EBADF, -ECANCELED, -ETIMEDOUT, -EPERM. */
SP_API int sp_poll(int fd, int events);

/* Close fd. Operations that other tasks have in flight on it are
 * cancelled first and waited for (they return -EBADF), on any shard, so no
 * operation can reach a file that later reuses the number.
 * Suspends: yes (only while operations on fd are being cancelled).
 * Context: any task. Errors: -EBADF; -EPERM not in a task; errors of
 * close(2) (the fd is closed anyway, as with close(2)). */
SP_API int sp_close(int fd);

SP_EXTERN_C_END

#endif
