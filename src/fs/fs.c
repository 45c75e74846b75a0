/* File and path calls (include/spindle/fs.h): argument checks, then one
 * operation through sp__io_do (src/io/run.c), which picks the backend
 * (an SQE on the shard's ring, or the blocking pool).
 *
 * Invariants:
 *   - nothing is started for a bad argument: paths are checked here, fds
 *     by sp__io_do (negative: -EBADF) and the kernel;
 *   - an fd produced by an open reaches the caller whenever the open ran,
 *     cancelled or not: both backends return a completed operation's
 *     result (uring_io keeps a CQE that beat its cancel; the pool returns
 *     the value of a call that started), and this file passes it on
 *     unchanged. The caller owns it. Closing it here instead would report
 *     -ECANCELED for an open that happened, and a close that can itself be
 *     cancelled would make the rule harder to keep.
 * Protocols: docs/design/io.md (operations, cancellation). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include <liburing.h>

#include "io/op.h"
#include "spindle/fs.h"
#include "util/log.h"

/* 0 if path may be passed to the kernel; see the top of spindle/fs.h. */
static int
check_path(const char *who, const char *path, int empty_ok)
{
    if (!path) {
        sp__log("%s: path is NULL", who);
        return -EFAULT;
    }
    if (path[0] == '\0') {
        return empty_ok ? 0 : -ENOENT;
    }
    /* PATH_MAX counts the terminating NUL, as the kernel does. */
    return strnlen(path, PATH_MAX) >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int
run(enum sp__opcode op, struct sp__io_args *a)
{
    return (int)sp__io_do(op, a);
}

int
sp_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    int err = check_path("sp_openat", path, 0);
    if (err < 0) {
        return err;
    }
    /* O_CLOEXEC is added by both the SQE and the plain call (src/io/op.c). */
    struct sp__io_args a = {.dirfd = dirfd, .path = path, .flags = flags | O_CLOEXEC,
                            .mode = mode};
    return run(SP_OP_OPENAT, &a);
}

int
sp_open(const char *path, int flags, mode_t mode)
{
    return sp_openat(AT_FDCWD, path, flags, mode);
}

static int
fsync_common(int fd, int datasync)
{
    struct sp__io_args a = {.fd = fd, .flags = datasync ? IORING_FSYNC_DATASYNC : 0};
    return run(SP_OP_FSYNC, &a);
}

int
sp_fsync(int fd)
{
    return fsync_common(fd, 0);
}

int
sp_fdatasync(int fd)
{
    return fsync_common(fd, 1);
}

int
sp_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
    int err = check_path("sp_statx", path, (flags & AT_EMPTY_PATH) != 0);
    if (err < 0) {
        return err;
    }
    if (!out) {
        sp__log("sp_statx: out is NULL");
        return -EFAULT;
    }
    struct sp__io_args a = {.dirfd = dirfd, .path = path, .flags = flags, .mask = mask,
                            .stx = out};
    return run(SP_OP_STATX, &a);
}

int
sp_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
            unsigned flags)
{
    int err = check_path("sp_renameat", oldpath, 0);
    if (err == 0) {
        err = check_path("sp_renameat", newpath, 0);
    }
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.dirfd = olddirfd, .path = oldpath, .dirfd2 = newdirfd,
                            .path2 = newpath, .flags = (int)flags};
    return run(SP_OP_RENAMEAT, &a);
}

int
sp_rename(const char *oldpath, const char *newpath)
{
    return sp_renameat(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

int
sp_unlinkat(int dirfd, const char *path, int flags)
{
    int err = check_path("sp_unlinkat", path, 0);
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.dirfd = dirfd, .path = path, .flags = flags};
    return run(SP_OP_UNLINKAT, &a);
}

int
sp_unlink(const char *path)
{
    return sp_unlinkat(AT_FDCWD, path, 0);
}

int
sp_rmdir(const char *path)
{
    return sp_unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

int
sp_mkdirat(int dirfd, const char *path, mode_t mode)
{
    int err = check_path("sp_mkdirat", path, 0);
    if (err < 0) {
        return err;
    }
    struct sp__io_args a = {.dirfd = dirfd, .path = path, .mode = mode};
    return run(SP_OP_MKDIRAT, &a);
}

int
sp_mkdir(const char *path, mode_t mode)
{
    return sp_mkdirat(AT_FDCWD, path, mode);
}

int
sp_ftruncate(int fd, off_t length)
{
    if (length < 0) {
        return -EINVAL;
    }
    struct sp__io_args a = {.fd = fd, .off = length};
    return run(SP_OP_FTRUNCATE, &a);
}

int
sp_fallocate(int fd, int mode, off_t off, off_t len)
{
    if (off < 0 || len <= 0) {
        return -EINVAL;
    }
    struct sp__io_args a = {.fd = fd, .flags = mode, .off = off, .len = (size_t)len};
    return run(SP_OP_FALLOCATE, &a);
}
