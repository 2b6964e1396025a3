/* map_churn ROUNDS: what counting mapped memory costs a program that maps
 * memory itself: ROUNDS times, an anonymous private mapping of 64 KiB, one
 * page of it written, then unmapped. Prints nothing; exits 0, 1 when a call
 * fails, 2 on bad arguments. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	long rounds = argc == 2 ? strtol(argv[1], NULL, 10) : 0;

	if (rounds <= 0)
		return 2;
	for (long i = 0; i < rounds; i++) {
		char *p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			return 1;
		p[0] = 1;
		if (munmap(p, 64 << 10) != 0)
			return 1;
	}
	return 0;
}
