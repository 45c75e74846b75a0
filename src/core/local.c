/* Task-local storage: a small fixed array of slots in each task's control
 * block. It moves with the task, which makes it the safe replacement for
 * __thread in stealable tasks (DESIGN.md, hazard 1). Keys are process-wide
 * and never released, like pthread keys in practice. */
#include <errno.h>

#include "core/core.h"

static _Atomic int keys_used;

int
sp_task_local_create(sp_task_local_t *key)
{
    if (!key) {
        return -EINVAL;
    }
    int n = sp_load_relaxed(&keys_used);
    do {
        if (n >= SP_TASK_LOCAL_MAX) {
            sp__log("sp_task_local_create: all %d keys are in use", SP_TASK_LOCAL_MAX);
            return -EAGAIN;
        }
    } while (!sp_cas_acqrel(&keys_used, &n, n + 1));
    key->index = n;
    return 0;
}

static int
key_ok(sp_task_local_t key)
{
    return key.index >= 0 && key.index < sp_load_acquire(&keys_used);
}

void *
sp_task_local_get(sp_task_local_t key)
{
    struct sp__task *t = sp__task_current();
    return t && key_ok(key) ? t->locals[key.index] : NULL;
}

int
sp_task_local_set(sp_task_local_t key, void *value)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return -EPERM;
    }
    if (!key_ok(key)) {
        return -EINVAL;
    }
    t->locals[key.index] = value;
    return 0;
}

/* Called when a control block goes back to a free list: every slot a task
 * can have written is below keys_used (key_ok), and keys_used only grows,
 * so clearing that many leaves the whole array zero, as calloc made it.
 * Spawn then need not clear it (usually no key exists and this clears
 * nothing). Relaxed: a key created concurrently has an index at or above
 * what we read, and no task wrote its slot in this block. */
void
sp__local_clear(struct sp__task *t)
{
    int n = sp_load_relaxed(&keys_used);
    for (int i = 0; i < n; i++) {
        t->locals[i] = NULL;
    }
}
