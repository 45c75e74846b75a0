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
    sp__ctx_switch(&from->sp, to->sp);
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
