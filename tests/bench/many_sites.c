/*
 * many_sites N: makes N distinct call sites (N different stacks, by the
 * path taken through a 16-level recursion), one live 64-byte block each,
 * prints "ready", then keeps allocating from all of them at a low rate
 * until stdin closes. For measuring memscope-top on a large table.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LEVELS 16

/* Each level calls the next from one of two call instructions, chosen by
 * one bit of the path: 2^LEVELS distinct stacks. */
__attribute__((noinline)) static void *descend(int level, unsigned path)
{
	void *p;

	if (level == LEVELS)
		return malloc(64);
	if (path & (1u << level))
		p = descend(level + 1, path);
	else
		p = descend(level + 1, path);
	__asm__ volatile("" ::: "memory"); /* keep the two calls apart */
	return p;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	void **kept = calloc(n, sizeof(*kept));
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };

	if (kept == NULL || n > (1u << LEVELS))
		return 2;
	for (unsigned i = 0; i < n; i++)
		kept[i] = descend(0, i);
	printf("ready\n");
	fflush(stdout);
	/* Keep the table moving: a few thousand operations a second. */
	for (unsigned i = 0; poll(&in, 1, 1) == 0; i = (i + 7) % n) {
		free(kept[i]);
		kept[i] = descend(0, i);
	}
	return 0;
}
