/* Opening static files beneath a root.
 *
 * The decoded path has no "." or ".." segments (http_decode_path refuses
 * them), but a symlink inside the root may still point out of it. The
 * kernel settles that: openat2(RESOLVE_BENEATH) fails with EXDEV on any
 * resolution that would leave the root, symlinks and ".." alike, and
 * RESOLVE_NO_MAGICLINKS refuses /proc-style links. Where openat2 is
 * missing or denied (a seccomp sandbox), the fallback opens with
 * sp_openat(O_NOFOLLOW) and then asks /proc/self/fd which file it got,
 * refusing anything whose real path is not under the root's.
 *
 * NOTE: openat2 runs directly on the shard: spindle has no openat2 call
 * (io_uring has IORING_OP_OPENAT2), and a path lookup in the dentry cache
 * takes about a microsecond, as nginx's blocking open does. O_NONBLOCK
 * keeps a FIFO planted in the root from blocking the shard on open. */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spindle.h>

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

int
static_root_open(struct static_root *r, const char *dir)
{
    memset(r, 0, sizeof(*r));
    r->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        return -errno;
    }
    r->real = realpath(dir, NULL);
    if (!r->real) {
        int err = -errno;
        close(r->dirfd);
        return err;
    }
    r->real_len = strlen(r->real);
    return 0;
}

void
static_root_close(struct static_root *r)
{
    if (r->dirfd >= 0) {
        close(r->dirfd);
    }
    free(r->real);
    r->dirfd = -1;
    r->real = NULL;
}

/* errno of an open to a status. */
static int
open_status(int err)
{
    switch (err) {
    case ENOENT: case ENOTDIR: case EXDEV: case ELOOP: case ENXIO: case EISDIR:
        return -404;
    case EACCES: case EPERM:
        return -403;
    case ENAMETOOLONG:
        return -414;
    default:
        return -500;
    }
}

/* The fallback: is the file behind fd under the root? */
static int
fd_is_beneath(const struct static_root *r, int fd)
{
    char link[64], real[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof(real) - 1);
    if (n < 0 || (size_t)n <= r->real_len) {
        return 0;
    }
    real[n] = '\0';
    return memcmp(real, r->real, r->real_len) == 0 &&
           (r->real_len == 1 || real[r->real_len] == '/');
}

/* Open one path beneath the root: an fd or -errno. */
static int
open_beneath(const struct static_root *r, const char *rel)
{
    if (!__atomic_load_n(&r->no_openat2, __ATOMIC_RELAXED)) {
        struct open_how how = {
            .flags = OPEN_FLAGS,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, r->dirfd, rel[0] ? rel : ".", &how, sizeof(how));
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
            return fd >= 0 ? (int)fd : -errno;
        }
        /* Every shard gets the same answer: a relaxed flag is enough. */
        __atomic_store_n(&((struct static_root *)r)->no_openat2, 1, __ATOMIC_RELAXED);
    }
    int fd = sp_openat(r->dirfd, rel[0] ? rel : ".", OPEN_FLAGS | O_NOFOLLOW, 0);
    if (fd >= 0 && !fd_is_beneath(r, fd)) {
        sp_close(fd);
        return -EXDEV;
    }
    return fd;
}

/* A segment starting with '.' (".git", ".htpasswd") is never served. */
static int
has_dotfile(const char *rel)
{
    return rel[0] == '.' || strstr(rel, "/.") != NULL;
}

int
static_open(const struct static_root *r, const char *rel, struct stat *st,
            const char **type)
{
    *type = static_content_type(rel);
    if (has_dotfile(rel)) {
        return -404;
    }
    int fd = open_beneath(r, rel);
    if (fd < 0) {
        return open_status(-fd);
    }
    if (fstat(fd, st) < 0) {
        sp_close(fd);
        return -500;
    }
    if (S_ISDIR(st->st_mode)) {
        char index[PATH_MAX];
        size_t n = strlen(rel);
        sp_close(fd);
        if (n + sizeof("/index.html") > sizeof(index)) {
            return -414;
        }
        snprintf(index, sizeof(index), "%s%sindex.html", rel,
                 n == 0 || rel[n - 1] == '/' ? "" : "/");
        *type = static_content_type(index);
        if ((fd = open_beneath(r, index)) < 0) {
            return open_status(-fd);
        }
        if (fstat(fd, st) < 0) {
            sp_close(fd);
            return -500;
        }
    }
    if (!S_ISREG(st->st_mode)) {
        sp_close(fd);
        return -404;
    }
    return fd;
}

const char *
static_content_type(const char *path)
{
    static const char *const types[][2] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"css", "text/css"},                  {"js", "text/javascript"},
        {"json", "application/json"},         {"txt", "text/plain; charset=utf-8"},
        {"xml", "application/xml"},           {"svg", "image/svg+xml"},
        {"png", "image/png"},                 {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},               {"gif", "image/gif"},
        {"webp", "image/webp"},               {"ico", "image/x-icon"},
        {"wasm", "application/wasm"},         {"pdf", "application/pdf"},
        {"woff2", "font/woff2"},              {"mp4", "video/mp4"},
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            if (strcasecmp(dot + 1, types[i][0]) == 0) {
                return types[i][1];
            }
        }
    }
    return "application/octet-stream";
}
