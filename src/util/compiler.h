/* Compiler helpers shared by every layer. */
#ifndef SP_UTIL_COMPILER_H
#define SP_UTIL_COMPILER_H

#define sp_likely(x) __builtin_expect(!!(x), 1)
#define sp_unlikely(x) __builtin_expect(!!(x), 0)
#define SP_COLD __attribute__((cold, noinline))
#define SP_NOINLINE __attribute__((noinline))
/* A function the optimiser may neither inline nor analyse: the only safe way
 * to read per-thread state from code that may resume on another thread
 * (DESIGN.md, hazard 1). */
#if defined(__has_attribute) && __has_attribute(noipa)
#define SP_OPAQUE __attribute__((noinline, noipa))
#else
/* clang has no noipa; optnone also stops it from inferring attributes
 * (readnone and the like) that would let a caller reuse the result. */
#define SP_OPAQUE __attribute__((noinline, optnone))
#endif
#define SP_CACHELINE 64
#define SP_ALIGNED_CL __attribute__((aligned(SP_CACHELINE)))
#define SP_UNUSED __attribute__((unused))

#define SP_CONTAINER_OF(ptr, type, member) \
    ((type *)((char *)(ptr) - __builtin_offsetof(type, member)))

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SP_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define SP_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SP_ASAN)
#define SP_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(SP_TSAN)
#define SP_TSAN 1
#endif

#endif
