/*
 * aging: old_site makes 10 blocks of 1000 B at once; 2.5 s later
 * young_site makes 5 blocks of 500 B; half a second after that the program
 * exits with all of them live. At the exit, only old_site's blocks are
 * older than a second.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *kept[15];

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void old_site(void)
{
	for (int i = 0; i < 10; i++)
		kept[i] = malloc(1000);
}

__attribute__((noinline)) static void young_site(void)
{
	for (int i = 10; i < 15; i++)
		kept[i] = malloc(500);
}

int main(void)
{
	old_site();
	nap_ms(2500);
	young_site();
	nap_ms(500);
	for (int i = 0; i < 15; i++)
		memset(kept[i], 0, 500);
	return 0;
}
