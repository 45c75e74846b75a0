/* Standalone test of the context switch in src/arch: sp__ctx_init builds a
 * new context's first frame, sp__ctx_switch (switch-<arch>.S) saves and
 * restores the callee-saved state. Nothing else of spindle is linked, so the
 * same file can be cross-built and run under an emulator (tests/arch/run.sh).
 *
 *   cc -std=gnu11 -O2 -Isrc tests/arch/ctx-test.c src/arch/switch-$(uname -m).S -lm
 *
 * Checks:
 *   pingpong   main <-> several coroutines and coroutine -> coroutine rings,
 *              values handed over through memory, many switches
 *   live       many live integer and FP variables across switches (-O2)
 *   regs       an asm probe sets every callee-saved register to a pattern,
 *              switches away (the other side clobbers them with its own
 *              pattern) and back, and compares
 *   fenv       rounding mode is per context: FE_UPWARD in one coroutine is
 *              not seen by the others and survives switching away and back
 *              (only with -DSP_SAVE_FPU_CONTROL=1; without it, on x86-64,
 *              sp__ctx_jump uses the inline switch of context.h, which the
 *              other checks then cover)
 *   align      the stack pointer at every call made by a new context's entry
 *              is 16-byte aligned; varargs with doubles work
 *   recursion  deep recursion in a coroutine, with a switch at the bottom
 *
 * Exit status 0 when everything passed; each failure is printed.
 *
 * Branch Target Identification (aarch64, run.sh): built with -DCTX_TEST_LIB
 * the test is a shared library whose entry point is ctx_test_main, marked
 * BTI so the dynamic loader maps its code as guarded pages; built with
 * -DCTX_TEST_DRIVER this file is only a main() that calls it. With
 * --bti-selfcheck the library makes an indirect call to a function without
 * a landing pad, which must be killed by SIGILL where BTI is enforced.
 */
#ifdef CTX_TEST_DRIVER
int ctx_test_main(int argc, char **argv);
int
main(int argc, char **argv)
{
    return ctx_test_main(argc, argv);
}
#else /* the test itself, to the end of the file */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fenv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/context.h"

#if defined(__x86_64__)
#define ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#define ARCH_NAME "aarch64"
#else
#error "ctx-test: unsupported architecture"
#endif

static int failures;
static int checks_passed, checks_failed;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* ---- stacks and contexts ------------------------------------------------ */

struct stack {
    void *map;
    size_t map_size;
    void *lo;  /* lowest usable byte (above the guard page) */
    void *top; /* one past the highest usable byte, 16-byte aligned */
};

static size_t page_size;

static struct stack
stack_new(size_t usable)
{
    struct stack s;
    usable = (usable + page_size - 1) & ~(page_size - 1);
    s.map_size = usable + page_size;
    s.map = mmap(NULL, s.map_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s.map == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    if (mprotect(s.map, page_size, PROT_NONE) != 0) { /* guard page */
        perror("mprotect");
        exit(2);
    }
    s.lo = (char *)s.map + page_size;
    s.top = (char *)s.map + s.map_size;
    /* Poison the top of the stack: sp__ctx_init must write every word of
     * the first frame it relies on. */
    memset((char *)s.top - 1024, 0xa5, 1024);
    return s;
}

static void
stack_free(struct stack *s)
{
    munmap(s->map, s->map_size);
}

static void
ctx_new(struct sp__ctx *ctx, struct stack *s, void (*entry)(void *), void *arg)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->stack_lo = s->lo;
    ctx->stack_size = (size_t)((char *)s->top - (char *)s->lo);
    sp__ctx_init(ctx, s->top, entry, arg);
}

static struct sp__ctx main_ctx;

#if defined(__clang__)
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noinline, noipa))
#endif

/* Out of line so that the callers' register allocation has to assume a real
 * call clobbering the caller-saved set (the switch is a call in spindle). */
NOIPA static void
sw(struct sp__ctx *from, struct sp__ctx *to)
{
    sp__ctx_jump(from, to, 0);
}

/* The last switch out of a coroutine: entry functions never return. */
__attribute__((noinline, noreturn)) static void
finish(struct sp__ctx *self, struct sp__ctx *to)
{
    sp__ctx_jump(self, to, 1);
    fprintf(stderr, "FAIL: a finished context was resumed\n");
    abort();
}

/* ---- stack pointer probe -------------------------------------------------
 * probe_sp() returns the caller's stack pointer at the call instruction
 * (before the return address is pushed on x86-64). The ABIs require it to be
 * a multiple of 16 at every call. Hidden, as regs_probe, so that calls to
 * them are direct even in the shared-library build (a PLT stub would reach
 * them with br x17, which under BTI needs a landing pad they do not have). */
__attribute__((visibility("hidden"))) uintptr_t probe_sp(void);
#if defined(__x86_64__)
__asm__(".text\n"
        ".p2align 4\n"
        ".globl probe_sp\n"
        ".hidden probe_sp\n"
        ".type probe_sp, %function\n"
        "probe_sp:\n"
        "    leaq 8(%rsp), %rax\n"
        "    ret\n");
#else
__asm__(".text\n"
        ".p2align 4\n"
        ".globl probe_sp\n"
        ".hidden probe_sp\n"
        ".type probe_sp, %function\n"
        "probe_sp:\n"
        "    mov x0, sp\n"
        "    ret\n");
#endif

/* ---- callee-saved register probe -----------------------------------------
 * long regs_probe(struct sp__ctx *from, struct sp__ctx *to, uint64_t seed)
 *
 * Saves the caller's callee-saved registers, loads every callee-saved
 * register with seed + its number, calls sw(from, to), and on return
 * compares. Returns 0 if all survived, otherwise the number of the first
 * register that did not (x86-64: 1 rbx, 2 rbp, 12..15 r12..r15; aarch64:
 * 19..28 x19..x28, 29 fp, 108..115 d8..d15). */
__attribute__((visibility("hidden"))) long regs_probe(struct sp__ctx *from, struct sp__ctx *to,
                                               uint64_t seed);

#if defined(__x86_64__)
#define CMP_X86(reg, k)                         \
    "    leaq " #k "(%rax), %rcx\n"             \
    "    cmpq %rcx, %" #reg "\n"                \
    "    movl $" #k ", %edx\n"                  \
    "    jne 1f\n"
__asm__(".text\n"
        ".p2align 4\n"
        ".globl regs_probe\n"
        ".hidden regs_probe\n"
        ".type regs_probe, %function\n"
        "regs_probe:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    pushq %rdx\n" /* seed at 0(%rsp); rsp is now 16-aligned */
        "    leaq 1(%rdx), %rbx\n"
        "    leaq 2(%rdx), %rbp\n"
        "    leaq 12(%rdx), %r12\n"
        "    leaq 13(%rdx), %r13\n"
        "    leaq 14(%rdx), %r14\n"
        "    leaq 15(%rdx), %r15\n"
        "    call sw\n"
        "    movq 0(%rsp), %rax\n"
        CMP_X86(rbx, 1)
        CMP_X86(rbp, 2)
        CMP_X86(r12, 12)
        CMP_X86(r13, 13)
        CMP_X86(r14, 14)
        CMP_X86(r15, 15)
        "    xorl %edx, %edx\n"
        "1:  movslq %edx, %rax\n"
        "    popq %rdx\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n");
#else
#define SET_X(n) "    add x" #n ", x2, #" #n "\n"
#define SET_D(n) "    add x9, x2, #" #n "+100\n    fmov d" #n ", x9\n"
#define CMP_X(n)                                \
    "    add x9, x10, #" #n "\n"                \
    "    cmp x" #n ", x9\n"                     \
    "    mov x0, #" #n "\n"                     \
    "    b.ne 1f\n"
#define CMP_D(n)                                \
    "    add x9, x10, #" #n "+100\n"            \
    "    fmov x11, d" #n "\n"                   \
    "    cmp x11, x9\n"                         \
    "    mov x0, #" #n "+100\n"                 \
    "    b.ne 1f\n"
__asm__(".text\n"
        ".p2align 4\n"
        ".globl regs_probe\n"
        ".hidden regs_probe\n"
        ".type regs_probe, %function\n"
        "regs_probe:\n"
        "    stp x29, x30, [sp, #-176]!\n"
        "    mov x29, sp\n"
        "    stp x19, x20, [sp, #16]\n"
        "    stp x21, x22, [sp, #32]\n"
        "    stp x23, x24, [sp, #48]\n"
        "    stp x25, x26, [sp, #64]\n"
        "    stp x27, x28, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    str x2, [sp, #160]\n"
        SET_X(19) SET_X(20) SET_X(21) SET_X(22) SET_X(23)
        SET_X(24) SET_X(25) SET_X(26) SET_X(27) SET_X(28)
        SET_D(8) SET_D(9) SET_D(10) SET_D(11)
        SET_D(12) SET_D(13) SET_D(14) SET_D(15)
        "    add x29, x2, #29\n"
        "    bl sw\n"
        "    ldr x10, [sp, #160]\n"
        CMP_X(19) CMP_X(20) CMP_X(21) CMP_X(22) CMP_X(23)
        CMP_X(24) CMP_X(25) CMP_X(26) CMP_X(27) CMP_X(28)
        CMP_D(8) CMP_D(9) CMP_D(10) CMP_D(11)
        CMP_D(12) CMP_D(13) CMP_D(14) CMP_D(15)
        CMP_X(29)
        "    mov x0, #0\n"
        "1:  ldp x19, x20, [sp, #16]\n"
        "    ldp x21, x22, [sp, #32]\n"
        "    ldp x23, x24, [sp, #48]\n"
        "    ldp x25, x26, [sp, #64]\n"
        "    ldp x27, x28, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    ldp x29, x30, [sp], #176\n"
        "    ret\n");
#endif

/* ---- 1. ping-pong ----------------------------------------------------- */

#define PP_N 5
#define PP_ROUNDS 20000

struct pp {
    int id;
    struct sp__ctx ctx;
    struct stack stack;
    volatile uint64_t inbox;  /* written by main before resuming */
    volatile uint64_t outbox; /* written by the coroutine before yielding */
    int done;
};

static struct pp pp[PP_N];
static volatile uint64_t ring_token;
static volatile int star_errors;

static void
pp_entry(void *arg)
{
    struct pp *self = arg;
    uint64_t expect = 1000u * (uint64_t)self->id;
    /* Phase 1: star. Main hands a value in, the coroutine answers. */
    for (int r = 0; r < PP_ROUNDS; r++) {
        uint64_t v = self->inbox;
        if (v != expect) {
            star_errors++;
        }
        self->outbox = v * 3 + (uint64_t)self->id;
        expect = v + 7;
        sw(&self->ctx, &main_ctx);
    }
    /* Phase 2: ring. Each coroutine bumps the token by its id + 1 and
     * switches straight to the next one; the last goes back to main. */
    for (int r = 0; r < PP_ROUNDS; r++) {
        uint64_t t = ring_token;
        ring_token = t + (uint64_t)self->id + 1;
        struct sp__ctx *next = self->id + 1 < PP_N ? &pp[self->id + 1].ctx : &main_ctx;
        sw(&self->ctx, next);
    }
    self->done = 1;
    finish(&self->ctx, &main_ctx);
}

static void
test_pingpong(void)
{
    for (int i = 0; i < PP_N; i++) {
        pp[i].id = i;
        pp[i].done = 0;
        pp[i].stack = stack_new(64 * 1024);
        pp[i].inbox = 1000u * (uint64_t)i;
        ctx_new(&pp[i].ctx, &pp[i].stack, pp_entry, &pp[i]);
    }
    star_errors = 0;
    long bad = 0;
    for (int r = 0; r < PP_ROUNDS; r++) {
        for (int i = 0; i < PP_N; i++) {
            uint64_t v = pp[i].inbox;
            sw(&main_ctx, &pp[i].ctx);
            if (pp[i].outbox != v * 3 + (uint64_t)i) {
                bad++;
            }
            pp[i].inbox = v + 7;
        }
    }
    CHECK(bad == 0, "star phase: %ld wrong answers", bad);
    CHECK(star_errors == 0, "star phase: coroutines saw %d wrong inputs", star_errors);

    ring_token = 0;
    uint64_t per_lap = (uint64_t)PP_N * (PP_N + 1) / 2;
    long ring_bad = 0;
    for (int r = 0; r < PP_ROUNDS; r++) {
        sw(&main_ctx, &pp[0].ctx);
        if (ring_token != per_lap * (uint64_t)(r + 1)) {
            ring_bad++;
        }
    }
    CHECK(ring_bad == 0, "ring phase: token wrong after %ld laps", ring_bad);
    /* One more resume each lets the coroutines leave their loops. */
    for (int i = 0; i < PP_N; i++) {
        sw(&main_ctx, &pp[i].ctx);
        CHECK(pp[i].done, "coroutine %d did not finish", i);
        stack_free(&pp[i].stack);
    }
}

/* ---- 2. many live variables across switches --------------------------- */

struct live {
    struct sp__ctx ctx;
    struct stack stack;
    int rounds;
    uint64_t result_i;
    double result_d;
};

/* The same computation runs with a switch inside the loop (in a coroutine
 * and, interleaved, on the main stack) and without one; all must agree. */
#define LIVE_BODY(SWITCH)                                                       \
    uint64_t a = 1, b = 2, c = 3, d = 5, e = 7, f = 11, g = 13, h = 17;         \
    uint64_t i_ = 19, j = 23, k = 29, l = 31;                                   \
    double da = 1.5, db = 2.25, dc = 3.125, dd = 4.0625, de = 0.5, df = 0.75;   \
    double dg = 1.0 / 3.0, dh = 2.0 / 7.0;                                      \
    for (int r = 0; r < rounds; r++) {                                          \
        a = a * 6364136223846793005u + b;                                       \
        b ^= a >> 17;                                                           \
        c += b * 3;                                                             \
        d = (d << 3) ^ c;                                                       \
        e += d >> 5;                                                            \
        f ^= e * 7;                                                             \
        g += f >> 11;                                                           \
        h = h * 31 + g;                                                         \
        i_ ^= h >> 3;                                                           \
        j += i_ * 5;                                                            \
        k ^= j << 1;                                                            \
        l += k >> 7;                                                            \
        da = da * 0.999 + (double)(a & 0xff);                                   \
        db = db * 0.998 + da * 0.001;                                           \
        dc = dc * 0.997 + db * 0.002;                                           \
        dd = dd * 0.996 + dc * 0.003;                                           \
        de = de * 0.995 + dd * 0.004;                                           \
        df = df * 0.994 + de * 0.005;                                           \
        dg = dg * 0.993 + df * 0.006;                                           \
        dh = dh * 0.992 + dg * 0.007;                                           \
        SWITCH;                                                                 \
    }                                                                           \
    uint64_t out_i = a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i_ ^ j ^ k ^ l;             \
    double out_d = da + db + dc + dd + de + df + dg + dh;

static struct live live_co;

/* Exact equality would be expected, but the compiler may contract a*b+c into
 * a fused multiply-add in one copy of the loop and not in another (GCC does
 * on aarch64). A clobbered FP register is off by far more than this. */
static int
close_enough(double a, double b)
{
    double d = a > b ? a - b : b - a;
    double m = b < 0 ? -b : b;
    return d <= m * 1e-12;
}

__attribute__((noinline)) static void
live_reference(int rounds, uint64_t *ri, double *rd)
{
    LIVE_BODY((void)0)
    *ri = out_i;
    *rd = out_d;
}

static void
live_entry(void *arg)
{
    struct live *self = arg;
    int rounds = self->rounds;
    LIVE_BODY(sw(&self->ctx, &main_ctx))
    self->result_i = out_i;
    self->result_d = out_d;
    finish(&self->ctx, &main_ctx);
}

__attribute__((noinline)) static void
live_main_side(int rounds, uint64_t *ri, double *rd)
{
    LIVE_BODY(sw(&main_ctx, &live_co.ctx))
    *ri = out_i;
    *rd = out_d;
}

static void
test_live(void)
{
    const int rounds = 5000;
    uint64_t ref_i;
    double ref_d;
    live_reference(rounds, &ref_i, &ref_d);

    live_co.rounds = rounds;
    live_co.stack = stack_new(64 * 1024);
    ctx_new(&live_co.ctx, &live_co.stack, live_entry, &live_co);
    uint64_t main_i;
    double main_d;
    /* Main switches rounds times; the coroutine's loop switches rounds
     * times as well, so one extra resume lets it publish its results. */
    live_main_side(rounds, &main_i, &main_d);
    sw(&main_ctx, &live_co.ctx);
    CHECK(main_i == ref_i, "main side: integers %llx != %llx",
          (unsigned long long)main_i, (unsigned long long)ref_i);
    CHECK(close_enough(main_d, ref_d), "main side: doubles %.17g != %.17g", main_d, ref_d);
    CHECK(live_co.result_i == ref_i, "coroutine: integers %llx != %llx",
          (unsigned long long)live_co.result_i, (unsigned long long)ref_i);
    CHECK(close_enough(live_co.result_d, ref_d), "coroutine: doubles %.17g != %.17g",
          live_co.result_d, ref_d);
    stack_free(&live_co.stack);
}

/* ---- 3. callee-saved registers, explicitly ---------------------------- */

#define REGS_ROUNDS 1000
static struct sp__ctx regs_ctx;
static volatile long regs_co_bad;
static volatile int regs_co_done;

static void
regs_entry(void *arg)
{
    (void)arg;
    for (int r = 0; r < REGS_ROUNDS; r++) {
        long bad = regs_probe(&regs_ctx, &main_ctx, 0x5a5a000000000000u + (uint64_t)r * 0x1000);
        if (bad && !regs_co_bad) {
            regs_co_bad = bad;
        }
    }
    regs_co_done = 1;
    finish(&regs_ctx, &main_ctx);
}

static void
test_regs(void)
{
    struct stack s = stack_new(64 * 1024);
    ctx_new(&regs_ctx, &s, regs_entry, NULL);
    long first_bad = 0;
    /* First switch starts the coroutine, which immediately probes and
     * switches back; from then on each side's probe returns in turn. */
    for (int r = 0; r <= REGS_ROUNDS; r++) {
        long bad = regs_probe(&main_ctx, &regs_ctx, 0xc3c3000000000000u + (uint64_t)r * 0x1000);
        if (bad && !first_bad) {
            first_bad = bad;
        }
    }
    CHECK(first_bad == 0, "main side: callee-saved register %ld changed across a switch",
          first_bad);
    CHECK(regs_co_bad == 0, "coroutine side: callee-saved register %ld changed across a switch",
          (long)regs_co_bad);
    CHECK(regs_co_done, "register coroutine did not finish");
    stack_free(&s);
}

/* ---- 4. floating-point control state ---------------------------------- */

static struct sp__ctx fe_ctx1, fe_ctx2;
static volatile int fe_step;
static volatile double fe_third_up, fe_third_near;

static double
third(void)
{
    volatile double one = 1.0, three = 3.0;
    return one / three;
}

static const char *
round_name(int m)
{
    switch (m) {
    case FE_TONEAREST: return "FE_TONEAREST";
    case FE_UPWARD: return "FE_UPWARD";
    case FE_DOWNWARD: return "FE_DOWNWARD";
    case FE_TOWARDZERO: return "FE_TOWARDZERO";
    default: return "?";
    }
}

static void
fe_entry1(void *arg)
{
    (void)arg;
    int rc = fesetround(FE_UPWARD);
    CHECK(rc == 0, "fesetround(FE_UPWARD) failed");
    fe_third_up = third();
    fe_step = 1;
    sw(&fe_ctx1, &main_ctx); /* main checks it still rounds to nearest */
    CHECK(fegetround() == FE_UPWARD, "coroutine 1 after main: rounding is %s",
          round_name(fegetround()));
    fe_step = 2;
    sw(&fe_ctx1, &fe_ctx2); /* coroutine 2 checks nearest */
    CHECK(fegetround() == FE_UPWARD, "coroutine 1 after coroutine 2: rounding is %s",
          round_name(fegetround()));
    CHECK(third() == fe_third_up, "coroutine 1: 1/3 computed differently after switches");
#if defined(__x86_64__)
    {
        /* x87 control word is per context too. 1/7 in the 64-bit
         * significand has a remainder below one half, so nearest and
         * upward differ (1/3 would not: nearest rounds up there too). */
        volatile long double one = 1.0L, seven = 7.0L;
        volatile long double up = one / seven;
        fesetround(FE_TONEAREST);
        volatile long double near = one / seven;
        fesetround(FE_UPWARD);
        CHECK(up > near, "coroutine 1: x87 not rounding upward");
    }
#endif
    fe_step = 3;
    finish(&fe_ctx1, &main_ctx);
}

static void
fe_entry2(void *arg)
{
    (void)arg;
    CHECK(fegetround() == FE_TONEAREST, "coroutine 2 at start: rounding is %s",
          round_name(fegetround()));
    CHECK(third() == fe_third_near, "coroutine 2: 1/3 not rounded to nearest");
    CHECK(fe_step == 2, "coroutine 2 entered at step %d", fe_step);
    sw(&fe_ctx2, &fe_ctx1);
    finish(&fe_ctx2, &main_ctx);
}

static void
test_fenv(void)
{
#if !SP_SAVE_FPU_CONTROL
    /* Without the option FP control modes belong to the thread (stacks.md). */
    printf("fenv: skip (built without SP_SAVE_FPU_CONTROL)\n");
    return;
#endif
    CHECK(fegetround() == FE_TONEAREST, "main at start: rounding is %s",
          round_name(fegetround()));
    fe_third_near = third();
    struct stack s1 = stack_new(64 * 1024), s2 = stack_new(64 * 1024);
    ctx_new(&fe_ctx1, &s1, fe_entry1, NULL);
    ctx_new(&fe_ctx2, &s2, fe_entry2, NULL);
    sw(&main_ctx, &fe_ctx1);
    CHECK(fe_step == 1, "coroutine 1 did not run");
    CHECK(fegetround() == FE_TONEAREST, "main after coroutine 1 set FE_UPWARD: rounding is %s",
          round_name(fegetround()));
    CHECK(third() == fe_third_near, "main: 1/3 not rounded to nearest");
    CHECK(fe_third_up != fe_third_near, "FE_UPWARD did not change 1/3 in coroutine 1");
    sw(&main_ctx, &fe_ctx1); /* -> 1 -> 2 -> 1 -> finishes into main */
    CHECK(fe_step == 3, "coroutine 1 did not finish (step %d)", fe_step);
    CHECK(fegetround() == FE_TONEAREST, "main at end: rounding is %s",
          round_name(fegetround()));
    fesetround(FE_TONEAREST);
    stack_free(&s1);
    stack_free(&s2);
}

/* ---- 5. stack alignment at entry --------------------------------------- */

static struct sp__ctx al_ctx;
static volatile uintptr_t al_sp, al_frame, al_local;
static char al_buf[64];

__attribute__((noinline)) static int
al_vararg(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

static void
al_entry(void *arg)
{
    (void)arg;
    long double ld = 1.0L; /* 16-byte aligned type on both ABIs */
    __asm__ __volatile__("" : : "r"(&ld) : "memory");
    al_local = (uintptr_t)&ld;
    al_sp = probe_sp();
    al_frame = (uintptr_t)__builtin_frame_address(0);
    /* x86-64: vsnprintf with doubles saves xmm registers with movaps. */
    al_vararg(al_buf, sizeof al_buf, "%.3f %.3Lf", 2.5, ld);
    finish(&al_ctx, &main_ctx);
}

static void
test_align(void)
{
    struct stack s = stack_new(64 * 1024);
    /* Several tops: any 16-byte aligned top must give an aligned frame. */
    for (int off = 0; off < 4; off++) {
        void *top = (char *)s.top - 16 * off;
        memset(&al_ctx, 0, sizeof al_ctx);
        al_ctx.stack_lo = s.lo;
        al_ctx.stack_size = (size_t)((char *)top - (char *)s.lo);
        sp__ctx_init(&al_ctx, top, al_entry, NULL);
        al_sp = al_frame = al_local = 1;
        al_buf[0] = 0;
        sw(&main_ctx, &al_ctx);
        CHECK(al_sp % 16 == 0, "top-%d: sp at a call is %#lx, not 16-byte aligned", 16 * off,
              (unsigned long)al_sp);
        CHECK(al_frame % 16 == 0, "top-%d: frame address %#lx not 16-byte aligned", 16 * off,
              (unsigned long)al_frame);
        CHECK(al_local % 16 == 0, "top-%d: long double local at %#lx", 16 * off,
              (unsigned long)al_local);
        CHECK(al_sp < (uintptr_t)top && al_sp > (uintptr_t)top - 4096,
              "top-%d: entry ran at sp %#lx, not just below top %p", 16 * off,
              (unsigned long)al_sp, top);
        CHECK(strcmp(al_buf, "2.500 1.000") == 0, "top-%d: vsnprintf gave '%s'", 16 * off,
              al_buf);
    }
    /* And the main stack, as a sanity check of the probe itself. */
    uintptr_t m = probe_sp();
    CHECK(m % 16 == 0, "main stack sp at a call is %#lx", (unsigned long)m);
    stack_free(&s);
}

/* ---- 6. deep recursion ---------------------------------------------------- */

#define REC_DEPTH 40000
static struct sp__ctx rec_ctx;
static volatile uint64_t rec_result;
static volatile int rec_bottom_switches;

__attribute__((noinline)) static uint64_t
rec(int n)
{
    volatile uint64_t buf[12];
    for (int i = 0; i < 12; i++) {
        buf[i] = (uint64_t)n * 12 + (uint64_t)i;
    }
    uint64_t below;
    if (n == 0) {
        /* Switch away at the bottom of the recursion, twice. */
        rec_bottom_switches++;
        sw(&rec_ctx, &main_ctx);
        rec_bottom_switches++;
        sw(&rec_ctx, &main_ctx);
        below = 0;
    } else {
        below = rec(n - 1);
    }
    uint64_t sum = below;
    for (int i = 0; i < 12; i++) {
        sum += buf[i];
    }
    return sum;
}

static void
rec_entry(void *arg)
{
    (void)arg;
    rec_result = rec(REC_DEPTH);
    finish(&rec_ctx, &main_ctx);
}

static void
test_recursion(void)
{
    /* Each frame is ~128 bytes or more; give 16 MiB, touched lazily. */
    struct stack s = stack_new(16u << 20);
    ctx_new(&rec_ctx, &s, rec_entry, NULL);
    rec_result = 0;
    rec_bottom_switches = 0;
    sw(&main_ctx, &rec_ctx);
    CHECK(rec_bottom_switches == 1, "recursion did not reach the bottom");
    /* Use the main stack heavily while the coroutine sits deep in its own. */
    char scratch[8192];
    memset(scratch, 0x3c, sizeof scratch);
    __asm__ __volatile__("" : : "r"(scratch) : "memory");
    sw(&main_ctx, &rec_ctx);
    CHECK(rec_bottom_switches == 2, "second switch at the bottom missing");
    sw(&main_ctx, &rec_ctx);
    /* sum over n = 0..D of sum_i (12n + i) = 144 * D(D+1)/2 + 66 (D+1) */
    uint64_t D = REC_DEPTH;
    uint64_t expect = 144 * D * (D + 1) / 2 + 66 * (D + 1);
    CHECK(rec_result == expect, "recursion result %llu, expected %llu",
          (unsigned long long)rec_result, (unsigned long long)expect);
    stack_free(&s);
}

/* ---- driver ---------------------------------------------------------------- */

static void
run(const char *name, void (*fn)(void))
{
    int before = failures;
    fn();
    if (failures == before) {
        checks_passed++;
        printf("ok   %s\n", name);
    } else {
        checks_failed++;
        printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

#ifdef CTX_TEST_LIB
#define CTX_TEST_MAIN ctx_test_main
int ctx_test_main(int argc, char **argv);
#else
#define CTX_TEST_MAIN main
#endif

int
CTX_TEST_MAIN(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bti-selfcheck") == 0) {
        /* probe_sp starts with no bti instruction. */
        uintptr_t (*volatile fn)(void) = probe_sp;
        fn();
        printf("bti not enforced: an indirect call without a landing pad ran\n");
        return 3;
    }
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ctx-test on %s\n", ARCH_NAME);
    run("pingpong", test_pingpong);
    run("live", test_live);
    run("regs", test_regs);
    run("fenv", test_fenv);
    run("align", test_align);
    run("recursion", test_recursion);
    printf("ctx-test: %d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed ? 1 : 0;
}

#endif /* !CTX_TEST_DRIVER */
