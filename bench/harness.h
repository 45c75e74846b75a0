/* Shared benchmark harness: options, repetitions, timing and reporting.
 *
 * A program describes its measurements as an array of bench_case_t and hands
 * them to bench_run(). Repetitions are interleaved (case A, case B, ...,
 * then A, B, ... again) so that a slow phase of the machine hits every case
 * alike. Each case then prints one machine-readable line in the format of
 * BENCHMARKS.md:
 *
 *   RESULT workload=<w> runtime=spindle variant=<v> value=<median> unit=<u>
 *          min=<min> max=<max> reps=<n> [extra key=value fields]
 *
 * followed by a human-readable line starting with '#'.
 *
 * Options understood by bench_init():
 *   -r N        repetitions (default 5; environment BENCH_REPS)
 *   -w N        untimed warm-up repetitions per case (default 1;
 *               environment BENCH_WARMUP)
 *   -t N        give up (exit status 124) when one repetition runs longer
 *               than N seconds (default 300; environment BENCH_TIMEOUT;
 *               0 disables the watchdog)
 *   -q          quick mode: smaller sizes (environment BENCH_QUICK=1)
 *   -f TEXT     run only the cases whose "workload/variant" (a peer's:
 *               "workload/runtime/variant") contains TEXT; a trailing $ anchors
 *               TEXT at the end
 *   -l          list the cases and exit
 *   -h          help
 */
#ifndef SPINDLE_BENCH_HARNESS_H
#define SPINDLE_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "spindle.h"

#define BENCH_MAX_REPS 1000
#define BENCH_EXTRA_MAX 256

typedef struct bench_case bench_case_t;

/* Runs one repetition of a case. Stores the measured value (in the case's
 * unit) in *value. Returns 0, or a negative errno: the case is then reported
 * as failed and not run again. */
typedef int (*bench_fn)(bench_case_t *c, double *value);

struct bench_case {
    const char *workload; /* e.g. "spawn_join_batch1000" */
    const char *variant;  /* e.g. "local-1shard" */
    const char *unit;     /* "ns", "us", ... */
    bench_fn fn;
    const void *arg; /* case parameters, read by fn */
    const char *runtime; /* NULL: "spindle"; else a peer run in the same
                          * program ("pthread", "liburing-raw", ...) */

    /* Filled by fn (optional): extra " key=value" fields for the RESULT
     * line. The last repetition's text wins. Use bench_extra(). */
    char extra[BENCH_EXTRA_MAX];

    /* Filled by the harness. */
    double samples[BENCH_MAX_REPS];
    int nsamples;
    int err;      /* first error returned by fn, 0 if none */
    int selected; /* passes the -f filter */
};

/* A case table entry (BENCH_PEER: one measuring a peer, not spindle). */
#define BENCH_PEER(w, r, v, u, f, a)                                               \
    {                                                                              \
        .workload = (w), .runtime = (r), .variant = (v), .unit = (u), .fn = (f),   \
        .arg = (a)                                                                 \
    }


#define BENCH_CASE(w, v, u, f, a)                                           \
    {                                                                       \
        .workload = (w), .variant = (v), .unit = (u), .fn = (f), .arg = (a) \
    }

/* Options after bench_init(). */
typedef struct bench_opts {
    int reps;
    int warmup;
    int quick;
    const char *filter;
    int list;
    int timeout_s;
} bench_opts_t;

extern bench_opts_t bench_opt;

/* Parse argv and the environment. prog_help is printed by -h after the
 * common options (may be NULL). Exits on -h or a bad option. */
void bench_init(int argc, char **argv, const char *prog_help);

/* Nonzero in quick mode. */
int bench_quick(void);

/* Pick a size: quick mode gets the second value. */
uint64_t bench_size(uint64_t full, uint64_t quick);

/* CLOCK_MONOTONIC in nanoseconds (the clock sp_now_ns() reads too). */
uint64_t bench_now_ns(void);

/* CPU time of the whole process in nanoseconds, all threads: in the net
 * rows client, server and the threads that run them, so the load
 * generator's share is in it (the peers print the same number). */
uint64_t bench_process_cpu_ns(void);

/* Append " key=value" text to c->extra (printf-style; the caller writes the
 * key and the '='). Call bench_extra_clear() first in each repetition. */
void bench_extra_clear(bench_case_t *c);
void bench_extra(bench_case_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Run every selected case warm-up + reps times, interleaved, then print the
 * RESULT and human lines. Returns 0 if every selected case succeeded, 1
 * otherwise (suitable as the exit status). */
int bench_run(bench_case_t *cases, size_t ncases);

/* After bench_run: print "# ratio <x's workload> <what> = median" of x's
 * time over y's, per repetition (rep k of one against rep k of the other,
 * which ran interleaved, so a machine that changes speed between
 * repetitions moves both), with the smallest and largest. Nothing if
 * either case was not run or failed. */
void bench_print_ratio(const bench_case_t *x, const bench_case_t *y, const char *what);

/* --- spindle helpers ----------------------------------------------------- */

/* sp_config_init(), then shards = n and pin_threads = 1. */
void bench_config(sp_config_t *cfg, int shards);

/* Create a runtime from cfg, run fn(arg) in it as a task pinned to shard 0
 * (SP_PLACE_ON 0) through sp_runtime_block_on(), destroy the runtime.
 * Returns 0 and the task's return in *result, or a negative errno from
 * create / block_on / destroy (printed to stderr with what failed). */
int bench_block_on(const sp_config_t *cfg, sp_task_fn fn, void *arg, intptr_t *result);

/* Sum the per-shard counters of the caller's runtime into *sum (zeroed
 * first). Call from inside a task. Returns 0 or a negative errno. */
int bench_stats_sum(sp_shard_stats_t *sum);

/* Print "bench: <what>: <error name> (<message>)" to stderr and return err. */
int bench_fail(const char *what, int err);

/* Keep the compiler from optimising a value away. */
static inline void
bench_keep(uint64_t v)
{
    __asm__ __volatile__("" : : "r"(v) : "memory");
}

#endif
