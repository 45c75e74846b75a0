/* sp_strerror and sp_err_name: messages and names for negative errno
 * values. strerror() itself is not used for the message because it is not
 * guaranteed thread-safe. */
#include <errno.h>
#include <string.h>

#include "core/core.h"

struct err_entry {
    int code;
    const char *name;
    const char *msg;
};

static const struct err_entry table[] = {
    {0, "OK", "success"},
    {EPERM, "EPERM", "operation not permitted (not called from a task, or denied by the system)"},
    {ENOENT, "ENOENT", "no such file or directory"},
    {ESRCH, "ESRCH", "no such task (finished and released, or never existed)"},
    {EINTR, "EINTR", "interrupted"},
    {EIO, "EIO", "input/output error"},
    {EBADF, "EBADF", "bad file descriptor"},
    {EAGAIN, "EAGAIN", "resource temporarily unavailable"},
    {ENOMEM, "ENOMEM", "out of memory"},
    {EACCES, "EACCES", "permission denied"},
    {EFAULT, "EFAULT", "bad address"},
    {EBUSY, "EBUSY", "resource busy"},
    {EEXIST, "EEXIST", "file exists"},
    {ENOTDIR, "ENOTDIR", "not a directory"},
    {EISDIR, "EISDIR", "is a directory"},
    {EINVAL, "EINVAL", "invalid argument"},
    {EMFILE, "EMFILE", "too many open files"},
    {ENOSPC, "ENOSPC", "no space left on device"},
    {EPIPE, "EPIPE", "broken pipe"},
    {ERANGE, "ERANGE", "result out of range"},
    {EDEADLK, "EDEADLK", "operation would deadlock"},
    {ENOSYS, "ENOSYS", "function not implemented"},
    {ENOTSUP, "ENOTSUP", "operation not supported"},
    {EADDRINUSE, "EADDRINUSE", "address already in use"},
    {ENETUNREACH, "ENETUNREACH", "network unreachable"},
    {ECONNABORTED, "ECONNABORTED", "connection aborted"},
    {ECONNRESET, "ECONNRESET", "connection reset by peer"},
    {ENOTCONN, "ENOTCONN", "socket not connected"},
    {ESHUTDOWN, "ESHUTDOWN", "the runtime is shutting down"},
    {ETIMEDOUT, "ETIMEDOUT", "deadline expired"},
    {ECONNREFUSED, "ECONNREFUSED", "connection refused"},
    {EHOSTUNREACH, "EHOSTUNREACH", "host unreachable"},
    {EALREADY, "EALREADY", "operation already in progress"},
    {EINPROGRESS, "EINPROGRESS", "operation in progress"},
    {ECANCELED, "ECANCELED", "cancelled"},
    {EOVERFLOW, "EOVERFLOW", "value too large"},
    /* What the I/O calls pass on from the kernel, and fork's -ECHILD. */
    {ECHILD, "ECHILD", "the runtime belongs to the parent process (after fork)"},
    {ENXIO, "ENXIO", "no such device or address"},
    {E2BIG, "E2BIG", "argument list too long"},
    {EXDEV, "EXDEV", "cross-device link"},
    {ENFILE, "ENFILE", "too many open files in the system"},
    {ENOTTY, "ENOTTY", "inappropriate ioctl for device"},
    {EFBIG, "EFBIG", "file too large"},
    {ESPIPE, "ESPIPE", "illegal seek"},
    {EROFS, "EROFS", "read-only file system"},
    {EMLINK, "EMLINK", "too many links"},
    {ENAMETOOLONG, "ENAMETOOLONG", "file name too long"},
    {ENOTEMPTY, "ENOTEMPTY", "directory not empty"},
    {ELOOP, "ELOOP", "too many levels of symbolic links"},
    {EPROTO, "EPROTO", "protocol error"},
    {ENOTSOCK, "ENOTSOCK", "not a socket"},
    {EDESTADDRREQ, "EDESTADDRREQ", "destination address required"},
    {EMSGSIZE, "EMSGSIZE", "message too long"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT", "protocol not supported"},
    {EAFNOSUPPORT, "EAFNOSUPPORT", "address family not supported"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL", "address not available"},
    {ENETDOWN, "ENETDOWN", "network is down"},
    {ENOBUFS, "ENOBUFS", "no buffer space available"},
    {EISCONN, "EISCONN", "socket is already connected"},
    {EHOSTDOWN, "EHOSTDOWN", "host is down"},
    {EDQUOT, "EDQUOT", "disk quota exceeded"},
};

static const struct err_entry *
find(int err)
{
    int code = err < 0 ? -err : err;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].code == code) {
            return &table[i];
        }
    }
    return NULL;
}

const char *
sp_strerror(int err)
{
    const struct err_entry *e = find(err);
    return e ? e->msg : "unknown error";
}

const char *
sp_err_name(int err)
{
    const struct err_entry *e = find(err);
    return e ? e->name : "UNKNOWN";
}
