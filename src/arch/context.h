/* Execution contexts: a saved stack pointer plus what the sanitizers need to
 * follow a stack switch (DESIGN.md, hazard 2).
 *
 * Every switch goes through sp__ctx_jump(), which tells ASan
 * (start/finish_switch_fiber) and TSan (switch_to_fiber) about it; stacks are
 * announced to Valgrind where they are mapped (src/core/stack.c). */
#ifndef SP_ARCH_CONTEXT_H
#define SP_ARCH_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#ifdef SP_ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef SP_TSAN
#include <sanitizer/tsan_interface.h>
#endif

struct sp__ctx {
    void *sp;          /* saved stack pointer while switched out */
    void *stack_lo;    /* lowest usable address (for ASan) */
    size_t stack_size; /* usable bytes above stack_lo (for ASan) */
#ifdef SP_ASAN
    void *asan_fake;   /* ASan fake-stack handle saved across a switch */
#endif
#ifdef SP_TSAN
    void *tsan_fiber;
#endif
};

void sp__ctx_switch(void **save_sp, void *next_sp);
void sp__ctx_trampoline(void);

#if defined(__x86_64__) && !SP_SAVE_FPU_CONTROL
/* sp__ctx_switch written inline, with the same frame (switch-x86_64.S), so
 * either may resume a context the other saved. Why inline: a call to the
 * switch pushes a return-stack-buffer entry that the other side never pops,
 * so the first `ret` after every switch (the suspending function returning
 * to its caller) was predicted from the wrong stack and missed, ~10 ns each
 * time. Without the call, the entry on top of the buffer after a switch is
 * the one the resumed side pushed before it switched out: the call site of
 * its own suspending function, which the resumed code returns to next.
 *
 * The frame is pushed below the red zone (128 bytes the compiler may use
 * below rsp without moving it), and the resume address is label 1. The
 * callee-saved registers are saved by hand, the caller-saved ones are
 * declared clobbered; the x87 stack is empty at any call boundary (ABI) and
 * spindle's own code keeps no long double across a switch. No CFI covers
 * these few instructions: an unwinder stopped inside them may give up. */
#define SP_CTX_XMM_CLOBBERS                                                           \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",   \
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
static inline __attribute__((always_inline)) void
sp__ctx_switch_inline(void **save_sp, void *next_sp)
{
    __asm__ __volatile__("leaq -128(%%rsp), %%rsp\n\t"
                         "leaq 1f(%%rip), %%rax\n\t"
                         "pushq %%rax\n\t"
                         "pushq %%rbp\n\t"
                         "pushq %%rbx\n\t"
                         "pushq %%r12\n\t"
                         "pushq %%r13\n\t"
                         "pushq %%r14\n\t"
                         "pushq %%r15\n\t"
                         "subq $8, %%rsp\n\t"
                         "movq %%rsp, (%0)\n\t"
                         "movq %1, %%rsp\n\t"
                         "addq $8, %%rsp\n\t"
                         "popq %%r15\n\t"
                         "popq %%r14\n\t"
                         "popq %%r13\n\t"
                         "popq %%r12\n\t"
                         "popq %%rbx\n\t"
                         "popq %%rbp\n\t"
                         "popq %%rcx\n\t"
                         "jmpq *%%rcx\n"
                         "1:\n\t"
                         "leaq 128(%%rsp), %%rsp"
                         : "+D"(save_sp), "+S"(next_sp)
                         :
                         : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "cc", "memory",
                           SP_CTX_XMM_CLOBBERS);
}
#define SP_CTX_SWITCH sp__ctx_switch_inline
#else
#define SP_CTX_SWITCH sp__ctx_switch
#endif

/* Prepare ctx so that the first switch to it calls entry(arg) on the stack
 * whose highest address is top (16-byte aligned). */
static inline void
sp__ctx_init(struct sp__ctx *ctx, void *top, void (*entry)(void *), void *arg)
{
#if defined(__x86_64__)
    uint64_t *sp = (uint64_t *)top - 10; /* 80 bytes: frame (64) + pad (16) */
    /* A new task starts with the ABI's initial FP control state (MXCSR
     * 0x1f80: all exceptions masked, round to nearest; x87 CW 0x037f), as
     * a new thread does, whatever its spawner has set. */
    sp[0] = 0x1f80ull | (0x037full << 32);
    sp[1] = 0;                            /* r15 */
    sp[2] = 0;                            /* r14 */
    sp[3] = (uint64_t)(uintptr_t)entry;   /* r13 */
    sp[4] = (uint64_t)(uintptr_t)arg;     /* r12 */
    sp[5] = 0;                            /* rbx */
    sp[6] = 0;                            /* rbp */
    sp[7] = (uint64_t)(uintptr_t)sp__ctx_trampoline;
    sp[8] = 0;
    sp[9] = 0;
    ctx->sp = sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)top - 22; /* 176-byte frame */
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    for (int i = 0; i < 22; i++) {
        sp[i] = 0;
    }
    sp[0] = (uint64_t)(uintptr_t)arg;    /* x19 */
    sp[1] = (uint64_t)(uintptr_t)entry;  /* x20 */
    sp[11] = (uint64_t)(uintptr_t)sp__ctx_trampoline; /* lr */
    sp[20] = fpcr;
    ctx->sp = sp;
#else
#error "spindle: no context switch for this architecture"
#endif
}

/* Switch from the running context to `to`. from_exiting: the current
 * context will never be resumed (its stack is about to be recycled). */
static inline void
sp__ctx_jump(struct sp__ctx *from, struct sp__ctx *to, int from_exiting)
{
#ifdef SP_ASAN
    __sanitizer_start_switch_fiber(from_exiting ? NULL : &from->asan_fake, to->stack_lo,
                                   to->stack_size);
#else
    (void)from_exiting;
#endif
#ifdef SP_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    SP_CTX_SWITCH(&from->sp, to->sp);
#ifdef SP_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}

/* Called first thing on a new context's stack. */
static inline void
sp__ctx_started(void)
{
#ifdef SP_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

#endif
