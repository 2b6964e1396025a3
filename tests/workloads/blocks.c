/*
 * blocks: what the hook's in-band block headers must leave exactly as the
 * C library has it, in one thread named "blocks" (its figures are listed in
 * tests/integration/ops_test.cc). Exits 0 only if every call behaved as the
 * C library promises; prints what failed.
 *
 *   malloc(100), malloc_usable_size of it, every usable byte written, free;
 *   for each alignment from 16 to 64 KiB: posix_memalign 1000 B, realloc to
 *     3000 B (content kept), free; aligned_alloc 2 x align, free;
 *     memalign 500 B, free;
 *   valloc 5000 B and pvalloc 5000 B (page aligned, whole pages usable), free;
 *   calloc that overflows, malloc too large: NULL and ENOMEM;
 *   realloc(malloc(40), 0): frees, returns NULL;
 *   two blocks of the real allocator (its malloc, reached past the hook):
 *     one realloc'd to 128 B through the hook then freed, one freed;
 *   malloc 111 and 222, then a fork: the child frees both (its parent's),
 *     allocates and frees its own, exits 0; the parent frees the 222.
 * Live at the end: the 111 B block.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
/* The C library's own malloc, not the hook's: looked up in main, so that
 * what dlopen allocates is not the measured thread's. */
static void *(*libc_malloc)(size_t);
static volatile size_t half_max = SIZE_MAX / 2;
static volatile size_t huge_size = SIZE_MAX - 4096;
/* Blocks passed through a volatile, so that an optimiser neither drops a
 * malloc freed at once nor folds realloc(p, 0) away. */
static void *volatile seen;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "blocks: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                     \
		}                                                                       \
	} while (0)

static int aligned(const void *p, size_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

static void each_alignment(void)
{
	for (size_t align = 16; align <= 65536; align *= 2) {
		void *a = NULL, *b;

		CHECK(posix_memalign(&a, align, 1000) == 0 && aligned(a, align));
		CHECK(malloc_usable_size(a) >= 1000);
		memset(a, 2, 1000);
		b = realloc(a, 3000);
		CHECK(b != NULL && ((char *)b)[0] == 2 && ((char *)b)[999] == 2);
		CHECK(malloc_usable_size(b) >= 3000);
		free(b);
		b = aligned_alloc(align, 2 * align);
		CHECK(b != NULL && aligned(b, align) && malloc_usable_size(b) >= 2 * align);
		memset(b, 3, 2 * align);
		free(b);
		b = memalign(align, 500);
		CHECK(b != NULL && aligned(b, align));
		memset(b, 4, 500);
		free(b);
	}
}

static void *blocks(void *arg)
{
	void *p, *q, *k1, *k2;
	size_t usable, page = (size_t)sysconf(_SC_PAGESIZE);
	pid_t child;
	int status;

	(void)arg;
	pthread_setname_np(pthread_self(), "blocks");

	p = malloc(100);
	usable = malloc_usable_size(p);
	CHECK(usable >= 100 && usable <= 100 + 32);
	memset(p, 1, usable);
	free(p);

	each_alignment();

	p = valloc(5000);
	CHECK(p != NULL && aligned(p, page));
	memset(p, 5, 5000);
	free(p);
	p = pvalloc(5000);
	CHECK(p != NULL && aligned(p, page) && malloc_usable_size(p) >= 2 * page);
	memset(p, 6, 2 * page);
	free(p);

	errno = 0;
	CHECK(calloc(half_max, 4) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(malloc(huge_size) == NULL && errno == ENOMEM);

	seen = malloc(40);
	CHECK(realloc(seen, 0) == NULL);

	if (libc_malloc != NULL) {
		p = libc_malloc(64);
		memset(p, 7, 64);
		CHECK(malloc_usable_size(p) >= 64);
		q = realloc(p, 128);
		CHECK(q != NULL && ((char *)q)[63] == 7);
		free(q);
		seen = libc_malloc(32);
		free(seen);
	}

	k1 = malloc(111);
	k2 = malloc(222);
	memset(k1, 8, 111);
	memset(k2, 9, 222);
	child = fork();
	if (child == 0) {
		void *mine = malloc(10);

		free(k1);
		free(k2);
		free(mine);
		_exit(0);
	}
	CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	CHECK(((char *)k2)[221] == 9);
	free(k2);
	return k1; /* live at the end */
}

int main(void)
{
	pthread_t t;
	void *kept, *handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);

	libc_malloc = handle != NULL ? (void *(*)(size_t))dlsym(handle, "malloc") : NULL;
	CHECK(libc_malloc != NULL && libc_malloc != malloc);
	pthread_create(&t, NULL, blocks, NULL);
	pthread_join(t, &kept);
	CHECK(((char *)kept)[110] == 8);
	return failures == 0 ? 0 : 1;
}
