/* The fd table (src/io/fdtab.c): operations in flight per fd, for close. */
#ifndef SP_IO_FDTAB_H
#define SP_IO_FDTAB_H

#include <stdint.h>

#include "core/core.h"

struct sp__fdent {
    _Atomic uint32_t inflight; /* operations started and not finished */
    _Atomic uint32_t shards;   /* bit i: an operation ran on shard i since
                                * the last close (all bits past 31 shards);
                                * set before inflight is raised */
    _Atomic uint32_t closing;  /* a close is cancelling this fd's operations */
    _Atomic uint32_t gen;      /* sp_close calls on this number so far: a
                                * backend's state about the fd (epoll's
                                * registration) is stale once it changes */
};

/* The entry of fd (created on first use), or NULL for a negative or huge
 * fd or out of memory. */
struct sp__fdent *sp__fdtab_get(struct sp_runtime *rt, int fd);

/* An operation on the calling shard starts / ends. enter fails with
 * -EBADF while the fd is being closed. */
int sp__fdtab_enter(struct sp__fdent *e, int shard);
void sp__fdtab_leave(struct sp__fdent *e);

/* fd now names a new file (spindle just created it, or sp_close is about
 * to release the number): state kept about the old one is stale. No-op
 * for a number without an entry. */
void sp__fdtab_renew(struct sp_runtime *rt, int fd);

/* At runtime destroy. */
void sp__fdtab_destroy(struct sp_runtime *rt);

#endif
