/* Files and paths, as suspension points: open, fsync, statx, rename,
 * unlink, mkdir, ftruncate, fallocate. Reading and writing an open file
 * use the fd calls of spindle/io.h (sp_read, sp_pread, sp_readv, ...) and
 * sp_close.
 *
 * Each call looks like its POSIX counterpart but parks the calling task,
 * not its thread, and returns 0, an fd or a negative errno (never errno).
 * With io_uring each call is one SQE on the current shard's ring (a call
 * the kernel's ring lacks, such as ftruncate before 6.9, runs on the
 * blocking pool); with epoll every call here runs on the blocking pool.
 *
 * Paths: NULL is -EFAULT, "" is -ENOENT (sp_statx accepts "" with
 * AT_EMPTY_PATH), a path of PATH_MAX bytes or more is -ENAMETOOLONG; all
 * three are checked before anything is started. A path is borrowed until
 * the call returns.
 *
 * Cancellation and deadlines: a call of a cancelled task, or one past its
 * deadline, starts nothing and returns -ECANCELED / -ETIMEDOUT. A call
 * cancelled while in flight is cancelled in the kernel and waited for; if
 * it completed anyway its result stands. For sp_open and sp_openat that
 * means: **a non-negative return is an open fd that the caller owns and
 * must close, even when the task was cancelled meanwhile**; the
 * cancellation shows at the task's next suspension point. No fd is ever
 * opened and dropped by spindle.
 *
 * Every fd spindle opens is O_CLOEXEC (added whatever the flags say), so a
 * program started with exec sees none of them. docs/api/fs.md has the
 * details. */
#ifndef SPINDLE_FS_H
#define SPINDLE_FS_H

#include <sys/types.h>

#include "common.h"

SP_EXTERN_C_BEGIN

struct statx;

/* Open path (relative to the working directory, or to dirfd; AT_FDCWD
 * works) with open(2) flags and, for O_CREAT / O_TMPFILE, mode. O_CLOEXEC
 * is always added. Returns the new fd.
 * Suspends: yes. Context: any task. Memory: path borrowed until return;
 *         the returned fd belongs to the caller (close it with sp_close),
 *         also when the task was cancelled while the open was in flight.
 * Errors: -EFAULT path NULL; -ENOENT path ""; -ENAMETOOLONG path too long;
 *         -ECANCELED, -ETIMEDOUT (nothing was opened); -EPERM not in a
 *         task; any errno of openat(2) (-ENOENT, -EACCES, -EEXIST, ...).
 * NOTE: opening a FIFO waits for its other end; on the epoll backend that
 *       wait runs on a pool thread and cannot be cancelled once started. */
SP_API int sp_open(const char *path, int flags, mode_t mode);
SP_API int sp_openat(int dirfd, const char *path, int flags, mode_t mode);

/* Flush fd's data and metadata (sp_fsync) or its data and the metadata
 * needed to read it back (sp_fdatasync) to stable storage.
 * Suspends: yes. Context: any task. Memory: nothing borrowed.
 * Errors: -EBADF (also when fd is closed by sp_close meanwhile); -EINVAL
 *         fd cannot be synced (a pipe, say); -EIO; -ECANCELED,
 *         -ETIMEDOUT; -EPERM not in a task. */
SP_API int sp_fsync(int fd);
SP_API int sp_fdatasync(int fd);

/* statx(2): fill *out with the fields in mask (STATX_BASIC_STATS, ...) of
 * path relative to dirfd. flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH (then
 * path "" means dirfd itself), AT_STATX_*. Check out->stx_mask for the
 * fields the file system filled.
 * Suspends: yes. Context: any task. Memory: path and out borrowed until
 *         return; out is written only when the call returns 0.
 * Errors: -EFAULT path or out NULL; -ENOENT, -ENAMETOOLONG (see the top);
 *         -EBADF dirfd; -ECANCELED, -ETIMEDOUT; -EPERM not in a task; any
 *         errno of statx(2). */
SP_API int sp_statx(int dirfd, const char *path, int flags, unsigned mask,
                    struct statx *out);

/* rename(2) / renameat2(2); flags: RENAME_NOREPLACE, RENAME_EXCHANGE.
 * Suspends: yes. Context: any task. Memory: both paths borrowed until
 *         return.
 * Errors: path checks as above, for either path; -ECANCELED, -ETIMEDOUT,
 *         -EPERM not in a task; any errno of renameat2(2). */
SP_API int sp_rename(const char *oldpath, const char *newpath);
SP_API int sp_renameat(int olddirfd, const char *oldpath, int newdirfd,
                       const char *newpath, unsigned flags);

/* unlink(2) / unlinkat(2); flags AT_REMOVEDIR removes an empty directory
 * (sp_rmdir is that with AT_FDCWD).
 * Suspends: yes. Context: any task. Memory: path borrowed until return.
 * Errors: path checks as above; -EISDIR (sp_unlink of a directory),
 *         -ENOTDIR, -ENOTEMPTY; -ECANCELED, -ETIMEDOUT; -EPERM not in a
 *         task; any errno of unlinkat(2). */
SP_API int sp_unlink(const char *path);
SP_API int sp_unlinkat(int dirfd, const char *path, int flags);
SP_API int sp_rmdir(const char *path);

/* mkdir(2) / mkdirat(2), mode as there (minus the umask).
 * Suspends: yes. Context: any task. Memory: path borrowed until return.
 * Errors: path checks as above; -EEXIST; -ECANCELED, -ETIMEDOUT; -EPERM
 *         not in a task; any errno of mkdirat(2). */
SP_API int sp_mkdir(const char *path, mode_t mode);
SP_API int sp_mkdirat(int dirfd, const char *path, mode_t mode);

/* Set fd's size to length bytes (ftruncate(2)).
 * Suspends: yes. Context: any task. Memory: nothing borrowed.
 * Errors: -EINVAL length < 0 or fd not open for writing a regular file;
 *         -EBADF; -EFBIG; -ECANCELED, -ETIMEDOUT; -EPERM not in a task. */
SP_API int sp_ftruncate(int fd, off_t length);

/* fallocate(2): reserve (mode 0, FALLOC_FL_KEEP_SIZE), punch
 * (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) or zero a range.
 * Suspends: yes. Context: any task. Memory: nothing borrowed.
 * Errors: -EINVAL off < 0 or len <= 0; -EBADF; -EOPNOTSUPP the file
 *         system lacks the mode; -ENOSPC; -EFBIG; -ECANCELED, -ETIMEDOUT;
 *         -EPERM not in a task; any errno of fallocate(2). */
SP_API int sp_fallocate(int fd, int mode, off_t off, off_t len);

SP_EXTERN_C_END

#endif
