/* Runtime configuration: defaults, environment overrides, validation.
 * Every rejected value is named in a log line, and the call returns
 * -EINVAL. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* Spin before parking: waking a sleeping vCPU costs ~35-40 us on the VMs
 * we measure on (BENCHMARKS.md), so an idle shard polls for 50 us before it
 * sleeps. docs/design/park-wake.md records the measurement. */
#define DEFAULT_SPIN_NS 50000u

void
sp_config_init(sp_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->shards = 0;
    cfg->pin_threads = 0;
    cfg->ring_entries = 256;
    cfg->stack_size = 64 * 1024;
    cfg->backend = SP_BACKEND_AUTO;
    cfg->spin_ns = DEFAULT_SPIN_NS;
    cfg->stack_pool_max = 1024;
    cfg->force_migrate = 0;
    cfg->blocking_max_threads = 64;
    cfg->blocking_idle_ns = 10 * SP_NSEC_PER_SEC;
    cfg->stall_ns = 100 * SP_NSEC_PER_MSEC;
}

static int
env_long(const char *name, long lo, long hi, long *out)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        sp__log("%s=%s is not a number in %ld..%ld", name, s, lo, hi);
        return -EINVAL;
    }
    *out = v;
    return 1;
}

static int
apply_env(sp_config_t *cfg)
{
    long v;
    int r;
    if ((r = env_long("SPINDLE_SHARDS", 1, 1024, &v)) < 0) {
        return r;
    } else if (r) {
        cfg->shards = (int)v;
    }
    if ((r = env_long("SPINDLE_SPIN_NS", 0, 10000000000L, &v)) < 0) {
        return r;
    } else if (r) {
        cfg->spin_ns = (uint64_t)v;
    }
    if ((r = env_long("SPINDLE_PIN", 0, 1, &v)) < 0) {
        return r;
    } else if (r) {
        cfg->pin_threads = (int)v;
    }
    if ((r = env_long("SPINDLE_BLOCKING_THREADS", 1, 4096, &v)) < 0) {
        return r;
    } else if (r) {
        cfg->blocking_max_threads = (unsigned)v;
    }
    if ((r = env_long("SPINDLE_STALL_MS", 0, 3600 * 1000L, &v)) < 0) {
        return r;
    } else if (r) {
        cfg->stall_ns = (uint64_t)v * SP_NSEC_PER_MSEC;
    }
    const char *be = getenv("SPINDLE_BACKEND");
    if (be && *be) {
        if (strcmp(be, "uring") == 0) {
            cfg->backend = SP_BACKEND_URING;
        } else if (strcmp(be, "epoll") == 0) {
            cfg->backend = SP_BACKEND_EPOLL;
        } else if (strcmp(be, "auto") == 0) {
            cfg->backend = SP_BACKEND_AUTO;
        } else {
            sp__log("SPINDLE_BACKEND=%s: expected uring, epoll or auto", be);
            return -EINVAL;
        }
    }
    return 0;
}

static int
usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        return CPU_COUNT(&set);
    }
    return 1;
}

/* Fill *out from cfg (or defaults) and the environment, then check it. */
int
sp__config_resolve(const sp_config_t *cfg, sp_config_t *out)
{
    if (cfg) {
        *out = *cfg;
    } else {
        sp_config_init(out);
    }
    int err = apply_env(out);
    if (err < 0) {
        return err;
    }
    if (out->shards == 0) {
        out->shards = usable_cpus();
    }
    if (out->shards < 1 || out->shards > 1024) {
        sp__log("config: shards = %d, expected 1..1024 (0 for one per CPU)", out->shards);
        return -EINVAL;
    }
    unsigned re = out->ring_entries;
    if (re < 2 || re > 32768 || (re & (re - 1))) {
        sp__log("config: ring_entries = %u, expected a power of two in 2..32768", re);
        return -EINVAL;
    }
    if (sp__stack_check_size(out->stack_size) < 0) {
        return -EINVAL;
    }
    if (out->blocking_max_threads < 1 || out->blocking_max_threads > 4096) {
        sp__log("config: blocking_max_threads = %u, expected 1..4096",
                out->blocking_max_threads);
        return -EINVAL;
    }
    if (out->blocking_idle_ns > 3600 * SP_NSEC_PER_SEC) {
        sp__log("config: blocking_idle_ns = %llu, expected at most one hour",
                (unsigned long long)out->blocking_idle_ns);
        return -EINVAL;
    }
    if (out->stall_ns > 3600 * SP_NSEC_PER_SEC) {
        sp__log("config: stall_ns = %llu, expected at most one hour (0: off)",
                (unsigned long long)out->stall_ns);
        return -EINVAL;
    }
    if (out->backend != SP_BACKEND_AUTO && out->backend != SP_BACKEND_URING &&
        out->backend != SP_BACKEND_EPOLL) {
        sp__log("config: unknown backend %d", (int)out->backend);
        return -EINVAL;
    }
    return 0;
}
