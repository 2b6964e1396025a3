/* A library whose constructor allocates before the hook has started (it
 * runs before the preloaded library's constructor); main frees the blocks. */
#include <stdlib.h>

void *early_blocks[4];

__attribute__((constructor)) static void early_allocations(void)
{
	for (int i = 0; i < 4; i++)
		early_blocks[i] = malloc(100 + (size_t)i);
}
