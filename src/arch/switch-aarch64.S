/* AArch64 (AAPCS64) context switch.
 *
 * void sp__ctx_switch(void **save_sp, void *next_sp)
 *
 * Saves x19-x28, fp (x29), lr (x30), d8-d15 and FPCR on the current stack,
 * stores sp in *save_sp, loads next_sp and restores the same set. The return
 * is br to the restored lr (the analogue of x86's pop + jmp); ret in a
 * BTI build (below).
 *
 * Branch Target Identification (-mbranch-protection=standard or bti, which
 * defines __ARM_FEATURE_BTI_DEFAULT): the object must carry the BTI
 * property note, or the linker drops BTI for the whole program or library;
 * and once it is marked, every indirect branch (br/blr) into its guarded
 * pages must land on a bti instruction. The resume points of a switch are
 * return addresses after a bl, which are no landing pads, so in that build
 * the return is ret, which BTI does not check. The trampoline is reached
 * the same way and needs no landing pad either.
 *
 * Frame layout (176 bytes) from the saved sp upwards:
 *   +0 x19 x20  +16 x21 x22  +32 x23 x24  +48 x25 x26  +64 x27 x28
 *   +80 fp lr   +96 d8 d9  +112 d10 d11  +128 d12 d13  +144 d14 d15
 *   +160 fpcr  +168 pad
 *
 * FPCR is switched only with -DSP_SAVE_FPU_CONTROL=1, as on x86-64 (see
 * switch-x86_64.S for why and what the default asks of tasks).
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define SP_BTI_C hint #34 /* bti c: the function may be called indirectly */
#define SP_RESUME ret x30
#else
#define SP_BTI_C
#define SP_RESUME br x30
#endif

    .text
    .globl sp__ctx_switch
    .hidden sp__ctx_switch
    .type sp__ctx_switch, %function
    .p2align 4
sp__ctx_switch:
    SP_BTI_C
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
#if SP_SAVE_FPU_CONTROL
    mrs x9, fpcr
    str x9, [sp, #160]
#endif
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
#if SP_SAVE_FPU_CONTROL
    ldr x9, [sp, #160]
    msr fpcr, x9
#endif
    add sp, sp, #176
    SP_RESUME
    .size sp__ctx_switch, .-sp__ctx_switch

/* First code a new task runs: x19 holds the argument, x20 the entry. */
    .globl sp__ctx_trampoline
    .hidden sp__ctx_trampoline
    .type sp__ctx_trampoline, %function
    .p2align 4
sp__ctx_trampoline:
    mov x29, #0
    mov x30, #0
    mov x0, x19
    blr x20
    brk #0
    .size sp__ctx_trampoline, .-sp__ctx_trampoline

    .section .note.GNU-stack,"",%progbits

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
/* NT_GNU_PROPERTY_TYPE_0 note: GNU_PROPERTY_AARCH64_FEATURE_1_AND = BTI. */
    .section .note.gnu.property,"a"
    .p2align 3
    .word 4            /* name size */
    .word 16           /* descriptor size */
    .word 5            /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .word 0xc0000000   /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .word 4            /* property data size */
    .word 1            /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
    .word 0            /* pad to 8 bytes */
#endif
