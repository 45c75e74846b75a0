/* The stall detector (DESIGN.md hazard 3, RELIABILITY.md B5.4): a task that
 * runs on a shard for longer than cfg.stall_ns without reaching a
 * suspension point holds up every other task of that shard (a blocking
 * system call, a long computation). It cannot be stopped, but it is named.
 *
 * One watchdog thread per runtime wakes every stall_ns / 4. A shard is
 * stalled when the same task is on its CPU (sh->current) and its
 * resumption count (stats.switches) has not moved since the watchdog first
 * saw it so, for stall_ns or longer. Each episode is logged once, with the
 * shard and the task's name, and counted in the shard's `stalls`
 * statistic. It costs the shard nothing: `current` is atomic for this
 * reader, and run_task's release store and the shard's relaxed loads are
 * the plain moves they were on x86. A stall is reported between stall_ns and 1.25 * stall_ns after it
 * began. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"

struct sp__stall {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    struct watch {
        struct sp__task *task; /* on the CPU at the last look, or NULL */
        uint64_t switches;     /* stats.switches then */
        uint64_t since;        /* when that was first seen */
        int reported;          /* this episode has been logged */
    } w[];
};

static void
look(struct sp__shard *sh, struct watch *w, uint64_t now, uint64_t limit)
{
    struct sp__task *t = sp_load_acquire(&sh->current);
    uint64_t sw = sp_load_relaxed(&sh->stats.switches);
    if (t == NULL || t != w->task || sw != w->switches) {
        w->task = t;
        w->switches = sw;
        w->since = now;
        w->reported = 0;
        return;
    }
    if (w->reported || now - w->since < limit) {
        return;
    }
    /* The task may end and its block be reused under us: read its name
     * under a reference (sp__task_get fails if the block already holds
     * another task; the reference keeps it from being reused), then make
     * sure the task was still on the CPU. */
    sp_task_t h = {sp_load_acquire(&t->id_bits), sh->rt};
    struct sp__task *ref = sp__task_get(sh->rt, h);
    if (!ref) {
        return;
    }
    char name[SP_TASK_NAME_MAX];
    memcpy(name, ref->name, sizeof(name));
    name[sizeof(name) - 1] = '\0';
    sp__task_put(ref);
    if (sp_load_acquire(&sh->current) != t || sp_load_relaxed(&sh->stats.switches) != sw) {
        return;
    }
    w->reported = 1;
    sp_fetch_add_relaxed(&sh->stats.stalls, 1);
    sp__log("shard %d: task \"%s\" has run for %llu ms without a suspension point, "
            "holding up the shard's other tasks (a blocking call? sp_blocking_run "
            "or sp_blocking_enter keep the shard free)",
            sh->index, name, (unsigned long long)((now - w->since) / 1000000));
}

static void *
watchdog(void *arg)
{
    struct sp_runtime *rt = arg;
    struct sp__stall *s = rt->stall;
    uint64_t limit = rt->cfg.stall_ns, period = limit / 4;
    if (period < 1000000) {
        period = 1000000;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wake = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + period;
        ts.tv_sec = (time_t)(wake / 1000000000ull);
        ts.tv_nsec = (long)(wake % 1000000000ull);
        while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT) {
        }
        if (s->stop) {
            break;
        }
        pthread_mutex_unlock(&s->lock);
        uint64_t now = sp__now();
        for (int i = 0; i < rt->nshards; i++) {
            look(rt->shards[i], &s->w[i], now, limit);
        }
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int
sp__stall_start(struct sp_runtime *rt)
{
    if (rt->cfg.stall_ns == 0) {
        return 0;
    }
    struct sp__stall *s = calloc(1, sizeof(*s) + (size_t)rt->nshards * sizeof(s->w[0]));
    if (!s) {
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    rt->stall = s;
    int err = sp__thread_create(&s->thread, watchdog, rt);
    if (err) {
        rt->stall = NULL;
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return -err;
    }
    return 0;
}

void
sp__stall_stop_begin(struct sp_runtime *rt)
{
    struct sp__stall *s = rt->stall;
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void
sp__stall_stop(struct sp_runtime *rt)
{
    struct sp__stall *s = rt->stall;
    if (!s) {
        return;
    }
    sp__stall_stop_begin(rt);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    rt->stall = NULL;
}
