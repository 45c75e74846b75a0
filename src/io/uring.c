/* The io_uring backend: one ring per shard, created on the shard's own
 * thread with SINGLE_ISSUER and DEFER_TASKRUN where the kernel has them.
 *
 * Doorbells: another shard posts a CQE into this ring with IORING_OP_MSG_RING
 * (from its own ring, so no extra fd); other threads write the shard's
 * eventfd, on which the shard keeps a read armed. Both are only rung when
 * the shard sleeps (docs/design/park-wake.md), so the CQ never fills with
 * them.
 *
 * user_data tagging: operation records are 16-byte aligned, so low bits
 * 1..3 mark backend-internal CQEs. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "io/io.h"
#include "io/op.h"
#include "io/sys.h"
#include "sched/sched.h"
#include "spindle/io.h"

enum {
    TAG_OP = 0,         /* user_data is a struct sp__op */
    TAG_DOORBELL = 1,   /* a MSG_RING from another shard */
    TAG_EVENTFD = 2,    /* the armed doorbell read */
    TAG_MSG_SOURCE = 3, /* our own MSG_RING failed */
    TAG_CANCEL = 4,     /* an ASYNC_CANCEL's own CQE: informational */
    TAG_MASK = 15
};

struct uring_io;

struct uring_shard {
    struct io_uring ring;
    uint64_t efd_value;  /* read target of the armed eventfd read */
    int efd_armed;
    unsigned inflight;   /* operations submitted or deferred, not yet
                          * completed */
    /* Receives wait here, in arrival order, until the batch is submitted
     * (flush_deferred): see uring_io. */
    struct uring_io *deferred, **deferred_tail;
    /* Without IORING_ASYNC_CANCEL_FD, every operation in flight, so that
     * cancel_fd can cancel them one by one (docs/design/io.md). */
    struct uring_io *live;
    unsigned reap_streak; /* operations reaped by their task in a row */
    int enter_fd;         /* the ring's fd, or its registered index */
    unsigned enter_flags; /* IORING_ENTER_REGISTERED_RING if registered */
    int getevents_lazily; /* DEFER_TASKRUN ring that flags its task work:
                           * see submit_and_get_events */
};

/* How many operations in a row a task alone on its shard may submit and
 * reap itself (uring_io) before it parks the usual way: the loop's other
 * steps (timers, the stall detector's switch count) wait that long. */
#define REAP_STREAK_MAX 16

/* Kernel capabilities, probed once per process. */
static struct {
    pthread_once_t once;
    int err;
    const char *why;
    unsigned setup_flags;
    int msg_ring;
    int cancel_fd; /* IORING_ASYNC_CANCEL_FD (5.19) */
    int reg_ring;  /* may try IORING_REGISTER_RING_FDS (5.18) */
    unsigned char op_ok[SP_OP_COUNT]; /* the ring has the opcode */
} caps = {.once = PTHREAD_ONCE_INIT};

static int
try_setup(unsigned flags)
{
    struct io_uring ring;
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = flags;
    int err = io_uring_queue_init_params(4, &ring, &p);
    if (err == 0) {
        io_uring_queue_exit(&ring);
        /* Without NODROP (before 5.5) a full CQ silently drops completions
         * and a task would wait for ever (RELIABILITY.md B1.1): such a
         * kernel gets the epoll backend. */
        if (!(p.features & IORING_FEAT_NODROP)) {
            err = -ENOTSUP;
        }
    }
    return err;
}

/* Does ASYNC_CANCEL take IORING_ASYNC_CANCEL_FD? 5.19 answers -ENOENT for an
 * fd with nothing to cancel; older kernels reject the flag with -EINVAL. */
static int
probe_cancel_fd(void)
{
    struct io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) < 0) {
        return 0;
    }
    int ok = 0;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_cancel_fd(sqe, ring.ring_fd, 0);
    struct io_uring_cqe *cqe;
    if (io_uring_submit_and_wait(&ring, 1) >= 0 && io_uring_peek_cqe(&ring, &cqe) == 0) {
        ok = cqe->res != -EINVAL;
        io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
    return ok;
}

static const char *
why_failed(int err)
{
    switch (err) {
    case -ENOSYS:
        return "the kernel has no io_uring (ENOSYS)";
    case -EPERM:
        return "io_uring is disabled (sysctl kernel.io_uring_disabled or seccomp)";
    case -ENOMEM:
        return "no memory for a ring (RLIMIT_MEMLOCK too low?)";
    case -ENOTSUP:
        return "the kernel's io_uring may drop completions (no IORING_FEAT_NODROP, "
               "before 5.5)";
    default:
        return "io_uring_setup failed";
    }
}

static void
probe_once(void)
{
    /* NOTE: SINGLE_ISSUER needs 6.0, DEFER_TASKRUN 6.1; COOP_TASKRUN 5.19. */
    static const unsigned tries[] = {
        /* TASKRUN_FLAG (5.19): the kernel says in the SQ ring's flags when
         * task work is waiting (submit_and_get_events). */
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int err = -ENOSYS;
    /* SPINDLE_FEATURES_OFF may mask the newer flags (src/core/features.c). */
    size_t first = sp__feature_off("coop_taskrun")    ? 2
                   : sp__feature_off("defer_taskrun") ? 1
                                                      : 0;
    for (size_t i = first; i < sizeof(tries) / sizeof(tries[0]); i++) {
        err = try_setup(tries[i]);
        if (err == 0) {
            caps.setup_flags = tries[i];
            break;
        }
    }
    caps.err = err;
    caps.why = err < 0 ? why_failed(err) : NULL;
    if (err == 0) {
        struct io_uring_probe *pr = io_uring_get_probe();
        caps.msg_ring = pr && io_uring_opcode_supported(pr, IORING_OP_MSG_RING) &&
                        !sp__feature_off("msg_ring");
        caps.cancel_fd = probe_cancel_fd() && !sp__feature_off("cancel_fd");
        caps.reg_ring = !sp__feature_off("reg_ring");
        for (int op = 0; op < SP_OP_COUNT; op++) {
            int uop = sp__opdefs[op].uring_op;
            caps.op_ok[op] = pr && uop >= 0 && io_uring_opcode_supported(pr, uop);
        }
        if (pr) {
            io_uring_free_probe(pr);
        }
    }
}

static int
uring_probe(const sp_config_t *cfg, const char **why)
{
    (void)cfg;
    pthread_once(&caps.once, probe_once);
    *why = caps.why;
    if (caps.err < 0) {
        return caps.err;
    }
    /* What the kernel offers is probed once; whether this process may
     * still make a ring is asked at every runtime (a seccomp filter or the
     * sysctl may have changed since), so that AUTO can still fall back.
     * Asked with zero entries: the kernel checks the sysctl (and a seccomp
     * filter sees the call) before it rejects the size with EINVAL, so the
     * answer costs one syscall, not a ring set up and torn down (tens of
     * us of every runtime's creation). */
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    long fd = syscall(__NR_io_uring_setup, 0, &p);
    int err = fd < 0 ? -errno : 0;
    if (fd >= 0) {
        close((int)fd); /* a kernel that took zero entries: allowed */
    }
    if (err == -EINVAL) {
        err = 0;
    }
    if (err < 0) {
        *why = why_failed(err);
    }
    return err;
}

static void
arm_eventfd(struct sp__shard *sh, struct uring_shard *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    io_uring_prep_read(sqe, sh->wake_fd, &u->efd_value, sizeof(u->efd_value), 0);
    io_uring_sqe_set_data64(sqe, TAG_EVENTFD);
    u->efd_armed = 1;
}

static int
uring_init(struct sp__shard *sh)
{
    struct uring_shard *u = calloc(1, sizeof(*u));
    if (!u) {
        return -ENOMEM;
    }
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = caps.setup_flags;
    int err = io_uring_queue_init_params(sh->rt->cfg.ring_entries, &u->ring, &p);
    if (err < 0) {
        free(u);
        return err;
    }
    /* The child of a fork must not share the ring's memory with us: it
     * would see our completions (RELIABILITY.md B3.1; src/core/fork.c). */
    io_uring_ring_dontfork(&u->ring);
    /* Every io_uring_enter of this ring is made by this thread (the ring
     * is the shard's). Registered, the kernel finds the ring without an
     * fd lookup, which in a process with more than one thread takes and
     * drops a reference on the ring's file at every enter (echo over a
     * Unix socket pair: about 80 ns of a 2.3 us round trip). Before 5.18
     * the kernel refuses, and enters look the fd up as before. */
    if (caps.reg_ring && io_uring_register_ring_fd(&u->ring) == 1) {
        u->enter_fd = u->ring.enter_ring_fd;
        u->enter_flags = IORING_ENTER_REGISTERED_RING;
    } else {
        u->enter_fd = u->ring.ring_fd;
    }
    u->getevents_lazily = (caps.setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
    sh->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (sh->wake_fd < 0) {
        err = -errno;
        io_uring_queue_exit(&u->ring);
        free(u);
        return err;
    }
    sh->ring_fd = u->ring.ring_fd;
    u->deferred_tail = &u->deferred;
    sh->backend = u;
    arm_eventfd(sh, u);
    io_uring_submit(&u->ring);
    return 0;
}

static void
uring_fini(struct sp__shard *sh)
{
    struct uring_shard *u = sh->backend;
    if (!u) {
        return;
    }
    io_uring_queue_exit(&u->ring);
    close(sh->wake_fd);
    sh->wake_fd = -1;
    sh->ring_fd = -1;
    free(u);
    sh->backend = NULL;
}

static inline void flush_deferred(struct sp__shard *sh, struct uring_shard *u);
static inline void io_complete(struct sp__shard *sh, struct sp__op *op, int res, unsigned flags);

/* The CQEs posted so far (one acquire of the tail; later ones wait for
 * the next dispatch), then one release of the head: liburing's
 * for_each_cqe re-reads the tail at every entry and allows for 32-byte
 * CQEs, which this ring never has. */
static void
dispatch(struct sp__shard *sh, struct uring_shard *u)
{
    struct io_uring_cq *cq = &u->ring.cq;
    unsigned head = *cq->khead;
    unsigned tail = __atomic_load_n(cq->ktail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
        const struct io_uring_cqe *cqe = &cq->cqes[head & cq->ring_mask];
        uint64_t ud = cqe->user_data;
        switch (ud & TAG_MASK) {
        case TAG_OP: {
            struct sp__op *op = (struct sp__op *)(uintptr_t)ud;
            u->inflight--;
            if (sp_likely(op->complete == io_complete)) {
                io_complete(sh, op, cqe->res, cqe->flags); /* inline */
            } else {
                op->complete(sh, op, cqe->res, cqe->flags);
            }
            break;
        }
        case TAG_EVENTFD:
            u->efd_armed = 0;
            break;
        case TAG_MSG_SOURCE:
            /* Our MSG_RING failed (the target's CQ was full, say): ring the
             * target's eventfd instead so the wake is not lost. */
            if (cqe->res < 0) {
                sp__doorbell_ring(sh->rt->shards[ud >> 4]->wake_fd);
            }
            break;
        default: /* TAG_DOORBELL ended the wait; TAG_CANCEL tells nothing
                  * the cancelled operation's own CQE will not */
            break;
        }
    }
    __atomic_store_n(cq->khead, tail, __ATOMIC_RELEASE);
}

/* liburing's io_uring_submit_and_get_events, inline: publish the SQ tail
 * (the ring is never SQPOLL, so a plain store, ordered by the system call)
 * and enter. One frame less between a task and the system call (see
 * below). Errors are left to the next enter, as before: a full CQ
 * (-EBUSY) leaves the SQEs queued, and the dispatch that follows makes
 * room.
 *
 * GETEVENTS runs the task work that DEFER_TASKRUN keeps for us: the
 * completions of operations that waited in the kernel (a receive that
 * found no data and armed a poll). It costs about 1% of a loopback echo
 * round trip even when there is nothing to run, and an operation that
 * completes during the submit needs none of it: its CQE is posted before
 * the enter returns. So it is asked for only where task work may be, or
 * may arrive during this enter:
 *   - the kernel has flagged work waiting (IORING_SQ_TASKRUN, with
 *     TASKRUN_FLAG) or CQEs in its overflow list (IORING_SQ_CQ_OVERFLOW);
 *   - an operation submitted by an earlier enter is still in flight
 *     (inflight counts this batch's operations too, so more in flight than
 *     SQEs submitted now means an older one): this batch may be what
 *     completes it (a send whose data it waits for).
 * A guess that errs (an SQE here that is no operation, such as a cancel,
 * hiding an older one in flight) only delays that completion to the
 * loop's own poll, which submits nothing and so always asks; and the loop
 * never sleeps but in an enter that asks (uring_wait). Rings without
 * DEFER_TASKRUN run their task work on any enter, and always ask as
 * before. */
static inline __attribute__((always_inline)) void
submit_and_get_events(struct uring_shard *u)
{
    struct io_uring_sq *sq = &u->ring.sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        __atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
    }
    unsigned submit = tail - __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
    unsigned flags = u->enter_flags;
    if (!u->getevents_lazily || u->inflight > submit ||
        (__atomic_load_n(sq->kflags, __ATOMIC_RELAXED) &
         (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))) {
        flags |= IORING_ENTER_GETEVENTS;
    }
    sp__sys_io_uring_enter(u->enter_fd, submit, 0, flags);
}

/* Inlined where a task submits (reap_if_alone): each function level
 * between the task's code and the system call costs a mispredicted
 * return after it (sys.h). */
static inline __attribute__((always_inline)) void
submit_and_dispatch(struct sp__shard *sh, struct uring_shard *u)
{
    flush_deferred(sh, u);
    /* With nothing in flight nothing new can complete: skip the syscall,
     * but still reap what a wait left in the CQ. */
    if (u->inflight || io_uring_sq_ready(&u->ring)) {
        submit_and_get_events(u);
    }
    if (io_uring_cq_ready(&u->ring)) {
        dispatch(sh, u);
    }
}

/* Alone on the shard (nothing else runnable), a task about to park for
 * its operation makes the loop's next poll itself: see uring_io. *reaping
 * tells the completion handlers that the task is running and needs no
 * wake. */
static inline __attribute__((always_inline)) void
reap_if_alone(struct sp__shard *sh, struct uring_shard *u, int *reaping)
{
    if (u->reap_streak < REAP_STREAK_MAX && !sp__runq_has_work(sh)) {
        u->reap_streak++;
        *reaping = 1;
        submit_and_dispatch(sh, u);
        *reaping = 0;
    }
}

static void
uring_poll(struct sp__shard *sh)
{
    struct uring_shard *u = sh->backend;
    u->reap_streak = 0;
    submit_and_dispatch(sh, u);
}

static void
uring_wait(struct sp__shard *sh, uint64_t timeout_ns)
{
    struct uring_shard *u = sh->backend;
    struct io_uring_cqe *cqe;
    if (!u->efd_armed) {
        arm_eventfd(sh, u);
    }
    flush_deferred(sh, u);
    if (timeout_ns == UINT64_MAX) {
        io_uring_submit_and_wait(&u->ring, 1);
    } else {
        struct __kernel_timespec ts = {
            .tv_sec = (long long)(timeout_ns / 1000000000ull),
            .tv_nsec = (long long)(timeout_ns % 1000000000ull),
        };
        io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
}

static void
uring_wake_from_shard(struct sp__shard *from, struct sp__shard *to)
{
    struct uring_shard *u = from->backend;
    if (!caps.msg_ring || !u || to->ring_fd < 0) {
        sp__doorbell_ring(to->wake_fd);
        return;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    io_uring_prep_msg_ring(sqe, to->ring_fd, 0, TAG_DOORBELL, 0);
    io_uring_sqe_set_data64(sqe, TAG_MSG_SOURCE | ((uint64_t)to->index << 4));
    /* The sender needs a CQE only if the message failed. */
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    /* Submit now rather than at the end of the loop iteration: the target
     * is asleep, and the running task may not switch out for a while. */
    io_uring_submit(&u->ring);
}

static void
uring_wake_from_thread(struct sp__shard *to)
{
    sp__doorbell_ring(to->wake_fd);
}

void
sp__doorbell_ring(int fd)
{
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(fd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
}

/* --- operations ---------------------------------------------------------- */

/* One operation in flight, on the waiting task's stack. Written by the
 * shard's dispatch and read by the task: the task stays on this shard
 * until the CQE (t->resume); after it, the wake orders the two if the task
 * runs elsewhere (sp__wake_released). */
struct uring_io {
    struct sp__op base;
    struct sp__task *task;
    int res;
    int done;
    int op;                    /* enum sp__opcode */
    struct sp__io_args *args;  /* the caller's, for a deferred prep */
    struct uring_io *next;     /* on the deferred list */
    struct uring_io *live_next, **live_prev; /* on u->live (no cancel_fd) */
    int reaping;               /* its task is running the dispatch itself */
};

static inline void
io_complete(struct sp__shard *sh, struct sp__op *op, int res, unsigned flags)
{
    (void)flags;
    struct uring_io *io = (struct uring_io *)op;
    io->res = res;
    io->done = 1;
    if (io->reaping) {
        return;
    }
    /* Done: the task may run on any shard now (wake.c), unless it must
     * come back to unlink itself from this shard's live list (no
     * cancel_fd). */
    if (caps.cancel_fd) {
        sp__wake_released(sh, io->task);
    } else {
        sp__wake_on(sh, io->task);
    }
}

/* A free SQE, submitting (and if the kernel asks, reaping) to make room:
 * a full SQ is a normal event under load, never an error. */
static __attribute__((noinline)) struct io_uring_sqe *
get_sqe_slow(struct sp__shard *sh, struct uring_shard *u)
{
    struct io_uring_sqe *sqe;
    while ((sqe = io_uring_get_sqe(&u->ring)) == NULL) {
        int r = io_uring_submit(&u->ring);
        if (r == -EBUSY || r == -EAGAIN) {
            /* CQEs are backed up (overflow list): reap, then retry. */
            io_uring_get_events(&u->ring);
            dispatch(sh, u);
        }
    }
    return sqe;
}

/* The common case inline: room in the SQ. liburing's io_uring_get_sqe
 * without its SQPOLL and SQE128 cases, which this ring never has: the
 * kernel moves the SQ head only inside our own enters, so a plain read
 * serves. */
static inline __attribute__((always_inline)) struct io_uring_sqe *
get_sqe(struct sp__shard *sh, struct uring_shard *u)
{
    struct io_uring_sq *sq = &u->ring.sq;
    unsigned tail = sq->sqe_tail;
    if (sp_likely(tail - *sq->khead < sq->ring_entries)) {
        sq->sqe_tail = tail + 1;
        return &sq->sqes[tail & sq->ring_mask];
    }
    return get_sqe_slow(sh, u);
}

/* The SQE of operation op with arguments a, for record io: the socket
 * send and receive inline (the calls that come most often, one after the
 * other), the rest through the table. */
static inline __attribute__((always_inline)) void
prep_sqe(struct io_uring_sqe *sqe, int op, const struct sp__io_args *a, struct uring_io *io)
{
    if (op == SP_OP_SEND) {
        SP__PREP_SEND(sqe, a);
    } else if (op == SP_OP_RECV) {
        SP__PREP_RECV(sqe, a);
    } else {
        sp__opdefs[op].prep(sqe, a);
    }
    io_uring_sqe_set_data(sqe, io);
}

/* Receives go into the SQ after everything else prepared in the same loop
 * iteration. A receive whose data a send of this very batch provides (the
 * other end of a connection served by the same shard, as in a request and
 * its reply) then completes inline during the submit; queued before that
 * send, it would find no data, arm a poll, and complete through the
 * poll's wake and task work: measured 8.9 against 7.1 us per loopback echo
 * round trip in a hand-written liburing loop (bench/net_echo.c). Tasks that
 * run concurrently have no order among their operations, so none is
 * broken. */
static inline __attribute__((always_inline)) void
flush_deferred(struct sp__shard *sh, struct uring_shard *u)
{
    struct uring_io *io;
    while ((io = u->deferred) != NULL) {
        u->deferred = io->next;
        if (!u->deferred) {
            u->deferred_tail = &u->deferred;
        }
        prep_sqe(get_sqe(sh, u), io->op, io->args, io);
    }
}

static int
defers(int op)
{
    return sp__opdefs[op].poll == POLLIN;
}

static void
cancel_op(struct sp__shard *sh, struct uring_shard *u, struct uring_io *io)
{
    /* Still deferred, or deferred behind it: into the SQ first, so that the
     * cancel finds it (the SQ is consumed in order). */
    flush_deferred(sh, u);
    struct io_uring_sqe *sqe = get_sqe(sh, u);
    io_uring_prep_cancel(sqe, io, 0);
    io_uring_sqe_set_data64(sqe, TAG_CANCEL);
}

static long
uring_io(struct sp__shard *sh, struct sp__task *t, int op, struct sp__io_args *a)
{
    struct uring_shard *u = sh->backend;
    if (!caps.op_ok[op]) {
        return sp__io_blocking(op, a);
    }
    struct uring_io io = {.base.complete = io_complete, .task = t, .op = op, .args = a};
    if (defers(op)) {
        *u->deferred_tail = &io;
        u->deferred_tail = &io.next;
    } else {
        prep_sqe(get_sqe(sh, u), op, a, &io);
    }
    u->inflight++;
    if (!caps.cancel_fd) {
        io.live_next = u->live;
        io.live_prev = &u->live;
        if (u->live) {
            u->live->live_prev = &io.live_next;
        }
        u->live = &io;
    }
    /* Submitted by the loop's next poll, with whatever else the shard's
     * tasks prepared meanwhile (one io_uring_enter per iteration). With
     * nothing else runnable here, that poll would come next anyway: make
     * it now, from this task. An operation that completes during the
     * submit (a cached read, a send with room, a receive whose data is
     * there) then returns without a park, a switch to the loop, a wake and
     * a switch back. Other tasks' completions are queued as usual, so this
     * task runs on ahead of them until its next suspension point (at most
     * REAP_STREAK_MAX calls). */
    reap_if_alone(sh, u, &io.reaping);
    if (!io.done && sh->timers.n == 0) {
        /* The task parks: a switch, which the stall detector counts and
         * after which run_batch looks at the inbox. With no timer on the
         * shard nothing else waits for the loop's own poll, so the streak
         * starts again (echo on one shard: it ran out every 8th round
         * trip, and that round trip parked its send too). */
        u->reap_streak = 0;
    }
    int err = 0;
    while (!io.done) {
        /* The CQE is posted to this ring and dispatched by this shard:
         * every wake must bring the task back here. sp__park clears
         * resume when it disarms a deadline timer, so set it each time. */
        sp_store_relaxed(&t->resume, sh->index);
        if (err < 0) {
            sp__park_nointr();
            continue;
        }
        err = sp__park_on(sh, t, SP_DEADLINE_NONE); /* the CQE brings us back to sh */
        if (err < 0 && !io.done) {
            cancel_op(sh, u, &io);
        }
    }
    sp_store_relaxed(&t->resume, SP_NO_SHARD);
    if (!caps.cancel_fd) {
        *io.live_prev = io.live_next;
        if (io.live_next) {
            io.live_next->live_prev = io.live_prev;
        }
    }
    /* Cancelled for our own reason: report that reason. An operation that
     * completed before the cancel reached it keeps its result (an accepted
     * fd is returned, not leaked). */
    if (err < 0 && (io.res == -ECANCELED || io.res == -EINTR)) {
        return err;
    }
    return io.res;
}

/* --- batches (sp_io_batch) ---------------------------------------------- */

/* One request of a batch in flight: 16-byte aligned like every operation
 * record; its index is its place in the batch's array. */
struct batch_slot {
    struct sp__op base;
    struct uring_batch *batch;
};

_Static_assert(SP__BATCH_MAX <= 64, "uring_batch.done is one 64-bit mask");

/* On the waiting task's stack; touched by the shard's dispatch and the
 * task, both on the shard's thread (the task stays here until the last
 * CQE). One wake, when the last request completes. */
struct uring_batch {
    struct sp__task *task;
    sp_io_req_t **reqs;
    unsigned pending;
    int reaping;   /* as in struct uring_io */
    uint64_t done; /* bit i: slot i has its CQE */
    struct batch_slot slot[SP__BATCH_MAX];
};

static void
batch_complete(struct sp__shard *sh, struct sp__op *op, int res, unsigned flags)
{
    (void)flags;
    struct batch_slot *s = (struct batch_slot *)op;
    struct uring_batch *b = s->batch;
    unsigned i = (unsigned)(s - b->slot);
    b->reqs[i]->res = res;
    b->done |= 1ull << i;
    if (--b->pending == 0 && !b->reaping) {
        sp__wake_on(sh, b->task);
    }
}

static int
uring_io_batch(struct sp__shard *sh, struct sp__task *t, sp_io_req_t **reqs, unsigned n)
{
    struct uring_shard *u = sh->backend;
    /* Without cancel-by-fd an operation must be on the live list for
     * sp_close to find it; without the opcodes, the pool. One by one. */
    if (!caps.cancel_fd || !caps.op_ok[SP_OP_READ] || !caps.op_ok[SP_OP_WRITE]) {
        return -ENOSYS;
    }
    struct uring_batch b = {.task = t, .reqs = reqs, .pending = n};
    for (unsigned i = 0; i < n; i++) {
        sp_io_req_t *r = reqs[i];
        struct io_uring_sqe *sqe = get_sqe(sh, u);
        if (r->op == SP_IO_PREAD) {
            io_uring_prep_read(sqe, r->fd, r->buf, (unsigned)r->len, (uint64_t)r->off);
        } else {
            io_uring_prep_write(sqe, r->fd, r->buf, (unsigned)r->len, (uint64_t)r->off);
        }
        b.slot[i].base.complete = batch_complete;
        b.slot[i].batch = &b;
        io_uring_sqe_set_data(sqe, &b.slot[i]);
        u->inflight++; /* before the next get_sqe, which may submit */
    }
    reap_if_alone(sh, u, &b.reaping);
    int err = 0;
    while (b.pending > 0) {
        sp_store_relaxed(&t->resume, sh->index); /* as in uring_io */
        if (err < 0) {
            sp__park_nointr();
            continue;
        }
        err = sp__park(SP_DEADLINE_NONE);
        if (err < 0) {
            /* A cancel whose slot completes before it is submitted (get_sqe
             * may submit and dispatch) names a dead slot once we return;
             * harmless: the SQ is consumed in order, so it reaches the
             * kernel before any operation that reuses the address. */
            for (unsigned i = 0; i < n; i++) {
                if (!(b.done & (1ull << i))) {
                    struct io_uring_sqe *sqe = get_sqe(sh, u);
                    io_uring_prep_cancel(sqe, &b.slot[i], 0);
                    io_uring_sqe_set_data64(sqe, TAG_CANCEL);
                }
            }
        }
    }
    sp_store_relaxed(&t->resume, SP_NO_SHARD);
    if (err < 0) {
        for (unsigned i = 0; i < n; i++) {
            if (reqs[i]->res == -ECANCELED || reqs[i]->res == -EINTR) {
                reqs[i]->res = err; /* cancelled for our reason */
            }
        }
    }
    return err;
}

static void
uring_cancel_fd(struct sp__shard *sh, int fd)
{
    struct uring_shard *u = sh->backend;
    flush_deferred(sh, u);
    if (!caps.cancel_fd) {
        /* Before 5.19: one ASYNC_CANCEL per operation on fd, by user_data.
         * Only this shard's thread links and unlinks, and none of the tasks
         * runs meanwhile (this runs on the shard, between switches). */
        for (struct uring_io *io = u->live; io; io = io->live_next) {
            if (!io->done && sp__opdefs[io->op].fd_op && io->args->fd == fd) {
                cancel_op(sh, u, io);
            }
        }
        io_uring_submit(&u->ring);
        return;
    }
    struct io_uring_sqe *sqe = get_sqe(sh, u);
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, TAG_CANCEL);
    io_uring_submit(&u->ring);
}

const struct sp__backend_ops sp__uring_backend = {
    .name = "uring",
    .probe = uring_probe,
    .init = uring_init,
    .fini = uring_fini,
    .poll = uring_poll,
    .wait = uring_wait,
    .wake_from_shard = uring_wake_from_shard,
    .wake_from_thread = uring_wake_from_thread,
    .io = uring_io,
    .io_batch = uring_io_batch,
    .cancel_fd = uring_cancel_fd,
};
