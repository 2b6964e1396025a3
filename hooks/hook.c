/*
 * The interposed malloc family: a thin shim over the capture engine.
 *
 * Bootstrap. The real functions come from dlsym(RTLD_NEXT). glibc's dlsym
 * may itself call calloc/malloc (for its error state) before any real
 * function is known; those calls are served from a small static arena, and
 * free()/realloc() recognise arena pointers and never pass them on. The same
 * trick is used by heaptrack (its "dummy" calloc during dlsym).
 *
 * Reentrancy. Each hook sets the thread's busy flag around the real call and
 * the capture work, so anything allocated on the way (by the real function
 * itself, e.g. reallocarray calling realloc, or by the engine's one-time
 * per-thread setup) goes to the real allocator untracked and is never
 * counted twice.
 *
 * Ordering. A free is recorded before the real free, and a realloc's old
 * block is taken off the table before the real realloc, so an address is
 * never handed to another thread while it is still recorded as live.
 *
 * Behaviour. errno is saved and restored around the engine's work: a
 * successful call must leave errno as the real allocator left it.
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "unwind.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_reallocarray)(void *, size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

/* Bootstrap arena: blocks carry their size in a 16-byte header. */
#define ARENA_SIZE (64 * 1024)
static char arena[ARENA_SIZE] __attribute__((aligned(16)));
static size_t arena_used;

static int in_arena(const void *p)
{
	return (const char *)p >= arena && (const char *)p < arena + ARENA_SIZE;
}

static void *arena_alloc(size_t size)
{
	size_t need = ((size + 15) & ~(size_t)15) + 16;
	size_t at;

	if (size > ARENA_SIZE)
		return NULL;
	at = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
	if (at + need > ARENA_SIZE)
		return NULL;
	*(size_t *)(arena + at) = size;
	return arena + at + 16; /* zero-filled: static storage never reused */
}

static size_t arena_size(const void *p)
{
	return *(const size_t *)((const char *)p - 16);
}

static int resolving, resolved;

static void resolve(void)
{
	resolving = 1;
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_reallocarray = dlsym(RTLD_NEXT, "reallocarray");
	real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = dlsym(RTLD_NEXT, "memalign");
	real_valloc = dlsym(RTLD_NEXT, "valloc");
	real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	resolving = 0;
	__atomic_store_n(&resolved, real_malloc != NULL && real_free != NULL, __ATOMIC_RELEASE);
}

/* Runs before main and before most other libraries' constructors. */
__attribute__((constructor(101))) static void hook_init(void)
{
	if (real_malloc == NULL)
		resolve();
	ms_runtime_start();
}

/* True when the caller should just pass through: not ready, or nested. */
static inline int skip(void)
{
	return ms_hook_busy || !__atomic_load_n(&ms_hook_ready, __ATOMIC_ACQUIRE);
}

/* Resolves on first use; false while resolving (the caller uses the arena). */
/* A C library without one of the optional functions (pvalloc, say) leaves
 * its pointer NULL; the hook then answers as that library would. */
static inline int ensure_real(void)
{
	if (__builtin_expect(__atomic_load_n(&resolved, __ATOMIC_ACQUIRE), 1))
		return 1;
	if (resolving)
		return 0;
	resolve();
	return resolved;
}

static void *track_alloc(void *p, size_t size)
{
	if (p != NULL) {
		uint64_t frames[MS_UNWIND_BUFFER];
		int saved = errno;

		ms_capture_alloc(&ms_hook_capture, p, size, frames, ms_unwind(frames));
		errno = saved;
	}
	return p;
}

EXPORT void *malloc(size_t size)
{
	void *p;

	if (!ensure_real())
		return arena_alloc(size);
	if (skip())
		return real_malloc(size);
	ms_hook_busy = 1;
	p = track_alloc(real_malloc(size), size);
	ms_hook_busy = 0;
	return p;
}

EXPORT void free(void *ptr)
{
	int saved;

	if (ptr == NULL || in_arena(ptr))
		return;
	if (!ensure_real())
		return; /* only reachable while resolving; nothing real to free yet */
	if (skip()) {
		real_free(ptr);
		return;
	}
	ms_hook_busy = 1;
	saved = errno;
	ms_capture_free(&ms_hook_capture, ptr);
	errno = saved;
	real_free(ptr);
	ms_hook_busy = 0;
}

EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (!ensure_real()) {
		if (__builtin_mul_overflow(n, size, &total))
			return NULL;
		return arena_alloc(total);
	}
	if (skip() || __builtin_mul_overflow(n, size, &total))
		return real_calloc(n, size);
	ms_hook_busy = 1;
	p = track_alloc(real_calloc(n, size), total);
	ms_hook_busy = 0;
	return p;
}

/* realloc of a bootstrap block: move it to the real heap (or, for size 0,
 * drop it as glibc's realloc(p, 0) frees p). */
static void *arena_realloc(void *old, size_t size)
{
	size_t have = arena_size(old);
	void *p;

	if (size == 0)
		return NULL;
	p = malloc(size);

	if (p != NULL)
		memcpy(p, old, have < size ? have : size);
	return p;
}

/* Shared by realloc and reallocarray: the old block is claimed before the
 * real call and settled after it. */
static void *tracked_realloc(void *old, size_t size, void *(*call)(void *, size_t, size_t),
			     size_t n, size_t m)
{
	uint64_t frames[MS_UNWIND_BUFFER];
	ms_claim claim;
	void *p;
	int saved;

	ms_hook_busy = 1;
	saved = errno;
	ms_capture_realloc_begin(&ms_hook_capture, old, &claim);
	errno = saved;
	p = call(old, n, m);
	saved = errno;
	ms_capture_realloc_end(&ms_hook_capture, &claim, p, size, frames,
			       p != NULL ? ms_unwind(frames) : 0);
	errno = saved;
	ms_hook_busy = 0;
	return p;
}

static void *call_realloc(void *old, size_t size, size_t unused)
{
	(void)unused;
	return real_realloc(old, size);
}

static void *call_reallocarray(void *old, size_t n, size_t m)
{
	/* A C library without reallocarray (glibc before 2.26): realloc, the
	 * product known not to overflow. */
	if (real_reallocarray == NULL)
		return real_realloc(old, n * m);
	return real_reallocarray(old, n, m);
}

EXPORT void *realloc(void *old, size_t size)
{
	if (old != NULL && in_arena(old))
		return arena_realloc(old, size);
	if (!ensure_real())
		return arena_alloc(size);
	if (skip())
		return real_realloc(old, size);
	return tracked_realloc(old, size, call_realloc, size, 0);
}

EXPORT void *reallocarray(void *old, size_t n, size_t m)
{
	size_t total;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM; /* as reallocarray answers; old stays as it is */
		return NULL;
	}
	if (old != NULL && in_arena(old))
		return arena_realloc(old, total);
	if (!ensure_real())
		return arena_alloc(total);
	if (skip())
		return call_reallocarray(old, n, m);
	return tracked_realloc(old, total, call_reallocarray, n, m);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	int r;

	if (!ensure_real() || real_posix_memalign == NULL)
		return ENOMEM;
	if (skip())
		return real_posix_memalign(out, align, size);
	ms_hook_busy = 1;
	r = real_posix_memalign(out, align, size);
	if (r == 0)
		track_alloc(*out, size);
	ms_hook_busy = 0;
	return r;
}

/* aligned_alloc, memalign: (alignment, size). */
static void *aligned_call(void *(*call)(size_t, size_t), size_t align, size_t size)
{
	void *p;

	if (skip())
		return call(align, size);
	ms_hook_busy = 1;
	p = track_alloc(call(align, size), size);
	ms_hook_busy = 0;
	return p;
}

/* valloc, pvalloc: (size). */
static void *page_call(void *(*call)(size_t), size_t size)
{
	void *p;

	if (skip())
		return call(size);
	ms_hook_busy = 1;
	p = track_alloc(call(size), size);
	ms_hook_busy = 0;
	return p;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	if (!ensure_real() || real_aligned_alloc == NULL)
		return NULL;
	return aligned_call(real_aligned_alloc, align, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
	if (!ensure_real() || real_memalign == NULL)
		return NULL;
	return aligned_call(real_memalign, align, size);
}

EXPORT void *valloc(size_t size)
{
	if (!ensure_real() || real_valloc == NULL)
		return NULL;
	return page_call(real_valloc, size);
}

EXPORT void *pvalloc(size_t size)
{
	if (!ensure_real() || real_pvalloc == NULL)
		return NULL;
	return page_call(real_pvalloc, size);
}

/* --- memscope.h ---------------------------------------------------------- */

/* Runs an annotation in the engine, as the allocator functions do: not
 * before the engine is ready, never nested, errno kept. */
#define ANNOTATE(call)                          \
	do {                                    \
		int saved_;                     \
		if (skip())                     \
			return;                 \
		saved_ = errno;                 \
		ms_hook_busy = 1;               \
		call;                           \
		ms_hook_busy = 0;               \
		errno = saved_;                 \
	} while (0)

EXPORT void memscope_track(const void *ptr, const char *var, const char *type)
{
	ANNOTATE(ms_capture_track(&ms_hook_capture, ptr, var, type));
}

/* Scopes are the thread's own: kept even before the engine is ready. */
EXPORT void memscope_scope_enter(const char *name)
{
	ms_capture_scope_enter(name);
}

EXPORT void memscope_scope_leave(void)
{
	ms_capture_scope_leave();
}

EXPORT void memscope_move(const void *from, const void *to)
{
	ANNOTATE(ms_capture_annotate(&ms_hook_capture, MS_OP_MOVE, (void *)to, (void *)from));
}

EXPORT void memscope_borrow(const void *ptr)
{
	ANNOTATE(ms_capture_annotate(&ms_hook_capture, MS_OP_BORROW, (void *)ptr, NULL));
}

EXPORT void memscope_return(const void *ptr)
{
	ANNOTATE(ms_capture_annotate(&ms_hook_capture, MS_OP_RETURN, (void *)ptr, NULL));
}
