/* churn THREADS OPS: THREADS threads, each doing OPS iterations of malloc/free
 * churn over a rolling window of 64 live blocks. Iteration i frees slot i % 64
 * and puts a new block of 16..1024 bytes there, sized by a per-thread LCG
 * seeded from the thread index, so every run makes the same requests.
 * Prints nothing; exits 0, or 1 on bad arguments or a failed allocation. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WINDOW 64

static unsigned long ops;

static int parse_count(const char *s, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static void *body(void *arg)
{
	/* Knuth's MMIX constants; the high bits are the well-mixed ones. */
	uint64_t seed = 0x9e3779b97f4a7c15ull * ((uint64_t)(uintptr_t)arg + 1);
	unsigned char *slot[WINDOW] = { NULL };
	uintptr_t failed = 0;

	for (unsigned long i = 0; i < ops; i++) {
		unsigned char **p = &slot[i % WINDOW];
		size_t size;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size = 16 + (size_t)((seed >> 33) % 1009);
		free(*p);
		*p = malloc(size);
		if (*p == NULL) {
			failed = 1;
			break;
		}
		/* Touch the block so the allocation is real work. */
		(*p)[0] = (unsigned char)i;
	}
	for (int i = 0; i < WINDOW; i++)
		free(slot[i]);
	return (void *)failed;
}

static int churn_run(int argc, char **argv)
{
	unsigned long nthreads;
	pthread_t *t;
	int rc = 0;

	if (argc != 3 || parse_count(argv[1], &nthreads) != 0 ||
	    parse_count(argv[2], &ops) != 0 || nthreads > 1024) {
		fprintf(stderr, "usage: churn THREADS OPS\n");
		return 1;
	}
	t = calloc(nthreads, sizeof(*t));
	if (t == NULL)
		return 1;
	for (unsigned long i = 0; i < nthreads; i++) {
		if (pthread_create(&t[i], NULL, body, (void *)(uintptr_t)i) != 0) {
			fprintf(stderr, "churn: cannot create thread %lu\n", i);
			exit(1);
		}
	}
	for (unsigned long i = 0; i < nthreads; i++) {
		void *failed;

		pthread_join(t[i], &failed);
		if (failed != NULL)
			rc = 1;
	}
	free(t);
	return rc;
}

int main(int argc, char **argv)
{
	return churn_run(argc, argv);
}
