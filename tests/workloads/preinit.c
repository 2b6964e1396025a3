/* preinit: frees the four blocks libearly allocated before the hook
 * started, then makes one tracked allocation of 5 bytes and frees it. */
#include <stdlib.h>

extern void *early_blocks[4];

int main(void)
{
	/* Through volatiles, or the compiler turns realloc(NULL, 0) into
	 * malloc(0) and drops the malloc(5) that is freed at once. */
	void *volatile none = NULL;
	void *volatile p;

	for (int i = 0; i < 4; i++)
		free(early_blocks[i]);
	early_blocks[0] = realloc(none, 0); /* keep realloc in the mix */
	free(early_blocks[0]);
	p = malloc(5);
	free(p);
	return 0;
}
