/*
 * memscope.h: name what your program owns, for memscope-top.
 *
 *   char *buf = malloc(4096);
 *   ms_track(buf, "buf", "char[4096]");     the block's variable and type
 *   MS_SCOPE("parse");                       until the enclosing block ends
 *   ms_borrow(buf); ... ms_return(buf);      lent out, and given back
 *   ms_move(old, new);                       new takes over old's names
 *
 * memscope-top then groups annotated blocks by variable, type or scope,
 * with their borrows and lifetimes (a tracked block's lifetime runs from
 * ms_track to its free; realloc and ms_move carry the name along).
 *
 * Valid C and C++; nothing to link (before glibc 2.34: -ldl). The functions
 * behind these calls live in the hook (libmemscope.so): without the hook
 * none is found and every call does nothing, so the program runs
 * unchanged.
 *
 * Runs: in the program, called by its own code on any thread; the hook
 * behind each call never reaches the hooked malloc.
 */
#ifndef MEMSCOPE_API_H
#define MEMSCOPE_API_H

#include <dlfcn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The hook's entry points; use the ms_ names below. */
void memscope_track(const void *ptr, const char *var, const char *type) __attribute__((weak));
void memscope_scope_enter(const char *name) __attribute__((weak));
void memscope_scope_leave(void) __attribute__((weak));
void memscope_move(const void *from, const void *to) __attribute__((weak));
void memscope_borrow(const void *ptr) __attribute__((weak));
void memscope_return(const void *ptr) __attribute__((weak));

/*
 * Finds an entry point once per translation unit. A position-independent
 * program (the default) sees the hook's functions through the weak
 * declarations above; in one linked without -pie the linker has already
 * set them to null, so the hook is looked for by name, once, with dlsym
 * (in the C library since glibc 2.34; link -ldl before).
 */
#define MS_ENTRY_(name)                                                                \
	static __typeof__(&name) entry = 0;                                            \
	static int looked = 0;                                                         \
	if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {                             \
		__typeof__(&name) found = &name;                                       \
		if (found == 0)                                                        \
			*(void **)&found = dlsym((void *)0 /* RTLD_DEFAULT */, #name); \
		__atomic_store_n(&entry, found, __ATOMIC_RELAXED);                     \
		__atomic_store_n(&looked, 1, __ATOMIC_RELEASE);                        \
	}                                                                              \
	__typeof__(&name) const call = __atomic_load_n(&entry, __ATOMIC_RELAXED);

/* Names the live heap block at ptr (as malloc returned it): variable var,
 * type type, and the calling thread's innermost MS_SCOPE. Again on the
 * same block: renamed. A pointer the hook did not see allocated is left
 * alone. The strings are copied (47 bytes at most). */
static inline void ms_track(const void *ptr, const char *var, const char *type)
{
	MS_ENTRY_(memscope_track)
	if (call)
		call(ptr, var, type);
}

/* The block at from hands its names (variable, type, scope, borrows) to
 * the block at to: a copy into a new block, say, before the old one is
 * freed. Both blocks stay as malloc and free see them. */
static inline void ms_move(const void *from, const void *to)
{
	MS_ENTRY_(memscope_move)
	if (call)
		call(from, to);
}

/* The block at ptr is lent out (ms_borrow) or given back (ms_return):
 * counted per annotated block. */
static inline void ms_borrow(const void *ptr)
{
	MS_ENTRY_(memscope_borrow)
	if (call)
		call(ptr);
}

static inline void ms_return(const void *ptr)
{
	MS_ENTRY_(memscope_return)
	if (call)
		call(ptr);
}

/* name must stay valid until the scope ends (a string literal, say): the
 * hook copies it only when a block is tracked in the scope. */
static inline int ms_scope_enter_(const char *name)
{
	MS_ENTRY_(memscope_scope_enter)
	if (call)
		call(name);
	return 0;
}

static inline void ms_scope_leave_(int *unused)
{
	MS_ENTRY_(memscope_scope_leave)
	(void)unused;
	if (call)
		call();
}

#ifdef __cplusplus
}

struct ms_scope_guard_ {
	explicit ms_scope_guard_(const char *name) { ms_scope_enter_(name); }
	~ms_scope_guard_() { ms_scope_leave_(nullptr); }
	ms_scope_guard_(const ms_scope_guard_ &) = delete;
	ms_scope_guard_ &operator=(const ms_scope_guard_ &) = delete;
};
#endif

#define MS_CAT2_(a, b) a##b
#define MS_CAT_(a, b) MS_CAT2_(a, b)

/* MS_SCOPE("name"): the calling thread is in scope name from here to the
 * end of the enclosing block (scopes nest, up to 64 deep; name must stay
 * valid that long). */
#ifdef __cplusplus
#define MS_SCOPE(name) ms_scope_guard_ MS_CAT_(ms_scope_, __LINE__)(name)
#else
#define MS_SCOPE(name)                                                            \
	int MS_CAT_(ms_scope_, __LINE__) __attribute__((cleanup(ms_scope_leave_), unused)) = \
		ms_scope_enter_(name)
#endif

#endif
