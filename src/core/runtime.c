/* The runtime: creation (choose a backend, start the shards), foreign
 * threads handing work in, graceful shutdown, statistics.
 *
 * Shutdown (sp_runtime_destroy), in order:
 *   1. set `stopping`: from now on spawns fail with -ESHUTDOWN;
 *   2. scan the task table and cancel every live task, until two scans in
 *      a row find none and no foreign spawn is in progress: tasks see
 *      -ECANCELED at every suspension point, so they return and their
 *      stacks go back to the pools. Why two: a task spawned by a task
 *      becomes visible before its spawner can be DONE; a scan that sees the
 *      spawner DONE but visited the child's slot earlier may miss the
 *      child, and the next scan, which starts after, cannot;
 *   3. set `stop` and ring every shard's doorbell; each shard leaves its
 *      loop and unmaps its pooled stacks;
 *   4. join the threads, then the blocking pool's (src/blocking/pool.c:
 *      no task is left, so none runs or waits there); only then close each
 *      ring and doorbell eventfd
 *      (a doorbell closed earlier could be rung after its number was
 *      reused), unmap the depot's stacks, free the task table. */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocking/blocking.h"
#include "core/core.h"
#include "io/fdtab.h"
#include "io/io.h"
#include "sched/sched.h"

int sp__config_resolve(const sp_config_t *cfg, sp_config_t *out);

static const struct sp__backend_ops *
choose_backend(const sp_config_t *cfg, int *err)
{
    const char *why = NULL;
    *err = 0;
    if (cfg->backend == SP_BACKEND_EPOLL) {
        return &sp__epoll_backend;
    }
    int r = sp__uring_backend.probe(cfg, &why);
    if (r == 0) {
        return &sp__uring_backend;
    }
    if (cfg->backend == SP_BACKEND_URING) {
        sp__log("io_uring backend requested but unavailable: %s (%s)", why,
                sp_err_name(r));
        *err = r;
        return NULL;
    }
    sp__log("io_uring unavailable (%s); using the epoll backend. "
            "Set SPINDLE_BACKEND=epoll to choose it explicitly.",
            why);
    return &sp__epoll_backend;
}

/* Every thread is told first and joined after, so that their exits
 * (ring teardown, stack unmapping) overlap instead of adding up. */
static void
stop_shards(struct sp_runtime *rt)
{
    sp_store_seqcst(&rt->stop, 1);
    for (int i = 0; i < rt->nshards; i++) {
        struct sp__shard *sh = rt->shards[i];
        if (sh && sh->wake_fd >= 0) {
            sp__doorbell_ring(sh->wake_fd);
        }
    }
    sp__stall_stop_begin(rt);
    for (int i = 0; i < rt->nshards; i++) {
        if (rt->shards[i]) {
            sp__shard_join(rt->shards[i]);
        }
    }
    sp__stall_stop(rt);
}

static void
free_runtime(struct sp_runtime *rt)
{
    /* First: a pool thread may still be finishing a wake into a shard,
     * whose doorbell fd is closed below. */
    sp__blocking_destroy(rt);
    for (int i = 0; i < rt->nshards; i++) {
        if (rt->shards[i]) {
            sp__shard_free(rt->shards[i]);
        }
    }
    free(rt->shards);
    sp__stack_depot_destroy(rt);
    pthread_mutex_destroy(&rt->depot.lock);
    sp__table_destroy(rt);
    free(sp_load_relaxed(&rt->calls)); /* plain memory: see src/sync/call.c */
    sp__fdtab_destroy(rt);
    pthread_mutex_destroy(&rt->table_lock);
    pthread_mutex_destroy(&rt->inj.lock);
    pthread_mutex_destroy(&rt->start_lock);
    pthread_cond_destroy(&rt->start_cond);
    sp__overflow_uninstall();
    free(rt);
}

static int
start_shards(struct sp_runtime *rt)
{
    for (int i = 0; i < rt->nshards; i++) {
        rt->shards[i] = sp__shard_alloc(rt, i);
        if (!rt->shards[i]) {
            return -ENOMEM;
        }
    }
    int err = 0;
    int started = 0;
    for (int i = 0; i < rt->nshards && err == 0; i++) {
        err = sp__shard_start(rt->shards[i]);
        started += err == 0;
    }
    pthread_mutex_lock(&rt->start_lock);
    while (rt->started < started) {
        pthread_cond_wait(&rt->start_cond, &rt->start_lock);
    }
    if (err == 0) {
        err = rt->start_err;
    }
    pthread_mutex_unlock(&rt->start_lock);
    return err;
}

int
sp_runtime_create(sp_runtime_t **out, const sp_config_t *cfg)
{
    if (!out) {
        sp__log("sp_runtime_create: out is NULL");
        return -EINVAL;
    }
    if (sp__shard_current()) {
        sp__log("sp_runtime_create: called from a shard thread");
        return -EINVAL;
    }
    struct sp_runtime *rt = aligned_alloc(SP_CACHELINE, sizeof(*rt));
    if (!rt) {
        return -ENOMEM;
    }
    memset(rt, 0, sizeof(*rt));
    int err = sp__config_resolve(cfg, &rt->cfg);
    if (err == 0) {
        rt->be = choose_backend(&rt->cfg, &err);
    }
    if (err < 0) {
        free(rt);
        return err;
    }
    rt->shards = calloc((size_t)rt->cfg.shards, sizeof(*rt->shards));
    rt->nshards = rt->shards ? rt->cfg.shards : 0;
    pthread_mutex_init(&rt->table_lock, NULL);
    pthread_mutex_init(&rt->inj.lock, NULL);
    pthread_mutex_init(&rt->depot.lock, NULL);
    pthread_mutex_init(&rt->start_lock, NULL);
    pthread_cond_init(&rt->start_cond, NULL);
    sp__overflow_install();
    err = rt->shards ? start_shards(rt) : -ENOMEM;
    if (err == 0) {
        err = sp__stall_start(rt);
    }
    if (err < 0) {
        stop_shards(rt);
        free_runtime(rt);
        return err;
    }
    sp__fork_register(rt);
    *out = rt;
    return 0;
}

/* --- Foreign threads ---------------------------------------------------- */

struct block_on {
    sp_task_fn fn;
    void *arg;
    intptr_t result;
    _Atomic uint32_t done;
};

static void
futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void
futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static intptr_t
block_on_entry(void *arg)
{
    struct block_on *b = arg;
    b->result = b->fn(b->arg);
    /* Release pairs with the waiter's acquire load; after this store the
     * waiter may return and its frame (b) may vanish, so the wake uses only
     * the address, never the memory. */
    sp_store_release(&b->done, 1);
    futex_wake(&b->done);
    return 0;
}

int
sp_runtime_block_on(sp_runtime_t *rt, const sp_task_attr_t *attr, sp_task_fn fn,
                    void *arg, intptr_t *result)
{
    if (!rt || !fn) {
        sp__log("sp_runtime_block_on: %s is NULL", rt ? "fn" : "rt");
        return -EINVAL;
    }
    if (sp__shard_current()) {
        sp__log("sp_runtime_block_on: called from a shard (it would deadlock); "
                "use sp_task_spawn and sp_task_join");
        return -EINVAL;
    }
    int ferr = sp__fork_check(rt, "sp_runtime_block_on");
    if (ferr < 0) {
        return ferr;
    }
    struct block_on b = {.fn = fn, .arg = arg};
    /* seq_cst: pairs with destroy's store of stopping and its load of
     * foreign_spawning; either we see stopping or it waits for us. */
    sp_fetch_add_seqcst(&rt->foreign_spawning, 1);
    int err = sp__task_spawn_on(rt, NULL, NULL, attr, block_on_entry, &b);
    sp_fetch_add_seqcst(&rt->foreign_spawning, -1);
    if (err < 0) {
        return err;
    }
    while (!sp_load_acquire(&b.done)) {
        futex_wait(&b.done, 0);
    }
    if (result) {
        *result = b.result;
    }
    return 0;
}

intptr_t
sp_run(const sp_config_t *cfg, sp_task_fn fn, void *arg)
{
    sp_runtime_t *rt;
    int err = sp_runtime_create(&rt, cfg);
    if (err < 0) {
        return err;
    }
    intptr_t result = 0;
    err = sp_runtime_block_on(rt, NULL, fn, arg, &result);
    sp_runtime_destroy(rt);
    return err < 0 ? err : result;
}

/* --- Shutdown ------------------------------------------------------------ */

/* Cancel every task that is not DONE; returns how many there were. */
static long
cancel_all(struct sp_runtime *rt)
{
    long alive = 0;
    /* Only blocks ever handed out: the rest of the table was never
     * touched (table.c). */
    uint32_t used = sp_load_acquire(&rt->slots_used);
    for (uint32_t c = 0; c << SP_TABLE_CHUNK_SHIFT < used; c++) {
        uint32_t end = used - (c << SP_TABLE_CHUNK_SHIFT);
        end = end < SP_TABLE_CHUNK ? end : SP_TABLE_CHUNK;
        for (uint32_t i = 0; i < end; i++) {
            struct sp__task *t = &rt->chunks[c][i];
            uint32_t st = sp_load_seqcst(&t->state) & TS_MASK;
            if (st == TS_ACTIVE || st == TS_PARKED) {
                sp_task_t h = {sp_load_acquire(&t->id_bits), rt};
                alive++;
                /* Once is enough: cancellation is sticky, and a rescan
                 * of a million parked tasks should not wake them again. */
                if (h.bits && !sp_load_relaxed(&t->cancelled)) {
                    sp__task_cancel_in(rt, h);
                }
            }
        }
    }
    return alive;
}

int
sp_runtime_destroy(sp_runtime_t *rt)
{
    if (!rt || sp__shard_current()) {
        sp__log("sp_runtime_destroy: %s", rt ? "called from a shard" : "rt is NULL");
        return -EINVAL;
    }
    int ferr = sp__fork_check(rt, "sp_runtime_destroy");
    if (ferr < 0) {
        return ferr; /* its threads are in the parent: nothing to stop here */
    }
    sp_store_seqcst(&rt->stopping, 1);
    /* Usually the only task left is block_on's, finishing on its shard
     * for a few microseconds more: look again at once a few times before
     * sleeping (a sleep is 50 us at least, with the default timer slack,
     * and was most of a short-lived runtime's destroy). Only while few
     * are left: a scan walks every slot ever used, a million after a big
     * run. */
    long wait_ns = 50000;
    int clean = 0, quick = 0;
    while (clean < 2) {
        long alive = cancel_all(rt);
        clean = alive == 0 && sp_load_seqcst(&rt->foreign_spawning) == 0 ? clean + 1 : 0;
        if (alive && alive <= rt->nshards && quick < 64) {
            quick++;
            sched_yield();
        } else if (alive) {
            struct timespec ts = {0, wait_ns};
            nanosleep(&ts, NULL);
            if (wait_ns < 10000000) {
                wait_ns *= 2;
            }
        }
    }
    stop_shards(rt);
    sp__fork_unregister(rt);
    free_runtime(rt);
    return 0;
}

/* --- Queries ------------------------------------------------------------- */

int
sp_runtime_shard_count(const sp_runtime_t *rt)
{
    return rt ? rt->nshards : 0;
}

sp_runtime_t *
sp_runtime_current(void)
{
    struct sp__shard *sh = sp__shard_current();
    return sh ? sh->rt : NULL;
}

const char *
sp_runtime_backend_name(const sp_runtime_t *rt)
{
    return rt ? rt->be->name : "";
}

int
sp_runtime_stats(const sp_runtime_t *rt, int shard, sp_shard_stats_t *out)
{
    if (!rt || !out || shard < 0 || shard >= rt->nshards) {
        return -EINVAL;
    }
    const struct sp__stats *s = &rt->shards[shard]->stats;
    out->spawned = sp_load_relaxed(&s->spawned);
    out->switches = sp_load_relaxed(&s->switches);
    out->stolen = sp_load_relaxed(&s->stolen);
    out->steal_attempts = sp_load_relaxed(&s->steal_attempts);
    out->parks = sp_load_relaxed(&s->parks);
    out->wakes_sent = sp_load_relaxed(&s->wakes_sent);
    out->messages = sp_load_relaxed(&s->messages);
    out->timers_fired = sp_load_relaxed(&s->timers_fired);
    out->stalls = sp_load_relaxed(&s->stalls);
    out->follows = sp_load_relaxed(&s->follows);
    return 0;
}

int
sp_runtime_shard_tid(const sp_runtime_t *rt, int shard)
{
    if (!rt || shard < 0 || shard >= rt->nshards) {
        return -EINVAL;
    }
    return sp_load_relaxed(&rt->shards[shard]->tid);
}
