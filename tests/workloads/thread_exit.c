/*
 * thread_exit: programs whose last thread is not the main one. Each mode
 * allocates a little on the way, so that the hook is busy with it:
 *  - "main": main() calls pthread_exit at once; the process exits 0.
 *  - "worker CODE": main() starts a worker and calls pthread_exit; the
 *    worker allocates, sleeps 200 ms, frees and ends with exit(CODE), or
 *    by returning when CODE is "return" (the process then exits 0).
 *  - "fork": a worker thread forks; the child (whose one thread is that
 *    worker) allocates and returns from the thread's function, which ends
 *    the child with status 0; the parent waits for it and exits with
 *    40 + the child's status, or 99 if it did not exit normally.
 *  - "wait": main() starts a worker that blocks no signal and sleeps
 *    forever, prints "ready" and calls pthread_exit: only a signal ends it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *code;

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0)
		;
}

/* A block allocated and freed at once. Through a volatile, so that the
 * compiler keeps the pair (it drops a malloc whose block is only freed). */
static void churn(size_t size)
{
	void *volatile block = malloc(size);

	free(block);
}

static void *worker(void *arg)
{
	char *volatile block = malloc(1000);

	(void)arg;
	nap_ms(200);
	free(block);
	if (strcmp(code, "return") != 0)
		exit(atoi(code));
	return NULL;
}

static void *forker(void *arg)
{
	pid_t pid;
	int status;

	(void)arg;
	churn(100);
	pid = fork();
	if (pid == 0) {
		churn(200);
		return NULL; /* the child's last thread ends */
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		exit(98);
	exit(WIFEXITED(status) ? 40 + WEXITSTATUS(status) : 99);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "main";
	void *(*start)(void *) = NULL;
	pthread_t t;

	churn(10);
	if (strcmp(mode, "worker") == 0 && argc > 2) {
		code = argv[2];
		start = worker;
	} else if (strcmp(mode, "fork") == 0) {
		start = forker;
	} else if (strcmp(mode, "wait") == 0) {
		start = sleeper;
	} else if (strcmp(mode, "main") != 0) {
		fprintf(stderr, "usage: thread_exit main | worker CODE|return | fork | wait\n");
		return 2;
	}
	if (start != NULL && pthread_create(&t, NULL, start, NULL) != 0)
		return 3;
	if (start == sleeper) {
		printf("ready\n");
		fflush(stdout);
	}
	pthread_exit(NULL);
}
