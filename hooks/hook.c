/*
 * The interposed malloc family: a thin shim over the capture engine.
 *
 * Bootstrap. The real functions come from dlsym(RTLD_NEXT). glibc's dlsym
 * may itself call calloc/malloc (for its error state) before any real
 * function is known; those calls are served from a small static arena, and
 * free()/realloc() recognise arena pointers and never pass them on. The same
 * trick is used by heaptrack (its "dummy" calloc during dlsym).
 *
 * Block headers. Every block this library hands out, counted or not, has
 * the 16-byte header of memscope/block.h in front of it: what free() and
 * realloc() need to know of a block they read there, with no lookup. The
 * real allocator is asked for 16 bytes more (for an aligned block, its
 * alignment more) and the program gets the pointer after the header. A
 * pointer whose header does not check out is not ours (a block of the real
 * allocator reached by another way): it goes to the real function as it
 * is, counted as an untracked free. So that every block can be freed, even
 * one made while the hook was not counting (inside the hook itself, before
 * the engine started), those get a header too, with generation 0.
 *
 * Reentrancy. Each hook sets the thread's busy flag around the real call and
 * the capture work, so anything allocated on the way (by the engine's
 * one-time per-thread setup, say) is never counted.
 *
 * Ordering. A free is recorded before the real free, and a realloc's old
 * block before the real realloc, so the event stream never shows an address
 * handed to another thread while it is still live.
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
#include <unistd.h>

#include <memscope/block.h>

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
static size_t (*real_malloc_usable_size)(void *);

/* Larger requests fail as the real allocator fails them (ENOMEM) before
 * the header's bytes are added. */
#define REQUEST_MAX ((size_t)PTRDIFF_MAX - 65536u)

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
	real_malloc_usable_size = dlsym(RTLD_NEXT, "malloc_usable_size");
	ms_block_init();
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

/* A block made while the hook does not count: a header all the same. */
static void *plain_block(char *base, size_t size, size_t offset)
{
	void *user;

	if (base == NULL)
		return NULL;
	user = base + offset;
	ms_block_put(user, size, 0, 0, 0, 0, offset);
	return user;
}

/* A counted block: stack, header, accounting. The caller holds busy. */
static void *counted_block(char *base, size_t size, size_t offset)
{
	uint64_t frames[MS_UNWIND_BUFFER];
	void *user;
	int saved;

	if (base == NULL)
		return NULL;
	user = base + offset;
	saved = errno;
	ms_capture_alloc(&ms_hook_capture, user, size, offset, frames, ms_unwind(frames));
	errno = saved;
	return user;
}

static void *too_large(void)
{
	errno = ENOMEM;
	return NULL;
}

EXPORT void *malloc(size_t size)
{
	void *p;

	if (!ensure_real())
		return arena_alloc(size);
	if (size > REQUEST_MAX)
		return too_large();
	if (skip())
		return plain_block(real_malloc(size + MS_BLOCK_HEAD), size, MS_BLOCK_HEAD);
	ms_hook_busy = 1;
	p = counted_block(real_malloc(size + MS_BLOCK_HEAD), size, MS_BLOCK_HEAD);
	ms_hook_busy = 0;
	return p;
}

/* Frees a block whose header is b: counted (before the real free, see
 * Ordering), then its real start to the real free. */
static void free_block(void *ptr, const ms_block_info *b)
{
	if (!skip()) {
		int saved = errno;

		ms_hook_busy = 1;
		ms_capture_free(&ms_hook_capture, ptr, b);
		ms_hook_busy = 0;
		errno = saved;
	}
	real_free(ms_block_base(ptr, b));
}

/* Frees a block that is not ours. */
static void free_foreign(void *ptr)
{
	if (!skip()) {
		ms_hook_busy = 1;
		ms_capture_untracked_free(&ms_hook_capture);
		ms_hook_busy = 0;
	}
	real_free(ptr);
}

EXPORT void free(void *ptr)
{
	ms_block_info b;

	if (ptr == NULL || in_arena(ptr))
		return;
	if (!ensure_real())
		return; /* only reachable while resolving; nothing real to free yet */
	if (ms_block_get(ptr, &b) == 0)
		free_block(ptr, &b);
	else
		free_foreign(ptr);
}

EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total))
		return too_large();
	if (!ensure_real())
		return arena_alloc(total);
	if (total > REQUEST_MAX)
		return too_large();
	if (skip())
		return plain_block(real_calloc(1, total + MS_BLOCK_HEAD), total, MS_BLOCK_HEAD);
	ms_hook_busy = 1;
	p = counted_block(real_calloc(1, total + MS_BLOCK_HEAD), total, MS_BLOCK_HEAD);
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

/* The bytes of a block the program may use. */
static size_t usable(void *ptr, const ms_block_info *b)
{
	if (b == NULL)
		return real_malloc_usable_size != NULL ? real_malloc_usable_size(ptr) : 0;
	if (real_malloc_usable_size == NULL)
		return b->size;
	return real_malloc_usable_size(ms_block_base(ptr, b)) - b->offset;
}

/* The real resize. A block of ours that is not aligned is resized by the
 * real realloc, its header moving with it; an aligned one, or one not
 * ours (b NULL), moves to a new block of the real malloc, its contents
 * copied (as much as the program could use), the old one freed. */
static char *real_resize(void *old, const ms_block_info *b, size_t size)
{
	size_t have;
	char *base;

	if (b != NULL && b->offset == MS_BLOCK_HEAD)
		return real_realloc(ms_block_base(old, b), size + MS_BLOCK_HEAD);
	have = usable(old, b);
	base = real_malloc(size + MS_BLOCK_HEAD);
	if (base == NULL)
		return NULL;
	memcpy(base + MS_BLOCK_HEAD, old, have < size ? have : size);
	real_free(b != NULL ? ms_block_base(old, b) : old);
	return base;
}

/* realloc with size > 0: counted as the old block's end and the new one's
 * birth, the old block recorded before the real call (see Ordering); a
 * block not ours as an untracked free and a new block. */
static void *tracked_realloc(void *old, const ms_block_info *b, size_t size)
{
	uint64_t frames[MS_UNWIND_BUFFER];
	ms_claim claim;
	char *base;
	void *p;
	int saved;

	if (skip())
		return plain_block(real_resize(old, b, size), size, MS_BLOCK_HEAD);
	ms_hook_busy = 1;
	saved = errno;
	ms_capture_realloc_begin(&ms_hook_capture, old, b, &claim);
	errno = saved;
	base = real_resize(old, b, size);
	p = base != NULL ? base + MS_BLOCK_HEAD : NULL;
	saved = errno;
	ms_capture_realloc_end(&ms_hook_capture, &claim, p, size, MS_BLOCK_HEAD, frames,
			       p != NULL ? ms_unwind(frames) : 0);
	errno = saved;
	ms_hook_busy = 0;
	return p;
}

EXPORT void *realloc(void *old, size_t size)
{
	ms_block_info b;

	if (old != NULL && in_arena(old))
		return arena_realloc(old, size);
	if (!ensure_real())
		return arena_alloc(size);
	if (old == NULL)
		return malloc(size);
	if (size == 0) {
		/* As glibc: realloc(p, 0) frees p and returns NULL. */
		free(old);
		return NULL;
	}
	if (size > REQUEST_MAX)
		return too_large();
	return tracked_realloc(old, ms_block_get(old, &b) == 0 ? &b : NULL, size);
}

EXPORT void *reallocarray(void *old, size_t n, size_t m)
{
	size_t total;

	if (__builtin_mul_overflow(n, m, &total))
		return too_large(); /* as reallocarray answers; old stays as it is */
	return realloc(old, total);
}

static int power_of_two(size_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* An aligned block: the real allocator aligns a block of size + align
 * bytes, and the program's pointer is align bytes in, the header before
 * it. align: a power of two. Up to 16, malloc's own alignment does. */
static void *aligned_block(size_t align, size_t size, size_t asked)
{
	char *base;
	void *p;

	if (align <= 16)
		return malloc(size);
	if (size > REQUEST_MAX - align)
		return too_large();
	if (real_memalign != NULL)
		base = real_memalign(align, size + align);
	else if (real_posix_memalign == NULL || real_posix_memalign((void **)&base, align,
								     size + align) != 0)
		base = NULL;
	if (skip())
		return plain_block(base, asked, align);
	ms_hook_busy = 1;
	p = counted_block(base, asked, align);
	ms_hook_busy = 0;
	return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (!ensure_real() || (real_memalign == NULL && real_posix_memalign == NULL))
		return ENOMEM;
	if (align % sizeof(void *) != 0 || !power_of_two(align))
		return EINVAL;
	p = aligned_block(align, size, size);
	errno = saved; /* posix_memalign answers by its return value only */
	if (p == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

/* aligned_alloc, memalign: an alignment that is not a power of two is the
 * real function's to judge (glibc rounds it up, or refuses it): such a
 * block is the real allocator's, freed as a block not ours. */
EXPORT void *aligned_alloc(size_t align, size_t size)
{
	if (!ensure_real() || real_aligned_alloc == NULL)
		return NULL;
	if (!power_of_two(align))
		return real_aligned_alloc(align, size);
	return aligned_block(align, size, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
	if (!ensure_real() || real_memalign == NULL)
		return NULL;
	if (!power_of_two(align))
		return real_memalign(align, size);
	return aligned_block(align, size, size);
}

EXPORT void *valloc(size_t size)
{
	if (!ensure_real() || real_valloc == NULL)
		return NULL;
	return aligned_block((size_t)sysconf(_SC_PAGESIZE), size, size);
}

/* pvalloc: whole pages (one for size 0); the program asked for size. */
EXPORT void *pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), whole;

	if (!ensure_real() || real_pvalloc == NULL)
		return NULL;
	if (size > REQUEST_MAX)
		return too_large();
	whole = size == 0 ? page : (size + page - 1) & ~(page - 1);
	return aligned_block(page, whole, size);
}

EXPORT size_t malloc_usable_size(void *ptr)
{
	ms_block_info b;

	if (ptr == NULL)
		return 0;
	if (in_arena(ptr))
		return arena_size(ptr);
	if (!ensure_real())
		return 0;
	return usable(ptr, ms_block_get(ptr, &b) == 0 ? &b : NULL);
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
