/* The body of an I/O call, inline (see sp__io_call). Private to src/io
 * and src/net. */
#ifndef SP_IO_CALL_H
#define SP_IO_CALL_H

#include <errno.h>
#include <sys/socket.h>

#include "io/fdtab.h"
#include "io/io.h"
#include "io/op.h"
#include "io/sys.h"
#include "sched/sched.h"

/* run.c: a read at an offset, the page cache first. */
long sp__io_read_at(struct sp__shard *sh, struct sp__task *t, struct sp__io_args *a);

/* A send that follows a send on the same socket, with nothing received in
 * between (a stream, a window of frames), goes out at once when the
 * socket has room: no SQE, park and wake. Nothing in the loop's batch
 * waits for it. A send that follows a receive keeps the ring: queued in
 * the batch, before the receives (uring.c, flush_deferred), a request and
 * its reply on one shard then complete inline, where a send made at once
 * would leave the peer's receive armed in the kernel from an earlier batch
 * (echo round trip +12%). -EAGAIN: no room, use the ring. */
static inline long
sp__io_send_now(const struct sp__io_args *a)
{
    long n = sp__sys_send(a->fd, a->buf, a->len, a->flags | MSG_NOSIGNAL | MSG_DONTWAIT);
    return n == -EWOULDBLOCK ? -EAGAIN : n;
}

/* The body of every I/O call: sp__io_do, and the socket loops of
 * src/net/sock.c, which inline it for their one constant op (its other
 * ops' steps fold away, and the task's code is one frame nearer the
 * system call: docs/design/io.md, sys.h). fd_op: the op works on a->fd
 * (sp__opdefs[op].fd_op, which the compiler cannot see from here). */
static inline __attribute__((always_inline)) long
sp__io_call(enum sp__opcode op, struct sp__io_args *a, int fd_op)
{
    /* One opaque read of the shard serves until the backend runs: the
     * task cannot move before it parks. */
    struct sp__shard *sh = sp__shard_current();
    struct sp__task *t = sh ? sp_load_relaxed(&sh->current) : NULL;
    if (!t) {
        return -EPERM;
    }
    int err = sp__suspend_result(t);
    if (err < 0) {
        return err;
    }
    struct sp_runtime *rt = t->rt;
    struct sp__fdent *fe = NULL;
    if (fd_op) {
        if (a->fd < 0) {
            return -EBADF;
        }
        fe = sp__fdtab_get(rt, a->fd);
        /* A close of this number is in progress: wait until it is over,
         * then go. The call cannot be for the file being closed (using an
         * fd while closing it is the caller's race, and close(2) will have
         * made the number EBADF or someone else's, as in POSIX); it can be
         * for a file that another shard opened or accepted under the same
         * number between close(2) and the end of sp_close, which must not
         * fail. The wait holds no inflight count, so the closer's drain
         * still ends. */
        while (fe && sp_unlikely(sp__fdtab_enter(fe, sh->index) < 0)) {
            if ((err = sp_task_yield()) < 0) {
                return err;
            }
            sh = sp__shard_current(); /* the yield may have moved us */
        }
    }
    long r;
    if (op == SP_OP_SEND && t->last_send_fd == a->fd && rt->be == &sp__uring_backend &&
        (r = sp__io_send_now(a)) != -EAGAIN) {
        /* done without the ring */
    } else {
        r = op == SP_OP_READ && a->off >= 0 ? sp__io_read_at(sh, t, a)
                                           : rt->be->io(sh, t, op, a);
    }
    /* sh is stale from here on: the task may have moved while parked. */
    t->last_send_fd = op == SP_OP_SEND ? a->fd : -1;
    if (sp_unlikely(op == SP_OP_ACCEPT || op == SP_OP_OPENAT) && r >= 0) {
        sp__fdtab_renew(rt, (int)r);
    }
    if (fe) {
        if (sp_unlikely(r == -ECANCELED) && sp_load_seqcst(&fe->closing) &&
            !sp__suspend_result(t)) {
            r = -EBADF; /* cancelled by sp_close, not by our own cancel */
        }
        sp__fdtab_leave(fe);
    }
    if ((op == SP_OP_RECV || op == SP_OP_RECVMSG) && r > 0 && rt->nshards > 1 &&
        sp_load_relaxed(&t->home) == SP_NO_SHARD && (t->recvs++ & (SP__FOLLOW_EVERY - 1)) == 0) {
        sp__io_follow_slow(t, a->fd); /* follow.c */
    }
    return r;
}

#endif
