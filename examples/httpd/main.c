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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"

static int stop_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int saved = errno;
    char b = (char)sig;
    ssize_t r = write(stop_pipe[1], &b, 1); /* a full pipe already says "stop" */
    (void)r;
    errno = saved;
}

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

/* Park until a signal byte arrives in the pipe. */
static void
wait_for_signal(void)
{
    char b;
    while (read(stop_pipe[0], &b, 1) != 1) {
        if (sp_poll(stop_pipe[0], POLLIN) < 0 && sp_task_is_cancelled()) {
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
    if (pipe2(stop_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        perror("httpd: pipe");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    intptr_t r = sp_run(&o.rt, main_task, &o);
    if (r < 0) {
        fprintf(stderr, "httpd: runtime: %s\n", sp_strerror((int)r));
        return 1;
    }
    return (int)r;
}
