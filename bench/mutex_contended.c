/* mutex_contended: T tasks take one sp_mutex_t in turn, each doing
 * lock; counter++; unlock; a little work outside the lock; ns per critical
 * section (total time / total sections).
 *
 * Variants: all tasks pinned on one shard (the lock is contended only
 * through suspension: a holder that yields inside), and stealable tasks on
 * two shards (real cross-thread contention, FIFO hand-offs). The peer is
 * the same loop on pthread_mutex_t with two threads, run in this program.
 * The counter is checked after every run (a lost update fails it). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "harness.h"

typedef struct mc_params {
    int shards;
    sp_place_t place;
    int tasks;
} mc_params_t;

typedef struct mc_run {
    const mc_params_t *p;
    uint64_t iters; /* per task */
    sp_mutex_t m;
    uint64_t counter;
    uint64_t elapsed_ns;
} mc_run_t;

/* Work outside the lock, so the lock is not held back to back. */
static inline void
outside_work(uint64_t *x)
{
    for (int i = 0; i < 20; i++) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
    }
}

static intptr_t
mc_worker(void *arg)
{
    mc_run_t *run = arg;
    uint64_t x = 88172645463325252ull;
    for (uint64_t i = 0; i < run->iters; i++) {
        int rc = sp_mutex_lock(&run->m);
        if (rc != 0) {
            return rc;
        }
        run->counter++;
        sp_mutex_unlock(&run->m);
        outside_work(&x);
    }
    bench_keep(x);
    return 0;
}

static intptr_t
mc_body(void *arg)
{
    mc_run_t *run = arg;
    const mc_params_t *p = run->p;
    sp_task_t t[16];
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = p->place;
    uint64_t t0 = sp_now_ns();
    for (int i = 0; i < p->tasks; i++) {
        int rc = sp_task_spawn(&t[i], &attr, mc_worker, run);
        if (rc != 0) {
            return bench_fail("sp_task_spawn", rc);
        }
    }
    intptr_t bad = 0;
    for (int i = 0; i < p->tasks; i++) {
        intptr_t r = 0;
        sp_task_join(t[i], &r);
        if (r != 0) {
            bad = r;
        }
    }
    run->elapsed_ns = sp_now_ns() - t0;
    return bad;
}

static int
mc_case(bench_case_t *c, double *value)
{
    const mc_params_t *p = c->arg;
    mc_run_t run = {.p = p, .iters = bench_size(400000, 40000) / (uint64_t)p->tasks};
    sp_mutex_init(&run.m);
    sp_config_t cfg;
    bench_config(&cfg, p->shards);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, mc_body, &run, &res);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : (int)res;
    }
    uint64_t total = run.iters * (uint64_t)p->tasks;
    if (run.counter != total) {
        fprintf(stderr, "mutex_contended: counter %llu, expected %llu\n",
                (unsigned long long)run.counter, (unsigned long long)total);
        return -EPROTO;
    }
    *value = (double)run.elapsed_ns / (double)total;
    bench_extra_clear(c);
    bench_extra(c, "tasks=%d shards=%d sections=%llu", p->tasks, p->shards,
                (unsigned long long)total);
    return 0;
}

/* --- peer: pthread_mutex_t, one thread per CPU ---------------------------- */

typedef struct pt_run {
    pthread_mutex_t m;
    uint64_t iters;
    uint64_t counter;
} pt_run_t;

static void *
pt_worker(void *arg)
{
    pt_run_t *run = arg;
    uint64_t x = 88172645463325252ull;
    for (uint64_t i = 0; i < run->iters; i++) {
        pthread_mutex_lock(&run->m);
        run->counter++;
        pthread_mutex_unlock(&run->m);
        outside_work(&x);
    }
    bench_keep(x);
    return NULL;
}

static int
pt_case(bench_case_t *c, double *value)
{
    const mc_params_t *p = c->arg;
    pt_run_t run = {.iters = bench_size(400000, 40000) / (uint64_t)p->tasks};
    pthread_mutex_init(&run.m, NULL);
    pthread_t th[16];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < p->tasks; i++) {
        if (pthread_create(&th[i], NULL, pt_worker, &run) != 0) {
            return -EAGAIN;
        }
    }
    for (int i = 0; i < p->tasks; i++) {
        pthread_join(th[i], NULL);
    }
    uint64_t elapsed = bench_now_ns() - t0;
    pthread_mutex_destroy(&run.m);
    uint64_t total = run.iters * (uint64_t)p->tasks;
    if (run.counter != total) {
        return -EPROTO;
    }
    *value = (double)elapsed / (double)total;
    bench_extra_clear(c);
    bench_extra(c, "threads=%d", p->tasks);
    return 0;
}

static const mc_params_t P_PINNED = {1, SP_PLACE_LOCAL, 4};
static const mc_params_t P_STEAL2 = {2, SP_PLACE_STEALABLE, 4};
static const mc_params_t P_PT2 = {0, 0, 2};
static const mc_params_t P_PT4 = {0, 0, 4};

static bench_case_t cases[] = {
    BENCH_CASE("mutex_contended", "4tasks-pinned-1shard", "ns", mc_case, &P_PINNED),
    BENCH_CASE("mutex_contended", "4tasks-stealable-2shard", "ns", mc_case, &P_STEAL2),
    BENCH_PEER("mutex_contended", "pthread", "2threads", "ns", pt_case, &P_PT2),
    BENCH_PEER("mutex_contended", "pthread", "4threads", "ns", pt_case, &P_PT4),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "tasks (or threads) taking one mutex in turn, ns per critical section.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
