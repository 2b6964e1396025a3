/*
 * sites: allocations from named call sites, for exact per-call-site figures.
 *   small_blocks: 100 blocks of 24 B, all kept live;
 *   big_blocks:   10 blocks of 4096 B, 6 of them freed;
 *   plugin_alloc: in libplugin.so, loaded with dlopen and closed again
 *                 before the exit: 5 blocks of 1000 B, kept live.
 * Each function's malloc line carries a "site:" comment the test finds.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *kept[200];
static int nkept;

__attribute__((noinline)) static void small_blocks(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = malloc(24); /* site: small_blocks */

		memset(p, 1, 24);
		kept[nkept++] = p;
	}
}

__attribute__((noinline)) static void big_blocks(void)
{
	void *b[10];

	for (int i = 0; i < 10; i++)
		b[i] = malloc(4096); /* site: big_blocks */
	for (int i = 0; i < 6; i++)
		free(b[i]);
	for (int i = 6; i < 10; i++)
		kept[nkept++] = b[i];
}

static int plugin(const char *path)
{
	void *(*plugin_alloc)(size_t);
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		fprintf(stderr, "sites: %s\n", dlerror());
		return 1;
	}
	*(void **)&plugin_alloc = dlsym(lib, "plugin_alloc");
	if (plugin_alloc == NULL)
		return 1;
	for (int i = 0; i < 5; i++)
		kept[nkept++] = plugin_alloc(1000);
	return dlclose(lib) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	small_blocks();
	big_blocks();
	if (argc > 1 && plugin(argv[1]) != 0)
		return 1;
	return 0;
}
