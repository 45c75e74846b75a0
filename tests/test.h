/* Shared test helpers: assertions, scaling, and /proc probes.
 *
 * Every test is `int test_<name>(void)` returning TEST_PASS (0), TEST_FAIL
 * (1) or TEST_SKIP (77), listed in tests/list.h and run by tests/runner.c,
 * normally in a child process of its own, once per backend.
 *
 * The ASSERT_* macros print both operands with file and line, then
 * `return 1`. They work in a test function and in a task entry (which
 * returns intptr_t: a task that fails returns 1, and whoever joins it
 * asserts on the result). The EXPECT_* macros print the same message but do
 * not return; they count the failure in test_failures, which a test checks
 * with ASSERT_NO_FAILURES() after the runtime is gone. Use them in tasks
 * whose result nobody looks at, or in loops that should keep going. */
#ifndef SPINDLE_TEST_H
#define SPINDLE_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "spindle.h"

#define TEST_PASS 0
#define TEST_FAIL 1
#define TEST_SKIP 77

/* Flags for tests/list.h. */
#define TEST_URING_ONLY 0x1 /* run on the uring backend only */
#define TEST_SLOW 0x2       /* heavy; `runner -q` leaves it out */

/* Sanitized builds run about ten times slower: scale loop counts down so the
 * whole suite stays well under ten minutes on two CPUs. */
#ifdef SP_TEST_SANITIZED
#define SCALE(n) ((n) / 10 > 0 ? (n) / 10 : 1)
#else
#define SCALE(n) (n)
#endif

/* A function the optimiser may neither inline nor analyse (gcc's noipa; clang
 * has no such attribute, and noinline is what it offers). */
#if defined(__clang__)
#define TEST_OPAQUE __attribute__((noinline))
#else
#define TEST_OPAQUE __attribute__((noinline, noipa))
#endif

/* How many tasks may be alive at once. Sanitizers give every task state of
 * their own: ThreadSanitizer makes each a fiber, which it counts as a
 * thread (it dies past 8128, and each switch costs time in proportion to
 * how many exist); AddressSanitizer with detect_stack_use_after_return gives
 * each a fake stack of its own (one ~700 KiB mapping, so vm.max_map_count
 * runs out near 65,000 live tasks). Tests that keep many tasks alive use a
 * fixed, smaller number in sanitized builds. */
#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#if defined(SP_TEST_SANITIZED) || defined(TEST_TSAN) || defined(TEST_ASAN)
#define SCALE_LIVE(n, sanitized_n) (sanitized_n)
#else
#define SCALE_LIVE(n, sanitized_n) (n)
#endif

/* --- Assertions ---------------------------------------------------------- */

/* Failures counted by EXPECT_* (reset by the runner before each test). */
extern atomic_int test_failures;

#define TEST_REPORT_(a, op, b, fmt, va, vb)                                          \
    do {                                                                             \
        fprintf(stderr, "Assertion failed in %s on line %d: `%s %s %s` (" fmt " %s " \
                fmt ")\n", __FILE__, __LINE__, a, op, b, va, op, vb);                \
        fflush(stderr);                                                              \
    } while (0)

/* Signed integers (anything that fits int64_t). */
#define TEST_CMP_(a, op, b, on_fail)                                                 \
    do {                                                                             \
        int64_t test_a_ = (int64_t)(a);                                              \
        int64_t test_b_ = (int64_t)(b);                                              \
        if (!(test_a_ op test_b_)) {                                                 \
            TEST_REPORT_(#a, #op, #b, "%" PRId64, test_a_, test_b_);                 \
            on_fail;                                                                 \
        }                                                                            \
    } while (0)

/* Unsigned 64-bit values (clock readings, SP_DEADLINE_NONE, counters). */
#define TEST_UCMP_(a, op, b, on_fail)                                                \
    do {                                                                             \
        uint64_t test_a_ = (uint64_t)(a);                                            \
        uint64_t test_b_ = (uint64_t)(b);                                            \
        if (!(test_a_ op test_b_)) {                                                 \
            TEST_REPORT_(#a, #op, #b, "%" PRIu64, test_a_, test_b_);                 \
            on_fail;                                                                 \
        }                                                                            \
    } while (0)

#define TEST_PCMP_(a, op, b, on_fail)                                                \
    do {                                                                             \
        const void *test_a_ = (const void *)(a);                                     \
        const void *test_b_ = (const void *)(b);                                     \
        if (!(test_a_ op test_b_)) {                                                 \
            TEST_REPORT_(#a, #op, #b, "%p", test_a_, test_b_);                       \
            on_fail;                                                                 \
        }                                                                            \
    } while (0)

#define TEST_SCMP_(a, op, b, on_fail)                                                \
    do {                                                                             \
        const char *test_a_ = (a);                                                   \
        const char *test_b_ = (b);                                                   \
        if (test_a_ == NULL || test_b_ == NULL || !(strcmp(test_a_, test_b_) op 0)) {\
            TEST_REPORT_(#a, #op, #b, "\"%s\"", test_a_ ? test_a_ : "(null)",        \
                         test_b_ ? test_b_ : "(null)");                              \
            on_fail;                                                                 \
        }                                                                            \
    } while (0)

#define TEST_RETURN_FAIL_ return 1
#define TEST_COUNT_FAIL_ atomic_fetch_add(&test_failures, 1)

#define ASSERT_EQ(a, b) TEST_CMP_(a, ==, b, TEST_RETURN_FAIL_)
#define ASSERT_NE(a, b) TEST_CMP_(a, !=, b, TEST_RETURN_FAIL_)
#define ASSERT_GE(a, b) TEST_CMP_(a, >=, b, TEST_RETURN_FAIL_)
#define ASSERT_GT(a, b) TEST_CMP_(a, >, b, TEST_RETURN_FAIL_)
#define ASSERT_LE(a, b) TEST_CMP_(a, <=, b, TEST_RETURN_FAIL_)
#define ASSERT_LT(a, b) TEST_CMP_(a, <, b, TEST_RETURN_FAIL_)
#define ASSERT_OK(a) TEST_CMP_(a, ==, 0, TEST_RETURN_FAIL_)
#define ASSERT(cond) TEST_CMP_(!!(cond), ==, 1, TEST_RETURN_FAIL_)
#define ASSERT_U64_EQ(a, b) TEST_UCMP_(a, ==, b, TEST_RETURN_FAIL_)
#define ASSERT_U64_NE(a, b) TEST_UCMP_(a, !=, b, TEST_RETURN_FAIL_)
#define ASSERT_U64_GE(a, b) TEST_UCMP_(a, >=, b, TEST_RETURN_FAIL_)
#define ASSERT_U64_GT(a, b) TEST_UCMP_(a, >, b, TEST_RETURN_FAIL_)
#define ASSERT_U64_LT(a, b) TEST_UCMP_(a, <, b, TEST_RETURN_FAIL_)
#define ASSERT_PTR_EQ(a, b) TEST_PCMP_(a, ==, b, TEST_RETURN_FAIL_)
#define ASSERT_PTR_NE(a, b) TEST_PCMP_(a, !=, b, TEST_RETURN_FAIL_)
#define ASSERT_NULL(a) TEST_PCMP_(a, ==, NULL, TEST_RETURN_FAIL_)
#define ASSERT_NOT_NULL(a) TEST_PCMP_(a, !=, NULL, TEST_RETURN_FAIL_)
#define ASSERT_STR_EQ(a, b) TEST_SCMP_(a, ==, b, TEST_RETURN_FAIL_)
#define ASSERT_STR_NE(a, b) TEST_SCMP_(a, !=, b, TEST_RETURN_FAIL_)

#define EXPECT_EQ(a, b) TEST_CMP_(a, ==, b, TEST_COUNT_FAIL_)
#define EXPECT_NE(a, b) TEST_CMP_(a, !=, b, TEST_COUNT_FAIL_)
#define EXPECT_GE(a, b) TEST_CMP_(a, >=, b, TEST_COUNT_FAIL_)
#define EXPECT_LT(a, b) TEST_CMP_(a, <, b, TEST_COUNT_FAIL_)
#define EXPECT_OK(a) TEST_CMP_(a, ==, 0, TEST_COUNT_FAIL_)
#define EXPECT(cond) TEST_CMP_(!!(cond), ==, 1, TEST_COUNT_FAIL_)
#define EXPECT_U64_GE(a, b) TEST_UCMP_(a, >=, b, TEST_COUNT_FAIL_)

#define ASSERT_NO_FAILURES() ASSERT_EQ(atomic_load(&test_failures), 0)

/* An error code, printed by name. */
#define ASSERT_ERR(a, b)                                                             \
    do {                                                                             \
        int64_t test_a_ = (int64_t)(a);                                              \
        int64_t test_b_ = (int64_t)(b);                                              \
        if (test_a_ != test_b_) {                                                    \
            fprintf(stderr, "Assertion failed in %s on line %d: `%s == %s` "         \
                    "(%" PRId64 " %s == %" PRId64 " %s)\n", __FILE__, __LINE__, #a,  \
                    #b, test_a_, sp_err_name((int)test_a_), test_b_,                 \
                    sp_err_name((int)test_b_));                                      \
            fflush(stderr);                                                          \
            return 1;                                                                \
        }                                                                            \
    } while (0)

/* --- Helpers (tests/runner.c) ---------------------------------------------- */

/* Run child(arg) in a forked process with stdout and stderr captured (no
 * core dump); child must not return. Fills out (NUL-terminated) and
 * *status (as from waitpid). 0, or -1 if fork or the capture file failed. */
int test_run_child(void (*child)(void *arg), void *arg, char *out, size_t size,
                   int *status);

/* Open file descriptors of this process (entries of /proc/self/fd, minus the
 * one used to read it). -1 on error. */
int test_count_fds(void);

/* Threads of this process (entries of /proc/self/task). -1 on error. */
int test_count_threads(void);

/* test_count_threads once it is at most want, or after ~5 s, whichever comes
 * first: threads that pthread_join has reaped leave /proc a moment later. */
int test_settled_threads(int want);

/* Install a seccomp filter in this process (and what it execs) that makes
 * io_uring_setup fail with errno err, as a sandbox that forbids io_uring
 * does. 0 or -errno. test_can_deny_io_uring: 0 where the runner cannot
 * build the filter for this architecture. */
int test_deny_io_uring(int err);
int test_can_deny_io_uring(void);

/* In a task: yield until *v >= want (another task or thread moves it).
 * 0, or the yield's -ECANCELED / -ETIMEDOUT. */
int test_await_at_least(atomic_int *v, int want);

/* Lines of /proc/self/maps: one per mapping (VMA). -1 on error. */
int test_count_maps(void);

/* Resident set size in KiB (VmRSS of /proc/self/status). -1 on error. */
long test_rss_kib(void);

/* CLOCK_MONOTONIC in nanoseconds, read directly (not through spindle). */
uint64_t test_clock_ns(void);

/* Busy-wait (no suspension) for ns nanoseconds. */
void test_spin_ns(uint64_t ns);

/* The kernel thread id of the calling thread; never inlined, so it is
 * re-read after every suspension point. */
pid_t test_gettid(void);

/* A small xorshift generator; *state must start nonzero. */
uint64_t test_rand(uint64_t *state);

/* sp_runtime_create(), except that a uring backend the kernel refuses
 * (forced through SPINDLE_BACKEND=uring) turns into a skip. Returns
 * TEST_PASS with *rt set, TEST_SKIP, or TEST_FAIL (with a message). */
int test_runtime_create(sp_runtime_t **rt, const sp_config_t *cfg);

/* Create a runtime from cfg (NULL: defaults), run fn(arg) as its main task
 * with sp_runtime_block_on(), destroy the runtime. Returns TEST_PASS if
 * everything succeeded, fn returned 0, and the process has as many fds and
 * threads as before; TEST_SKIP if the backend is unavailable; TEST_FAIL
 * otherwise (with a message). */
int test_run_main(const sp_config_t *cfg, sp_task_fn fn, void *arg);

/* A config with the given shard count and otherwise defaults. */
sp_config_t test_config(int shards);

/* Task attributes with a placement and otherwise defaults. */
static inline sp_task_attr_t
test_attr(sp_place_t place, int shard)
{
    sp_task_attr_t a;
    sp_task_attr_init(&a);
    a.place = place;
    a.shard = shard;
    return a;
}

/* Return from the test if r is not TEST_PASS. */
#define TEST_CHECK(expr)                                                             \
    do {                                                                             \
        int test_r_ = (expr);                                                        \
        if (test_r_ != TEST_PASS) {                                                  \
            return test_r_;                                                          \
        }                                                                            \
    } while (0)

#endif
