/* sp_io_batch: many reads and writes at offsets in flight from one task,
 * for one park (docs/design/io.md, "Batches").
 *
 * The call is cut into pieces of SP__BATCH_MAX requests. Per piece: check
 * each request (a bad one gets its error and stays out), enter its fd in
 * the fd table (once per run of requests on one fd), so that sp_close
 * cancels a batch's operations like any other, hand the rest to the
 * backend's io_batch, and leave. */
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blocking/blocking.h"
#include "io/fdtab.h"
#include "io/io.h"
#include "io/op.h"
#include "io/sys.h"
#include "sched/sched.h"
#include "spindle/io.h"

static enum sp__opcode
opcode(const sp_io_req_t *r)
{
    return r->op == SP_IO_PREAD ? SP_OP_READ : SP_OP_WRITE;
}

static long
check(const sp_io_req_t *r)
{
    if (r->op != SP_IO_PREAD && r->op != SP_IO_PWRITE) {
        return -EINVAL;
    }
    if (r->fd < 0) {
        return -EBADF;
    }
    if (r->off < 0 || r->len > SP_IO_MAX_LEN) {
        return -EINVAL;
    }
    return r->buf == NULL && r->len > 0 ? -EFAULT : 0;
}

static void
fill(sp_io_req_t **v, unsigned n, long res)
{
    for (unsigned i = 0; i < n; i++) {
        v[i]->res = res;
    }
}

/* For a kernel without what io_batch needs: each through the backend's
 * io, in turn. The shard is asked each time: through the blocking pool (an
 * opcode the ring lacks) a stealable task may come back on another. A
 * request whose fd a close is cancelling is not started: the close has
 * already cancelled what was in flight, and waits for us. */
static int
one_by_one(struct sp__task *t, sp_io_req_t **v, struct sp__fdent **fe, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (fe[i] && sp_load_seqcst(&fe[i]->closing)) {
            v[i]->res = -EBADF;
            continue;
        }
        struct sp__io_args a = {.fd = v[i]->fd, .buf = v[i]->buf, .len = v[i]->len,
                                .off = v[i]->off};
        v[i]->res = t->rt->be->io(sp__shard_current(), t, opcode(v[i]), &a);
        int err = sp__suspend_result(t);
        if (err < 0) {
            fill(v + i + 1, n - i - 1, err);
            return err;
        }
    }
    return 0;
}

/* What pread(2) / pwrite(2) refuses whatever the length: a bad fd, the
 * wrong direction, a directory, and an fd without offsets (a pipe, socket,
 * eventfd, timerfd: -ESPIPE), which the ring would read or write ignoring
 * the offset, or wait on for ever. A zero-length call makes exactly those
 * checks and moves no data. */
static long
probe(const sp_io_req_t *r)
{
    ssize_t n = r->op == SP_IO_PREAD ? pread(r->fd, NULL, 0, r->off)
                                     : pwrite(r->fd, NULL, 0, r->off);
    return n < 0 ? -errno : 0;
}

/* --- the blocking pool's way (epoll) ------------------------------------ */

struct pool_job {
    sp_io_req_t **v;
    unsigned n;
};

static long
run_on_pool(void *arg)
{
    struct pool_job *j = arg;
    for (unsigned i = 0; i < j->n; i++) {
        sp_io_req_t *r = j->v[i];
        ssize_t n = r->op == SP_IO_PREAD ? pread(r->fd, r->buf, r->len, r->off)
                                         : pwrite(r->fd, r->buf, r->len, r->off);
        r->res = n < 0 ? -errno : n;
    }
    return 0;
}

int
sp__io_batch_pool(struct sp__shard *sh, struct sp__task *t, sp_io_req_t **v, unsigned n)
{
    (void)sh;
    (void)t;
    /* Reads the page cache holds need no hop (as sp_pread, src/io/run.c);
     * a partly cached one is read again whole on the pool. */
    sp_io_req_t *rest[SP__BATCH_MAX];
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        sp_io_req_t *r = v[i];
        if (r->op == SP_IO_PREAD && r->len > 0) {
            struct iovec iov = {r->buf, r->len};
            long got = sp__sys_preadv2(r->fd, &iov, 1, r->off, RWF_NOWAIT);
            if (got == (ssize_t)r->len || got == 0) {
                r->res = got;
                continue;
            }
        }
        rest[k++] = r;
    }
    if (k == 0) {
        return 0;
    }
    struct pool_job job = {rest, k};
    long r = sp__blocking_call(run_on_pool, &job);
    if (r < 0) {
        /* Never ran: cancelled, past the deadline, or no pool thread. */
        fill(rest, k, r);
        return r == -ECANCELED || r == -ETIMEDOUT ? (int)r : 0;
    }
    return 0;
}

/* --- the call ------------------------------------------------------------ */

/* One piece: returns 0, or the task's cancellation / deadline. -EAGAIN: a
 * close of one of the fds is in progress; nothing was started (entries
 * taken so far are left again, so that no closer waits for us while we
 * wait for another). */
static int
run_piece(struct sp__task *t, sp_io_req_t *reqs, unsigned n)
{
    struct sp_runtime *rt = t->rt;
    sp_io_req_t *v[SP__BATCH_MAX];
    struct sp__fdent *fe[SP__BATCH_MAX];  /* the entry of v[i]'s fd */
    struct sp__fdent *held[SP__BATCH_MAX]; /* entered, to leave */
    unsigned k = 0, nheld = 0;
    int shard = sp__shard_current()->index, err = 0;
    for (unsigned i = 0; i < n && err == 0; i++) {
        sp_io_req_t *r = &reqs[i];
        long bad = check(r);
        if (bad < 0) {
            r->res = bad;
            continue;
        }
        int same_fd = k > 0 && v[k - 1]->fd == r->fd, entered = 0;
        struct sp__fdent *e = NULL;
        if (same_fd) {
            e = fe[k - 1];
        } else if ((e = sp__fdtab_get(rt, r->fd)) != NULL) {
            if (sp__fdtab_enter(e, shard) < 0) {
                err = -EAGAIN;
                break;
            }
            entered = 1;
        }
        /* Once per run of requests of one kind on one fd; inside the fd
         * table, as every use of the fd (a close waits for it). */
        if (!same_fd || v[k - 1]->op != r->op) {
            long refused = probe(r);
            if (refused < 0) {
                r->res = refused;
                if (entered) {
                    sp__fdtab_leave(e);
                }
                continue;
            }
        }
        if (entered) {
            held[nheld++] = e;
        }
        fe[k] = e;
        v[k++] = r;
    }
    if (err == 0 && k > 0) {
        struct sp__shard *sh = sp__shard_current();
        err = rt->be->io_batch(sh, t, v, k);
        if (err == -ENOSYS) {
            err = one_by_one(t, v, fe, k);
        }
        for (unsigned i = 0; i < k; i++) {
            if (v[i]->res == -ECANCELED && fe[i] && sp_load_seqcst(&fe[i]->closing) &&
                !sp__suspend_result(t)) {
                v[i]->res = -EBADF; /* cancelled by sp_close, as in sp__io_do */
            }
        }
    }
    for (unsigned i = 0; i < nheld; i++) {
        sp__fdtab_leave(held[i]);
    }
    return err;
}

int
sp_io_batch(sp_io_req_t *reqs, size_t n)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return -EPERM;
    }
    if (n > 0 && !reqs) {
        return -EFAULT;
    }
    size_t done = 0;
    int err = 0;
    while (done < n) {
        unsigned k = n - done > SP__BATCH_MAX ? SP__BATCH_MAX : (unsigned)(n - done);
        if ((err = sp__suspend_result(t)) < 0) {
            break;
        }
        err = run_piece(t, reqs + done, k);
        if (err == -EAGAIN) {
            /* Wait for the close to end, then go (as sp__io_do). */
            if ((err = sp_task_yield()) < 0) {
                break;
            }
            continue;
        }
        done += k;
        if (err < 0) {
            break;
        }
        if (done < n && sp__runq_has_work(sp__shard_current()) && (err = sp_task_yield()) < 0) {
            break; /* cached reads may never park: let others run between pieces */
        }
    }
    for (size_t i = done; i < n; i++) {
        reqs[i].res = err;
    }
    return err;
}
