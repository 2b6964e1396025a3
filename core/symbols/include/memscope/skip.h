/*
 * Which frames of a stack are not call sites: the allocator itself (the
 * malloc family, operator new and delete, the hook) and the functions that
 * only wrap it (xmalloc, g_malloc, Perl_safesysmalloc, os::malloc,
 * CRYPTO_zalloc, PyMem_RawMalloc, std::allocator<T>::allocate, strdup,
 * ...: the built-in list in skip.c), plus the names a user adds
 * (MEMSCOPE_SKIP, memscope-top --skip). A call site is named for the
 * innermost frame that is none of these; the full stack still shows them.
 *
 * Names are matched on their base: a C++ name without its parameters and
 * template arguments ("os::malloc(unsigned long, MEMFLAGS)" is "os::malloc",
 * "__gnu_cxx::new_allocator<int>::allocate(...)" is
 * "__gnu_cxx::new_allocator::allocate"), a C name without a compiler's clone
 * suffix ("xmalloc.cold" is "xmalloc"). A user's name ending in '*' matches
 * every base that starts with the rest.
 *
 * Runs: readers only.
 */
#ifndef MEMSCOPE_SKIP_H
#define MEMSCOPE_SKIP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ms_skip ms_skip;

/* The built-in list plus the user's names in list (separated by commas or
 * white space; NULL or "" for none). Returns 0 and *out, -EINVAL for a name
 * that cannot be one (empty between separators is fine; "*" alone, or a
 * name with '(' or '<', is not), or -ENOMEM. */
int ms_skip_new(const char *list, ms_skip **out);
void ms_skip_free(ms_skip *sk);

/* Whether a frame of function (demangled; NULL when unknown) in module (a
 * path; NULL when unknown) is the allocator's or a wrapper's. */
int ms_skip_frame(const ms_skip *sk, const char *function, const char *module);

/* The base of a function name as matched (see above), into buf. */
const char *ms_skip_base(const char *function, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
