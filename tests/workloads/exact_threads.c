/*
 * exact_threads T N: T threads named worker-0.. each make N allocations;
 * block j has size 32 + 8 * (j % 8); blocks with odd j are freed, the others
 * stay live. After joining, the main thread holds one 64 MiB block for a
 * moment (the run's peak) and frees it. Nothing is printed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long per_thread;

static void *worker(void *arg)
{
	char name[16];
	void **blocks = NULL;

	snprintf(name, sizeof(name), "worker-%ld", (long)(size_t)arg);
	pthread_setname_np(pthread_self(), name);
	/* The array of blocks is itself one allocation: N * sizeof(void *). */
	if (per_thread > 0)
		blocks = malloc((size_t)per_thread * sizeof(void *));
	for (long j = 0; j < per_thread; j++) {
		blocks[j] = malloc(32 + 8 * (size_t)(j % 8));
		memset(blocks[j], 1, 32);
	}
	for (long j = 1; j < per_thread; j += 2)
		free(blocks[j]);
	return NULL; /* the array and the even blocks stay live */
}

int main(int argc, char **argv)
{
	long threads;
	pthread_t tids[64];
	char *big;

	if (argc != 3)
		return 2;
	threads = atol(argv[1]);
	per_thread = atol(argv[2]);
	if (threads < 0 || threads > 64 || per_thread < 0)
		return 2;
	for (long t = 0; t < threads; t++)
		pthread_create(&tids[t], NULL, worker, (void *)(size_t)t);
	for (long t = 0; t < threads; t++)
		pthread_join(tids[t], NULL);
	big = malloc(64u << 20);
	if (big == NULL)
		return 1;
	big[0] = 1;
	free(big);
	return 0;
}
