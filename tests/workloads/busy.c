/*
 * busy SECONDS: one thread (the main one, no other) allocating as fast as
 * it can for SECONDS of wall-clock time: malloc/free churn over a window
 * of 64 blocks of 16..1024 bytes, and one more block of 32 bytes kept for
 * every 64 iterations, up to 100000 of them (work for the leak scan).
 * Prints nothing; exits 0, or 1 on bad arguments or a failed allocation.
 * For the CPU figures: this program can use at most one core.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define WINDOW 64
#define KEPT 100000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static void *kept[KEPT];
	unsigned char *slot[WINDOW] = { NULL };
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned long nkept = 0;
	double end;

	if (argc != 2 || atof(argv[1]) <= 0)
		return 1;
	end = now() + atof(argv[1]);
	for (unsigned long i = 0;; i++) {
		unsigned char **p = &slot[i % WINDOW];

		if (i % 1024 == 0 && now() >= end)
			break;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		free(*p);
		*p = malloc(16 + (size_t)((seed >> 33) % 1009));
		if (*p == NULL)
			return 1;
		(*p)[0] = (unsigned char)i;
		if (i % 64 == 0 && nkept < KEPT && (kept[nkept++] = malloc(32)) == NULL)
			return 1;
	}
	for (int i = 0; i < WINDOW; i++)
		free(slot[i]);
	for (unsigned long i = 0; i < nkept; i++)
		free(kept[i]);
	return 0;
}
