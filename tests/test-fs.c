/* Files and paths (include/spindle/fs.h) on both backends: data at
 * offsets, sync, statx, rename/unlink/mkdir/rmdir, sizes; bad input; the
 * fd of an open that races its cancellation reaches the caller; a
 * cancelled read never writes its buffer after it returned. Process
 * hazards (RELIABILITY.md B3): fork with a live runtime, exec sees no
 * spindle fd; and the backend fallback under a seccomp filter that denies
 * io_uring_setup (B6.1).
 *
 * Files live in a fresh directory under $TMPDIR (or /tmp), removed by each
 * test. Shared state lives in statics. */
#include "test.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX];

/* A fresh directory for the test's files; 0 or -1. */
static int
make_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/spindle-fs-XXXXXX", t && t[0] ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

/* dir/name into buf. */
static const char *
in_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

/* The byte every data test expects at file offset off. */
static unsigned char
byte_at(uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (unsigned char)(x >> ((off & 7) * 8));
}

static void
fill(unsigned char *buf, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++) {
        buf[i] = byte_at(off + i);
    }
}

/* --- big file at offsets, several tasks, checked byte by byte ------------ */

#define BIG_BYTES ((uint64_t)SCALE(32) * 1024 * 1024)
#define BIG_PARTS 4
#define FAR_OFF ((uint64_t)5 << 30) /* beyond 4 GiB: 64-bit offsets */

static int big_fd;

static intptr_t
big_writer(void *arg)
{
    int part = (int)(intptr_t)arg;
    static unsigned char bufs[BIG_PARTS][256 * 1024];
    unsigned char *buf = bufs[part];
    uint64_t seed = 11 + (uint64_t)part, off = BIG_BYTES / BIG_PARTS * (uint64_t)part;
    uint64_t end = off + BIG_BYTES / BIG_PARTS;
    while (off < end) {
        size_t n = 1 + test_rand(&seed) % sizeof(bufs[0]);
        n = n > end - off ? (size_t)(end - off) : n;
        fill(buf, n, off);
        ssize_t w;
        if (n & 1) {
            w = sp_pwrite(big_fd, buf, n, (off_t)off);
        } else { /* the vector form, split in two */
            struct iovec iov[2] = {{buf, n / 2}, {buf + n / 2, n - n / 2}};
            w = sp_writev(big_fd, iov, 2, (off_t)off);
        }
        ASSERT_GT(w, 0);
        off += (uint64_t)w; /* a short write goes on where it stopped */
    }
    return 0;
}

static intptr_t
big_reader(void *arg)
{
    static unsigned char bufs[BIG_PARTS][300 * 1024];
    unsigned char *buf = bufs[(int)(intptr_t)arg];
    uint64_t seed = 101 + (uint64_t)(intptr_t)arg;
    for (int i = 0; i < 64; i++) {
        uint64_t off = test_rand(&seed) % BIG_BYTES;
        size_t n = 1 + test_rand(&seed) % sizeof(bufs[0]);
        ssize_t r = sp_pread(big_fd, buf, n, (off_t)off);
        ASSERT_GT(r, 0);
        ASSERT_LE(r, (ssize_t)n);
        ASSERT_LE(off + (uint64_t)r, BIG_BYTES);
        for (ssize_t k = 0; k < r; k++) {
            if (buf[k] != byte_at(off + (uint64_t)k)) {
                ASSERT_EQ(buf[k], byte_at(off + (uint64_t)k));
            }
        }
    }
    return 0;
}

static int
spawn_parts(sp_task_fn fn)
{
    sp_task_t t[BIG_PARTS];
    for (int i = 0; i < BIG_PARTS; i++) {
        ASSERT_OK(sp_task_spawn(&t[i], NULL, fn, (void *)(intptr_t)i));
    }
    for (int i = 0; i < BIG_PARTS; i++) {
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t[i], &r));
        ASSERT_EQ(r, 0);
    }
    return 0;
}

static intptr_t
big_main(void *arg)
{
    (void)arg;
    char path[PATH_MAX + 16];
    big_fd = sp_open(in_dir(path, sizeof(path), "big"), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(big_fd, 0);
    ASSERT_OK(spawn_parts(big_writer));
    ASSERT_OK(sp_fdatasync(big_fd));
    ASSERT_OK(sp_fsync(big_fd));
    ASSERT_OK(spawn_parts(big_reader));
    /* The whole file, sequentially, with sp_read at the position. */
    static unsigned char buf[1 << 20];
    uint64_t off = 0;
    ASSERT_EQ(lseek(big_fd, 0, SEEK_SET), 0);
    for (ssize_t r; (r = sp_read(big_fd, buf, sizeof(buf))) != 0; off += (uint64_t)r) {
        ASSERT_GT(r, 0);
        for (ssize_t k = 0; k < r; k++) {
            if (buf[k] != byte_at(off + (uint64_t)k)) {
                ASSERT_EQ(buf[k], byte_at(off + (uint64_t)k));
            }
        }
    }
    ASSERT_U64_EQ(off, BIG_BYTES);
    /* Past 4 GiB: a sparse hole reads as zeros, the block as written. */
    fill(buf, 4096, FAR_OFF);
    ASSERT_EQ(sp_pwrite(big_fd, buf, 4096, (off_t)FAR_OFF), 4096);
    memset(buf, 1, 8192);
    ASSERT_EQ(sp_pread(big_fd, buf, 8192, (off_t)FAR_OFF - 4096), 8192);
    ASSERT_EQ(buf[0] | buf[4095], 0);
    ASSERT_EQ(buf[4096], byte_at(FAR_OFF));
    ASSERT_EQ(buf[8191], byte_at(FAR_OFF + 4095));
    struct statx stx;
    ASSERT_OK(sp_statx(big_fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx));
    ASSERT_U64_EQ(stx.stx_size, FAR_OFF + 4096);
    ASSERT_OK(sp_close(big_fd));
    ASSERT_OK(sp_unlink(path));
    return 0;
}

int
test_fs_big_file_offsets(void)
{
    ASSERT_OK(make_dir());
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, big_main, NULL);
    rmdir(dir);
    return r;
}

/* --- statx fields --------------------------------------------------------- */

static intptr_t
statx_main(void *arg)
{
    (void)arg;
    char path[PATH_MAX + 16], link[PATH_MAX + 16];
    mode_t mask = umask(022);
    umask(mask);
    int fd = sp_open(in_dir(path, sizeof(path), "f"), O_WRONLY | O_CREAT | O_EXCL, 0640);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(sp_write(fd, "hello, statx", 12), 12);
    struct statx a, b;
    memset(&a, 0xff, sizeof(a));
    ASSERT_OK(sp_statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &a));
    ASSERT_EQ(a.stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
    ASSERT_U64_EQ(a.stx_size, 12);
    ASSERT(S_ISREG(a.stx_mode));
    ASSERT_EQ(a.stx_mode & 0777, 0640 & ~mask);
    ASSERT_EQ(a.stx_nlink, 1);
    ASSERT_EQ(a.stx_uid, getuid());
    struct stat st;
    ASSERT_OK(fstat(fd, &st));
    ASSERT_U64_EQ(a.stx_ino, st.st_ino);
    /* The same file through its fd, and relative to a directory fd. */
    ASSERT_OK(sp_statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_SIZE, &b));
    ASSERT_U64_EQ(b.stx_ino, a.stx_ino);
    int dfd = sp_open(dir, O_RDONLY | O_DIRECTORY, 0);
    ASSERT_GE(dfd, 0);
    ASSERT_OK(sp_statx(dfd, "f", 0, STATX_INO, &b));
    ASSERT_U64_EQ(b.stx_ino, a.stx_ino);
    ASSERT_OK(sp_statx(dfd, ".", 0, STATX_TYPE, &b));
    ASSERT(S_ISDIR(b.stx_mode));
    /* A symlink: followed by default, not with AT_SYMLINK_NOFOLLOW. */
    ASSERT_OK(symlinkat("f", dfd, "l"));
    in_dir(link, sizeof(link), "l");
    ASSERT_OK(sp_statx(AT_FDCWD, link, 0, STATX_TYPE | STATX_INO, &b));
    ASSERT(S_ISREG(b.stx_mode));
    ASSERT_U64_EQ(b.stx_ino, a.stx_ino);
    ASSERT_OK(sp_statx(AT_FDCWD, link, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &b));
    ASSERT(S_ISLNK(b.stx_mode));
    ASSERT_OK(sp_unlinkat(dfd, "l", 0));
    ASSERT_OK(sp_unlinkat(dfd, "f", 0));
    ASSERT_ERR(sp_statx(AT_FDCWD, path, 0, STATX_SIZE, &b), -ENOENT);
    ASSERT_OK(sp_close(fd));
    ASSERT_OK(sp_close(dfd));
    return 0;
}

int
test_fs_statx_fields(void)
{
    ASSERT_OK(make_dir());
    sp_config_t cfg = test_config(1);
    int r = test_run_main(&cfg, statx_main, NULL);
    rmdir(dir);
    return r;
}

/* --- rename, unlink, mkdir, rmdir ----------------------------------------- */

static int
exists(const char *path)
{
    struct statx stx;
    int r = sp_statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx);
    return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

static intptr_t
paths_main(void *arg)
{
    (void)arg;
    char a[PATH_MAX + 16], b[PATH_MAX + 16], d[PATH_MAX + 16], e[PATH_MAX + 16];
    in_dir(a, sizeof(a), "a");
    in_dir(b, sizeof(b), "b");
    in_dir(d, sizeof(d), "d");
    in_dir(e, sizeof(e), "d/e");
    for (int i = 0; i < SCALE(200); i++) {
        int fd = sp_open(a, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(sp_write(fd, "A", 1), 1);
        ASSERT_OK(sp_close(fd));
        ASSERT_OK(sp_rename(a, b));
        ASSERT_EQ(exists(a), 0);
        ASSERT_EQ(exists(b), 1);
        ASSERT_OK(sp_mkdir(d, 0700));
        ASSERT_ERR(sp_mkdir(d, 0700), -EEXIST);
        ASSERT_OK(sp_renameat(AT_FDCWD, b, AT_FDCWD, e, 0)); /* into d */
        ASSERT_ERR(sp_rmdir(d), -ENOTEMPTY);
        ASSERT_ERR(sp_unlink(d), -EISDIR);
        ASSERT_ERR(sp_rmdir(e), -ENOTDIR);
        /* RENAME_NOREPLACE onto an existing name. */
        fd = sp_open(a, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_OK(sp_close(fd));
        ASSERT_ERR(sp_renameat(AT_FDCWD, a, AT_FDCWD, e, RENAME_NOREPLACE), -EEXIST);
        ASSERT_OK(sp_renameat(AT_FDCWD, a, AT_FDCWD, e, 0)); /* replaces */
        fd = sp_open(e, O_RDONLY, 0);
        ASSERT_GE(fd, 0);
        char c = 'x';
        ASSERT_EQ(sp_read(fd, &c, 1), 0); /* the empty one replaced "A" */
        ASSERT_OK(sp_close(fd));
        ASSERT_OK(sp_unlink(e));
        ASSERT_ERR(sp_unlink(e), -ENOENT);
        ASSERT_OK(sp_unlinkat(AT_FDCWD, d, AT_REMOVEDIR));
        ASSERT_EQ(exists(d), 0);
        ASSERT_ERR(sp_rmdir(d), -ENOENT);
        ASSERT_ERR(sp_rename(a, b), -ENOENT);
    }
    return 0;
}

int
test_fs_path_round_trips(void)
{
    ASSERT_OK(make_dir());
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, paths_main, NULL);
    rmdir(dir);
    return r;
}

/* --- ftruncate, fallocate ----------------------------------------------------- */

static int64_t
size_of(int fd, uint64_t *blocks)
{
    struct statx stx;
    int r = sp_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_BLOCKS, &stx);
    if (blocks) {
        *blocks = stx.stx_blocks;
    }
    return r < 0 ? r : (int64_t)stx.stx_size;
}

static intptr_t
sizes_main(void *arg)
{
    (void)arg;
    char path[PATH_MAX + 16];
    int fd = sp_open(in_dir(path, sizeof(path), "s"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_OK(sp_unlink(path));
    static unsigned char buf[65536];
    ASSERT_OK(sp_ftruncate(fd, 1 << 20));
    ASSERT_EQ(size_of(fd, NULL), 1 << 20);
    memset(buf, 1, sizeof(buf));
    ASSERT_EQ(sp_pread(fd, buf, sizeof(buf), 500000), (ssize_t)sizeof(buf));
    ASSERT_EQ(buf[0] | buf[sizeof(buf) - 1], 0);
    fill(buf, 1000, 0);
    ASSERT_EQ(sp_pwrite(fd, buf, 1000, 0), 1000);
    ASSERT_OK(sp_ftruncate(fd, 100));
    ASSERT_EQ(size_of(fd, NULL), 100);
    ASSERT_EQ(sp_pread(fd, buf, 1000, 0), 100);
    ASSERT_EQ(buf[99], byte_at(99));
    /* Reserve beyond the end: size grows with mode 0, not with KEEP_SIZE. */
    uint64_t b0, b1;
    ASSERT_EQ(size_of(fd, &b0), 100);
    int r = sp_fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4 << 20);
    if (r == -EOPNOTSUPP) {
        printf("skip fallocate: the file system in %s lacks it\n", dir);
        ASSERT_OK(sp_close(fd));
        return 0;
    }
    ASSERT_OK(r);
    ASSERT_EQ(size_of(fd, &b1), 100);
    ASSERT_U64_GE(b1, b0 + (4 << 20) / 512 - 8);
    ASSERT_OK(sp_fallocate(fd, 0, 1 << 20, 1 << 20));
    ASSERT_EQ(size_of(fd, NULL), 2 << 20);
    /* Punch a hole in written data: it reads back as zeros. */
    fill(buf, sizeof(buf), 0);
    ASSERT_EQ(sp_pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    ASSERT_OK(sp_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192, 8192));
    ASSERT_EQ(sp_pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    ASSERT_EQ(buf[8191], byte_at(8191));
    ASSERT_EQ(buf[8192] | buf[16383], 0);
    ASSERT_EQ(buf[16384], byte_at(16384));
    ASSERT_EQ(size_of(fd, NULL), 2 << 20);
    ASSERT_OK(sp_close(fd));
    return 0;
}

int
test_fs_truncate_fallocate(void)
{
    ASSERT_OK(make_dir());
    sp_config_t cfg = test_config(1);
    int r = test_run_main(&cfg, sizes_main, NULL);
    rmdir(dir);
    return r;
}

/* --- bad input -------------------------------------------------------------- */

static char long_path[PATH_MAX + 10];

static intptr_t
bad_main(void *arg)
{
    (void)arg;
    char buf[16], path[PATH_MAX + 16];
    struct statx stx;
    /* Paths: NULL, empty, too long, missing. */
    ASSERT_ERR(sp_open(NULL, O_RDONLY, 0), -EFAULT);
    ASSERT_ERR(sp_open("", O_RDONLY, 0), -ENOENT);
    ASSERT_ERR(sp_open(long_path, O_RDONLY, 0), -ENAMETOOLONG);
    ASSERT_ERR(sp_open(in_dir(path, sizeof(path), "missing"), O_RDONLY, 0), -ENOENT);
    ASSERT_ERR(sp_open(in_dir(path, sizeof(path), "no/such/dir"), O_RDONLY, 0), -ENOENT);
    ASSERT_ERR(sp_statx(AT_FDCWD, NULL, 0, STATX_SIZE, &stx), -EFAULT);
    ASSERT_ERR(sp_statx(AT_FDCWD, "", 0, STATX_SIZE, &stx), -ENOENT);
    ASSERT_ERR(sp_statx(AT_FDCWD, dir, 0, STATX_SIZE, NULL), -EFAULT);
    ASSERT_ERR(sp_statx(AT_FDCWD, long_path, 0, STATX_SIZE, &stx), -ENAMETOOLONG);
    ASSERT_ERR(sp_statx(9999, "relative", 0, STATX_SIZE, &stx), -EBADF);
    ASSERT_ERR(sp_rename(NULL, "x"), -EFAULT);
    ASSERT_ERR(sp_rename("x", ""), -ENOENT);
    ASSERT_ERR(sp_rename(long_path, "x"), -ENAMETOOLONG);
    ASSERT_ERR(sp_unlink(""), -ENOENT);
    ASSERT_ERR(sp_unlink(NULL), -EFAULT);
    ASSERT_ERR(sp_mkdir(long_path, 0700), -ENAMETOOLONG);
    ASSERT_ERR(sp_mkdir(in_dir(path, sizeof(path), "no/such"), 0700), -ENOENT);
    ASSERT_ERR(sp_open(dir, O_WRONLY, 0), -EISDIR);
    /* A directory: reads fail with -EISDIR on both backends. */
    int dfd = sp_open(dir, O_RDONLY | O_DIRECTORY, 0);
    ASSERT_GE(dfd, 0);
    ASSERT_ERR(sp_read(dfd, buf, sizeof(buf)), -EISDIR);
    ASSERT_ERR(sp_pread(dfd, buf, sizeof(buf), 0), -EISDIR);
    ASSERT_ERR(sp_ftruncate(dfd, 0), -EINVAL);
    ASSERT_OK(sp_close(dfd));
    /* Bad fds. */
    ASSERT_ERR(sp_fsync(-1), -EBADF);
    ASSERT_ERR(sp_fsync(9999), -EBADF);
    ASSERT_ERR(sp_fdatasync(9999), -EBADF);
    ASSERT_ERR(sp_ftruncate(9999, 0), -EBADF);
    ASSERT_ERR(sp_fallocate(9999, 0, 0, 1), -EBADF);
    ASSERT_ERR(sp_pread(9999, buf, 1, 0), -EBADF);
    /* Buffers and lengths. */
    int fd = sp_open(in_dir(path, sizeof(path), "bad"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_OK(sp_unlink(path));
    ASSERT_ERR(sp_pread(fd, NULL, 4, 0), -EFAULT);
    ASSERT_ERR(sp_pwrite(fd, NULL, 4, 0), -EFAULT);
    ASSERT_ERR(sp_pread(fd, buf, (size_t)1 << 40, 0), -EINVAL);
    ASSERT_ERR(sp_pread(fd, buf, SIZE_MAX, 0), -EINVAL);
    ASSERT_ERR(sp_pread(fd, buf, 1, -1), -EINVAL);
    ASSERT_ERR(sp_ftruncate(fd, -1), -EINVAL);
    ASSERT_ERR(sp_fallocate(fd, 0, -1, 1), -EINVAL);
    ASSERT_ERR(sp_fallocate(fd, 0, 0, 0), -EINVAL);
    ASSERT_ERR(sp_fallocate(fd, 0, INT64_MAX, INT64_MAX), -EFBIG);
    ASSERT_ERR(sp_ftruncate(fd, INT64_MAX), -EFBIG);
    ASSERT_EQ(sp_pread(fd, buf, 0, 0), 0);
    ASSERT_EQ(sp_pread(fd, buf, sizeof(buf), 1 << 30), 0); /* past the end */
    ASSERT_OK(sp_close(fd));
    /* Wrong direction: fsync of a pipe, write on a read-only file. */
    int p[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_ERR(sp_fsync(p[0]), -EINVAL);
    ASSERT_OK(sp_close(p[0]));
    ASSERT_OK(sp_close(p[1]));
    fd = sp_open("/dev/null", O_RDONLY, 0);
    ASSERT_GE(fd, 0);
    ASSERT_ERR(sp_pwrite(fd, "x", 1, 0), -EBADF);
    ASSERT_OK(sp_close(fd));
    return 0;
}

int
test_fs_bad_input(void)
{
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[0] = '/';
    ASSERT_OK(make_dir());
    ASSERT_ERR(sp_open("/dev/null", O_RDONLY, 0), -EPERM); /* outside a task */
    ASSERT_ERR(sp_mkdir(dir, 0700), -EPERM);
    sp_config_t cfg = test_config(1);
    int r = test_run_main(&cfg, bad_main, NULL);
    rmdir(dir);
    return r;
}

/* --- open versus cancel: the fd always reaches the caller ------------------- */

#define RACE_ROUNDS SCALE(10000)

static char race_path[PATH_MAX + 16];

static intptr_t
race_opener(void *arg)
{
    (void)arg;
    return sp_open(race_path, O_RDONLY, 0);
}

static intptr_t
race_main(void *arg)
{
    (void)arg;
    uint64_t seed = 99;
    long opened = 0, cancelled = 0;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        sp_task_t t;
        ASSERT_OK(sp_task_spawn(&t, NULL, race_opener, NULL));
        uint64_t how = test_rand(&seed);
        for (uint64_t k = how % 4; k > 0; k--) {
            sp_task_yield();
        }
        if (how & 16) {
            test_spin_ns((how >> 8) % 20000);
        }
        ASSERT_OK(sp_task_cancel(t));
        intptr_t fd = 0;
        ASSERT_OK(sp_task_join(t, &fd));
        if (fd >= 0) {
            /* The open happened: the fd is ours, and a working one. */
            char c;
            ASSERT_EQ(sp_pread((int)fd, &c, 1, 0), 1);
            ASSERT_EQ(c, 'r');
            ASSERT_OK(sp_close((int)fd));
            opened++;
        } else {
            ASSERT_ERR(fd, -ECANCELED);
            cancelled++;
        }
    }
    printf("%ld opens completed, %ld cancelled\n", opened, cancelled);
    return 0;
}

int
test_fs_open_cancel_race(void)
{
    ASSERT_OK(make_dir());
    in_dir(race_path, sizeof(race_path), "race");
    FILE *f = fopen(race_path, "we");
    ASSERT_NOT_NULL(f);
    fputs("race", f);
    fclose(f);
    sp_config_t cfg = test_config(2);
    /* test_run_main checks that the fd count is back at its baseline. */
    int r = test_run_main(&cfg, race_main, NULL);
    unlink(race_path);
    rmdir(dir);
    return r;
}

/* --- a cancelled read leaves its buffer alone once it returned -------------- */

#define CANARY_ROUNDS SCALE(2000)
#define CANARY 0xa5

static int cpipe[2];
static _Atomic int cstate; /* 1 reading, 2 returned, 3 main checked */
static _Atomic long cgot;  /* what the reader's read returned */

static intptr_t
canary_reader(void *arg)
{
    (void)arg;
    unsigned char buf[256];
    memset(buf, CANARY, sizeof(buf));
    atomic_store(&cstate, 1);
    ssize_t r = sp_read(cpipe[0], buf, sizeof(buf));
    atomic_store(&cgot, r);
    atomic_store(&cstate, 2);
    /* Keep this frame alive, and let the shard loop run (a cancelled
     * task's yield still switches), until main has written to the pipe and
     * looked at it: a read still live in the kernel would land now. */
    while (atomic_load(&cstate) != 3) {
        sp_task_yield();
    }
    ssize_t from = r > 0 ? r : 0;
    for (ssize_t i = from; i < (ssize_t)sizeof(buf); i++) {
        if (buf[i] != CANARY) {
            ASSERT_EQ(buf[i], CANARY);
        }
    }
    for (ssize_t i = 0; i < from; i++) {
        ASSERT_EQ(buf[i], 'm');
    }
    return 0;
}

static int
pipe_pending(void)
{
    int n = -1;
    return ioctl(cpipe[0], FIONREAD, &n) == 0 ? n : -1;
}

static intptr_t
canary_main(void *arg)
{
    (void)arg;
    ASSERT_OK(pipe2(cpipe, O_CLOEXEC));
    sp_task_attr_t on1 = test_attr(SP_PLACE_ON, 1);
    uint64_t seed = 5;
    long raced = 0;
    for (int i = 0; i < CANARY_ROUNDS; i++) {
        atomic_store(&cstate, 0);
        sp_task_t t;
        ASSERT_OK(sp_task_spawn(&t, &on1, canary_reader, NULL));
        while (atomic_load(&cstate) == 0) {
            sp_task_yield();
        }
        uint64_t how = test_rand(&seed);
        test_spin_ns(how % 5000);
        int early = (how >> 20) & 1; /* data races the cancel */
        if (early) {
            ASSERT_EQ(write(cpipe[1], "mmmm", 4), 4);
        }
        ASSERT_OK(sp_task_cancel(t));
        while (atomic_load(&cstate) != 2) {
            sp_task_yield();
        }
        long got = atomic_load(&cgot);
        if (!early) {
            ASSERT_EQ(write(cpipe[1], "mmmm", 4), 4);
        }
        for (int k = 0; k < 8; k++) {
            sp_task_yield(); /* both shards go round their loops */
        }
        if (got > 0) {
            raced++;
            ASSERT_EQ(got, 4);
            ASSERT_EQ(pipe_pending(), 0);
        } else {
            ASSERT_ERR(got, -ECANCELED);
            ASSERT_EQ(pipe_pending(), 4); /* nothing consumed */
            char m[4];
            ASSERT_EQ(read(cpipe[0], m, 4), 4);
        }
        atomic_store(&cstate, 3);
        intptr_t r = -1;
        ASSERT_OK(sp_task_join(t, &r));
        ASSERT_EQ(r, 0);
    }
    printf("%ld of %d reads completed before their cancel\n", raced, CANARY_ROUNDS);
    ASSERT_OK(sp_close(cpipe[0]));
    ASSERT_OK(sp_close(cpipe[1]));
    return 0;
}

int
test_fs_cancelled_read_canary(void)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, canary_main, NULL);
}

/* --- fork with a live runtime ------------------------------------------------ */

#define FORK_CHILDREN SCALE(20)

static int fork_pp[2][2];
static _Atomic int fork_stop;
static _Atomic long fork_trips;

static intptr_t
ping_task(void *arg)
{
    int side = (int)(intptr_t)arg;
    char c = 'p';
    for (;;) {
        if (side == 0) {
            if (atomic_load(&fork_stop)) {
                c = 'q';
            }
            ASSERT_EQ(sp_write(fork_pp[0][1], &c, 1), 1);
            ASSERT_EQ(sp_read(fork_pp[1][0], &c, 1), 1);
            atomic_fetch_add(&fork_trips, 1);
        } else {
            ASSERT_EQ(sp_read(fork_pp[0][0], &c, 1), 1);
            ASSERT_EQ(sp_write(fork_pp[1][1], &c, 1), 1);
        }
        if (c == 'q') {
            return 0;
        }
    }
}

/* The parent's busy runtime: a ping-pong between shards until told to stop. */
static intptr_t
busy_main(void *arg)
{
    (void)arg;
    sp_task_t a, b;
    sp_task_attr_t on0 = test_attr(SP_PLACE_ON, 0), on1 = test_attr(SP_PLACE_ON, 1);
    ASSERT_OK(sp_task_spawn(&a, &on0, ping_task, (void *)0));
    ASSERT_OK(sp_task_spawn(&b, &on1, ping_task, (void *)1));
    intptr_t ra = -1, rb = -1;
    ASSERT_OK(sp_task_join(a, &ra));
    ASSERT_OK(sp_task_join(b, &rb));
    ASSERT_EQ(ra | rb, 0);
    return 0;
}

static sp_runtime_t *fork_rt;
static intptr_t fork_busy_result = -1;

static void *
busy_thread(void *arg)
{
    (void)arg;
    if (sp_runtime_block_on(fork_rt, NULL, busy_main, NULL, &fork_busy_result) < 0) {
        fork_busy_result = -2;
    }
    return NULL;
}

/* In the child: a fresh runtime does a pipe round trip and a file read. */
static intptr_t
child_main(void *arg)
{
    (void)arg;
    int p[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_EQ(sp_write(p[1], "kid", 3), 3);
    char buf[8];
    ASSERT_EQ(sp_read(p[0], buf, sizeof(buf)), 3);
    ASSERT_OK(sp_close(p[0]));
    ASSERT_OK(sp_close(p[1]));
    int fd = sp_open("/proc/self/stat", O_RDONLY, 0);
    ASSERT_GE(fd, 0);
    ASSERT_GT(sp_pread(fd, buf, sizeof(buf), 0), 0);
    ASSERT_OK(sp_close(fd));
    return 7;
}

int
test_fs_fork_child_runtime(void)
{
#if defined(TEST_TSAN) || defined(TEST_ASAN)
    /* ThreadSanitizer does not support threads started after a fork of a
     * multi-threaded process (die_after_fork); AddressSanitizer's allocator
     * (gcc 12's libasan) takes no locks around fork, so a child may inherit
     * one held by another thread and hang in malloc (seen once in ~20
     * runs). */
    return TEST_SKIP;
#endif
    int fds0 = test_count_fds();
    sp_config_t cfg = test_config(2);
    TEST_CHECK(test_runtime_create(&fork_rt, &cfg));
    for (int s = 0; s < 2; s++) {
        ASSERT_OK(pipe2(fork_pp[s], O_CLOEXEC));
    }
    atomic_store(&fork_stop, 0);
    pthread_t th;
    ASSERT_OK(pthread_create(&th, NULL, busy_thread, NULL));
    for (int i = 0; i < FORK_CHILDREN; i++) {
        long before = atomic_load(&fork_trips);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            /* This thread was never a shard thread, so a runtime of its own
             * is allowed; the parent's is never touched. */
            intptr_t r = sp_run(NULL, child_main, NULL);
            _exit(r == 7 ? 0 : 1);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        /* The parent's runtime kept going meanwhile (no timing: wait). */
        while (atomic_load(&fork_trips) < before + 10) {
            sched_yield();
        }
    }
    atomic_store(&fork_stop, 1);
    ASSERT_OK(pthread_join(th, NULL));
    ASSERT_EQ(fork_busy_result, 0);
    ASSERT_OK(sp_runtime_destroy(fork_rt));
    for (int s = 0; s < 2; s++) {
        close(fork_pp[s][0]);
        close(fork_pp[s][1]);
    }
    ASSERT_EQ(test_count_fds(), fds0);
    return TEST_PASS;
}

/* --- exec sees no spindle fd ------------------------------------------------ */

/* Sets of fds 0..FDSET_MAX-1 (a number beyond lands in the last slot). */
#define FDSET_MAX 4096
typedef struct {
    unsigned char has[FDSET_MAX];
} fdset_t;

static void
fdset_add(fdset_t *s, long fd)
{
    s->has[fd >= 0 && fd < FDSET_MAX ? fd : FDSET_MAX - 1] = 1;
}

/* The first fd in exactly one of a and b, or -1 if the sets are equal. */
static int
fdset_diff(const fdset_t *a, const fdset_t *b)
{
    for (int fd = 0; fd < FDSET_MAX; fd++) {
        if (a->has[fd] != b->has[fd]) {
            return fd;
        }
    }
    return -1;
}

/* The fds exec would pass on: open and not close-on-exec. */
static void
inheritable_fds(fdset_t *s)
{
    memset(s, 0, sizeof(*s));
    for (int fd = 0; fd < FDSET_MAX; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC)) {
            fdset_add(s, fd);
        }
    }
}

/* Inheritable when the test started (the runner's stdin, stdout and
 * stderr, and whatever its own parent left open). */
static fdset_t inherit0;

/* Fork and exec `ls -l /proc/self/fd` from inside a task (on a shard
 * thread: the child only calls async-signal-safe functions before exec),
 * and return the set of fds it saw, its own directory fd left out. */
static intptr_t
exec_ls(fdset_t *seen)
{
    int out[2];
    ASSERT_OK(pipe2(out, O_CLOEXEC));
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1); /* dup2 clears close-on-exec on fd 1 only */
        char *argv[] = {"/bin/ls", "-l", "/proc/self/fd/", NULL};
        char *envp[] = {"LC_ALL=C", NULL};
        execve(argv[0], argv, envp);
        _exit(127);
    }
    ASSERT_OK(sp_close(out[1]));
    static char text[65536];
    size_t len = 0;
    for (ssize_t n; (n = sp_read(out[0], text + len, sizeof(text) - 1 - len)) > 0;) {
        len += (size_t)n;
    }
    text[len] = '\0';
    ASSERT_OK(sp_close(out[0]));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    memset(seen, 0, sizeof(*seen));
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *arrow = strstr(line, " -> ");
        if (!arrow) {
            continue; /* "total 0" */
        }
        char *num = arrow;
        while (num > line && num[-1] != ' ') {
            num--;
        }
        long fd = strtol(num, NULL, 10);
        if (strncmp(arrow + 4, "/proc/", 6) == 0) {
            continue; /* ls reading the directory */
        }
        if (fd < 0 || fd >= FDSET_MAX || !inherit0.has[fd]) {
            printf("exec'd program inherited: %s\n", line);
        }
        fdset_add(seen, fd);
    }
    return 0;
}

static intptr_t
exec_main(void *arg)
{
    (void)arg;
    /* One of every kind of fd spindle or its user makes: rings, doorbells
     * and epoll sets exist already; a file, a pipe, a socket pair; a pool
     * thread (ftruncate runs there on both backends). */
    char path[PATH_MAX + 16];
    int fd = sp_open(in_dir(path, sizeof(path), "x"), O_RDWR | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_OK(sp_ftruncate(fd, 10));
    ASSERT_OK(sp_unlink(path));
    int p[2], sv[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    ASSERT_EQ(sp_write(sv[0], "s", 1), 1);
    char c;
    ASSERT_EQ(sp_read(sv[1], &c, 1), 1);
    static fdset_t seen, now;
    ASSERT_OK(exec_ls(&seen));
    ASSERT_EQ(fdset_diff(&seen, &inherit0), -1);
    /* Nothing in this process is inheritable beyond what was at start. */
    inheritable_fds(&now);
    ASSERT_EQ(fdset_diff(&now, &inherit0), -1);
    ASSERT_OK(sp_close(fd));
    ASSERT_OK(sp_close(p[0]));
    ASSERT_OK(sp_close(p[1]));
    ASSERT_OK(sp_close(sv[0]));
    ASSERT_OK(sp_close(sv[1]));
    return 0;
}

int
test_fs_exec_sees_no_fds(void)
{
    inheritable_fds(&inherit0);
    ASSERT_OK(make_dir());
    sp_config_t cfg = test_config(2);
    int r = test_run_main(&cfg, exec_main, NULL);
    rmdir(dir);
    return r;
}

/* --- a privilege drop after the runtime exists (RELIABILITY.md B3.3) -------- */

/* With SQPOLL (libuv's CVE-2024-22017) or a worker keeping its creator's
 * credentials, io_uring would still open files as root after setuid.
 * spindle uses no SQPOLL; this holds it to that, on both backends. */
static intptr_t
setuid_main(void *arg)
{
    (void)arg;
    char secret[PATH_MAX + 16], warm[PATH_MAX + 16];
    int fd = sp_open(in_dir(secret, sizeof(secret), "secret"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(sp_write(fd, "root", 4), 4);
    ASSERT_OK(sp_close(fd));
    /* Creating opens cannot finish without blocking: io_uring hands them to
     * its worker threads, which now exist, made while we were root. */
    for (int i = 0; i < 8; i++) {
        fd = sp_open(in_dir(warm, sizeof(warm), "warm"), O_RDWR | O_CREAT | O_TRUNC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_OK(sp_close(fd));
    }
    ASSERT_OK(chmod(dir, 0755)); /* others may look in, not write */
    ASSERT_OK(setgroups(0, NULL));
    ASSERT_OK(setgid(65534));
    ASSERT_OK(setuid(65534));
    ASSERT_EQ(geteuid(), 65534);
    for (int shard = 0; shard < sp_shard_count(); shard++) {
        ASSERT_OK(sp_task_move_to(shard));
        ASSERT_ERR(sp_open(secret, O_RDONLY, 0), -EACCES);
        ASSERT_ERR(sp_open(secret, O_RDWR | O_CREAT, 0600), -EACCES);
        ASSERT_ERR(sp_open(in_dir(warm, sizeof(warm), "new"), O_RDWR | O_CREAT, 0600), -EACCES);
        ASSERT_ERR(sp_unlink(secret), -EACCES);
        ASSERT_ERR(sp_rename(secret, warm), -EACCES);
    }
    return 0;
}

int
test_fs_setuid_after_create(void)
{
    if (geteuid() != 0) {
        printf("skip: needs root (to drop it)\n");
        return TEST_SKIP;
    }
    ASSERT_OK(make_dir());
    /* The drop cannot be undone: a child drops, we clean up as root. */
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        sp_config_t cfg = test_config(2);
        _exit(test_run_main(&cfg, setuid_main, NULL) == TEST_PASS ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    char path[PATH_MAX + 16];
    /* Still there and still root's: nothing was renamed or unlinked. */
    struct stat st;
    ASSERT_OK(stat(in_dir(path, sizeof(path), "secret"), &st));
    ASSERT_EQ(st.st_uid, 0);
    unlink(path);
    unlink(in_dir(path, sizeof(path), "warm"));
    rmdir(dir);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    return 0;
}

/* --- the epoll fallback under a seccomp filter ------------------------------- */

static intptr_t
fallback_io(void *arg)
{
    (void)arg;
    int p[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_EQ(sp_write(p[1], "round", 5), 5);
    char buf[8] = {0};
    ASSERT_EQ(sp_read(p[0], buf, sizeof(buf)), 5);
    ASSERT_OK(memcmp(buf, "round", 5));
    ASSERT_OK(sp_close(p[0]));
    ASSERT_OK(sp_close(p[1]));
    char path[PATH_MAX + 16];
    int fd = sp_open(in_dir(path, sizeof(path), "fb"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(sp_pwrite(fd, "trip", 4, 4096), 4);
    ASSERT_OK(sp_fsync(fd));
    ASSERT_EQ(sp_pread(fd, buf, 4, 4096), 4);
    ASSERT_OK(memcmp(buf, "trip", 4));
    ASSERT_OK(sp_close(fd));
    ASSERT_OK(sp_unlink(path));
    return 0;
}

/* Child body: exit status 0 if everything held; messages on stderr. */
static int
fallback_child_body(int err)
{
    unsetenv("SPINDLE_BACKEND"); /* the runner forces one; we want auto */
    sp_runtime_t *rt;
    /* A first runtime before the filter: the kernel's io_uring is probed
     * and remembered then, and the fallback must still happen after. */
    ASSERT_OK(sp_runtime_create(&rt, NULL));
    ASSERT_OK(sp_runtime_destroy(rt));
    ASSERT_OK(test_deny_io_uring(err));
    ASSERT_OK(sp_runtime_create(&rt, NULL));
    ASSERT_STR_EQ(sp_runtime_backend_name(rt), "epoll");
    intptr_t res = -1;
    ASSERT_OK(sp_runtime_block_on(rt, NULL, fallback_io, NULL, &res));
    ASSERT_EQ(res, 0);
    ASSERT_OK(sp_runtime_destroy(rt));
    fprintf(stderr, "-- now forced --\n");
    setenv("SPINDLE_BACKEND", "uring", 1);
    ASSERT_ERR(sp_runtime_create(&rt, NULL), -err);
    return 0;
}

static void
fallback_child(void *arg)
{
    _exit(fallback_child_body((int)(intptr_t)arg));
}

static int
count_in(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p++) {
        n++;
    }
    return n;
}

int
test_fs_seccomp_fallback(void)
{
    if (!test_can_deny_io_uring()) {
        return TEST_SKIP;
    }
    ASSERT_OK(make_dir());
    static const int errs[] = {EPERM, ENOSYS};
    static const char *const why[] = {"seccomp", "ENOSYS"};
    for (int i = 0; i < 2; i++) {
        static char out[65536];
        int status = 0;
        ASSERT_OK(test_run_child(fallback_child, (void *)(intptr_t)errs[i], out,
                                 sizeof(out), &status));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("--- child (io_uring_setup -> %s) ---\n%s---\n", sp_err_name(-errs[i]),
                   out);
        }
        ASSERT(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        /* One line for the fallback, naming the cause and the override. */
        char *forced = strstr(out, "-- now forced --");
        ASSERT_NOT_NULL(forced);
        *forced = '\0';
        ASSERT_EQ(count_in(out, "using the epoll backend"), 1);
        ASSERT_EQ(count_in(out, why[i]), 1);
        ASSERT_EQ(count_in(out, "SPINDLE_BACKEND"), 1);
        /* Forced uring: a clear error instead. */
        ASSERT_EQ(count_in(forced + 1, "io_uring backend requested but unavailable"), 1);
    }
    rmdir(dir);
    return TEST_PASS;
}
