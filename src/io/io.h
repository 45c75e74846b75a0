/* Private header of the I/O layer: the backend interface.
 *
 * A backend owns how a shard sleeps and how it is woken; the full I/O layer
 * adds operation records on top (struct sp__op). Backends sit behind this
 * small table of functions (nginx's action table, Seastar's
 * reactor_backend); see docs/design/backends.md. */
#ifndef SP_IO_IO_H
#define SP_IO_IO_H

#include <stdint.h>

#include "spindle/runtime.h"

struct sp__shard;
struct sp__task;
struct sp__io_args;
struct sp_io_req;

/* The most requests one backend io_batch call takes (src/io/batch.c cuts a
 * longer sp_io_batch into pieces of this size). */
#define SP__BATCH_MAX 64u

/* An operation in flight: lives on the waiting task's stack (16-byte
 * aligned, so the low bits of user_data can tag backend-internal CQEs). */
struct sp__op {
    /* Called by the shard sh that reaped the CQE, on its thread. */
    void (*complete)(struct sp__shard *sh, struct sp__op *op, int res, unsigned flags);
} __attribute__((aligned(16)));

struct sp__backend_ops {
    const char *name;
    /* In the creating thread: can this backend run here? 0 or -errno, and a
     * message naming the reason in *why. */
    int (*probe)(const sp_config_t *cfg, const char **why);
    /* In the shard's own thread (io_uring's SINGLE_ISSUER binds the ring to
     * it). Creates sh->wake_fd and sets sh->ring_fd. */
    int (*init)(struct sp__shard *sh);
    void (*fini)(struct sp__shard *sh);
    /* Submit what is prepared and dispatch what completed, without
     * blocking. */
    void (*poll)(struct sp__shard *sh);
    /* Block until a completion, a doorbell or timeout_ns (UINT64_MAX: no
     * timeout) passes. Dispatching is left to the next poll, after the
     * shard has withdrawn from `sleeping`, so that tasks woken by those
     * completions do not spend a doorbell on this very shard. */
    void (*wait)(struct sp__shard *sh, uint64_t timeout_ns);
    /* Ring `to`'s doorbell from shard `from` (its own thread). */
    void (*wake_from_shard)(struct sp__shard *from, struct sp__shard *to);
    /* Ring `to`'s doorbell from any thread. */
    void (*wake_from_thread)(struct sp__shard *to);
    /* Run operation op (enum sp__opcode, src/io/op.h) for task t, which
     * runs on sh: park t until the operation is done and return its result
     * or -errno. On cancellation or deadline the operation is cancelled
     * and waited for; the call then returns -ECANCELED / -ETIMEDOUT unless
     * the operation had completed anyway. */
    long (*io)(struct sp__shard *sh, struct sp__task *t, int op, struct sp__io_args *a);
    /* Run reqs[0..n) (valid, n <= SP__BATCH_MAX, each fd entered in the fd
     * table) for task t on sh, all in flight at once: park until every one
     * is done, its result in its res. Returns 0, or t's -ECANCELED /
     * -ETIMEDOUT once what was in flight was cancelled and waited for.
     * -ENOSYS: not on this kernel; the caller runs them one by one. */
    int (*io_batch)(struct sp__shard *sh, struct sp__task *t, struct sp_io_req **reqs,
                    unsigned n);
    /* On sh's own thread: make every operation on fd that runs on sh
     * finish now (a close waits for them). */
    void (*cancel_fd)(struct sp__shard *sh, int fd);
};

/* Run op's plain system call where blocking is allowed (the blocking pool;
 * src/io/run.c). */
long sp__io_blocking(int op, struct sp__io_args *a);

/* io_batch for a backend whose file operations belong on the blocking
 * pool: what the page cache holds is read at once, the rest in one pool
 * hop (src/io/batch.c). */
int sp__io_batch_pool(struct sp__shard *sh, struct sp__task *t, struct sp_io_req **reqs,
                      unsigned n);

extern const struct sp__backend_ops sp__uring_backend;
extern const struct sp__backend_ops sp__epoll_backend;

/* follow.c: move the calling stealable task to the shard whose CPU feeds
 * socket fd, if there is one and it is not busier than this one. May
 * switch. */
void sp__io_follow_slow(struct sp__task *t, int fd);
/* A task asks at its first socket receive and then every this many
 * (a power of two): one getsockopt, ~0.3 us. */
#define SP__FOLLOW_EVERY 32

/* eventfd doorbell shared by both backends. */
void sp__doorbell_ring(int fd);

#endif
