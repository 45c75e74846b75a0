/* Task lifecycle: spawn, the entry trampoline, finish, join, detach,
 * cancel, and the handle rules.
 *
 * A control block holds these references (field `refs`): one for the
 * running task, dropped by the scheduler once the task is DONE and its
 * stack released; one for the join handle, dropped by join or detach; and
 * short-lived ones taken by sp__task_get() while a call works on a handle.
 * The block goes back to a free list when the count reaches zero; it is
 * never unmapped before the runtime, so checking a stale handle against
 * id_bits is always safe.
 *
 * Join protocol (Dekker pair on state/joiner, both seq_cst):
 *   finisher: exchange state = DONE, then load joiner and wake it;
 *   joiner:   store joiner = self, then load state and park until DONE.
 * Either the finisher sees the joiner or the joiner sees DONE.
 *
 * join and detach do not take a reference: a valid handle owns one. They
 * check the generation, claim the handle with a CAS, and check the
 * generation again, so a stale handle is rejected (-ESRCH or -EINVAL)
 * rather than followed. */
#include <errno.h>
#include <string.h>

#include "core/core.h"
#include "sched/runq.h"

struct sp__task *
sp__task_current(void)
{
    struct sp__shard *sh = sp__shard_current();
    return sh ? sp_load_relaxed(&sh->current) : NULL;
}

void
sp__task_main(void *arg)
{
    sp__ctx_started();
    struct sp__task *t = arg;
    t->result = t->fn(t->arg);
    sp__shard_to_scheduler(t, YIELD_DONE);
    __builtin_unreachable();
}

void
sp_task_attr_init(sp_task_attr_t *attr)
{
    memset(attr, 0, sizeof(*attr));
    attr->place = SP_PLACE_STEALABLE;
}

static long
pinned_load(struct sp__shard *sh)
{
    return sp_load_relaxed(&sh->pinned_own) + sp_load_relaxed(&sh->pinned_remote);
}

static int
least_loaded(struct sp_runtime *rt)
{
    int best = 0;
    long best_load = pinned_load(rt->shards[0]);
    for (int i = 1; i < rt->nshards; i++) {
        long load = pinned_load(rt->shards[i]);
        if (load < best_load) {
            best = i;
            best_load = load;
        }
    }
    return best;
}

/* Where the new task is pinned (SP_NO_SHARD: stealable), or -EINVAL. */
static int
choose_home(struct sp_runtime *rt, struct sp__shard *from, const sp_task_attr_t *attr)
{
    switch (attr->place) {
    case SP_PLACE_STEALABLE:
        return SP_NO_SHARD;
    case SP_PLACE_LOCAL:
        if (!from) {
            sp__log("sp_task_spawn: SP_PLACE_LOCAL needs a calling task");
            return -EINVAL;
        }
        return from->index;
    case SP_PLACE_ON:
        if (attr->shard < 0 || attr->shard >= rt->nshards) {
            sp__log("sp_task_spawn: shard %d does not exist (runtime has %d)", attr->shard,
                    rt->nshards);
            return -EINVAL;
        }
        return attr->shard;
    case SP_PLACE_PINNED:
        return least_loaded(rt);
    }
    sp__log("sp_task_spawn: unknown placement %d", (int)attr->place);
    return -EINVAL;
}

static void
init_block(struct sp__task *t, struct sp_runtime *rt, const sp_task_attr_t *attr,
           sp_task_fn fn, void *arg, int home)
{
    t->fn = fn;
    t->arg = arg;
    t->result = 0;
    t->rt = rt;
    t->next = NULL;
    sp_store_relaxed(&t->cancelled, 0);
    sp_store_relaxed(&t->user_token, 0);
    sp_store_relaxed(&t->joiner, NULL);
    sp_store_relaxed(&t->home, home);
    sp_store_relaxed(&t->resume, SP_NO_SHARD);
    sp_store_relaxed(&t->last_shard, home == SP_NO_SHARD ? 0 : home);
    sp_store_relaxed(&t->state, TS_ACTIVE);
    t->deadline = SP_DEADLINE_NONE;
    t->last_send_fd = -1;
    /* t->locals is all NULL already: see sp__local_clear. */
    if (!attr->name) {
        memcpy(t->name, "task", 5);
        return;
    }
    size_t len = strnlen(attr->name, SP_TASK_NAME_MAX - 1);
    memcpy(t->name, attr->name, len);
    t->name[len] = '\0';
}

int
sp__task_spawn_on(struct sp_runtime *rt, struct sp__shard *from, sp_task_t *out,
                  const sp_task_attr_t *attr, sp_task_fn fn, void *arg)
{
    sp_task_attr_t defaults;
    if (!attr) {
        sp_task_attr_init(&defaults);
        attr = &defaults;
    }
    if (!fn) {
        sp__log("sp_task_spawn: entry function is NULL");
        return -EINVAL;
    }
    size_t stack = attr->stack_size ? attr->stack_size : sp__stack_default(rt);
    if (sp__stack_check_size(stack) < 0) {
        return -EINVAL;
    }
    int home = choose_home(rt, from, attr);
    if (home < SP_NO_SHARD) {
        return home;
    }
    /* seq_cst: pairs with sp_runtime_destroy (see foreign_spawning). */
    if (sp_load_seqcst(&rt->stopping)) {
        return -ESHUTDOWN;
    }
    struct sp__task *t = sp__table_alloc(rt, from);
    if (!t) {
        return -ENOMEM;
    }
    /* The stack is taken when the task first runs (sp__task_first_run), so
     * spawning many tasks before any runs costs control blocks only. */
    t->stack_map = NULL;
    t->stack_want = stack;
    init_block(t, rt, attr, fn, arg, home);
    sp_store_relaxed(&t->handle, out ? H_ATTACHED : H_DETACHED);
    if (home != SP_NO_SHARD) {
        sp__place_count(rt, from, home, 1);
    }
    uint64_t bits = ((uint64_t)++t->gen << 32) | t->index;
    sp_store_relaxed(&t->id_bits, bits);
    /* Release pairs with the CAS in sp__task_get: a reference taken there
     * sees the id_bits and fields written above. */
    sp_store_release(&t->refs, out ? 2u : 1u);
    if (out) {
        out->bits = bits;
        out->rt = rt;
    }
    if (from) {
        sp_counter_add(&from->stats.spawned, 1);
    }
    int target = home;
    if (target == SP_NO_SHARD) {
        target = from ? from->index : (int)(sp_fetch_add_relaxed(&rt->rr, 1) % rt->nshards);
        sp_store_relaxed(&t->last_shard, target);
    }
    if (from && target == from->index) {
        sp__runq_push_local(from, t);
    } else {
        sp__runq_submit(rt, t, target);
    }
    return 0;
}

int
sp_task_spawn(sp_task_t *out, const sp_task_attr_t *attr, sp_task_fn fn, void *arg)
{
    struct sp__shard *sh = sp__shard_current();
    if (!sh) {
        sp__log("sp_task_spawn: not called from a task (use sp_runtime_block_on)");
        return -EPERM;
    }
    return sp__task_spawn_on(sh->rt, sh, out, attr, fn, arg);
}

/* Before a task's first run, on the shard that will run it: give it a
 * stack. If none can be had, the task ends with result -ENOMEM without its
 * entry ever running (joiners see that result); returns -ENOMEM then. */
SP_COLD int
sp__task_first_run(struct sp__shard *sh, struct sp__task *t)
{
    int err = sp__stack_alloc(sh, t, t->stack_want);
    if (err < 0) {
        sp__log("task %s: no stack (%s); it ends with -ENOMEM without running",
                t->name, sp_err_name(err));
        t->result = err;
        sp__task_finish(sh, t);
    }
    return err;
}

/* Runs on the scheduler stack of the shard that ran the task last, after
 * the task's final switch: only now may its stack be reused. */
void
sp__task_finish(struct sp__shard *sh, struct sp__task *t)
{
    struct sp_runtime *rt = t->rt;
    if (t->stack_map) {
        sp__stack_free(sh, t);
    }
    int home = sp_load_relaxed(&t->home);
    if (home != SP_NO_SHARD) {
        sp__place_count(rt, sh, home, -1);
    }
    /* seq_cst: pairs with the joiner's store of joiner (Dekker, above). */
    sp_xchg_seqcst(&t->state, TS_DONE);
    struct sp__task *j = sp_load_seqcst(&t->joiner);
    if (j) {
        sp__wake(j);
    }
    sp__task_put(t);
}

struct sp__task *
sp__task_get(struct sp_runtime *rt, sp_task_t h)
{
    if (!rt || h.bits == 0) {
        return NULL;
    }
    struct sp__task *t = sp__table_lookup(rt, (uint32_t)h.bits);
    if (!t) {
        return NULL;
    }
    uint32_t refs = sp_load_relaxed(&t->refs);
    do {
        if (refs == 0) {
            return NULL;
        }
    } while (!sp_cas_acqrel(&t->refs, &refs, refs + 1));
    if (sp_load_acquire(&t->id_bits) != h.bits) {
        sp__task_put(t);
        return NULL;
    }
    return t;
}

void
sp__task_put(struct sp__task *t)
{
    /* acq_rel: the thread that drops the last reference sees every write
     * made under the other references before it recycles the block. */
    if (sp_fetch_sub_acqrel(&t->refs, 1) != 1) {
        return;
    }
    sp_store_relaxed(&t->id_bits, 0);
    sp_store_relaxed(&t->state, TS_FREE);
    sp__local_clear(t);
    sp__table_free(t->rt, sp__shard_current(), t);
}

static struct sp_runtime *
current_rt(void)
{
    struct sp__shard *sh = sp__shard_current();
    return sh ? sh->rt : NULL;
}

/* Claim handle h (H_ATTACHED -> to) without taking a reference: see the
 * comment at the top. Returns the block, or NULL with *err set. */
static struct sp__task *
claim_handle(struct sp_runtime *rt, sp_task_t h, uint32_t to, int *err)
{
    struct sp__task *t = h.bits ? sp__table_lookup(rt, (uint32_t)h.bits) : NULL;
    if (!t || sp_load_acquire(&t->id_bits) != h.bits) {
        *err = -ESRCH;
        return NULL;
    }
    uint32_t hs = H_ATTACHED;
    if (!sp_cas_seqcst(&t->handle, &hs, to)) {
        *err = -EINVAL;
        return NULL;
    }
    if (sp_load_acquire(&t->id_bits) != h.bits) {
        /* The block was recycled between the checks (the handle was used
         * concurrently elsewhere): undo the claim on the new task. */
        sp_store_seqcst(&t->handle, H_ATTACHED);
        *err = -ESRCH;
        return NULL;
    }
    return t;
}

static int
is_done(struct sp__task *t)
{
    return (sp_load_seqcst(&t->state) & TS_MASK) == TS_DONE;
}

int
sp_task_join(sp_task_t h, intptr_t *result)
{
    struct sp__task *self = sp__task_current();
    if (!self) {
        sp__log("sp_task_join: not called from a task");
        return -EPERM;
    }
    if ((h.rt && h.rt != self->rt) || h.bits == sp_load_relaxed(&self->id_bits)) {
        sp__log("sp_task_join: the handle is %s",
                h.bits == sp_load_relaxed(&self->id_bits) ? "the caller itself"
                                                          : "of another runtime");
        return -EINVAL;
    }
    int err = 0;
    struct sp__task *t = claim_handle(self->rt, h, H_JOINING, &err);
    if (!t) {
        if (err == -EINVAL) {
            sp__log("sp_task_join: the handle is detached, joined or being joined");
        }
        return err;
    }
    if (!is_done(t)) {
        sp_store_seqcst(&t->joiner, self);
        while (!is_done(t)) {
            err = sp__park(SP_DEADLINE_NONE);
            if (err < 0) {
                break;
            }
        }
        sp_store_seqcst(&t->joiner, NULL);
        if (err < 0 && !is_done(t)) {
            sp_store_seqcst(&t->handle, H_ATTACHED);
            return err;
        }
    }
    if (result) {
        *result = t->result;
    }
    sp_store_relaxed(&t->handle, H_RELEASED);
    sp__task_put(t); /* the handle's reference */
    return 0;
}

static int
handle_rt_get(sp_task_t h, struct sp__task **out)
{
    struct sp_runtime *rt = h.rt ? h.rt : current_rt();
    if (!rt) {
        return -EPERM;
    }
    *out = sp__task_get(rt, h);
    return *out ? 0 : -ESRCH;
}

int
sp_task_detach(sp_task_t h)
{
    struct sp_runtime *rt = h.rt ? h.rt : current_rt();
    if (!rt) {
        return -EPERM;
    }
    int err = 0;
    struct sp__task *t = claim_handle(rt, h, H_DETACHED, &err);
    if (!t) {
        if (err == -EINVAL) {
            sp__log("sp_task_detach: the handle is detached, joined or being joined");
        }
        return err;
    }
    sp__task_put(t); /* the handle's reference */
    return 0;
}

/* Also used by the runtime at shutdown, from a thread that is not a
 * shard; hence the explicit runtime. */
int
sp__task_cancel_in(struct sp_runtime *rt, sp_task_t h)
{
    struct sp__task *t = sp__task_get(rt, h);
    if (!t) {
        return -ESRCH;
    }
    /* seq_cst: pairs with the load at the target's suspension point, which
     * follows its state transition; the wake below then finds it PARKED
     * (and queues it) or ACTIVE (and leaves NOTIFY, so its park returns). */
    sp_store_seqcst(&t->cancelled, 1);
    sp__wake(t);
    sp__task_put(t);
    return 0;
}

int
sp_task_cancel(sp_task_t h)
{
    struct sp_runtime *rt = h.rt ? h.rt : current_rt();
    return rt ? sp__task_cancel_in(rt, h) : -EPERM;
}

int
sp_task_unpark(sp_task_t h)
{
    struct sp__task *t;
    int err = handle_rt_get(h, &t);
    if (err < 0) {
        return err;
    }
    /* release: pairs with the acquire of the exchange that consumes the
     * token in sp_task_park. No seq_cst needed: a park that read 0 before
     * this store has not consumed the wake below, whose CAS on the state
     * word is ordered after this store; the park's next look at the word
     * (its acquire, or the scheduler's CAS to PARKED) then sees the wake,
     * and its re-check of the token happens after this store. */
    sp_store_release(&t->user_token, 1);
    sp__wake(t);
    sp__task_put(t);
    return 0;
}

int
sp_task_park(void)
{
    struct sp__task *t = sp__task_current();
    if (!t) {
        return -EPERM;
    }
    /* The token is separate from the internal NOTIFY bit, so a sleep or a
     * join that consumes an internal wake never eats a user's unpark. */
    /* Look before taking: most parks find no token, and a plain acquire
     * load costs nothing where the exchange is a locked instruction. The
     * exchange (acq_rel: acquire pairs with the release store in
     * sp_task_unpark) is what consumes a token, so two parks never
     * consume one token. */
    while (!(sp_load_acquire(&t->user_token) && sp_xchg_acqrel(&t->user_token, 0))) {
        int err = sp__park(SP_DEADLINE_NONE);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

int
sp_task_yield(void)
{
    struct sp__shard *sh = sp__shard_current();
    struct sp__task *t = sh ? sp_load_relaxed(&sh->current) : NULL;
    if (!t) {
        return -EPERM;
    }
    sp__shard_switch_out(sh, t, YIELD_REQUEUE);
    /* sh is stale from here on: the task may have moved. */
    return sp__suspend_result(t);
}

sp_task_t
sp_task_self(void)
{
    struct sp__task *t = sp__task_current();
    sp_task_t h = {t ? sp_load_relaxed(&t->id_bits) : 0, t ? t->rt : NULL};
    return h;
}

uint64_t
sp_task_id(void)
{
    return sp_task_self().bits;
}

const char *
sp_task_name(void)
{
    struct sp__task *t = sp__task_current();
    return t ? t->name : "";
}

int
sp_task_is_cancelled(void)
{
    struct sp__task *t = sp__task_current();
    return t ? sp_load_seqcst(&t->cancelled) : 0;
}

int
sp_shard_id(void)
{
    struct sp__shard *sh = sp__shard_current();
    return sh ? sh->index : -1;
}

int
sp_shard_count(void)
{
    struct sp__shard *sh = sp__shard_current();
    return sh ? sh->rt->nshards : 0;
}
