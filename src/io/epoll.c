/* The epoll backend: for kernels or sandboxes without io_uring. A shard
 * sleeps in epoll_pwait2 (nanosecond timeouts) on its eventfd doorbell,
 * which every waker writes, shard or not.
 *
 * Operations: socket calls run non-blocking (MSG_DONTWAIT, or after a
 * readiness check) and wait for readiness between attempts; calls that may
 * block (files, paths) run on the blocking pool. Readiness: each shard has
 * its own table, indexed by fd, of the tasks waiting on that fd (waiter
 * records on their stacks, all touched only by the shard's own thread),
 * and registers the fd in its epoll set with EPOLLONESHOT for the union of
 * their events. A fired event wakes the waiters it satisfies and re-arms
 * for the rest. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "io/op.h"
#include "io/sys.h"
#include "sched/sched.h"

#define MAX_EVENTS 64

/* A task waiting for readiness of one fd, on its stack. */
struct ep_waiter {
    struct ep_waiter *next, *prev;
    struct sp__task *task;
    unsigned events;   /* EPOLLIN / EPOLLOUT wanted */
    unsigned revents;  /* what fired (set before the wake) */
    int fired;
    int closed;        /* the fd is being closed: give up with -EBADF */
};

struct ep_fd {
    struct ep_waiter *head;
    unsigned armed;    /* events registered with the kernel (0: none) */
    int added;         /* known to the epoll set */
};

struct epoll_shard {
    int epfd;
    struct ep_fd *fds; /* indexed by fd, grown on demand */
    int nfds;
    long waiters;      /* tasks waiting for readiness: poll must look */
    struct epoll_event evs[MAX_EVENTS]; /* fetched by wait, dispatched by poll */
    int nevs;
};

static int
epoll_probe(const sp_config_t *cfg, const char **why)
{
    (void)cfg;
    *why = NULL;
    return 0;
}

static int
epoll_init(struct sp__shard *sh)
{
    struct epoll_shard *e = calloc(1, sizeof(*e));
    if (!e) {
        return -ENOMEM;
    }
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    sh->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (e->epfd < 0 || sh->wake_fd < 0 ||
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, sh->wake_fd, &ev) < 0) {
        int err = -errno;
        if (e->epfd >= 0) {
            close(e->epfd);
        }
        if (sh->wake_fd >= 0) {
            close(sh->wake_fd);
            sh->wake_fd = -1; /* nobody may ring a number the app may reuse */
        }
        free(e);
        return err;
    }
    sh->ring_fd = -1;
    sh->backend = e;
    return 0;
}

static void
epoll_fini(struct sp__shard *sh)
{
    struct epoll_shard *e = sh->backend;
    if (!e) {
        return;
    }
    close(e->epfd);
    close(sh->wake_fd);
    sh->wake_fd = -1;
    free(e->fds);
    free(e);
    sh->backend = NULL;
}

static struct ep_fd *
fd_state(struct epoll_shard *e, int fd)
{
    if (fd >= e->nfds) {
        int n = e->nfds ? e->nfds : 64;
        while (n <= fd) {
            n *= 2;
        }
        struct ep_fd *v = realloc(e->fds, (size_t)n * sizeof(*v));
        if (!v) {
            return NULL;
        }
        memset(v + e->nfds, 0, (size_t)(n - e->nfds) * sizeof(*v));
        e->fds = v;
        e->nfds = n;
    }
    return &e->fds[fd];
}

/* Register fd for the union of its waiters' events (one-shot). */
static int
arm(struct epoll_shard *e, int fd, struct ep_fd *f)
{
    unsigned want = 0;
    for (struct ep_waiter *w = f->head; w; w = w->next) {
        want |= w->events;
    }
    if (want == 0 || want == f->armed) {
        return 0;
    }
    struct epoll_event ev = {.events = want | EPOLLONESHOT, .data.u64 = (uint64_t)fd + 1};
    int r = f->added ? epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) : -1;
    if (r < 0 && (!f->added || errno == ENOENT)) {
        /* Not in the set (new, or closed and reopened under this number). */
        r = epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (r < 0 && errno == EEXIST) {
            r = epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev);
        }
    }
    if (r < 0) {
        return -errno;
    }
    f->added = 1;
    f->armed = want;
    return 0;
}

static void
unlink_waiter(struct epoll_shard *e, struct ep_fd *f, struct ep_waiter *w)
{
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        f->head = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    w->next = w->prev = NULL;
    e->waiters--;
}

static void
fire(struct epoll_shard *e, int fd, unsigned revents)
{
    struct ep_fd *f = &e->fds[fd];
    f->armed = 0; /* one-shot: the kernel disarmed it */
    unsigned any = EPOLLERR | EPOLLHUP;
    for (struct ep_waiter *w = f->head, *next; w; w = next) {
        next = w->next;
        if (revents & (w->events | any)) {
            w->revents = revents;
            w->fired = 1;
            unlink_waiter(e, f, w);
            sp__wake(w->task);
        }
    }
    arm(e, fd, f);
}

static void
dispatch_events(struct sp__shard *sh, struct epoll_shard *e)
{
    for (int i = 0; i < e->nevs; i++) {
        uint64_t tag = e->evs[i].data.u64;
        if (tag == 0) {
            uint64_t v;
            while (read(sh->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR) {
            }
        } else if ((int)(tag - 1) < e->nfds) {
            fire(e, (int)(tag - 1), e->evs[i].events);
        }
    }
    e->nevs = 0;
}

static void
epoll_poll(struct sp__shard *sh)
{
    struct epoll_shard *e = sh->backend;
    if (e->nevs == 0 && e->waiters > 0) {
        int n = sp__sys_epoll_wait(e->epfd, e->evs, MAX_EVENTS, 0);
        e->nevs = n > 0 ? n : 0;
    }
    dispatch_events(sh, e);
}

static void
epoll_wait_for(struct sp__shard *sh, uint64_t timeout_ns)
{
    struct epoll_shard *e = sh->backend;
    struct timespec ts, *tsp = NULL;
    if (e->nevs > 0) {
        return; /* undispatched events: nothing to wait for */
    }
    if (timeout_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
        ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
        tsp = &ts;
    }
    int n = epoll_pwait2(e->epfd, e->evs, MAX_EVENTS, tsp, NULL);
    if (n < 0 && errno == ENOSYS) {
        /* NOTE: epoll_pwait2 needs Linux 5.11; before it, millisecond
         * timeouts rounded up (a timer may fire up to 1 ms late, never
         * early). */
        int ms = -1;
        if (timeout_ns != UINT64_MAX) {
            uint64_t t = (timeout_ns + 999999) / 1000000;
            ms = t > INT32_MAX ? INT32_MAX : (int)t;
        }
        n = epoll_wait(e->epfd, e->evs, MAX_EVENTS, ms);
    }
    e->nevs = n > 0 ? n : 0;
}

/* Park t until fd is ready for `events`; returns the events that fired,
 * -EBADF if the fd is being closed, or the task's -ECANCELED/-ETIMEDOUT. */
static long
wait_ready(struct sp__shard *sh, struct sp__task *t, int fd, unsigned events)
{
    struct epoll_shard *e = sh->backend;
    struct ep_fd *f = fd >= 0 ? fd_state(e, fd) : NULL;
    if (!f) {
        return fd < 0 ? -EBADF : -ENOMEM;
    }
    struct ep_waiter w = {.task = t, .events = events, .next = f->head};
    if (f->head) {
        f->head->prev = &w;
    }
    f->head = &w;
    e->waiters++;
    int r = arm(e, fd, f);
    if (r < 0) {
        unlink_waiter(e, f, &w);
        return r; /* e.g. -EPERM: a regular file cannot be polled */
    }
    int err = 0;
    while (!w.fired && err == 0) {
        /* Readiness is reported to this shard's epoll set: stay here. */
        sp_store_relaxed(&t->resume, sh->index);
        err = sp__park(SP_DEADLINE_NONE);
    }
    sp_store_relaxed(&t->resume, SP_NO_SHARD);
    if (!w.fired) {
        /* Other tasks may have grown the table while we were parked. */
        f = &e->fds[fd];
        unlink_waiter(e, f, &w);
        if (!f->head) {
            /* The kernel may still hold the one-shot armed, but nothing in
             * this table says when the fd is closed: a close with no call
             * in flight skips cancel_fd, and close(2) drops the
             * registration. Trusting `armed` then, the next waiter on a
             * file reopened under this number with the same events would
             * skip arm() and never be woken. So the next arm() re-arms
             * (MOD, or ADD after ENOENT). */
            f->armed = 0;
        }
        return err;
    }
    return w.closed ? -EBADF : (long)w.revents;
}

static int
is_socket_op(int op)
{
    return op == SP_OP_RECV || op == SP_OP_SEND || op == SP_OP_RECVMSG ||
           op == SP_OP_SENDMSG;
}

/* Regular files and block devices are always "ready" and may block: they
 * go to the blocking pool. */
static int
is_rw(int op)
{
    return op == SP_OP_READ || op == SP_OP_WRITE || op == SP_OP_READV ||
           op == SP_OP_WRITEV;
}

static int
may_block(int op, const struct sp__io_args *a)
{
    if (op == SP_OP_POLL) {
        return 0;
    }
    if (sp__opdefs[op].poll == 0 || (is_rw(op) && a->off >= 0)) {
        return 1; /* files, paths, and reads/writes at an offset */
    }
    if (!is_rw(op)) {
        return 0; /* socket calls */
    }
    struct stat st;
    return fstat(a->fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static long
connect_nb(struct sp__shard *sh, struct sp__task *t, struct sp__io_args *a)
{
    long r;
    /* -EAGAIN (a Unix socket whose listener's backlog is full): nothing
     * is in progress; try again once the socket is writable. */
    while ((r = sp__opdefs[SP_OP_CONNECT].sync(a)) == -EAGAIN) {
        r = wait_ready(sh, t, a->fd, EPOLLOUT);
        if (r < 0) {
            return r;
        }
    }
    if (r != -EINPROGRESS) {
        return r;
    }
    r = wait_ready(sh, t, a->fd, EPOLLOUT);
    if (r < 0) {
        return r;
    }
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
        return -errno;
    }
    return -soerr;
}

static long
epoll_io(struct sp__shard *sh, struct sp__task *t, int op, struct sp__io_args *a)
{
    const struct sp__opdef *d = &sp__opdefs[op];
    if (op == SP_OP_POLL) {
        return wait_ready(sh, t, a->fd, (unsigned)a->flags);
    }
    if (may_block(op, a)) {
        return sp__io_blocking(op, a);
    }
    if (op == SP_OP_CONNECT) {
        return connect_nb(sh, t, a);
    }
    if ((op == SP_OP_READ || op == SP_OP_WRITE) && a->len == 0) {
        return d->sync(a); /* checks the fd, never waits */
    }
    struct sp__io_args b = *a;
    int check_ready = 0;
    if (is_socket_op(op)) {
        b.flags |= MSG_DONTWAIT;
    } else if (op != SP_OP_ACCEPT) {
        /* read/write on a pipe, tty or socket that the caller may have
         * left blocking: try only once poll says it is ready. A wrong
         * direction would never become ready, so check it first. */
        int fl = fcntl(a->fd, F_GETFL);
        if (fl < 0) {
            return -errno;
        }
        int acc = fl & O_ACCMODE, writing = d->poll == POLLOUT;
        if ((writing && acc == O_RDONLY) || (!writing && acc == O_WRONLY)) {
            return -EBADF;
        }
        check_ready = !(fl & O_NONBLOCK);
    }
    for (;;) {
        long r;
        if (!check_ready) {
            r = d->sync(&b);
        } else {
            struct pollfd p = {.fd = a->fd, .events = (short)d->poll};
            r = poll(&p, 1, 0) == 1 ? d->sync(&b) : -EAGAIN;
        }
        if (r != -EAGAIN && r != -EWOULDBLOCK) {
            return r;
        }
        r = wait_ready(sh, t, a->fd, d->poll);
        if (r < 0) {
            return r;
        }
    }
}

static void
epoll_cancel_fd(struct sp__shard *sh, int fd)
{
    struct epoll_shard *e = sh->backend;
    if (fd < 0 || fd >= e->nfds) {
        return;
    }
    struct ep_fd *f = &e->fds[fd];
    while (f->head) {
        struct ep_waiter *w = f->head;
        w->fired = w->closed = 1;
        unlink_waiter(e, f, w);
        sp__wake(w->task);
    }
    if (f->added) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    f->added = 0;
    f->armed = 0;
}

static void
epoll_wake_from_shard(struct sp__shard *from, struct sp__shard *to)
{
    (void)from;
    sp__doorbell_ring(to->wake_fd);
}

static void
epoll_wake_from_thread(struct sp__shard *to)
{
    sp__doorbell_ring(to->wake_fd);
}

const struct sp__backend_ops sp__epoll_backend = {
    .name = "epoll",
    .probe = epoll_probe,
    .init = epoll_init,
    .fini = epoll_fini,
    .poll = epoll_poll,
    .wait = epoll_wait_for,
    .wake_from_shard = epoll_wake_from_shard,
    .wake_from_thread = epoll_wake_from_thread,
    .io = epoll_io,
    .io_batch = sp__io_batch_pool,
    .cancel_fd = epoll_cancel_fd,
};
