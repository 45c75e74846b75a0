/* Task stacks: mapped lazily, guarded, pooled per shard.
 *
 * Layout of one mapping (low to high): a guard region of GUARD bytes, then
 * the usable stack. Pages are committed only when first touched
 * (MAP_NORESERVE), so a large default costs address space, not memory.
 * Guards use MADV_GUARD_INSTALL (Linux 6.13+: no extra VMA, so a million
 * stacks stay under vm.max_map_count); older kernels fall back to mprotect,
 * which splits each stack into two VMAs (about 32,000 stacks by default;
 * beyond that mmap fails and spawn returns -ENOMEM).
 *
 * Each shard keeps up to cfg.stack_pool_max default-size stacks warm (a
 * first touch costs ~1.5 us per page). A full pool hands half of itself to
 * the runtime's depot, and an empty one refills from it, so stacks flow
 * from shards where tasks end to shards where they start (mapping and
 * unmapping instead costs microseconds and TLB shootdowns). The depot's
 * high-water mark is cfg.stack_pool_max per shard; a stack freed beyond it
 * is unmapped, returning its pages. Other sizes are mapped per spawn.
 * Stack tops rotate through 64 offsets of 64 bytes so that the hot top
 * frames of many tasks do not alias in the L1 cache (BENCHMARKS.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SP_HAVE_VALGRIND 1
#endif

#include "core/core.h"
#include "sched/sched.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define GUARD (16u * 1024)
#define STACK_MIN (16u * 1024)
#define STACK_MAX ((size_t)1 << 30)
#define COLORS 64

static _Atomic int guard_fallback; /* 1: this kernel lacks MADV_GUARD_INSTALL */

static size_t
page_round(size_t n)
{
    static _Atomic size_t page_size;
    size_t page = sp_load_relaxed(&page_size);
    if (sp_unlikely(page == 0)) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        sp_store_relaxed(&page_size, page);
    }
    return (n + page - 1) & ~(page - 1);
}

int
sp__stack_check_size(size_t size)
{
    if (size < STACK_MIN || size > STACK_MAX) {
        sp__log("stack size %zu is out of range (%u .. %zu bytes)", size, STACK_MIN,
                STACK_MAX);
        return -EINVAL;
    }
    return 0;
}

size_t
sp__stack_default(const struct sp_runtime *rt)
{
    return rt->cfg.stack_size;
}

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void
guard_masked(void)
{
    if (sp__feature_off("guard")) {
        sp_store_relaxed(&guard_fallback, 1);
    }
}

static int
install_guard(void *base)
{
    pthread_once(&guard_once, guard_masked);
    if (!sp_load_relaxed(&guard_fallback)) {
        if (madvise(base, GUARD, MADV_GUARD_INSTALL) == 0) {
            return 0;
        }
        if (errno != EINVAL) {
            return -errno;
        }
        if (!sp_xchg_seqcst(&guard_fallback, 1)) {
            sp__log("MADV_GUARD_INSTALL unsupported (kernel < 6.13): using mprotect "
                    "guards, about 32,000 stacks at most with vm.max_map_count 65530");
        }
    }
    return mprotect(base, GUARD, PROT_NONE) == 0 ? 0 : -errno;
}

static void *
map_stack(size_t map_len)
{
    void *base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
        return NULL;
    }
    if (install_guard(base) < 0) {
        munmap(base, map_len);
        return NULL;
    }
    return base;
}

static int
by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return x < y ? -1 : x > y;
}

/* Unmap n stacks of map_len bytes each, one munmap per run of adjacent
 * mappings: stacks mapped one after another usually sit side by side, and
 * every munmap in a multi-threaded process costs a TLB shootdown. */
static void
unmap_many(void **v, unsigned n, size_t map_len)
{
    if (n == 0) {
        return; /* v may be NULL then, which qsort does not allow */
    }
    qsort(v, n, sizeof(*v), by_address);
    for (unsigned i = 0; i < n;) {
        unsigned j = i + 1;
        while (j < n && (char *)v[j] == (char *)v[j - 1] + map_len) {
            j++;
        }
        munmap(v[i], (size_t)(j - i) * map_len);
        i = j;
    }
}

static int
pool_reserve(struct sp__shard *sh, unsigned need)
{
    if (sh->pool_n + need <= sh->pool_cap) {
        return 0;
    }
    unsigned cap = sh->pool_cap ? sh->pool_cap : 64;
    while (cap < sh->pool_n + need) {
        cap *= 2;
    }
    void **pool = realloc(sh->pool, cap * sizeof(*pool));
    if (!pool) {
        return -1;
    }
    sh->pool = pool;
    sh->pool_cap = cap;
    return 0;
}

/* Refill an empty pool with up to half a pool's worth from the depot. */
static void
pool_refill(struct sp__shard *sh)
{
    struct sp__stack_depot *d = &sh->rt->depot;
    unsigned want = sh->rt->cfg.stack_pool_max / 2 + 1;
    if (pool_reserve(sh, want) < 0) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    while (want-- && d->n) {
        sh->pool[sh->pool_n++] = d->v[--d->n];
    }
    pthread_mutex_unlock(&d->lock);
}

/* Stacks beyond every high-water mark wait in the shard's trash until the
 * shard is idle (sp__stack_trash_flush, called before it sleeps): an
 * munmap costs microseconds and a TLB shootdown, which on the busy path
 * would delay every task queued behind it (10,000 timers firing 2 us apart
 * fell 20 ms behind). An idle visit unmaps at most SP_STACK_TRASH_CHUNK
 * stacks, and no more than fit before the shard's next timer
 * (sp__park_idle). Past TRASH_MAX pending stacks each put unmaps a chunk
 * (at least as many as it adds), so a shard that never idles still
 * returns memory without one long stall. */
#define TRASH_MAX 16384u

static void
trash_put(struct sp__shard *sh, void **v, unsigned n, size_t map_len)
{
    if (n == 0) {
        return;
    }
    if (sh->trash_n + n > TRASH_MAX) {
        /* Never idle long enough: pay on the busy path, a bounded chunk
         * at a time (at least what arrives), not half the trash at once. */
        sp__stack_trash_flush(sh, n > SP_STACK_TRASH_CHUNK ? n : SP_STACK_TRASH_CHUNK);
    }
    if (sh->trash_n + n > sh->trash_cap) {
        unsigned cap = sh->trash_cap ? sh->trash_cap : 256;
        while (cap < sh->trash_n + n) {
            cap *= 2;
        }
        void **t = realloc(sh->trash, cap * sizeof(*t));
        if (!t) {
            unmap_many(v, n, map_len);
            return;
        }
        sh->trash = t;
        sh->trash_cap = cap;
    }
    memcpy(sh->trash + sh->trash_n, v, n * sizeof(*v));
    sh->trash_n += n;
}

/* Unmap up to max stacks from the trash. */
void
sp__stack_trash_flush(struct sp__shard *sh, unsigned max)
{
    unsigned n = sh->trash_n < max ? sh->trash_n : max;
    sh->trash_n -= n;
    unmap_many(sh->trash + sh->trash_n, n, GUARD + page_round(sh->rt->cfg.stack_size));
}

/* Move half of a full pool to the depot; what exceeds its mark goes to the
 * trash. */
static void
pool_spill(struct sp__shard *sh, size_t map_len)
{
    struct sp_runtime *rt = sh->rt;
    struct sp__stack_depot *d = &rt->depot;
    unsigned move = sh->pool_n / 2 + 1;
    unsigned limit = rt->cfg.stack_pool_max * (unsigned)rt->nshards;
    pthread_mutex_lock(&d->lock);
    if (d->cap < limit) {
        void **v = realloc(d->v, limit * sizeof(*v));
        if (v) {
            d->v = v;
            d->cap = limit;
        }
    }
    while (move && sh->pool_n && d->n < d->cap) {
        d->v[d->n++] = sh->pool[--sh->pool_n];
        move--;
    }
    pthread_mutex_unlock(&d->lock);
    if (move > sh->pool_n) {
        move = sh->pool_n;
    }
    sh->pool_n -= move;
    trash_put(sh, sh->pool + sh->pool_n, move, map_len);
}

int
sp__stack_alloc(struct sp__shard *sh, struct sp__task *t, size_t size)
{
    size_t map_len = GUARD + page_round(size);
    size_t pooled_len = GUARD + page_round(t->rt->cfg.stack_size);
    void *base = NULL;
    if (sh && map_len == pooled_len && !sh->pool_n) {
        pool_refill(sh);
    }
    if (sh && map_len == pooled_len && sh->pool_n) {
        base = sh->pool[--sh->pool_n];
    } else {
        base = map_stack(map_len);
        if (!base) {
            return -ENOMEM;
        }
    }
    t->stack_map = base;
    t->stack_map_len = map_len;
    t->stack_guard = GUARD;
    unsigned color = sh ? sh->stack_color++ % COLORS : 0;
    char *top = (char *)base + map_len - color * 64;
    t->ctx.stack_lo = (char *)base + GUARD;
    t->ctx.stack_size = (size_t)(top - (char *)t->ctx.stack_lo);
#ifdef SP_HAVE_VALGRIND
    t->stack_vg_id = VALGRIND_STACK_REGISTER(t->ctx.stack_lo, top);
#endif
#ifdef SP_TSAN
    t->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
    sp__ctx_init(&t->ctx, top, sp__task_main, t);
    return 0;
}

static int
pool_put(struct sp__shard *sh, void *base, size_t map_len)
{
    if (sh->pool_n >= sh->rt->cfg.stack_pool_max) {
        pool_spill(sh, map_len);
    }
    if (sh->pool_n >= sh->rt->cfg.stack_pool_max || pool_reserve(sh, 1) < 0) {
        return -1;
    }
    sh->pool[sh->pool_n++] = base;
    return 0;
}

/* Called by the shard that ran the task, after its final switch. */
void
sp__stack_free(struct sp__shard *sh, struct sp__task *t)
{
#ifdef SP_HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(t->stack_vg_id);
#endif
#ifdef SP_TSAN
    __tsan_destroy_fiber(t->ctx.tsan_fiber);
    t->ctx.tsan_fiber = NULL;
#endif
#ifdef SP_ASAN
    /* The frames that were live at the last switch stay poisoned otherwise,
     * and the next task on this stack would trip over them. */
    ASAN_UNPOISON_MEMORY_REGION(t->ctx.stack_lo, t->ctx.stack_size);
#endif
    size_t pooled_len = GUARD + page_round(t->rt->cfg.stack_size);
    if (t->stack_map_len != pooled_len || pool_put(sh, t->stack_map, pooled_len) < 0) {
        munmap(t->stack_map, t->stack_map_len);
    }
    t->stack_map = NULL;
}

void
sp__stack_pool_drain(struct sp__shard *sh)
{
    size_t len = GUARD + page_round(sh->rt->cfg.stack_size);
    unmap_many(sh->pool, sh->pool_n, len);
    sh->pool_n = 0;
    sp__stack_trash_flush(sh, sh->trash_n);
    free(sh->trash);
    sh->trash = NULL;
    sh->trash_cap = 0;
}

/* After every shard has drained its pool. */
void
sp__stack_depot_destroy(struct sp_runtime *rt)
{
    struct sp__stack_depot *d = &rt->depot;
    size_t len = GUARD + page_round(rt->cfg.stack_size);
    unmap_many(d->v, d->n, len);
    d->n = 0;
    free(d->v);
    d->v = NULL;
    d->cap = 0;
}
