/* blocking_run: the round trip of sp_blocking_run with an empty function,
 * ns per call (total time / calls): queue the request, wake a pool thread,
 * run fn there, wake the task, resume it on its shard.
 *
 * Variants: one task calling in a loop (one pool thread stays warm), four
 * tasks calling at once (up to four pool threads), and a blocking section
 * round trip (sp_blocking_enter + sp_blocking_leave). The peer is the same
 * hand-off between two plain threads with a pthread mutex and condition
 * variables (a caller posts a request to a waiting worker and waits for
 * the reply), run in this program. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "harness.h"

typedef struct br_params {
    int tasks;
    int section; /* enter/leave instead of run */
} br_params_t;

typedef struct br_run {
    const br_params_t *p;
    uint64_t iters; /* per task */
    uint64_t elapsed_ns;
} br_run_t;

static intptr_t
empty(void *arg)
{
    return (intptr_t)arg;
}

static intptr_t
br_worker(void *arg)
{
    br_run_t *run = arg;
    for (uint64_t i = 0; i < run->iters; i++) {
        intptr_t r = 0;
        int rc = run->p->section ? sp_blocking_enter() : sp_blocking_run(empty, NULL, &r);
        if (rc == 0 && run->p->section) {
            rc = sp_blocking_leave();
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static intptr_t
br_body(void *arg)
{
    br_run_t *run = arg;
    sp_task_t t[8];
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = SP_PLACE_LOCAL;
    /* Warm the pool: its threads start on demand. */
    for (int i = 0; i < run->p->tasks; i++) {
        sp_blocking_run(empty, NULL, NULL);
    }
    uint64_t t0 = sp_now_ns();
    for (int i = 0; i < run->p->tasks; i++) {
        int rc = sp_task_spawn(&t[i], &attr, br_worker, run);
        if (rc != 0) {
            return bench_fail("sp_task_spawn", rc);
        }
    }
    intptr_t bad = 0;
    for (int i = 0; i < run->p->tasks; i++) {
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
br_case(bench_case_t *c, double *value)
{
    const br_params_t *p = c->arg;
    br_run_t run = {.p = p, .iters = bench_size(100000, 10000) / (uint64_t)p->tasks};
    sp_config_t cfg;
    bench_config(&cfg, 1);
    intptr_t res = 0;
    int rc = bench_block_on(&cfg, br_body, &run, &res);
    if (rc != 0 || res != 0) {
        return rc != 0 ? rc : bench_fail("sp_blocking_run", (int)res);
    }
    uint64_t total = run.iters * (uint64_t)p->tasks;
    *value = (double)run.elapsed_ns / (double)total;
    bench_extra_clear(c);
    bench_extra(c, "tasks=%d shards=1 calls=%llu", p->tasks, (unsigned long long)total);
    return 0;
}

/* --- peer: a request handed to a waiting thread through condvars ---------- */

typedef struct pt_run {
    pthread_mutex_t m;
    pthread_cond_t to_worker, to_caller;
    intptr_t (*fn)(void *);
    int pending; /* a request is posted */
    int done;    /* its reply is ready */
    int quit;
    intptr_t result;
} pt_run_t;

static void *
pt_worker(void *arg)
{
    pt_run_t *run = arg;
    pthread_mutex_lock(&run->m);
    for (;;) {
        while (!run->pending && !run->quit) {
            pthread_cond_wait(&run->to_worker, &run->m);
        }
        if (run->quit) {
            break;
        }
        run->pending = 0;
        pthread_mutex_unlock(&run->m);
        intptr_t r = run->fn(NULL);
        pthread_mutex_lock(&run->m);
        run->result = r;
        run->done = 1;
        pthread_cond_signal(&run->to_caller);
    }
    pthread_mutex_unlock(&run->m);
    return NULL;
}

static void
pt_call(pt_run_t *run)
{
    pthread_mutex_lock(&run->m);
    run->fn = empty;
    run->pending = 1;
    run->done = 0;
    pthread_cond_signal(&run->to_worker);
    while (!run->done) {
        pthread_cond_wait(&run->to_caller, &run->m);
    }
    pthread_mutex_unlock(&run->m);
}

static int
pt_case(bench_case_t *c, double *value)
{
    pt_run_t run = {.fn = empty};
    pthread_mutex_init(&run.m, NULL);
    pthread_cond_init(&run.to_worker, NULL);
    pthread_cond_init(&run.to_caller, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, pt_worker, &run) != 0) {
        return -EAGAIN;
    }
    uint64_t iters = bench_size(100000, 10000);
    pt_call(&run); /* warm */
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        pt_call(&run);
    }
    uint64_t elapsed = bench_now_ns() - t0;
    pthread_mutex_lock(&run.m);
    run.quit = 1;
    pthread_cond_signal(&run.to_worker);
    pthread_mutex_unlock(&run.m);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&run.m);
    pthread_cond_destroy(&run.to_worker);
    pthread_cond_destroy(&run.to_caller);
    *value = (double)elapsed / (double)iters;
    bench_extra_clear(c);
    bench_extra(c, "threads=2 calls=%llu", (unsigned long long)iters);
    return 0;
}

static const br_params_t P_RUN1 = {1, 0};
static const br_params_t P_RUN4 = {4, 0};
static const br_params_t P_SECTION1 = {1, 1};
static const br_params_t P_PT = {1, 0};

static bench_case_t cases[] = {
    BENCH_CASE("blocking_run", "empty-1task", "ns", br_case, &P_RUN1),
    BENCH_CASE("blocking_run", "empty-4tasks", "ns", br_case, &P_RUN4),
    BENCH_CASE("blocking_run", "enter_leave-1task", "ns", br_case, &P_SECTION1),
    BENCH_PEER("blocking_run", "pthread", "condvar-handoff", "ns", pt_case, &P_PT),
};

int
main(int argc, char **argv)
{
    bench_init(argc, argv,
               "sp_blocking_run round trip with an empty function, ns per call;\n"
               "peer: the same hand-off between two threads with condition variables.\n");
    return bench_run(cases, sizeof cases / sizeof cases[0]);
}
