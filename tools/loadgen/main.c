/* loadgen: a load generator on spindle for request/response protocols
 * (memcached's text protocol now; tools/loadgen/proto.h says how to add
 * one).
 *
 *   loadgen [--proto=memcache] [--host=127.0.0.1] [--port=N]
 *           [--conns=50] [--depth=1]             closed loop (default)
 *           [--rate=R]                           open loop, Poisson, R req/s total
 *           [--duration=10] [--warmup=1]         seconds
 *           [--keys=100000] [--dist=uniform|zipf:S] [--value=100] [--get=0.9]
 *           [--no-preload] [--shards=1] [--quiet]
 *           [--idle-conns=N --hold=S]            open N connections, hold them
 *           [--opt=NAME=VALUE ...]               a protocol's own option (http:
 *                                                path=, wpath=, host=)
 *
 * While it runs it prints a progress line a second on stderr; at the end
 * one line on stdout that scripts parse:
 *   RESULT proto=memcache mode=closed conns=50 depth=1 rate=0 dist=zipf:0.99
 *          get=0.90 value=100 ops=N seconds=S throughput=X p50_us=.. p90_us=..
 *          p99_us=.. p999_us=.. max_us=.. hits=N misses=N errors=N failed_conns=N */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <spindle.h>

#include "loadgen.h"

static const struct lg_proto *protos[] = {&lg_proto_memcache, &lg_proto_http};

static void
usage(void)
{
    fprintf(stderr,
            "usage: loadgen [--proto=memcache] [--host=A] [--port=N] [--conns=N] [--depth=D]\n"
            "               [--rate=R] [--duration=S] [--warmup=S] [--keys=N]\n"
            "               [--dist=uniform|zipf:S] [--value=BYTES] [--get=RATIO]\n"
            "               [--no-preload] [--shards=N] [--quiet]\n"
            "               [--idle-conns=N --hold=S] [--opt=NAME=VALUE ...]\n");
    exit(2);
}

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

static double
num(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "loadgen: bad number '%s'\n", s);
        usage();
    }
    return v;
}

static void
parse(int argc, char **argv, struct lg_opts *o)
{
    *o = (struct lg_opts){
        .proto = protos[0], .host = "127.0.0.1", .port = 0, .conns = 50, .depth = 1,
        .duration_s = 10, .warmup_s = 1, .keys = 100000, .value_len = 100,
        .get_ratio = 0.9, .preload = 1, .shards = 1, .hold_s = 5,
    };
    /* Protocol options wait until --proto is known, wherever it stands. */
    static const char *popts[32];
    int npopts = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = opt_value(argc, argv, &i, "--opt")) != NULL) {
            if (npopts == (int)(sizeof(popts) / sizeof(popts[0]))) {
                fprintf(stderr, "loadgen: too many --opt\n");
                exit(2);
            }
            popts[npopts++] = v;
        } else if ((v = opt_value(argc, argv, &i, "--proto")) != NULL) {
            o->proto = NULL;
            for (size_t k = 0; k < sizeof(protos) / sizeof(protos[0]); k++) {
                if (strcmp(protos[k]->name, v) == 0) {
                    o->proto = protos[k];
                }
            }
            if (o->proto == NULL) {
                usage();
            }
        } else if ((v = opt_value(argc, argv, &i, "--host")) != NULL) {
            o->host = v;
        } else if ((v = opt_value(argc, argv, &i, "--port")) != NULL) {
            o->port = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--conns")) != NULL) {
            o->conns = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--depth")) != NULL) {
            o->depth = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--rate")) != NULL) {
            o->rate = num(v);
        } else if ((v = opt_value(argc, argv, &i, "--duration")) != NULL) {
            o->duration_s = num(v);
        } else if ((v = opt_value(argc, argv, &i, "--warmup")) != NULL) {
            o->warmup_s = num(v);
        } else if ((v = opt_value(argc, argv, &i, "--keys")) != NULL) {
            o->keys = (uint64_t)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--dist")) != NULL) {
            if (strcmp(v, "uniform") == 0) {
                o->zipf_s = 0;
            } else if (strncmp(v, "zipf:", 5) == 0) {
                o->zipf_s = num(v + 5);
            } else {
                usage();
            }
        } else if ((v = opt_value(argc, argv, &i, "--value")) != NULL) {
            o->value_len = (size_t)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--get")) != NULL) {
            o->get_ratio = num(v);
        } else if ((v = opt_value(argc, argv, &i, "--shards")) != NULL) {
            o->shards = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--idle-conns")) != NULL) {
            o->idle_conns = (int)num(v);
        } else if ((v = opt_value(argc, argv, &i, "--hold")) != NULL) {
            o->hold_s = num(v);
        } else if (strcmp(argv[i], "--no-preload") == 0) {
            o->preload = 0;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o->quiet = 1;
        } else {
            usage();
        }
    }
    for (int k = 0; k < npopts; k++) {
        char name[64];
        const char *eq = strchr(popts[k], '=');
        size_t len = eq ? (size_t)(eq - popts[k]) : 0;
        if (!eq || len == 0 || len >= sizeof(name)) {
            fprintf(stderr, "loadgen: --opt wants NAME=VALUE, got '%s'\n", popts[k]);
            exit(2);
        }
        memcpy(name, popts[k], len);
        name[len] = '\0';
        if (!o->proto->option || o->proto->option(name, eq + 1) < 0) {
            fprintf(stderr, "loadgen: protocol %s has no option '%s' or rejects '%s'\n",
                    o->proto->name, name, eq + 1);
            exit(2);
        }
    }
    if (o->port == 0) {
        o->port = o->proto->default_port;
    }
    if (o->conns < 1 || o->depth < 1 || o->keys < 1 || o->zipf_s == 1.0 ||
        o->get_ratio > 1) {
        usage();
    }
}

struct preload_arg {
    const struct lg_opts *o;
    uint64_t from, to;
};

static intptr_t
preload_task(void *arg)
{
    struct preload_arg *a = arg;
    return lg_preload(a->o, a->from, a->to);
}

/* Write every key once, over 8 connections in parallel. */
static int
preload_all(const struct lg_opts *o)
{
    enum { PARTS = 8 };
    sp_task_t t[PARTS];
    struct preload_arg a[PARTS];
    int err = 0;
    for (int i = 0; i < PARTS; i++) {
        a[i] = (struct preload_arg){o, o->keys * (uint64_t)i / PARTS,
                                    o->keys * (uint64_t)(i + 1) / PARTS};
        sp_task_attr_t attr;
        sp_task_attr_init(&attr);
        attr.place = SP_PLACE_PINNED;
        if (sp_task_spawn(&t[i], &attr, preload_task, &a[i]) < 0) {
            t[i].bits = 0;
            err = -ENOMEM;
        }
    }
    for (int i = 0; i < PARTS; i++) {
        intptr_t r = 0;
        if (t[i].bits != 0 && sp_task_join(t[i], &r) == 0 && r < 0) {
            err = (int)r;
        }
    }
    return err;
}

/* Idle mode: open idle_conns connections, make one request on each, hold
 * them hold_s seconds, close them. */
static int
run_idle(const struct lg_opts *o)
{
    int *fds = calloc((size_t)o->idle_conns, sizeof(int));
    int opened = 0;
    char buf[4096];
    while (fds != NULL && opened < o->idle_conns) {
        int fd = lg_connect(o);
        if (fd < 0) {
            fprintf(stderr, "loadgen: connection %d: %s\n", opened, sp_strerror(fd));
            break;
        }
        fds[opened++] = fd;
        struct lg_req r = {0, 0, 0};
        size_t n = o->proto->build(&r, buf, sizeof(buf));
        int st;
        ssize_t got = 0, m = 0;
        if (sp_sock_send_all(fd, buf, n, NULL) < 0) {
            break;
        }
        while (m == 0) {
            ssize_t k = sp_sock_recv(fd, buf + got, sizeof(buf) - (size_t)got, 0);
            if (k <= 0) {
                break;
            }
            got += k;
            m = o->proto->parse(buf, (size_t)got, &st);
        }
    }
    fprintf(stderr, "loadgen: %d idle connections open; holding %.0f s\n", opened, o->hold_s);
    sp_sleep_ns((uint64_t)(o->hold_s * 1e9));
    for (int i = 0; i < opened; i++) {
        sp_close(fds[i]);
    }
    free(fds);
    printf("RESULT proto=%s mode=idle conns=%d opened=%d\n", o->proto->name, o->idle_conns,
           opened);
    return opened == o->idle_conns ? 0 : 1;
}

static uint64_t
total_ops(struct lg_conn *c, int n)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        sum += atomic_load_explicit(&c[i].ops, memory_order_relaxed);
    }
    return sum;
}

static int
spawn_conn(struct lg_conn *c, sp_task_t *t, const struct lg_opts *o)
{
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = SP_PLACE_ON;
    attr.shard = c->index % sp_shard_count();
    attr.stack_size = 64 * 1024;
    if (o->rate <= 0) {
        t[1].bits = 0;
        return sp_task_spawn(&t[0], &attr, lg_closed_loop, c);
    }
    int err = sp_task_spawn(&t[0], &attr, lg_open_sender, c);
    if (err == 0 && (err = sp_task_spawn(&t[1], &attr, lg_open_receiver, c)) < 0) {
        t[1].bits = 0;
    }
    return err;
}

static void
report(const struct lg_opts *o, struct lg_conn *c, double seconds)
{
    static struct lg_hist all;
    uint64_t hits = 0, misses = 0, errors = 0;
    int failed = 0;
    for (int i = 0; i < o->conns; i++) {
        lg_hist_merge(&all, &c[i].hist);
        hits += c[i].hits;
        misses += c[i].misses;
        errors += c[i].errors;
        failed += c[i].failed;
    }
    char dist[32];
    if (o->zipf_s > 0) {
        snprintf(dist, sizeof(dist), "zipf:%g", o->zipf_s);
    } else {
        snprintf(dist, sizeof(dist), "uniform");
    }
    printf("RESULT proto=%s mode=%s conns=%d depth=%d rate=%.0f dist=%s get=%.2f value=%zu "
           "ops=%llu seconds=%.2f throughput=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f "
           "p999_us=%.1f max_us=%.1f hits=%llu misses=%llu errors=%llu failed_conns=%d\n",
           o->proto->name, o->rate > 0 ? "open" : "closed", o->conns, o->depth, o->rate, dist,
           o->get_ratio, o->value_len, (unsigned long long)all.count, seconds,
           (double)all.count / seconds, lg_hist_quantile(&all, 0.50) / 1e3,
           lg_hist_quantile(&all, 0.90) / 1e3, lg_hist_quantile(&all, 0.99) / 1e3,
           lg_hist_quantile(&all, 0.999) / 1e3, all.max / 1e3, (unsigned long long)hits,
           (unsigned long long)misses, (unsigned long long)errors, failed);
    fflush(stdout);
}

static intptr_t
main_task(void *arg)
{
    const struct lg_opts *o = arg;
    if (o->idle_conns > 0) {
        return run_idle(o);
    }
    lg_keys_init(&lg_keyspace, o->keys, o->zipf_s);
    if (o->preload) {
        int err = preload_all(o);
        if (err < 0) {
            fprintf(stderr, "loadgen: preload failed: %s\n", sp_strerror(err));
            return 1;
        }
    }
    struct lg_conn *c = calloc((size_t)o->conns, sizeof(*c));
    sp_task_t *t = calloc((size_t)o->conns * 2, sizeof(*t));
    if (c == NULL || t == NULL) {
        return 1;
    }
    int started = 0;
    for (int i = 0; i < o->conns; i++) {
        c[i].o = o;
        c[i].index = i;
        c[i].rng.s = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) | 1;
        c[i].ring_cap = o->rate > 0 ? 4096 : (unsigned)o->depth;
        c[i].ring = calloc(c[i].ring_cap, sizeof(uint64_t));
        c[i].fd = lg_connect(o);
        if (c[i].fd < 0 || c[i].ring == NULL) {
            fprintf(stderr, "loadgen: connect %s:%d: %s\n", o->host, o->port,
                    sp_strerror(c[i].fd < 0 ? c[i].fd : -ENOMEM));
            break;
        }
        if (spawn_conn(&c[i], &t[2 * i], o) < 0) {
            sp_close(c[i].fd);
            break;
        }
        started++;
    }
    if (started == o->conns) {
        sp_sleep_ns((uint64_t)(o->warmup_s * 1e9));
        atomic_store(&lg_recording, 1);
        uint64_t t0 = sp_now_ns(), end = t0 + (uint64_t)(o->duration_s * 1e9), last = 0;
        for (int s = 1; sp_now_ns() < end; s++) {
            uint64_t wake = t0 + (uint64_t)s * SP_NSEC_PER_SEC;
            sp_sleep_until(wake < end ? wake : end);
            uint64_t ops = total_ops(c, o->conns);
            if (!o->quiet) {
                fprintf(stderr, "loadgen: %3ds  %9.0f req/s  total %llu\n", s,
                        (double)(ops - last), (unsigned long long)ops);
            }
            last = ops;
        }
        atomic_store(&lg_recording, 0);
        double seconds = (double)(sp_now_ns() - t0) / 1e9;
        atomic_store(&lg_stopping, 1);
        /* Give in-flight requests a moment, then wake any receiver. */
        sp_sleep_ns(200 * SP_NSEC_PER_MSEC);
        for (int i = 0; i < started; i++) {
            shutdown(c[i].fd, SHUT_RDWR);
        }
        for (int i = 0; i < 2 * started; i++) {
            if (t[i].bits != 0) {
                sp_task_join(t[i], NULL);
            }
        }
        report(o, c, seconds);
    } else {
        atomic_store(&lg_stopping, 1);
        for (int i = 0; i < started; i++) {
            shutdown(c[i].fd, SHUT_RDWR);
        }
        for (int i = 0; i < 2 * started; i++) {
            if (t[i].bits != 0) {
                sp_task_join(t[i], NULL);
            }
        }
    }
    for (int i = 0; i < started; i++) {
        sp_close(c[i].fd);
    }
    for (int i = 0; i < o->conns; i++) {
        free(c[i].ring);
    }
    free(c);
    free(t);
    return started == o->conns ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct lg_opts o;
    parse(argc, argv, &o);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    sp_config_t cfg;
    sp_config_init(&cfg);
    cfg.shards = o.shards;
    cfg.pin_threads = 1;
    intptr_t r = sp_run(&cfg, main_task, &o);
    return r == 0 ? 0 : 1;
}
