/* Task groups (structured concurrency): children spawned into a group are
 * joined together; the first child that fails (returns a negative value)
 * cancels the others, and no child outlives sp_group_join.
 *
 * The group owns one record per child, in chunks that are never moved or
 * freed before destroy, so a record's address is the child's entry
 * argument and stays valid for the child's whole life. Under the group's
 * spinlock: the chunk list, each record's state and handle, and the group's
 * flags and first error.
 *
 * Spawn reserves a record (SPAWNING) under the lock, spawns without it, and
 * fills in the handle (LIVE) under it again; it never suspends in between,
 * so a joiner on another shard that meets a SPAWNING record waits by
 * yielding for at most one spawn. Cancelling walks the records under the
 * lock in batches and cancels their handles after unlocking; a spawn that
 * fills in its record after the group was cancelled cancels its child
 * itself, so no child escapes a cancel (both sides look at `cancelled` and
 * the handle in one critical section).
 *
 * Join takes the records in spawn order and joins each child. If the
 * joining task is cancelled or passes its deadline, it cancels the group
 * and joins the rest with its own conditions masked
 * (sp__call_join_nointr): children may use memory on its stack. A child
 * that never ran (no stack: -ENOMEM) is seen by the join's result. */
#include <errno.h>
#include <stdlib.h>

#include "spindle/group.h"
#include "sync/object.h"
#include "sync/sync.h"

#define CHUNK_CHILDREN 32
#define CANCEL_BATCH 16

enum { C_SPAWNING, C_LIVE, C_NOT_STARTED, C_JOINED };

struct group;

struct child {
    struct group *g;   /* fixed */
    sp_task_fn fn;     /* fixed */
    void *arg;         /* fixed */
    sp_task_t h;       /* under lock; set with C_LIVE */
    int state;         /* C_*; under lock */
};

struct chunk {
    struct chunk *next;
    struct child c[CHUNK_CHILDREN];
};

struct group {
    struct sp__spin lock;
    uint32_t magic;          /* under lock (destroy); read unlocked by checks */
    uint64_t deadline;       /* fixed at init; read by children */
    struct chunk *head, *tail; /* under lock; chunks only ever appended */
    uint32_t n;              /* records taken; under lock */
    uint32_t cap;            /* records the chunks hold; under lock */
    int cancelled;           /* under lock; set once */
    int joining, joined;     /* under lock */
    intptr_t first_error;    /* first negative child result; under lock */
};
SP_SYNC_FITS(struct group, sp_group_t);

static int
group_check(sp_group_t *gp, const char *fn)
{
    struct group *g = (struct group *)gp;
    return sp__sync_check_obj(gp, g ? g->magic : 0, 0, fn, "group");
}

int
sp_group_init(sp_group_t *gp, uint64_t deadline_ns)
{
    if (!gp) {
        return sp__sync_null("sp_group_init", "group");
    }
    struct group *g = (struct group *)gp;
    *g = (struct group){.magic = SP_SYNC_LIVE, .deadline = deadline_ns};
    return 0;
}

int
sp_group_destroy(sp_group_t *gp)
{
    int err = group_check(gp, "sp_group_destroy");
    if (err < 0) {
        return err;
    }
    struct group *g = (struct group *)gp;
    sp__spin_lock(&g->lock);
    if (g->joining || (g->n && !g->joined)) {
        sp__spin_unlock(&g->lock);
        sp__log("sp_group_destroy: the group has children and was not joined");
        return -EBUSY;
    }
    struct chunk *k = g->head;
    g->head = g->tail = NULL;
    g->magic = SP_SYNC_DEAD;
    sp__spin_unlock(&g->lock);
    while (k) {
        struct chunk *next = k->next;
        free(k);
        k = next;
    }
    return 0;
}

/* Lock held. Record i, found from the cursor (*k, i): records are read in
 * order, so the cursor moves to the next chunk at each boundary. */
static struct child *
record_at(struct group *g, struct chunk **k, uint32_t i)
{
    if (!*k) {
        *k = g->head;
    } else if (i % CHUNK_CHILDREN == 0) {
        *k = (*k)->next;
    }
    return &(*k)->c[i % CHUNK_CHILDREN];
}

/* Cancel every child whose handle is known: in batches, each collected
 * under the lock and cancelled after it. Runs once per group. */
static void
cancel_children(struct group *g)
{
    sp__spin_lock(&g->lock);
    if (g->cancelled) {
        sp__spin_unlock(&g->lock);
        return;
    }
    g->cancelled = 1;
    uint32_t i = 0;
    struct chunk *k = NULL;
    for (;;) {
        sp_task_t batch[CANCEL_BATCH];
        int nb = 0;
        /* Records past n are spawned after the flag and cancel themselves. */
        for (; i < g->n && nb < CANCEL_BATCH; i++) {
            struct child *c = record_at(g, &k, i);
            if (c->state == C_LIVE) {
                batch[nb++] = c->h;
            }
        }
        sp__spin_unlock(&g->lock);
        for (int j = 0; j < nb; j++) {
            sp_task_cancel(batch[j]); /* -ESRCH: already released */
        }
        if (nb < CANCEL_BATCH) {
            return;
        }
        sp__spin_lock(&g->lock);
    }
}

/* A child returned err < 0 (or never ran): record the first failure and
 * cancel the others. */
static void
fail(struct group *g, intptr_t err)
{
    sp__spin_lock(&g->lock);
    if (g->first_error == 0) {
        g->first_error = err;
    }
    sp__spin_unlock(&g->lock);
    cancel_children(g);
}

static intptr_t
child_main(void *arg)
{
    struct child *c = arg;
    struct group *g = c->g;
    if (g->deadline != SP_DEADLINE_NONE) {
        sp_task_set_deadline(g->deadline);
    }
    intptr_t r = c->fn(c->arg);
    if (r < 0) {
        fail(g, r);
    }
    /* The joiner cannot finish with this child before it is DONE, after
     * this return: g stays valid up to here. */
    return r;
}

/* Reserve a record for a spawn (C_SPAWNING). 0 with *out set, or
 * -ECANCELED / -ESHUTDOWN / -ENOMEM. Chunks are allocated outside the
 * spinlock and appended under it. */
static int
reserve(struct group *g, struct child **out)
{
    struct chunk *spare = NULL;
    *out = NULL;
    for (;;) {
        sp__spin_lock(&g->lock);
        int err = g->joined ? -ESHUTDOWN : g->cancelled ? -ECANCELED : 0;
        if (err == 0 && g->n == g->cap && spare) {
            spare->next = NULL;
            if (g->tail) {
                g->tail->next = spare;
            } else {
                g->head = spare;
            }
            g->tail = spare;
            g->cap += CHUNK_CHILDREN;
            spare = NULL;
        }
        if (err == 0 && g->n < g->cap) {
            /* Record n is in the last chunk: chunks are added one at a
             * time, when the records fill them. */
            *out = &g->tail->c[g->n % CHUNK_CHILDREN];
            (*out)->state = C_SPAWNING;
            g->n++;
        }
        sp__spin_unlock(&g->lock);
        if (err < 0 || *out) {
            free(spare);
            return err;
        }
        spare = malloc(sizeof(*spare));
        if (!spare) {
            return -ENOMEM;
        }
    }
}

int
sp_group_spawn(sp_group_t *gp, const sp_task_attr_t *attr, sp_task_fn fn, void *arg)
{
    struct sp__task *self = sp__sync_self("sp_group_spawn");
    int err = group_check(gp, "sp_group_spawn");
    if (err < 0 || !self) {
        return err < 0 ? err : -EPERM;
    }
    if (!fn) {
        sp__log("sp_group_spawn: fn is NULL");
        return -EINVAL;
    }
    struct group *g = (struct group *)gp;
    struct child *c;
    err = reserve(g, &c);
    if (err < 0) {
        return err;
    }
    c->g = g;
    c->fn = fn;
    c->arg = arg;
    sp_task_t h = {0, NULL};
    err = sp_task_spawn(&h, attr, child_main, c);
    sp__spin_lock(&g->lock);
    c->state = err < 0 ? C_NOT_STARTED : C_LIVE;
    c->h = h;
    /* The group was cancelled between reserve and now: the canceller saw
     * this record SPAWNING and skipped it, so cancel the child here. */
    int late = err == 0 && g->cancelled;
    sp__spin_unlock(&g->lock);
    if (late) {
        sp_task_cancel(h);
    }
    return err;
}

int
sp_group_cancel(sp_group_t *gp)
{
    int err = group_check(gp, "sp_group_cancel");
    if (err < 0) {
        return err;
    }
    cancel_children((struct group *)gp);
    return 0;
}

/* Join one child to the end. *own: the joiner's -ECANCELED / -ETIMEDOUT
 * once it was seen (the group is cancelled then, and later joins mask the
 * joiner's conditions). Returns the child's result. */
static intptr_t
join_child(struct group *g, sp_task_t h, int *own)
{
    intptr_t r = 0;
    int err = *own ? sp__call_join_nointr(h, &r) : sp_task_join(h, &r);
    if (err == -ECANCELED || err == -ETIMEDOUT) {
        *own = err;
        cancel_children(g);
        err = sp__call_join_nointr(h, &r);
    }
    if (err < 0) {
        /* The group owns the handle: no one else can join or detach it. */
        sp__log("sp_group_join: joining a child failed: %s", sp_err_name(err));
        SP_ASSERT(0);
        return 0;
    }
    return r;
}

/* Lock held. Claim the join; 0 or -EINVAL (logged). */
static int
claim_join(struct group *g)
{
    if (g->joining || g->joined) {
        sp__log("sp_group_join: the group is %s", g->joined ? "joined already"
                                                             : "being joined");
        return -EINVAL;
    }
    g->joining = 1;
    return 0;
}

int
sp_group_join(sp_group_t *gp, intptr_t *first_error)
{
    struct sp__task *self = sp__sync_self("sp_group_join");
    int err = group_check(gp, "sp_group_join");
    if (err < 0 || !self) {
        return err < 0 ? err : -EPERM;
    }
    struct group *g = (struct group *)gp;
    sp__spin_lock(&g->lock);
    err = claim_join(g);
    sp__spin_unlock(&g->lock);
    if (err < 0) {
        return err;
    }
    int own = 0;
    struct chunk *k = NULL;
    for (uint32_t i = 0;;) {
        sp__spin_lock(&g->lock);
        if (i == g->n) {
            /* Every record is joined and nobody is spawning (a spawner
             * would have taken record n first): close the group. */
            g->joining = 0;
            g->joined = 1;
            intptr_t fe = g->first_error;
            sp__spin_unlock(&g->lock);
            if (first_error) {
                *first_error = fe;
            }
            return own;
        }
        struct chunk *at = k;
        struct child *c = record_at(g, &at, i);
        int state = c->state;
        sp_task_t h = c->h;
        sp__spin_unlock(&g->lock);
        if (state == C_SPAWNING) {
            /* The spawner is between reserve and fill-in on another shard
             * and does not suspend there: let it finish. */
            sp_task_yield();
            continue;
        }
        k = at;
        i++;
        if (state == C_LIVE) {
            intptr_t r = join_child(g, h, &own);
            sp__spin_lock(&g->lock);
            c->state = C_JOINED;
            sp__spin_unlock(&g->lock);
            if (r < 0) {
                fail(g, r); /* a child that got no stack never ran child_main */
            }
        }
    }
}
