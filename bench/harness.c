/* Shared benchmark harness; see harness.h. */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bench_opts_t bench_opt = {
    .reps = 5,
    .warmup = 1,
    .quick = 0,
    .filter = NULL,
    .list = 0,
    .timeout_s = 300,
};

static const char *bench_prog = "bench";

static int
parse_count(const char *s, const char *what, int lo, int hi)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: bad %s '%s' (want %d..%d)\n", bench_prog, what, s, lo, hi);
        exit(2);
    }
    return (int)v;
}

static void
usage(FILE *f, const char *prog_help)
{
    fprintf(
        f,
        "usage: %s [-r reps] [-w warmup] [-q] [-f filter] [-l] [-h]\n"
        "  -r N     repetitions, interleaved across cases (default 5; env BENCH_REPS)\n"
        "  -w N     untimed warm-up repetitions per case (default 1; env BENCH_WARMUP)\n"
        "  -q       quick mode, smaller sizes (env BENCH_QUICK=1)\n"
        "  -f TEXT  only cases whose workload/variant (a peer's: workload/runtime/variant)\n"
        "           contains TEXT; TEXT$: ends with it\n"
        "  -l       list the cases and exit\n",
        bench_prog);
    if (prog_help != NULL) {
        fprintf(f, "%s", prog_help);
    }
}

void
bench_init(int argc, char **argv, const char *prog_help)
{
    if (argc > 0 && argv[0] != NULL) {
        const char *slash = strrchr(argv[0], '/');
        bench_prog = slash != NULL ? slash + 1 : argv[0];
    }

    const char *env = getenv("BENCH_REPS");
    if (env != NULL && *env != '\0') {
        bench_opt.reps = parse_count(env, "BENCH_REPS", 1, BENCH_MAX_REPS);
    }
    env = getenv("BENCH_WARMUP");
    if (env != NULL && *env != '\0') {
        bench_opt.warmup = parse_count(env, "BENCH_WARMUP", 0, 100);
    }
    env = getenv("BENCH_TIMEOUT");
    if (env != NULL && *env != '\0') {
        bench_opt.timeout_s = parse_count(env, "BENCH_TIMEOUT", 0, 86400);
    }
    env = getenv("BENCH_QUICK");
    if (env != NULL && *env != '\0' && strcmp(env, "0") != 0) {
        bench_opt.quick = 1;
    }

    int c;
    while ((c = getopt(argc, argv, "r:w:t:qf:lh")) != -1) {
        switch (c) {
        case 'r':
            bench_opt.reps = parse_count(optarg, "repetition count", 1, BENCH_MAX_REPS);
            break;
        case 'w':
            bench_opt.warmup = parse_count(optarg, "warm-up count", 0, 100);
            break;
        case 't':
            bench_opt.timeout_s = parse_count(optarg, "timeout", 0, 86400);
            break;
        case 'q':
            bench_opt.quick = 1;
            break;
        case 'f':
            bench_opt.filter = optarg;
            break;
        case 'l':
            bench_opt.list = 1;
            break;
        case 'h':
            usage(stdout, prog_help);
            exit(0);
        default:
            usage(stderr, prog_help);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", bench_prog, argv[optind]);
        usage(stderr, prog_help);
        exit(2);
    }
}

int
bench_quick(void)
{
    return bench_opt.quick;
}

uint64_t
bench_size(uint64_t full, uint64_t quick)
{
    return bench_opt.quick ? quick : full;
}

uint64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
bench_process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
bench_extra_clear(bench_case_t *c)
{
    c->extra[0] = '\0';
}

void
bench_extra(bench_case_t *c, const char *fmt, ...)
{
    size_t len = strlen(c->extra);
    if (len + 2 >= sizeof c->extra) {
        return;
    }
    c->extra[len++] = ' ';
    c->extra[len] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->extra + len, sizeof c->extra - len, fmt, ap);
    va_end(ap);
}

int
bench_fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s: %s (%s)\n", bench_prog, what, sp_err_name(err),
            sp_strerror(err));
    fflush(stderr);
    return err;
}

/* --- Statistics ----------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stats {
    double median, min, max;
} stats_t;

static stats_t
compute_stats(const double *samples, int n)
{
    double sorted[BENCH_MAX_REPS];
    memcpy(sorted, samples, (size_t)n * sizeof sorted[0]);
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_double);
    stats_t s;
    s.min = sorted[0];
    s.max = sorted[n - 1];
    s.median = (n % 2 == 1) ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    return s;
}

/* Enough digits for ~4 significant figures without exponent notation. */
static void
fmt_value(char *buf, size_t len, double v)
{
    double a = v < 0 ? -v : v;
    int prec = a >= 1000.0 ? 0 : a >= 100.0 ? 1 : a >= 10.0 ? 2 : 3;
    snprintf(buf, len, "%.*f", prec, v);
}

/* --- Running -------------------------------------------------------------- */

static int
case_matches(const bench_case_t *c)
{
    if (bench_opt.filter == NULL) {
        return 1;
    }
    char name[256];
    /* A peer's name carries its runtime, so that -f can tell two peers
     * with one variant name apart. */
    if (c->runtime) {
        snprintf(name, sizeof name, "%s/%s/%s", c->workload, c->runtime, c->variant);
    } else {
        snprintf(name, sizeof name, "%s/%s", c->workload, c->variant);
    }
    /* A trailing '$' anchors the filter at the end of the name, to pick
     * "pinned-1shard" without "pinned-1shard-epoll". */
    size_t n = strlen(bench_opt.filter);
    if (n > 0 && bench_opt.filter[n - 1] == '$') {
        size_t len = strlen(name);
        return len >= n - 1 && memcmp(name + len - (n - 1), bench_opt.filter, n - 1) == 0;
    }
    return strstr(name, bench_opt.filter) != NULL;
}

/* The watchdog: a repetition that hangs (a lost wake-up in the runtime, say)
 * ends the program with a message instead of blocking a whole bench run. */
static char alarm_msg[512];
static size_t alarm_len;

static void
on_alarm(int sig)
{
    (void)sig;
    ssize_t w = write(STDERR_FILENO, alarm_msg, alarm_len);
    (void)w;
    _exit(124);
}

static int
run_once(bench_case_t *c, int timed)
{
    double v = 0.0;
    bench_extra_clear(c);
    if (bench_opt.timeout_s > 0) {
        int n = snprintf(alarm_msg, sizeof alarm_msg,
                         "%s: %s/%s did not finish within %d s; giving up\n", bench_prog,
                         c->workload, c->variant, bench_opt.timeout_s);
        alarm_len = n < 0                          ? 0
                    : (size_t)n < sizeof alarm_msg ? (size_t)n
                                                   : sizeof alarm_msg - 1;
        signal(SIGALRM, on_alarm);
        alarm((unsigned)bench_opt.timeout_s);
    }
    int rc = c->fn(c, &v);
    alarm(0);
    if (rc != 0) {
        c->err = rc;
        fprintf(stderr, "%s: %s/%s failed: %s (%s); no more repetitions\n", bench_prog,
                c->workload, c->variant, sp_err_name(rc), sp_strerror(rc));
        fflush(stderr);
        return rc;
    }
    if (timed && c->nsamples < BENCH_MAX_REPS) {
        c->samples[c->nsamples++] = v;
    }
    return 0;
}

int
bench_run(bench_case_t *cases, size_t ncases)
{
    for (size_t i = 0; i < ncases; i++) {
        cases[i].nsamples = 0;
        cases[i].err = 0;
        cases[i].extra[0] = '\0';
        cases[i].selected = case_matches(&cases[i]);
    }
    if (bench_opt.list) {
        for (size_t i = 0; i < ncases; i++) {
            printf("%s/%s%s%s%s\n", cases[i].workload,
                   cases[i].runtime ? cases[i].runtime : "", cases[i].runtime ? "/" : "",
                   cases[i].variant, cases[i].selected ? "" : " (filtered out)");
        }
        return 0;
    }

    for (int w = 0; w < bench_opt.warmup; w++) {
        for (size_t i = 0; i < ncases; i++) {
            if (cases[i].selected && cases[i].err == 0) {
                run_once(&cases[i], 0);
            }
        }
    }
    for (int r = 0; r < bench_opt.reps; r++) {
        for (size_t i = 0; i < ncases; i++) {
            if (cases[i].selected && cases[i].err == 0) {
                run_once(&cases[i], 1);
            }
        }
    }

    int status = 0;
    for (size_t i = 0; i < ncases; i++) {
        bench_case_t *c = &cases[i];
        if (!c->selected) {
            continue;
        }
        if (c->err != 0 || c->nsamples == 0) {
            printf("# %-28s %-22s FAILED: %s\n", c->workload, c->variant,
                   sp_err_name(c->err));
            status = 1;
            continue;
        }
        stats_t s = compute_stats(c->samples, c->nsamples);
        char med[32], lo[32], hi[32];
        fmt_value(med, sizeof med, s.median);
        fmt_value(lo, sizeof lo, s.min);
        fmt_value(hi, sizeof hi, s.max);
        printf("RESULT workload=%s runtime=%s variant=%s value=%s unit=%s min=%s "
               "max=%s reps=%d%s\n",
               c->workload, c->runtime ? c->runtime : "spindle", c->variant, med, c->unit,
               lo, hi, c->nsamples, c->extra);
        printf("# %-28s %-22s %10s %-2s  (min %s, max %s, %d reps)\n", c->workload,
               c->variant, med, c->unit, lo, hi, c->nsamples);
    }
    fflush(stdout);
    return status;
}

/* --- spindle helpers ------------------------------------------------------ */

void
bench_config(sp_config_t *cfg, int shards)
{
    sp_config_init(cfg);
    cfg->shards = shards;
    cfg->pin_threads = 1;
}

int
bench_block_on(const sp_config_t *cfg, sp_task_fn fn, void *arg, intptr_t *result)
{
    sp_runtime_t *rt = NULL;
    int rc = sp_runtime_create(&rt, cfg);
    if (rc != 0) {
        return bench_fail("sp_runtime_create", rc);
    }
    sp_task_attr_t attr;
    sp_task_attr_init(&attr);
    attr.place = SP_PLACE_ON;
    attr.shard = 0;
    attr.name = "bench-main";
    intptr_t res = 0;
    rc = sp_runtime_block_on(rt, &attr, fn, arg, &res);
    if (rc != 0) {
        bench_fail("sp_runtime_block_on", rc);
    }
    int rc2 = sp_runtime_destroy(rt);
    if (rc2 != 0) {
        bench_fail("sp_runtime_destroy", rc2);
        if (rc == 0) {
            rc = rc2;
        }
    }
    if (result != NULL) {
        *result = res;
    }
    return rc;
}

int
bench_stats_sum(sp_shard_stats_t *sum)
{
    memset(sum, 0, sizeof *sum);
    sp_runtime_t *rt = sp_runtime_current();
    if (rt == NULL) {
        return -EPERM;
    }
    int n = sp_runtime_shard_count(rt);
    for (int i = 0; i < n; i++) {
        sp_shard_stats_t s;
        int rc = sp_runtime_stats(rt, i, &s);
        if (rc != 0) {
            return rc;
        }
        sum->spawned += s.spawned;
        sum->switches += s.switches;
        sum->stolen += s.stolen;
        sum->steal_attempts += s.steal_attempts;
        sum->parks += s.parks;
        sum->wakes_sent += s.wakes_sent;
        sum->messages += s.messages;
        sum->timers_fired += s.timers_fired;
        sum->stalls += s.stalls;
        sum->follows += s.follows;
    }
    return 0;
}

void
bench_print_ratio(const bench_case_t *x, const bench_case_t *y, const char *what)
{
    if (!x->selected || !y->selected || x->err || y->err || !x->nsamples || !y->nsamples) {
        return;
    }
    int n = x->nsamples < y->nsamples ? x->nsamples : y->nsamples;
    double r[BENCH_MAX_REPS];
    for (int k = 0; k < n; k++) {
        r[k] = x->samples[k] / y->samples[k];
    }
    for (int i = 1; i < n; i++) {
        double v = r[i];
        int j = i - 1;
        for (; j >= 0 && r[j] > v; j--) {
            r[j + 1] = r[j];
        }
        r[j + 1] = v;
    }
    double med = n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
    printf("# ratio %s %s = %.3f (median of per-rep ratios; min %.3f max %.3f)\n",
           x->workload, what, med, r[0], r[n - 1]);
}
