/*
 * ops: every function of the malloc family, with the edge cases, run in one
 * thread named "ops" so that its figures are exactly the ones listed in
 * tests/integration/ops_test.cc. Exits 0 only if every call behaved as the
 * C library promises (the hook must not change that); prints what failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

/* Sizes the compiler cannot see, so no call is folded away. */
static volatile size_t huge_size = SIZE_MAX - 4096;
static volatile size_t half_max = SIZE_MAX / 2;
/* NULL, unseen too: realloc(NULL, n) stays a realloc, free(NULL) a call. */
static void *volatile null_block;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "ops: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                          \
		}                                                            \
	} while (0)

static void *ops(void *arg)
{
	void *p1, *p2, *p3, *guard, *p4, *a1, *a2, *a3, *a4, *a5, *old;
	size_t huge = huge_size;

	(void)arg;
	pthread_setname_np(pthread_self(), "ops");

	/* 1 alloc, 100 B */
	p1 = malloc(100);
	CHECK(p1 != NULL);
	memset(p1, 7, 100);
	/* 2 allocs, 300 B; calloc zeroes */
	p2 = calloc(10, 20);
	CHECK(p2 != NULL && ((char *)p2)[199] == 0);
	/* grow: free 100 + alloc 1000, content kept */
	p1 = realloc(p1, 1000);
	CHECK(p1 != NULL && ((char *)p1)[99] == 7);
	/* shrink: free 1000 + alloc 50 */
	p1 = realloc(p1, 50);
	CHECK(p1 != NULL && ((char *)p1)[49] == 7);
	/* a move: a small block grown past the mmap threshold must move */
	p3 = malloc(64);
	guard = malloc(64);
	memset(p3, 3, 64);
	old = p3;
	p3 = realloc(p3, 1 << 20);
	CHECK(p3 != NULL && p3 != old && ((char *)p3)[63] == 3);
	/* realloc(NULL, n) is malloc(n) */
	p4 = realloc(null_block, 77);
	CHECK(p4 != NULL);
	/* realloc(p, 0) frees p (glibc returns NULL) */
	CHECK(realloc(p4, 0) == NULL);
	/* aligned variants */
	CHECK(posix_memalign(&a1, 64, 200) == 0 && ((uintptr_t)a1 & 63) == 0);
	a2 = aligned_alloc(128, 256);
	CHECK(a2 != NULL && ((uintptr_t)a2 & 127) == 0);
	a3 = memalign(32, 100);
	CHECK(a3 != NULL && ((uintptr_t)a3 & 31) == 0);
	a4 = valloc(300);
	CHECK(a4 != NULL && ((uintptr_t)a4 & 4095) == 0);
	a5 = pvalloc(10);
	CHECK(a5 != NULL && ((uintptr_t)a5 & 4095) == 0);
	/* reallocarray: 200 B -> 5 * 40 = 200 B */
	p2 = reallocarray(p2, 5, 40);
	CHECK(p2 != NULL);
	/* free(NULL) does nothing */
	free(null_block);
	/* huge sizes fail with ENOMEM and leave nothing live */
	errno = 0;
	CHECK(malloc(huge) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(half_max, 4) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(realloc(p1, huge) == NULL && errno == ENOMEM);
	CHECK(((char *)p1)[49] == 7); /* p1 untouched and still live */
	errno = 0;
	CHECK(reallocarray(p1, half_max, 4) == NULL && errno == ENOMEM);
	{
		void *x = NULL;

		CHECK(posix_memalign(&x, 64, huge) == ENOMEM && x == NULL);
	}
	/* a successful call leaves errno alone */
	errno = EDOM;
	{
		void *q = malloc(24);

		__asm__ volatile("" : : "r"(q) : "memory");
		CHECK(errno == EDOM);
		free(q);
		CHECK(errno == EDOM);
	}
	/* malloc(0) gives a unique block that can be freed */
	{
		void *z = malloc(0);

		CHECK(z != NULL);
		free(z);
	}
	/* malloc_usable_size passes through */
	CHECK(malloc_usable_size(p2) >= 200);

	/* Free all but p2 (200 B) and a5 (10 B): those stay live. */
	free(p1);
	free(p3);
	free(guard);
	free(a1);
	free(a2);
	free(a3);
	free(a4);
	return NULL;
}

int main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, ops, NULL);
	pthread_join(t, NULL);
	return failures == 0 ? 0 : 1;
}
