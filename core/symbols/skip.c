/* Frames that are not call sites: see memscope/skip.h. */
#define _GNU_SOURCE
#include <memscope/skip.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * The built-in list. The allocator's own entry points, then the wrappers
 * common programs and libraries put around them: a call site named for one
 * of these tells nothing (every gcc allocation would be xmalloc's). Each
 * only allocates or frees on behalf of its caller.
 */
static const char *const builtin[] = {
	/* the C library's allocator */
	"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc", "__libc_malloc", "__libc_free",
	"__libc_calloc", "__libc_realloc", "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
	"__posix_memalign",
	/* ... and its functions that return a new block */
	"strdup", "strndup", "__strdup", "__strndup", "wcsdup",
	/* C++ (operator new and delete are matched by their prefix below) */
	"std::allocator::allocate", "std::allocator::deallocate",
	"std::allocator_traits::allocate", "std::allocator_traits::deallocate",
	"std::__new_allocator::allocate", "std::__new_allocator::deallocate",
	"__gnu_cxx::new_allocator::allocate", "__gnu_cxx::new_allocator::deallocate",
	/* gnulib and libiberty (GNU tools, gcc's cc1) */
	"xmalloc", "xzalloc", "xcalloc", "xrealloc", "xnmalloc", "xnrealloc", "xreallocarray",
	"xcharalloc", "x2realloc", "x2nrealloc", "ximalloc", "xicalloc", "xirealloc", "xizalloc",
	"xpalloc", "xstrdup", "xstrndup", "xmemdup", "ximemdup", "ximemdup0", "xmemdup0",
	"xcalloc_nonnull",
	/* GLib */
	"g_malloc", "g_malloc0", "g_realloc", "g_try_malloc", "g_try_malloc0", "g_try_realloc",
	"g_malloc_n", "g_malloc0_n", "g_realloc_n", "g_try_malloc_n", "g_try_malloc0_n",
	"g_try_realloc_n", "g_free", "g_memdup", "g_memdup2", "g_strdup", "g_strndup",
	"g_slice_alloc", "g_slice_alloc0", "g_slice_free1", "g_aligned_alloc",
	"g_aligned_alloc0",
	/* Perl */
	"Perl_safesysmalloc", "Perl_safesyscalloc", "Perl_safesysrealloc", "Perl_safesysfree",
	/* the JVM (HotSpot) */
	"os::malloc", "os::realloc", "os::free", "AllocateHeap", "ReallocateHeap", "FreeHeap",
	/* OpenSSL */
	"CRYPTO_malloc", "CRYPTO_zalloc", "CRYPTO_realloc", "CRYPTO_clear_realloc", "CRYPTO_free",
	"CRYPTO_clear_free", "CRYPTO_strdup", "CRYPTO_strndup", "CRYPTO_memdup",
	/* CPython's allocator front ends (with PYTHONMALLOC=malloc they are
	 * what calls malloc) */
	"PyMem_RawMalloc", "PyMem_RawCalloc", "PyMem_RawRealloc", "PyMem_RawFree",
	"_PyMem_RawMalloc", "_PyMem_RawCalloc", "_PyMem_RawRealloc", "_PyMem_RawFree",
	"PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc", "PyMem_Free", "PyObject_Malloc",
	"PyObject_Calloc", "PyObject_Realloc", "PyObject_Free", "_PyObject_Malloc",
	"_PyObject_Calloc", "_PyObject_Realloc", "_PyObject_Free", "_PyMem_DebugRawAlloc",
	"_PyMem_DebugRawMalloc", "_PyMem_DebugRawCalloc", "_PyMem_DebugRawRealloc",
	"_PyMem_DebugMalloc", "_PyMem_DebugCalloc", "_PyMem_DebugRealloc",
	/* Rust's global allocator shims */
	"__rust_alloc", "__rust_alloc_zeroed", "__rust_realloc", "__rust_dealloc", "__rdl_alloc",
	"__rdl_alloc_zeroed", "__rdl_realloc", "__rdl_dealloc", "__rg_alloc", "__rg_alloc_zeroed",
	"__rg_realloc", "__rg_dealloc",
	NULL,
};

struct ms_skip {
	char **names; /* the user's bases; those ending in '*' are prefixes */
	size_t count;
};

/* Appends text[0, n) to buf (of len, holding *at bytes), as far as it fits. */
static void put(char *buf, size_t len, size_t *at, const char *text, size_t n)
{
	for (size_t i = 0; i < n && *at + 1 < len; i++)
		buf[(*at)++] = text[i];
}

const char *ms_skip_base(const char *function, char *buf, size_t len)
{
	static const char anon[] = "(anonymous namespace)";
	int cxx = strstr(function, "::") != NULL || strchr(function, '(') != NULL;
	const char *p = function;
	size_t n = 0;
	int depth = 0;

	if (len == 0)
		return buf;
	while (*p != '\0') {
		if (depth == 0 && strncmp(p, anon, sizeof(anon) - 1) == 0) {
			put(buf, len, &n, p, sizeof(anon) - 1);
			p += sizeof(anon) - 1;
			continue;
		}
		if (cxx && depth == 0 && strncmp(p, "operator", 8) == 0 &&
		    (p == function || p[-1] == ':')) {
			/* An operator's name may hold '<', '>' and "()" of its own:
			 * it runs to its parameters. */
			const char *q = p + 8 + (strncmp(p + 8, "()", 2) == 0 ? 2 : 0);

			q += strcspn(q, "(");
			put(buf, len, &n, p, (size_t)(q - p));
			p = q;
			continue;
		}
		if (*p == '<') {
			depth++;
		} else if (*p == '>' && depth > 0) {
			depth--;
		} else if (depth == 0) {
			/* the parameters, a C clone's ".cold", or " [clone .isra.0]" */
			if (*p == '(' || (!cxx && *p == '.') || strncmp(p, " [clone", 7) == 0)
				break;
			put(buf, len, &n, p, 1);
		}
		p++;
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

static int user_match(const ms_skip *sk, const char *base)
{
	for (size_t i = 0; sk != NULL && i < sk->count; i++) {
		const char *name = sk->names[i];
		size_t len = strlen(name);

		if (name[len - 1] == '*' ? strncmp(base, name, len - 1) == 0 : strcmp(base, name) == 0)
			return 1;
	}
	return 0;
}

int ms_skip_frame(const ms_skip *sk, const char *function, const char *module)
{
	const char *slash = module != NULL ? strrchr(module, '/') : NULL;
	char base[512];

	if (slash != NULL && strcmp(slash, "/libmemscope.so") == 0)
		return 1;
	if (function == NULL)
		return 0;
	if (strncmp(function, "operator new", 12) == 0 ||
	    strncmp(function, "operator delete", 15) == 0)
		return 1;
	ms_skip_base(function, base, sizeof(base));
	for (size_t i = 0; builtin[i] != NULL; i++)
		if (strcmp(base, builtin[i]) == 0)
			return 1;
	return user_match(sk, base);
}

void ms_skip_free(ms_skip *sk)
{
	if (sk == NULL)
		return;
	for (size_t i = 0; i < sk->count; i++)
		free(sk->names[i]);
	free(sk->names);
	free(sk);
}

static int is_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n';
}

int ms_skip_new(const char *list, ms_skip **out)
{
	ms_skip *sk = calloc(1, sizeof(*sk));
	const char *p = list != NULL ? list : "";

	*out = NULL;
	if (sk == NULL)
		return -ENOMEM;
	while (*p != '\0') {
		size_t len = 0;
		char **more;

		while (is_separator(*p))
			p++;
		while (p[len] != '\0' && !is_separator(p[len]))
			len++;
		if (len == 0)
			break;
		if ((len == 1 && p[0] == '*') || memchr(p, '(', len) != NULL ||
		    memchr(p, '<', len) != NULL || memchr(p, '*', len - 1) != NULL) {
			ms_skip_free(sk);
			return -EINVAL;
		}
		more = realloc(sk->names, (sk->count + 1) * sizeof(*more));
		if (more == NULL || (more[sk->count] = strndup(p, len)) == NULL) {
			sk->names = more != NULL ? more : sk->names;
			ms_skip_free(sk);
			return -ENOMEM;
		}
		sk->names = more;
		sk->count++;
		p += len;
	}
	*out = sk;
	return 0;
}
