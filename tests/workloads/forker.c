/*
 * forker: a thread named "forker" makes 10 blocks of 1000 B, forks, and
 *  - in the child makes 7 blocks of 300 B, frees 3 of them, prints
 *    "child PID" and exits (its exit path runs);
 *  - in the parent waits for the child, then frees 5 of its 10 blocks.
 * The parent's "forker" slot: 10 allocs, 5 frees. The child's own session:
 * its one thread 7 allocs, 3 frees, 1200 B live.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int status = 1;

static void *forker(void *arg)
{
	void *mine[10], *kid[7];
	pid_t pid;
	int ws;

	(void)arg;
	pthread_setname_np(pthread_self(), "forker");
	for (int i = 0; i < 10; i++)
		mine[i] = malloc(1000);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 7; i++)
			kid[i] = malloc(300);
		for (int i = 0; i < 3; i++)
			free(kid[i]);
		printf("child %d\n", (int)getpid());
		fflush(stdout);
		exit(0);
	}
	if (pid < 0 || waitpid(pid, &ws, 0) != pid)
		return NULL;
	for (int i = 0; i < 5; i++)
		free(mine[i]);
	status = WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : 1;
	return NULL;
}

int main(void)
{
	pthread_t t;

	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_create(&t, NULL, forker, NULL);
	pthread_join(t, NULL);
	return status;
}
