/* kv: a memcached-compatible cache server (text protocol) on spindle.
 *
 *   kv [--port=11211] [--host=0.0.0.0] [--shards=N] [--arch=sharded|shared]
 *      (default arch: sharded on one shard, shared on more)
 *      [--memory=MB] [--item-max=BYTES] [--line-max=BYTES]
 *      [--idle-timeout=SECS] [--max-conns=N] [--backend=uring|epoll] [-v]
 *
 * SIGINT and SIGTERM stop it gracefully (examples/kv/server.c): the handler
 * only writes a byte to a pipe, and the main task, reading that pipe, runs
 * the stop, prints the stats and returns 0. docs/examples/kv.md has the
 * architectures and measurements. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spindle.h>

#include "server.h"

/* SIGINT and SIGTERM, blocked in every thread and read by the main task
 * (docs/api/signals.md). */
static int signal_fd = -1;

struct opts {
    struct kv_config kv;
    sp_config_t rt;
};

static void
usage(void)
{
    fprintf(stderr,
            "usage: kv [--port=N] [--host=ADDR] [--shards=N] [--arch=sharded|shared]\n"
            "          [--memory=MB] [--item-max=BYTES] [--line-max=BYTES]\n"
            "          [--idle-timeout=SECS] [--max-conns=N] [--backend=uring|epoll] [-v]\n");
    exit(2);
}

/* "--name=value" or "--name value"; returns the value or NULL. */
static const char *
opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) {
        return NULL;
    }
    if (argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (argv[*i][n] == '\0' && *i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

static long long
num(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "kv: bad number '%s'\n", s);
        usage();
    }
    return v;
}

static void
parse(int argc, char **argv, struct opts *o)
{
    kv_config_init(&o->kv);
    sp_config_init(&o->rt);
    o->rt.shards = 1;
    o->rt.pin_threads = 1;
    int arch_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = opt_value(argc, argv, &i, "--port")) != NULL) {
            o->kv.port = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--host")) != NULL) {
            o->kv.host = v;
        } else if ((v = opt_value(argc, argv, &i, "--shards")) != NULL) {
            o->rt.shards = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--arch")) != NULL) {
            arch_set = 1;
            if (strcmp(v, "sharded") == 0) {
                o->kv.arch = KV_ARCH_SHARDED;
            } else if (strcmp(v, "shared") == 0) {
                o->kv.arch = KV_ARCH_SHARED;
            } else {
                usage();
            }
        } else if ((v = opt_value(argc, argv, &i, "--memory")) != NULL) {
            o->kv.mem_limit = (size_t)num(v) << 20;
        } else if ((v = opt_value(argc, argv, &i, "--item-max")) != NULL) {
            o->kv.item_max = (uint64_t)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--line-max")) != NULL) {
            o->kv.line_max = (size_t)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--idle-timeout")) != NULL) {
            o->kv.idle_timeout_ns = (uint64_t)num(v) * SP_NSEC_PER_SEC;
        } else if ((v = opt_value(argc, argv, &i, "--max-conns")) != NULL) {
            o->kv.max_conns = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--backend")) != NULL) {
            o->rt.backend = strcmp(v, "epoll") == 0 ? SP_BACKEND_EPOLL : SP_BACKEND_URING;
        } else if (strcmp(argv[i], "-v") == 0) {
            o->kv.verbose = 1;
        } else {
            usage();
        }
    }
    if (!arch_set) {
        /* Whichever measured faster (docs/examples/kv.md): on one shard
         * sharded is the same minus the lock; on more, the striped table
         * beat cross-shard calls by 1.04-1.54x in throughput here. */
        o->kv.arch = o->rt.shards == 1 ? KV_ARCH_SHARDED : KV_ARCH_SHARED;
    }
    if (o->kv.item_max == 0 || o->kv.item_max > INT32_MAX - 2 ||
        kv_item_size(KV_KEY_MAX, o->kv.item_max) > o->kv.mem_limit) {
        fprintf(stderr, "kv: --item-max must be positive and fit in --memory\n");
        exit(2);
    }
}

static intptr_t
main_task(void *arg)
{
    struct opts *o = arg;
    struct kv_server *srv;
    int err = kv_server_start(&srv, &o->kv);
    if (err < 0) {
        fprintf(stderr, "kv: cannot start on %s:%d: %s\n", o->kv.host, o->kv.port,
                sp_strerror(err));
        return 1;
    }
    fprintf(stderr, "kv: listening on %s:%d, arch %s, %d shard(s), %s backend\n",
            o->kv.host, kv_server_port(srv),
            o->kv.arch == KV_ARCH_SHARDED ? "sharded" : "shared", sp_shard_count(),
            sp_runtime_backend_name(sp_runtime_current()));
    struct signalfd_siginfo si = {0};
    while (sp_read(signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si)) {
        /* only a cancellation by runtime shutdown gets here */
        if (sp_task_is_cancelled()) {
            break;
        }
    }
    fprintf(stderr, "kv: stopping (signal %u)\n", si.ssi_signo);
    kv_server_stop(srv, stderr);
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before the runtime's threads */
    if ((signal_fd = signalfd(-1, &stop, SFD_CLOEXEC)) < 0) {
        perror("kv: signalfd");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    intptr_t r = sp_run(&o.rt, main_task, &o);
    return r == 0 ? 0 : 1;
}
