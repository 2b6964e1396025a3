/*
 * memscope-demo: the bundled demo workload, so that every view of
 * memscope-top has something real to show. Three named threads:
 *   ingest  churns short-lived records (allocation rate, no growth);
 *   cache   leaks a 4 KiB entry every 50 ms (steady growth);
 *   render  makes a 32 MiB spike 3 seconds into every 15 and frees it 3
 *           seconds later.
 * Usage: memscope-demo [--seconds N]   (default 10, or MEMSCOPE_DEMO_SECONDS)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double run_seconds = 10.0;
static struct timespec started;

static double elapsed(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - started.tv_sec) + (double)(now.tv_nsec - started.tv_nsec) / 1e9;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *ingest(void *arg)
{
	enum { WINDOW = 512 };
	char *window[WINDOW] = { 0 };
	unsigned seed = 1;

	(void)arg;
	pthread_setname_np(pthread_self(), "ingest");
	for (unsigned long i = 0; elapsed() < run_seconds; i++) {
		size_t size = 16 + rand_r(&seed) % 2048;
		char *rec = malloc(size);

		if (rec != NULL)
			memset(rec, (int)i, size);
		free(window[i % WINDOW]);
		window[i % WINDOW] = rec;
		if (i % 256 == 0)
			nap_ms(2);
	}
	for (int i = 0; i < WINDOW; i++)
		free(window[i]);
	return NULL;
}

struct entry {
	struct entry *next;
	char payload[4096 - sizeof(struct entry *)];
};

static struct entry *cache_head;

static void *cache(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "cache");
	while (elapsed() < run_seconds) {
		struct entry *e = malloc(sizeof(*e));

		if (e != NULL) {
			memset(e->payload, 'c', sizeof(e->payload));
			e->next = cache_head; /* never trimmed: the leak */
			cache_head = e;
		}
		nap_ms(50);
	}
	return NULL;
}

/* A 32 MiB spike, 3 to 6 seconds into every 15. */
static void *render(void *arg)
{
	enum { CHUNKS = 32, CHUNK = 1 << 20 };
	char *chunks[CHUNKS] = { 0 };

	(void)arg;
	pthread_setname_np(pthread_self(), "render");
	for (double cycle = 0; cycle + 3 < run_seconds; cycle += 15) {
		while (elapsed() < cycle + 3)
			nap_ms(20);
		for (int i = 0; i < CHUNKS; i++) {
			chunks[i] = malloc(CHUNK);
			if (chunks[i] != NULL)
				memset(chunks[i], 'r', CHUNK);
			nap_ms(10);
		}
		while (elapsed() < cycle + 6 && elapsed() < run_seconds)
			nap_ms(20);
		for (int i = 0; i < CHUNKS; i++)
			free(chunks[i]);
	}
	while (elapsed() < run_seconds)
		nap_ms(50);
	return NULL;
}

int main(int argc, char **argv)
{
	void *(*const bodies[])(void *) = { ingest, cache, render };
	pthread_t threads[3];

	if (getenv("MEMSCOPE_DEMO_SECONDS") != NULL)
		run_seconds = atof(getenv("MEMSCOPE_DEMO_SECONDS"));
	if (argc == 3 && strcmp(argv[1], "--seconds") == 0)
		run_seconds = atof(argv[2]);
	if (argc != 1 && argc != 3) {
		fprintf(stderr, "usage: memscope-demo [--seconds N]\n");
		return 2;
	}
	if (!(run_seconds > 0 && run_seconds < 1e6)) {
		fprintf(stderr, "memscope-demo: --seconds wants a positive number\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &started);
	for (int i = 0; i < 3; i++)
		pthread_create(&threads[i], NULL, bodies[i], NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);
	return 0;
}
