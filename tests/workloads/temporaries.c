/*
 * temporaries: blocks freed before their thread allocates again (heaptrack's
 * temporaries) and blocks that are not, with known counts per call site.
 *   temp_loop:      1000 x (malloc, free): 1000 temporaries;
 *   pair_first,
 *   pair_second:    1000 x (malloc first, malloc second, free first, free
 *                   second): the first never, the second always (no
 *                   allocation between it and its free): 0 and 1000;
 *   realloc_first,
 *   realloc_second: 100 x (malloc, realloc to 4096, free): the realloc ends
 *                   the malloc'ed block (100), the free the realloc'ed one
 *                   (100);
 *   handed_over:    a thread's one block, freed by main while the thread
 *                   waits: 1 (its thread allocated nothing since);
 *   handed_first,
 *   handed_second:  a thread allocates two blocks; main frees the first
 *                   (0: the thread allocated since), the thread the second
 *                   (1).
 * Nothing else allocates between these steps: the output is written at the
 * end.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

static sem_t made, freed;
static void *handed[2];

__attribute__((noinline)) static void temp_loop(void)
{
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(16); /* site: temp_loop */

		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
}

__attribute__((noinline)) static void *pair_first(void)
{
	return malloc(24); /* site: pair_first */
}

__attribute__((noinline)) static void *pair_second(void)
{
	return malloc(32); /* site: pair_second */
}

__attribute__((noinline)) static void *realloc_first(void)
{
	return malloc(8); /* site: realloc_first */
}

__attribute__((noinline)) static void *realloc_second(void *p)
{
	return realloc(p, 4096); /* site: realloc_second */
}

__attribute__((noinline)) static void *handed_over(void)
{
	return malloc(40); /* site: handed_over */
}

__attribute__((noinline)) static void *handed_first(void)
{
	return malloc(48); /* site: handed_first */
}

__attribute__((noinline)) static void *handed_second(void)
{
	return malloc(56); /* site: handed_second */
}

static void *first_thread(void *arg)
{
	(void)arg;
	handed[0] = handed_over();
	sem_post(&made);
	sem_wait(&freed);
	return NULL;
}

static void *second_thread(void *arg)
{
	void *second;

	(void)arg;
	handed[0] = handed_first();
	second = handed_second();
	sem_post(&made);
	sem_wait(&freed);
	free(second);
	return NULL;
}

static void hand_over(void *(*body)(void *))
{
	pthread_t t;

	pthread_create(&t, NULL, body, NULL);
	sem_wait(&made);
	free(handed[0]);
	sem_post(&freed);
	pthread_join(t, NULL);
}

int main(void)
{
	sem_init(&made, 0, 0);
	sem_init(&freed, 0, 0);
	temp_loop();
	for (int i = 0; i < 1000; i++) {
		void *a = pair_first(), *b = pair_second();

		free(a);
		free(b);
	}
	for (int i = 0; i < 100; i++)
		free(realloc_second(realloc_first()));
	hand_over(first_thread);
	hand_over(second_thread);
	printf("temporaries done\n");
	return 0;
}
