/* The epoll backend: for kernels or sandboxes without io_uring. A shard
 * sleeps in epoll_pwait2 (nanosecond timeouts) on its eventfd doorbell,
 * which every waker writes, shard or not.
 *
 * Operations: socket calls run non-blocking (MSG_DONTWAIT, or after a
 * readiness check) and wait for readiness between attempts; calls that may
 * block (files, paths) run on the blocking pool. Readiness: each shard has
 * its own table, indexed by fd, of the tasks waiting on that fd (waiter
 * records on their stacks, all touched only by the shard's own thread),
 * and registers the fd in its epoll set once, edge-triggered, for every
 * event any waiter wanted: a wait on a registered fd costs no epoll_ctl.
 * An event wakes the waiters it satisfies; the rest stay. The registration
 * is trusted while the fd table's generation of the number is unchanged
 * (sp_close and spindle's own fd creation change it); a number closed with
 * close(2) and reused is caught by revalidating waits that last a round
 * (docs/design/io.md, "epoll"). */
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

#include "io/fdtab.h"
#include "io/io.h"
#include "io/op.h"
#include "io/sys.h"
#include "sched/sched.h"

#define MAX_EVENTS 64
/* Events in a row that find no waiter before the fd leaves this shard's
 * set: its tasks read without waiting, or moved to another shard. */
#define QUIET_MAX 2
/* How often waits that trusted a registration are checked with the kernel:
 * the longest a wait on a number reused behind spindle's back can go
 * unanswered is two of these. */
#define ROUND_NS (250 * SP_NSEC_PER_MSEC)
/* Deferred receives (see defer_receive): an fd's score rises to at most
 * RR_MAX; a deferral that found nothing at score 1 sends it down to
 * -RR_COOLDOWN, so that a peer that answers late (another machine) costs
 * one wasted deferral per RR_COOLDOWN + 2 receives, not every other one.
 * While deferring, one receive in so many tries at once all the same (a
 * probe), to see whether data now waits for it (a stream) and deferring
 * is wasted. In a request and its reply the probe finds nothing and waits
 * in epoll: at one in 16 that was 2.5% of an echo round trip. So a probe
 * that finds nothing doubles the gap to the next, up to 256 receives, and
 * one that finds data (deferring stops) sets it back to PROBE_MIN: a
 * stream that stalls now and then, and so defers again, is soon probed
 * again. */
#define RR_MAX 3
#define RR_COOLDOWN 4
#define PROBE_MIN 16u
#define PROBE_SHIFT_MAX 4 /* gaps of PROBE_MIN << 0..4 */

/* A task waiting for readiness of one fd, on its stack. */
struct ep_waiter {
    struct ep_waiter *next, *prev;
    struct sp__task *task;
    unsigned events;   /* EPOLLIN / EPOLLOUT wanted */
    unsigned revents;  /* what fired (set before the wake) */
    int fired;
    int closed;        /* the fd is being closed: give up with -EBADF */
    unsigned round;    /* e->round when the wait began */
    int unchecked;     /* began on a trusted registration, not yet checked */
};

struct ep_fd {
    struct ep_waiter *head;
    unsigned reg;      /* events of our registration (0: not in the set) */
    uint32_t gen;      /* the fd table's generation of the number then */
    unsigned quiet;    /* events in a row that found no waiter */
    int rr;            /* receives' score: > 0 defers them (defer_receive) */
    unsigned recvs;    /* deferred receives since the last probe */
    unsigned probe_shift; /* PROBE_MIN << probe_shift receives between probes */
    int probing;       /* the receive in progress is a probe */
};

/* A task whose receive waits for the next poll (defer_receive), held on
 * the shard's list: not parked (YIELD_HELD). */
struct ep_deferred {
    struct ep_deferred *next;
    struct sp__task *task;
};

struct epoll_shard {
    int epfd;
    struct ep_fd *fds; /* indexed by fd, grown on demand */
    int nfds;
    long waiters;      /* tasks waiting for readiness: poll must look */
    long unchecked;    /* waiters with `unchecked` set */
    struct ep_deferred *deferred, **deferred_tail; /* queued by the next poll */
    unsigned round;    /* revalidation rounds so far */
    unsigned polls;
    uint64_t next_round; /* sp__now() due for the next */
    uint64_t round_ns; /* ROUND_NS, or never (SPINDLE_FEATURES_OFF=epoll_recheck) */
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
    /* Off, a wait that needs the recheck hangs: the tests of the paths
     * that must not need it turn it off. */
    e->round_ns = sp__feature_off("epoll_recheck") ? UINT64_MAX : ROUND_NS;
    e->deferred_tail = &e->deferred;
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
fd_state_grow(struct epoll_shard *e, int fd)
{
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
    return &e->fds[fd];
}

/* This shard's state of fd (>= 0), or NULL out of memory. */
static inline struct ep_fd *
fd_state(struct epoll_shard *e, int fd)
{
    return sp_likely(fd < e->nfds) ? &e->fds[fd] : fd_state_grow(e, fd);
}

/* Put fd in the set for `events`, edge-triggered: MOD if we believe it is
 * there, else ADD; the other one if the kernel says we were wrong (ENOENT:
 * the number was closed and reopened; EEXIST: a stale belief). */
static int
ctl(struct epoll_shard *e, int fd, unsigned events, int in_set)
{
    struct epoll_event ev = {.events = events | EPOLLET, .data.u64 = (uint64_t)fd + 1};
    int r = epoll_ctl(e->epfd, in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && errno == (in_set ? ENOENT : EEXIST)) {
        r = epoll_ctl(e->epfd, in_set ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    }
    return r < 0 ? -errno : 0;
}

/* Make sure fd is registered for `want`. Returns 1 if the registration was
 * trusted without a system call, 0 if one made or checked it, or -errno. */
static int
registration(struct epoll_shard *e, int fd, struct ep_fd *f, unsigned want, uint32_t gen)
{
    int current = f->reg && f->gen == gen;
    if (current && (want & ~f->reg) == 0) {
        return 1;
    }
    unsigned events = want | (current ? f->reg : 0);
    int r = ctl(e, fd, events, current);
    if (r < 0) {
        return r;
    }
    f->reg = events;
    f->gen = gen;
    return 0;
}

static void
leave_set(struct epoll_shard *e, int fd, struct ep_fd *f)
{
    if (f->reg) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    f->reg = 0;
    f->quiet = 0;
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
    if (w->unchecked) {
        w->unchecked = 0;
        e->unchecked--;
    }
}

/* Leave the set for an fd that none of this shard's tasks is using: so
 * another shard's task may be closing it right now. The removal counts as
 * a call in flight in the fd table, so that sp_close waits for it rather
 * than close the number under it (docs/design/io.md, "close"); after a
 * close, close(2) has dropped the registration already. */
static void
quit_quiet_fd(struct sp__shard *sh, struct epoll_shard *e, int fd, struct ep_fd *f)
{
    struct sp__fdent *fe = f->reg ? sp__fdtab_get(sh->rt, fd) : NULL;
    if (fe && sp_load_seqcst(&fe->gen) == f->gen && sp__fdtab_enter(fe, sh->index) == 0) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
        sp__fdtab_leave(fe);
    }
    f->reg = 0;
    f->quiet = 0;
}

static void
fire(struct sp__shard *sh, struct epoll_shard *e, int fd, unsigned revents)
{
    struct ep_fd *f = &e->fds[fd];
    if (!f->head) {
        /* Edge-triggered, the event is not lost to a later wait: that wait
         * first tries its call. But a shard should not be woken for fds
         * that other shards serve. */
        if (++f->quiet >= QUIET_MAX) {
            quit_quiet_fd(sh, e, fd, f);
        }
        return;
    }
    f->quiet = 0;
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
}

/* A wait that trusted the registration is checked with the kernel once it
 * has lasted a whole round: if the number was closed with close(2) (which
 * drops the registration) and reused without spindle knowing, MOD fails
 * with ENOENT and the fd is added again; if it is closed now, the waiters
 * are woken to retry their call and meet the error. */
static void
revalidate(struct sp__shard *sh, struct epoll_shard *e)
{
    unsigned round = ++e->round;
    for (int fd = 0; fd < e->nfds && e->unchecked > 0; fd++) {
        struct ep_fd *f = &e->fds[fd];
        int due = 0;
        for (struct ep_waiter *w = f->head; w; w = w->next) {
            due |= w->unchecked && w->round + 2 <= round;
        }
        if (!due) {
            continue;
        }
        for (struct ep_waiter *w = f->head; w; w = w->next) {
            if (w->unchecked) {
                w->unchecked = 0;
                e->unchecked--;
            }
        }
        if (ctl(e, fd, f->reg, 1) < 0) {
            f->reg = 0;
            fire(sh, e, fd, EPOLLERR);
        }
    }
}

static void
maybe_revalidate(struct sp__shard *sh, struct epoll_shard *e)
{
    if (e->unchecked == 0 || e->round_ns == UINT64_MAX) {
        return;
    }
    uint64_t now = sp__now();
    if (now >= e->next_round) {
        e->next_round = now + e->round_ns;
        revalidate(sh, e);
    }
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
            fire(sh, e, (int)(tag - 1), e->evs[i].events);
        }
    }
    e->nevs = 0;
}

static void
epoll_poll(struct sp__shard *sh)
{
    struct epoll_shard *e = sh->backend;
    if (e->nevs == 0 && e->waiters > 0) {
        int n = (int)sp__sys_epoll_wait(e->epfd, e->evs, MAX_EVENTS, 0);
        e->nevs = n > 0 ? n : 0;
    }
    dispatch_events(sh, e);
    /* After the events: a deferred receive then runs behind the tasks
     * that this poll woke, which may be about to send its data. */
    struct ep_deferred *d = e->deferred;
    e->deferred = NULL;
    e->deferred_tail = &e->deferred;
    while (d) {
        struct ep_deferred *next = d->next; /* d is on a stack that may run now */
        sp__requeue_held(sh, d->task);
        d = next;
    }
    if (sp_unlikely(e->unchecked > 0) && (++e->polls & 63) == 0) {
        maybe_revalidate(sh, e);
    }
}

static void
epoll_wait_for(struct sp__shard *sh, uint64_t timeout_ns)
{
    struct epoll_shard *e = sh->backend;
    struct timespec ts, *tsp = NULL;
    if (e->nevs > 0 || e->deferred) {
        return; /* undispatched events, or receives the next poll resumes */
    }
    if (e->unchecked > 0 && timeout_ns > e->round_ns) {
        timeout_ns = e->round_ns; /* wake to check them */
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
    maybe_revalidate(sh, e);
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
    struct sp__fdent *fe = sp__fdtab_get(sh->rt, fd);
    int r = registration(e, fd, f, events, fe ? sp_load_seqcst(&fe->gen) : 0);
    if (r < 0) {
        return r; /* e.g. -EPERM: a regular file cannot be polled */
    }
    struct ep_waiter w = {.task = t, .events = events, .next = f->head, .round = e->round,
                          .unchecked = r};
    if (f->head) {
        f->head->prev = &w;
    }
    f->head = &w;
    e->waiters++;
    e->unchecked += r;
    f->quiet = 0;
    if (fe && sp_load_seqcst(&fe->closing)) {
        /* An sp_close is under way and its cancel_fd may have run here
         * already, while this task was queued holding its in-flight count
         * (woken, or deferred): it would never wake this waiter, and the
         * close would wait for us for ever. A cancel_fd still to come runs
         * on this thread after we park, and sees the waiter. */
        unlink_waiter(e, f, &w);
        return -EBADF;
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

/* A receive on a socket whose last receives found no data at once, as in a
 * request and its reply, waits for the shard's next poll before it tries:
 * the peer's task, if this shard serves it, then runs first, woken by that
 * poll or queued already, and the data is there when the receive tries.
 * It is what the uring backend gets from putting receives in the SQ after
 * the sends of the same loop iteration (uring.c, flush_deferred): on one
 * shard, a request and its reply then cost a send and a receive each, no
 * failed receive and no epoll_wait (echo round trip 8 -> 4 system calls).
 * A receive that found data at once (a stream) ends deferring (score 0 or
 * below); one that found none raises the score by one, up to 1; a
 * deferred one that found data raises it, one that found none lowers it,
 * from 1 into a cool-down (RR_COOLDOWN). Returns 1 if the receive was
 * deferred, 0 if not, or the task's -ECANCELED / -ETIMEDOUT. */
static int
defer_receive(struct sp__shard *sh, struct epoll_shard *e, struct sp__task *t, struct ep_fd *f)
{
    if (f->rr <= 0) {
        return 0;
    }
    if (++f->recvs >= PROBE_MIN << f->probe_shift) {
        f->recvs = 0;
        f->probing = 1;
        return 0;
    }
    struct ep_deferred d = {.task = t};
    *e->deferred_tail = &d;
    e->deferred_tail = &d.next;
    /* Held, not parked: the poll queues the task whatever happens, so no
     * wake can be lost, and a cancellation or deadline is seen right
     * after it, a loop iteration from now. */
    sp__shard_switch_out(sh, t, YIELD_HELD);
    int err = sp__suspend_result(t);
    return err < 0 ? err : 1;
}

static void
score_receive(struct ep_fd *f, int deferred, long r)
{
    int got = r != -EAGAIN && r != -EWOULDBLOCK;
    if (f->probing) {
        f->probe_shift = got ? 0 : f->probe_shift + (f->probe_shift < PROBE_SHIFT_MAX);
        f->probing = 0;
    }
    if (!deferred) {
        f->rr = got ? (f->rr < 0 ? f->rr : 0) : f->rr + (f->rr < 1);
    } else if (got) {
        f->rr += f->rr < RR_MAX;
    } else {
        f->rr = f->rr > 1 ? f->rr - 1 : -RR_COOLDOWN;
    }
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

/* recv, send and their msghdr forms: the hot path of a network server,
 * kept apart from the checks that only files and pipes need (not inlined:
 * epoll_io reaches it with a jump, without their stack frame). */
static __attribute__((noinline)) long
sock_io(struct sp__shard *sh, struct sp__task *t, int op, struct sp__io_args *a)
{
    int receive = op == SP_OP_RECV || op == SP_OP_RECVMSG;
    unsigned events = receive ? POLLIN : POLLOUT;
    struct ep_fd *f = receive ? fd_state(sh->backend, a->fd) : NULL;
    int deferred = 0;
    if (f) {
        deferred = defer_receive(sh, sh->backend, t, f);
        if (deferred < 0) {
            return deferred;
        }
        if (deferred) {
            /* Requeued stealable (a busy shard), the task may run on another
             * shard now: from here on, that shard's table (or this one,
             * grown meanwhile). */
            sh = sp__shard_current();
            f = fd_state(sh->backend, a->fd);
        }
    }
    for (int first = 1;; first = 0) {
        long r = sp__sock_call(op, a, MSG_DONTWAIT);
        if (f && first) {
            score_receive(f, deferred, r);
        }
        if (r != -EAGAIN && r != -EWOULDBLOCK) {
            return r;
        }
        r = wait_ready(sh, t, a->fd, events);
        if (r < 0) {
            return r;
        }
    }
}

/* Everything but socket data: polls, connect, accept, and files, pipes
 * and terminals, which may need the blocking pool. */
static __attribute__((noinline)) long
other_io(struct sp__shard *sh, struct sp__task *t, int op, struct sp__io_args *a)
{
    const struct sp__opdef *d = &sp__opdefs[op];
    if (op == SP_OP_POLL) {
        /* Edge-triggered: a wait must follow an attempt that found the fd
         * not ready, or it could wait for an edge that came before. */
        struct pollfd p = {.fd = a->fd, .events = (short)a->flags};
        int n = poll(&p, 1, 0);
        if (n != 0) {
            return n < 0 ? -errno : (p.revents & POLLNVAL ? -EBADF : p.revents);
        }
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
    int check_ready = 0;
    if (op != SP_OP_ACCEPT) {
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
            r = d->sync(a);
        } else {
            struct pollfd p = {.fd = a->fd, .events = (short)d->poll};
            r = poll(&p, 1, 0) == 1 ? d->sync(a) : -EAGAIN;
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

static long
epoll_io(struct sp__shard *sh, struct sp__task *t, int op, struct sp__io_args *a)
{
    return is_socket_op(op) ? sock_io(sh, t, op, a) : other_io(sh, t, op, a);
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
    leave_set(e, fd, f);
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
