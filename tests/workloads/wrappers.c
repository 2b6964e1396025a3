/*
 * wrappers: allocations through wrappers of malloc, each kept live:
 *   from_parser: 3 blocks of 100 B through xmalloc (a built-in wrapper);
 *   from_lexer:  2 blocks of 200 B through xcalloc, which calls xmalloc;
 *   from_cache:  4 blocks of 300 B through my_pool_alloc, a wrapper only
 *                the user knows of (MEMSCOPE_SKIP, --skip);
 *   from_names:  5 copies of "hello" (6 B) made with strdup.
 * Built -O0 so that no wrapper is inlined into its caller.
 */
#include <stdlib.h>
#include <string.h>

static void *kept[20];
static int nkept;

__attribute__((noinline)) void *xmalloc(size_t size)
{
	void *p = malloc(size);

	if (p == NULL)
		abort();
	return p;
}

__attribute__((noinline)) void *xcalloc(size_t n, size_t size)
{
	return memset(xmalloc(n * size), 0, n * size);
}

__attribute__((noinline)) void *my_pool_alloc(size_t size)
{
	return xmalloc(size);
}

__attribute__((noinline)) static void from_parser(void)
{
	for (int i = 0; i < 3; i++)
		kept[nkept++] = xmalloc(100);
}

__attribute__((noinline)) static void from_lexer(void)
{
	for (int i = 0; i < 2; i++)
		kept[nkept++] = xcalloc(2, 100);
}

__attribute__((noinline)) static void from_cache(void)
{
	for (int i = 0; i < 4; i++)
		kept[nkept++] = my_pool_alloc(300);
}

__attribute__((noinline)) static void from_names(void)
{
	for (int i = 0; i < 5; i++)
		kept[nkept++] = strdup("hello");
}

int main(void)
{
	from_parser();
	from_lexer();
	from_cache();
	from_names();
	return 0;
}
