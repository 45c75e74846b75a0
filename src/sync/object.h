/* What every sync object shares: the private layout behind a public
 * opaque struct, and the checks that turn misuse into a clear -EINVAL.
 *
 * Public types are embeddable (a mutex inside a user's struct) and keep
 * their state in an array of private words; each .c file casts it to its
 * own struct, which SP_SYNC_FITS checks at compile time. A zeroed object
 * is a valid, unused one where the type allows static initialisation
 * (SP_MUTEX_INIT ...); destroy stamps SP_SYNC_DEAD, so a later use of the
 * memory (still allocated) is reported instead of followed. */
#ifndef SP_SYNC_OBJECT_H
#define SP_SYNC_OBJECT_H

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>

#include "util/compiler.h"
#include "util/log.h"

#define SP_SYNC_LIVE 0x53594e43u /* "SYNC" */
#define SP_SYNC_DEAD 0xdeadd00du

#define SP_SYNC_FITS(impl, pub)                                                     \
    _Static_assert(sizeof(impl) <= sizeof(pub), #impl " outgrew " #pub);             \
    _Static_assert(alignof(impl) <= alignof(pub), #impl " alignment")

static inline int
sp__sync_null(const char *fn, const char *what)
{
    sp__log("%s: %s is NULL", fn, what);
    return -EINVAL;
}

/* 0, or -EINVAL with a line naming the problem. zero_ok: a zeroed object
 * counts as initialised (types with a static initialiser). */
static inline int
sp__sync_check_obj(const void *obj, uint32_t magic, int zero_ok, const char *fn,
                   const char *what)
{
    if (!obj) {
        return sp__sync_null(fn, what);
    }
    if (sp_likely(magic == SP_SYNC_LIVE) || (zero_ok && magic == 0)) {
        return 0;
    }
    if (magic == SP_SYNC_DEAD) {
        sp__log("%s: the %s was destroyed", fn, what);
    } else {
        sp__log("%s: the %s was never initialised", fn, what);
    }
    return -EINVAL;
}

#define sp__sync_check(obj, magic, fn, what) sp__sync_check_obj(obj, magic, 1, fn, what)

/* The end of every destroy, with the object's spinlock held: if `busy`
 * (held, or tasks wait), unlock, log and return -EBUSY (the object stays
 * usable); else stamp *magic dead, unlock, return 0. (retire.c) */
struct sp__spin;
int sp__sync_retire(struct sp__spin *lock, uint32_t *magic, int busy, const char *fn,
                    const char *what);

#endif
