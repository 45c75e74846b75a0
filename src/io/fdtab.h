/* The fd table (src/io/fdtab.c): operations in flight per fd, for close. */
#ifndef SP_IO_FDTAB_H
#define SP_IO_FDTAB_H

#include <errno.h>
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

#define SP__FDTAB_CHUNK_SHIFT 12
#define SP__FDTAB_CHUNK (1u << SP__FDTAB_CHUNK_SHIFT)
#define SP__FDTAB_MAX_CHUNKS 4096 /* fds below 16 M */

/* Chunks of entries, allocated on first use and kept until the runtime is
 * destroyed (published with a release CAS, read with acquire). */
struct sp__fdtab {
    _Atomic(struct sp__fdent *) chunks[SP__FDTAB_MAX_CHUNKS];
};

/* Allocates the table or the chunk that sp__fdtab_get did not find. */
struct sp__fdent *sp__fdtab_get_slow(struct sp_runtime *rt, int fd);

/* The entry of fd (created on first use), or NULL for a negative or huge
 * fd or out of memory. Inline: every I/O call looks its fd up. */
static inline struct sp__fdent *
sp__fdtab_get(struct sp_runtime *rt, int fd)
{
    struct sp__fdtab *tab = sp_load_acquire(&rt->fdtab);
    if (sp_likely(tab != NULL) &&
        (unsigned)fd < SP__FDTAB_CHUNK * SP__FDTAB_MAX_CHUNKS) {
        struct sp__fdent *c = sp_load_acquire(&tab->chunks[(unsigned)fd >> SP__FDTAB_CHUNK_SHIFT]);
        if (sp_likely(c != NULL)) {
            return &c[(unsigned)fd & (SP__FDTAB_CHUNK - 1)];
        }
    }
    return sp__fdtab_get_slow(rt, fd);
}

/* An operation on the calling shard starts / ends. enter fails with
 * -EBADF while the fd is being closed. Protocol: fdtab.c. */
static inline int
sp__fdtab_enter(struct sp__fdent *e, int shard)
{
    /* The shard's bit goes first: a closer that sees this call in
     * `inflight` must also see where to cancel it. Set after, a closer
     * could count the call, read the mask without our bit, cancel
     * nowhere, and wait for ever. */
    uint32_t bit = shard < 32 ? 1u << shard : ~0u;
    if (sp_unlikely((sp_load_seqcst(&e->shards) & bit) != bit)) {
        sp_fetch_or_seqcst(&e->shards, bit);
    }
    sp_fetch_add_seqcst(&e->inflight, 1);
    if (sp_unlikely(sp_load_seqcst(&e->closing))) {
        atomic_fetch_sub_explicit(&e->inflight, 1, memory_order_seq_cst);
        return -EBADF;
    }
    return 0;
}

static inline void
sp__fdtab_leave(struct sp__fdent *e)
{
    atomic_fetch_sub_explicit(&e->inflight, 1, memory_order_seq_cst);
}

/* fd now names a new file (spindle just created it, or sp_close is about
 * to release the number): state kept about the old one is stale. No-op
 * for a number without an entry. */
void sp__fdtab_renew(struct sp_runtime *rt, int fd);

/* At runtime destroy. */
void sp__fdtab_destroy(struct sp_runtime *rt);

#endif
