/* Static files under one root directory: opening a decoded request path
 * without leaving the root, and the Content-Type of a file name. */
#ifndef HTTPD_STATIC_H
#define HTTPD_STATIC_H

#include <stddef.h>
#include <sys/stat.h>

struct static_root {
    int dirfd;       /* O_PATH | O_DIRECTORY fd of the root */
    char *real;      /* its realpath, for the fallback check */
    size_t real_len;
    int no_openat2;  /* openat2 is missing or denied: use the fallback */
};

/* Open the root directory. 0 or -errno. Any thread; no task needed. */
int static_root_open(struct static_root *r, const char *dir);
void static_root_close(struct static_root *r);

/* Open rel (from http_decode_path: no leading '/', no "." or ".."
 * segments) for reading; a directory serves its index.html. Fills *st and
 * *type (the Content-Type) and returns the fd (a regular file), or a negative status: -404 missing,
 * outside the root (a symlink that leads out), a dotfile, or not a
 * regular file; -403 permission denied; -414 name too long; -500 other.
 * Suspends: yes on the fallback path (sp_openat). Context: a task. */
int static_open(const struct static_root *r, const char *rel, struct stat *st,
                const char **type);

/* "text/html; charset=utf-8", ... by extension; application/octet-stream
 * for the rest. */
const char *static_content_type(const char *path);

#endif
