/* x86-64 System V context switch.
 *
 * void sp__ctx_switch(void **save_sp, void *next_sp)
 *
 * Saves the callee-saved registers (rbx, rbp, r12-r15), the MXCSR control
 * word and the x87 control word on the current stack, stores the stack
 * pointer in *save_sp, loads next_sp and restores the same set from it.
 *
 * FP control state (MXCSR control bits, x87 CW) is switched only when built
 * with -DSP_SAVE_FPU_CONTROL=1. Reading back a just-stored MXCSR or CW
 * stalls: measured here, a switch costs ~1.8 ns without and ~35 ns with
 * them. By default the FP control modes belong to the shard thread, and a
 * task that changes them must restore them before it suspends
 * (docs/design/stacks.md). The frame keeps the slot either way.
 *
 * The return is pop + indirect jmp rather than ret: after a stack switch
 * the return-stack buffer predicts the wrong target, and a mispredicted ret
 * costs ~10 ns here against ~2.6 ns for the whole switch (BENCHMARKS.md).
 *
 * Frame layout, from the saved stack pointer upwards:
 *   +0  mxcsr (4 bytes)  +4 x87 cw (2 bytes)
 *   +8  r15  +16 r14  +24 r13  +32 r12  +40 rbx  +48 rbp  +56 return address
 * src/arch/context.h builds the same layout for a new task.
 */
    .text
    .globl sp__ctx_switch
    .hidden sp__ctx_switch
    .type sp__ctx_switch, @function
    .p2align 4
sp__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
#if SP_SAVE_FPU_CONTROL
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
#endif
    movq %rsp, (%rdi)
    movq %rsi, %rsp
#if SP_SAVE_FPU_CONTROL
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
#endif
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popq %rcx
    jmpq *%rcx
    .cfi_endproc
    .size sp__ctx_switch, .-sp__ctx_switch

/* First code a new task runs: r12 holds the argument, r13 the entry
 * function (both placed by sp__ctx_init). The entry never returns; it
 * switches away for the last time when the task is done. */
    .globl sp__ctx_trampoline
    .hidden sp__ctx_trampoline
    .type sp__ctx_trampoline, @function
    .p2align 4
sp__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size sp__ctx_trampoline, .-sp__ctx_trampoline

    .section .note.GNU-stack,"",@progbits
