/* many_threads N: N short-lived threads, 8 at a time, each named t-I and
 * each making 10 blocks of 100 B and freeing 5 of them. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *body(void *arg)
{
	char name[16];
	void *b[10];

	snprintf(name, sizeof(name), "t-%d", (int)(size_t)arg);
	pthread_setname_np(pthread_self(), name);
	for (int i = 0; i < 10; i++)
		b[i] = malloc(100);
	for (int i = 0; i < 5; i++)
		free(b[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;

	for (int i = 0; i < n; i += 8) {
		pthread_t t[8];
		int k = n - i < 8 ? n - i : 8;

		for (int j = 0; j < k; j++)
			pthread_create(&t[j], NULL, body, (void *)(size_t)(i + j));
		for (int j = 0; j < k; j++)
			pthread_join(t[j], NULL);
	}
	return 0;
}
