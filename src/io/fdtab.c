/* The fd table: which file descriptors have operations in flight, and on
 * which shards, so that sp_close can cancel them before it closes
 * (RELIABILITY.md B2.3: close(2) does not cancel io_uring requests, and a
 * reused fd number must never receive an old operation).
 *
 * One entry per fd number, in chunks allocated on first use and kept until
 * the runtime is destroyed (published with a release CAS, read with
 * acquire). Protocol with the closer (docs/design/io.md, "close"):
 *   operation: set its shard's bit, inflight += 1 (seq_cst), then load
 *              closing (seq_cst): if set, undo and fail with -EBADF.
 *   closer:    closing = 1 (seq_cst), then load inflight (seq_cst).
 * A Dekker pair: either the operation sees `closing` and never starts, or
 * the closer sees it in flight and cancels it. */
#include <errno.h>
#include <stdlib.h>

#include "io/fdtab.h"
#include "sched/sched.h"

#define CHUNK_SHIFT SP__FDTAB_CHUNK_SHIFT
#define CHUNK SP__FDTAB_CHUNK
#define MAX_CHUNKS SP__FDTAB_MAX_CHUNKS

static struct sp__fdtab *
table(struct sp_runtime *rt)
{
    struct sp__fdtab *tab = sp_load_acquire(&rt->fdtab);
    if (sp_likely(tab != NULL)) {
        return tab;
    }
    struct sp__fdtab *fresh = calloc(1, sizeof(*fresh));
    if (!fresh) {
        return NULL;
    }
    /* acq_rel: release publishes the zeroed table; acquire on failure sees
     * the winner's. */
    if (!atomic_compare_exchange_strong_explicit(&rt->fdtab, &tab, fresh,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        free(fresh);
        return tab;
    }
    return fresh;
}

struct sp__fdent *
sp__fdtab_get_slow(struct sp_runtime *rt, int fd)
{
    struct sp__fdtab *tab = table(rt);
    if (!tab || fd < 0 || (unsigned)fd >= CHUNK * MAX_CHUNKS) {
        return NULL;
    }
    unsigned ci = (unsigned)fd >> CHUNK_SHIFT;
    struct sp__fdent *c = sp_load_acquire(&tab->chunks[ci]);
    if (c == NULL) {
        struct sp__fdent *fresh = calloc(CHUNK, sizeof(*fresh));
        if (!fresh) {
            return NULL;
        }
        if (!atomic_compare_exchange_strong_explicit(&tab->chunks[ci], &c, fresh,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire)) {
            free(fresh);
        } else {
            c = fresh;
        }
    }
    return &c[(unsigned)fd & (CHUNK - 1)];
}

void
sp__fdtab_renew(struct sp_runtime *rt, int fd)
{
    struct sp__fdent *e = sp__fdtab_get(rt, fd);
    if (e) {
        /* seq_cst (a locked add on x86 either way): a shard that reads the
         * number's generation after learning of the new file must see it. */
        sp_fetch_add_seqcst(&e->gen, 1);
    }
}

void
sp__fdtab_destroy(struct sp_runtime *rt)
{
    struct sp__fdtab *tab = sp_load_acquire(&rt->fdtab);
    if (!tab) {
        return;
    }
    for (unsigned i = 0; i < MAX_CHUNKS; i++) {
        free(sp_load_relaxed(&tab->chunks[i]));
    }
    free(tab);
    sp_store_relaxed(&rt->fdtab, NULL);
}
