/* The one facade for atomics in spindle (CONVENTIONS.md: "route atomics
 * through src/util/atomic.h"). Each call names its memory order so the
 * pairing comments at call sites can be checked against it. */
#ifndef SP_UTIL_ATOMIC_H
#define SP_UTIL_ATOMIC_H

#include <stdatomic.h>

#include "util/compiler.h"

#define sp_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define sp_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define sp_load_seqcst(p) atomic_load_explicit((p), memory_order_seq_cst)
#define sp_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define sp_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define sp_store_seqcst(p, v) atomic_store_explicit((p), (v), memory_order_seq_cst)
#define sp_xchg_seqcst(p, v) atomic_exchange_explicit((p), (v), memory_order_seq_cst)
#define sp_xchg_acqrel(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define sp_fetch_add_seqcst(p, v) atomic_fetch_add_explicit((p), (v), memory_order_seq_cst)
#define sp_fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define sp_fetch_sub_acqrel(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)
#define sp_fetch_or_seqcst(p, v) atomic_fetch_or_explicit((p), (v), memory_order_seq_cst)
#define sp_cas_seqcst(p, exp, v)                                                      \
    atomic_compare_exchange_weak_explicit((p), (exp), (v), memory_order_seq_cst,     \
                                          memory_order_seq_cst)
#define sp_cas_acqrel(p, exp, v)                                                      \
    atomic_compare_exchange_weak_explicit((p), (exp), (v), memory_order_acq_rel,     \
                                          memory_order_acquire)
#define sp_cas_release(p, exp, v)                                                     \
    atomic_compare_exchange_weak_explicit((p), (exp), (v), memory_order_release,     \
                                          memory_order_relaxed)

/* A full fence in the seq_cst order before a load of *p: for a Dekker pair
 * whose store side is only sometimes followed by the load (deque_push in
 * runq.h, before it reads rt->sleepers), and whose other side changes *p
 * with a seq_cst RMW (the parker's fetch_add on rt->sleepers).
 *
 * ThreadSanitizer does not model fences (gcc 12 warns: -Wtsan), so a TSan
 * build adds 0 to *p with a seq_cst RMW instead. That is at least as
 * strong: in hardware it is a full barrier too (a locked instruction on
 * x86, ldaddal on arm64), and in C11 both sides' RMWs on *p are ordered in
 * its modification order, so whichever comes second reads the first and
 * synchronizes with it: either the pusher sees the sleeper, or the parker's
 * re-check sees the push. TSan understands that pairing. */
#ifdef SP_TSAN
#define sp_fence_seqcst_before(p) ((void)atomic_fetch_add_explicit((p), 0, memory_order_seq_cst))
#else
#define sp_fence_seqcst_before(p) atomic_thread_fence(memory_order_seq_cst)
#endif

/* Owner-only counter bump that another thread may read: a relaxed load and
 * store (a plain add on x86, no lock prefix), race-free for TSan. */
#define sp_counter_add(p, v) sp_store_relaxed((p), sp_load_relaxed(p) + (v))

static inline void
sp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
