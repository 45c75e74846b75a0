/* The task table: every control block of a runtime, in chunks of 4,096
 * that live until the runtime is destroyed.
 *
 * A handle is (generation << 32 | index). Because blocks are never freed
 * while the runtime lives, a stale handle can always be looked up and
 * rejected by comparing generations (sp__task_get), instead of being
 * followed into freed memory.
 *
 * Free blocks sit on the free list of the shard that released them (no
 * atomics), or on the runtime's global list under table_lock when the last
 * reference was dropped outside a shard. A shard with an empty list takes
 * the global list, or blocks never used before: a chunk is handed out in
 * index order, SP_TABLE_FRESH at a time (rt->slots_used), so that its
 * pages are only touched when tasks need them. Initialising a whole chunk
 * up front faulted in 1.4 MiB at the first spawn of every runtime (about
 * 200 us of a runtime's creation here). */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/core.h"
#include "sched/sched.h"

#define CHUNK_BYTES (SP_TABLE_CHUNK * sizeof(struct sp__task))

static int
grow(struct sp_runtime *rt)
{
    uint32_t n = sp_load_relaxed(&rt->nchunks);
    if (n == SP_TABLE_MAX_CHUNKS) {
        sp__log("task table full (%u tasks)", SP_TABLE_MAX_CHUNKS * SP_TABLE_CHUNK);
        return -ENOMEM;
    }
    /* mmap, not calloc: fresh zero pages that nothing touches yet.
     * glibc's calloc takes a chunk this size from the heap once a freed
     * mapping raised its mmap threshold, and then clears all of it. */
    void *mem = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        return -ENOMEM;
    }
    struct sp__task *chunk = mem;
    rt->chunks[n] = chunk;
    /* Release pairs with the acquire in sp__table_lookup: a reader that sees
     * the count sees the chunk pointer. */
    sp_store_release(&rt->nchunks, n + 1);
    return 0;
}

/* Up to `want` blocks never used before, linked; *got is their number.
 * Under table_lock. */
static struct sp__task *
take_fresh(struct sp_runtime *rt, uint32_t want, uint32_t *got)
{
    uint32_t used = sp_load_relaxed(&rt->slots_used);
    if (used == sp_load_relaxed(&rt->nchunks) * SP_TABLE_CHUNK && grow(rt) < 0) {
        return NULL;
    }
    uint32_t room = SP_TABLE_CHUNK - (used & (SP_TABLE_CHUNK - 1));
    uint32_t n = want < room ? want : room;
    struct sp__task *chunk = rt->chunks[used >> SP_TABLE_CHUNK_SHIFT];
    struct sp__task *first = &chunk[used & (SP_TABLE_CHUNK - 1)];
    for (uint32_t i = 0; i < n; i++) {
        first[i].index = used + i;
        first[i].next = i + 1 < n ? &first[i + 1] : NULL;
    }
    /* Release pairs with the acquire in cancel_all (runtime.c): a scan
     * that counts a block sees its index. */
    sp_store_release(&rt->slots_used, used + n);
    *got = n;
    return first;
}

struct sp__task *
sp__table_alloc(struct sp_runtime *rt, struct sp__shard *sh)
{
    if (sh && sh->free_tasks) {
        struct sp__task *t = sh->free_tasks;
        sh->free_tasks = t->next;
        sh->free_n--;
        return t;
    }
    pthread_mutex_lock(&rt->table_lock);
    if (!rt->free_global) {
        uint32_t n = 0;
        struct sp__task *t = take_fresh(rt, sh ? SP_TABLE_FRESH : 1, &n);
        if (t && sh) {
            sh->free_tasks = t->next;
            sh->free_n = n - 1;
        }
        pthread_mutex_unlock(&rt->table_lock);
        return t;
    }
    struct sp__task *t = rt->free_global;
    if (sh) {
        /* Take up to a chunk: later spawns on this shard need no lock. */
        struct sp__task *last = t;
        uint32_t n = 1;
        while (n < SP_TABLE_CHUNK && last->next) {
            last = last->next;
            n++;
        }
        rt->free_global = last->next;
        last->next = NULL;
        sh->free_tasks = t->next;
        sh->free_n = n - 1;
    } else {
        rt->free_global = t->next;
    }
    pthread_mutex_unlock(&rt->table_lock);
    return t;
}

/* Give a chunk's worth of a long free list back to the runtime, so blocks
 * freed on one shard can be reused by spawns on another instead of the
 * table growing without bound. */
static void
give_back(struct sp_runtime *rt, struct sp__shard *sh)
{
    struct sp__task *first = sh->free_tasks, *last = first;
    for (uint32_t i = 1; i < SP_TABLE_CHUNK; i++) {
        last = last->next;
    }
    sh->free_tasks = last->next;
    sh->free_n -= SP_TABLE_CHUNK;
    pthread_mutex_lock(&rt->table_lock);
    last->next = rt->free_global;
    rt->free_global = first;
    pthread_mutex_unlock(&rt->table_lock);
}

void
sp__table_free(struct sp_runtime *rt, struct sp__shard *sh, struct sp__task *t)
{
    if (sh && sh->rt == rt) {
        t->next = sh->free_tasks;
        sh->free_tasks = t;
        if (++sh->free_n > 2 * SP_TABLE_CHUNK) {
            give_back(rt, sh);
        }
        return;
    }
    pthread_mutex_lock(&rt->table_lock);
    t->next = rt->free_global;
    rt->free_global = t;
    pthread_mutex_unlock(&rt->table_lock);
}

struct sp__task *
sp__table_lookup(struct sp_runtime *rt, uint32_t index)
{
    uint32_t chunk = index >> SP_TABLE_CHUNK_SHIFT;
    if (chunk >= sp_load_acquire(&rt->nchunks)) {
        return NULL;
    }
    return &rt->chunks[chunk][index & (SP_TABLE_CHUNK - 1)];
}

void
sp__table_destroy(struct sp_runtime *rt)
{
    uint32_t n = sp_load_relaxed(&rt->nchunks);
    for (uint32_t i = 0; i < n; i++) {
        munmap(rt->chunks[i], CHUNK_BYTES);
    }
    sp_store_relaxed(&rt->nchunks, 0);
    sp_store_relaxed(&rt->slots_used, 0);
}
