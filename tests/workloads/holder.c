/*
 * holder N SIZE: a thread named "holding" makes N blocks of SIZE bytes and
 * the program prints "ready"; on a line from stdin the blocks are freed and
 * it prints "done" and exits with status 0. For attaching to a running
 * program and reading its session from another process.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long count;
static size_t size;
static void **blocks;

static void *hold(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "holding");
	for (long i = 0; i < count; i++) {
		blocks[i] = malloc(size);
		memset(blocks[i], 1, size);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	char line[64];
	pthread_t t;

	if (argc != 3)
		return 2;
	count = atol(argv[1]);
	size = (size_t)atol(argv[2]);
	blocks = calloc((size_t)count + 1, sizeof(void *));
	pthread_create(&t, NULL, hold, NULL);
	pthread_join(t, NULL);
	printf("ready\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 3;
	for (long i = 0; i < count; i++)
		free(blocks[i]);
	printf("done\n");
	return 0;
}
