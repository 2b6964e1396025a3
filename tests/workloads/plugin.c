/* libplugin.so: a library the sites workload loads, uses and closes. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *plugin_alloc(size_t size)
{
	void *p = malloc(size); /* site: plugin_alloc */

	if (p != NULL)
		memset(p, 2, size);
	return p;
}
