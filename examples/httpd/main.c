/* httpd: an HTTP/1.1 server on spindle.
 *
 *   httpd [--port N] [--ip ADDR] [--root DIR] [--shards N] [--max-conns N]
 *         [--header-timeout MS] [--idle-timeout MS] [--max-head BYTES]
 *         [--max-body BYTES] [--quiet]
 *
 * GET /hello answers "Hello, World!"; POST /echo sends the body back; any
 * other path is a static file under --root (GET, HEAD). One shard per CPU
 * by default, each pinned to its CPU (run under taskset to choose which).
 * SIGINT / SIGTERM stop it gracefully: no new connections, requests in
 * flight finish, the counters are printed, exit status 0.
 *
 * Signals: the handler only writes a byte to a pipe (async-signal-safe);
 * the main task waits for the pipe with sp_poll and does the stopping. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"

/* SIGINT and SIGTERM, blocked in every thread and read by the main task
 * (docs/api/signals.md). */
static int signal_fd = -1;

struct opts {
    struct httpd_config http;
    sp_config_t rt;
};

static void
usage(void)
{
    fprintf(stderr, "usage: httpd [--port N] [--ip ADDR] [--root DIR] [--shards N]\n"
                    "             [--max-conns N] [--header-timeout MS] [--idle-timeout MS]\n"
                    "             [--max-head BYTES] [--max-body BYTES] [--quiet]\n");
    exit(2);
}

static long
num(const char *s, long min)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min) {
        usage();
    }
    return v;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            o->http.quiet = 1;
            continue;
        }
        if (!v) {
            usage();
        }
        i++;
        if (strcmp(a, "--port") == 0) {
            o->http.port = (int)num(v, 0);
        } else if (strcmp(a, "--ip") == 0) {
            o->http.ip = v;
        } else if (strcmp(a, "--root") == 0) {
            o->http.root = v;
        } else if (strcmp(a, "--shards") == 0) {
            o->rt.shards = (int)num(v, 1);
        } else if (strcmp(a, "--max-conns") == 0) {
            o->http.max_conns = (int)num(v, 1);
        } else if (strcmp(a, "--header-timeout") == 0) {
            o->http.header_timeout_ns = (uint64_t)num(v, 1) * SP_NSEC_PER_MSEC;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            o->http.idle_timeout_ns = (uint64_t)num(v, 1) * SP_NSEC_PER_MSEC;
        } else if (strcmp(a, "--max-head") == 0) {
            o->http.max_head = (size_t)num(v, 64);
        } else if (strcmp(a, "--max-body") == 0) {
            o->http.max_body = (size_t)num(v, 0);
        } else {
            usage();
        }
    }
}

static void
print_stats(const struct httpd_stats *s)
{
    fprintf(stderr,
            "httpd: %llu connections (%llu refused, %llu timed out), %llu responses "
            "(2xx %llu, 4xx %llu, 5xx %llu), %llu bytes in, %llu bytes out\n",
            (unsigned long long)s->accepted, (unsigned long long)s->refused,
            (unsigned long long)s->timeouts, (unsigned long long)s->requests,
            (unsigned long long)s->status[2], (unsigned long long)s->status[4],
            (unsigned long long)s->status[5], (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_out);
}

/* Park until SIGINT or SIGTERM. */
static void
wait_for_signal(void)
{
    struct signalfd_siginfo si;
    while (sp_read(signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si)) {
        if (sp_task_is_cancelled()) {
            return;
        }
    }
}

static intptr_t
main_task(void *arg)
{
    struct opts *o = arg;
    struct httpd *srv;
    int err = httpd_start(&srv, &o->http);
    if (err < 0) {
        fprintf(stderr, "httpd: cannot start on port %d: %s\n", o->http.port,
                sp_strerror(err));
        return 1;
    }
    if (!o->http.quiet) {
        fprintf(stderr, "httpd: listening on %s:%d, %d shard%s, %s backend, root %s\n",
                o->http.ip ? o->http.ip : "0.0.0.0", httpd_port(srv), sp_shard_count(),
                sp_shard_count() == 1 ? "" : "s",
                sp_runtime_backend_name(sp_runtime_current()),
                o->http.root ? o->http.root : "(none)");
    }
    wait_for_signal();
    if (!o->http.quiet) {
        fprintf(stderr, "httpd: stopping\n");
    }
    struct httpd_stats st;
    httpd_stop(srv);
    httpd_wait(srv, &st);
    print_stats(&st);
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o;
    httpd_config_init(&o.http);
    sp_config_init(&o.rt);
    o.rt.pin_threads = 1;
    parse_args(argc, argv, &o);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before the runtime's threads */
    if ((signal_fd = signalfd(-1, &stop, SFD_CLOEXEC)) < 0) {
        perror("httpd: signalfd");
        return 1;
    }
    intptr_t r = sp_run(&o.rt, main_task, &o);
    if (r < 0) {
        fprintf(stderr, "httpd: runtime: %s\n", sp_strerror((int)r));
        return 1;
    }
    return (int)r;
}
