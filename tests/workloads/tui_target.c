/*
 * tui_target [SECONDS]: something for the screen to show, for the terminal
 * tests. Thread "worker-alpha" keeps 40 blocks of 64 KiB (alpha_site:
 * much live, few allocations); thread "worker-beta" churns 32-byte blocks
 * (beta_site: many allocations, little live). Exits after SECONDS (default
 * 120).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds = 120;
static void *kept[40]; /* alpha's blocks, live to the end */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void *alpha_site(void)
{
	void *p = malloc(64 * 1024);

	memset(p, 1, 64 * 1024);
	return p;
}

/* Through a volatile: a tail call to malloc would leave beta_site out of
 * the stack. */
__attribute__((noinline)) static void *beta_site(void)
{
	void *volatile block = malloc(32);

	return block;
}

static void *alpha(void *arg)
{
	double end = *(double *)arg;
	struct timespec nap = { 0, 50 * 1000 * 1000 };

	pthread_setname_np(pthread_self(), "worker-alpha");
	for (int i = 0; i < 40; i++)
		kept[i] = alpha_site();
	while (now() < end)
		nanosleep(&nap, NULL);
	return NULL;
}

static void *beta(void *arg)
{
	double end = *(double *)arg;
	struct timespec nap = { 0, 1000 * 1000 };
	void *window[16] = { 0 };

	pthread_setname_np(pthread_self(), "worker-beta");
	for (unsigned i = 0; now() < end; i++) {
		free(window[i % 16]);
		window[i % 16] = beta_site();
		if (i % 64 == 0)
			nanosleep(&nap, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	double end;

	if (argc > 1)
		seconds = atof(argv[1]);
	end = now() + seconds;
	pthread_create(&a, NULL, alpha, &end);
	pthread_create(&b, NULL, beta, &end);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
