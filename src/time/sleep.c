/* Sleeps, per-task deadlines and intervals, on top of sp__park's timed
 * wait (src/sched/wake.c). A sleep loops because a park may return early
 * (a wake meant for something else); it never returns before its time. */
#include <errno.h>

#include "core/core.h"
#include "time/timer.h"

uint64_t
sp_now_ns(void)
{
    return sp__now();
}

int
sp_sleep_until(uint64_t deadline_ns)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return -EPERM;
    }
    if (deadline_ns <= sp__now()) {
        return sp_task_yield();
    }
    for (;;) {
        int err = sp__park(deadline_ns);
        if (err < 0) {
            return err;
        }
        if (sp__now() >= deadline_ns) {
            return 0;
        }
    }
}

int
sp_sleep_ns(uint64_t ns)
{
    uint64_t now = sp__now();
    return sp_sleep_until(ns > UINT64_MAX - now ? UINT64_MAX - 1 : now + ns);
}

uint64_t
sp_task_set_deadline(uint64_t deadline_ns)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return SP_DEADLINE_NONE;
    }
    uint64_t old = t->deadline;
    t->deadline = deadline_ns;
    return old;
}

uint64_t
sp_task_deadline(void)
{
    struct sp__task *t = sp__task_current();
    return t ? t->deadline : SP_DEADLINE_NONE;
}

int
sp_interval_init(sp_interval_t *iv, uint64_t period_ns)
{
    if (!iv || period_ns == 0) {
        sp__log("sp_interval_init: %s", iv ? "period is 0" : "iv is NULL");
        return -EINVAL;
    }
    iv->period_ns = period_ns;
    iv->next_ns = sp__now() + period_ns;
    return 0;
}

int
sp_interval_tick(sp_interval_t *iv)
{
    if (!iv || iv->period_ns == 0) {
        return -EINVAL;
    }
    int err = sp_sleep_until(iv->next_ns);
    if (err < 0) {
        return err;
    }
    /* Count the boundaries passed, and skip missed ones rather than
     * bunching them (tokio's MissedTickBehavior::Skip). */
    uint64_t now = sp__now();
    uint64_t ticks = 1 + (now - iv->next_ns) / iv->period_ns;
    iv->next_ns += ticks * iv->period_ns;
    return ticks > INT32_MAX ? INT32_MAX : (int)ticks;
}
