/*
 * memscope atomics: the only way memscope code touches shared words. Every
 * name carries its memory order, so a reader of the calling code sees the
 * ordering without looking here. The words are plain integers (not _Atomic)
 * because they live in a segment shared with other processes and in structs
 * that C++ tests read; the GCC/Clang __atomic builtins give C11 semantics on
 * them and are lock-free for 32- and 64-bit words on every target we build.
 *
 * Runs: anywhere (inline, lock-free).
 */
#ifndef MEMSCOPE_ATOMIC_H
#define MEMSCOPE_ATOMIC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline uint64_t ms_atomic_load_relaxed(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint64_t ms_atomic_load_acquire(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void ms_atomic_store_relaxed(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void ms_atomic_store_release(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint64_t ms_atomic_add_relaxed(uint64_t *p, uint64_t v)
{
	return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t ms_atomic_sub_relaxed(uint64_t *p, uint64_t v)
{
	return __atomic_sub_fetch(p, v, __ATOMIC_RELAXED);
}

static inline uint32_t ms_atomic_load_relaxed_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint32_t ms_atomic_load_acquire_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void ms_atomic_store_relaxed_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void ms_atomic_store_release_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint32_t ms_atomic_add_relaxed_u32(uint32_t *p, uint32_t v)
{
	return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

/* Returns 1 and stores desired if *p equalled expected; acquire on success. */
static inline int ms_atomic_cas_acquire_u32(uint32_t *p, uint32_t expected, uint32_t desired)
{
	return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static inline void ms_atomic_fence_acquire(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

static inline void ms_atomic_fence_release(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void ms_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

#ifdef __cplusplus
}
#endif

#endif
