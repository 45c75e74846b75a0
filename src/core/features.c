/* SPINDLE_FEATURES_OFF: a comma-separated list of kernel features spindle
 * must act as if this kernel lacked, so that the paths taken on older
 * kernels run, and are tested, on a new one (RELIABILITY.md B6.3):
 *
 *   defer_taskrun  no SINGLE_ISSUER | DEFER_TASKRUN ring (6.1)
 *   coop_taskrun   no COOP_TASKRUN either (5.19): a plain ring
 *   msg_ring       no IORING_OP_MSG_RING (5.18): eventfd doorbells
 *   cancel_fd      no IORING_ASYNC_CANCEL_FD (5.19): per-operation cancels
 *   reg_ring       no IORING_REGISTER_RING_FDS (5.18): enters name the fd
 *   guard          no MADV_GUARD_INSTALL (6.13): mprotect guard pages
 *
 * Read where each feature is probed (once per process). Unknown names are
 * logged once and ignored. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const char *const known[] = {"defer_taskrun", "coop_taskrun", "msg_ring", "cancel_fd",
                                    "reg_ring",      "guard",        "epoll_recheck"};

int
sp__feature_off(const char *name)
{
    const char *list = getenv("SPINDLE_FEATURES_OFF");
    if (!list) {
        return 0;
    }
    size_t n = strlen(name);
    int off = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && memcmp(p, name, n) == 0) {
            off = 1;
        }
        int ok = 0;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
            ok |= strlen(known[k]) == len && memcmp(p, known[k], len) == 0;
        }
        static _Atomic int warned;
        if (!ok && len > 0 && !sp_xchg_seqcst(&warned, 1)) {
            sp__log("SPINDLE_FEATURES_OFF: unknown feature '%.*s' ignored (known: "
                    "defer_taskrun, coop_taskrun, msg_ring, cancel_fd, reg_ring, guard, "
                    "epoll_recheck)",
                    (int)len, p);
        }
        p += len;
        p += *p == ',';
    }
    return off;
}
