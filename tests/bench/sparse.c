/* sparse ROUNDS: a thread that allocates now and then: ROUNDS times, a
 * malloc of 64 bytes and the free of the block before, then 1 ms of sleep.
 * For the benchmark's CPU-time row: what the hook costs a program that is
 * mostly idle. Prints nothing; exits 0, or 2 on bad arguments. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	long rounds = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
	struct timespec ms = { 0, 1000000 };
	void *last = NULL;

	if (rounds <= 0)
		return 2;
	for (long i = 0; i < rounds; i++) {
		void *p = malloc(64);

		if (p == NULL)
			return 1;
		memset(p, 1, 64);
		free(last);
		last = p;
		nanosleep(&ms, NULL);
	}
	free(last);
	return 0;
}
