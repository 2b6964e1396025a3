/*
 * memscope.h: name what your program owns, for memscope-top.
 *
 *   char *buf = malloc(4096);
 *   ms_track(buf, "buf", "char[4096]");     the block's variable and type
 *   MS_SCOPE("parse");                       until the enclosing block ends
 *   ms_borrow(buf); ... ms_return(buf);      lent out, and given back
 *   ms_move(old, new);                       the block is now known at new
 *
 * memscope-top then groups annotated blocks by variable, type or scope,
 * with their borrows and lifetimes (a tracked block's lifetime runs from
 * ms_track to its free; realloc and ms_move carry the name along).
 *
 * Valid C and C++; nothing to link. The functions behind these calls live
 * in the hook (libmemscope.so) and are declared weak: without the hook
 * their addresses are null and every call does nothing, so the program
 * runs unchanged.
 */
#ifndef MEMSCOPE_API_H
#define MEMSCOPE_API_H

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

/* Names the live heap block at ptr (as malloc returned it): variable var,
 * type type, and the calling thread's innermost MS_SCOPE. Again on the
 * same block: renamed. A pointer the hook did not see allocated is left
 * alone. The strings are copied (47 bytes at most). */
static inline void ms_track(const void *ptr, const char *var, const char *type)
{
	if (memscope_track)
		memscope_track(ptr, var, type);
}

/* The block at from is now owned under the address to (a handle moved to
 * a new home, say); its figures and name go along. */
static inline void ms_move(const void *from, const void *to)
{
	if (memscope_move)
		memscope_move(from, to);
}

/* The block at ptr is lent out (ms_borrow) or given back (ms_return):
 * counted per annotated block. */
static inline void ms_borrow(const void *ptr)
{
	if (memscope_borrow)
		memscope_borrow(ptr);
}

static inline void ms_return(const void *ptr)
{
	if (memscope_return)
		memscope_return(ptr);
}

static inline int ms_scope_enter_(const char *name)
{
	if (memscope_scope_enter)
		memscope_scope_enter(name);
	return 0;
}

static inline void ms_scope_leave_(int *unused)
{
	(void)unused;
	if (memscope_scope_leave)
		memscope_scope_leave();
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
 * end of the enclosing block (scopes nest, up to 64 deep). */
#ifdef __cplusplus
#define MS_SCOPE(name) ms_scope_guard_ MS_CAT_(ms_scope_, __LINE__)(name)
#else
#define MS_SCOPE(name)                                                            \
	int MS_CAT_(ms_scope_, __LINE__) __attribute__((cleanup(ms_scope_leave_), unused)) = \
		ms_scope_enter_(name)
#endif

#endif
