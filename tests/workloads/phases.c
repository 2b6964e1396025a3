/*
 * phases: a heap that changes at known moments, for matching times between
 * memscope-top's frames and a recording of them.
 *   base_site:  10 blocks of 1000 B at the start, kept;
 *   after 0.3 s peak_site makes 100 blocks of 10,000 B, holds them 0.6 s
 *               and frees them all: the peak, 1,010,000 B, is in the middle;
 *   after 0.2 s leaf: one block of 100 B from each of 12 distinct stacks
 *               (recursion 0 to 11 deep), kept;
 *   then 0.3 s later the program exits, 11,200 B live from 13 stacks.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *kept[32];
static int nkept;

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void base_site(void)
{
	for (int i = 0; i < 10; i++)
		kept[nkept++] = malloc(1000);
}

__attribute__((noinline)) static void peak_site(void **blocks)
{
	for (int i = 0; i < 100; i++) {
		blocks[i] = malloc(10000);
		memset(blocks[i], 1, 10000);
	}
}

/* depth frames of itself above the malloc: a stack of its own per depth. */
__attribute__((noinline)) static void leaf(int depth)
{
	if (depth > 0)
		leaf(depth - 1);
	else
		kept[nkept++] = malloc(100);
}

int main(void)
{
	static void *blocks[100];

	base_site();
	nap_ms(300);
	peak_site(blocks);
	nap_ms(600);
	for (int i = 0; i < 100; i++)
		free(blocks[i]);
	nap_ms(200);
	for (int d = 0; d < 12; d++)
		leaf(d);
	nap_ms(300);
	for (int i = 0; i < nkept; i++)
		memset(kept[i], 0, 100);
	return 0;
}
