/* The common end of the sync objects' destroy calls (object.h). */
#include <errno.h>

#include "sync/object.h"
#include "sync/sync.h"

int
sp__sync_retire(struct sp__spin *lock, uint32_t *magic, int busy, const char *fn,
                const char *what)
{
    if (busy) {
        sp__spin_unlock(lock);
        sp__log("%s: the %s is held or has waiting tasks", fn, what);
        return -EBUSY;
    }
    *magic = SP_SYNC_DEAD;
    sp__spin_unlock(lock);
    return 0;
}
