/*
 * exits HOW: makes one block of 1000 bytes (kept), then ends the way HOW
 * says, with exit status 7 unless said otherwise:
 *   _exit      _exit(7)
 *   _Exit      _Exit(7)
 *   syscall    the exit_group system call itself: no libc function at all
 *   thread     a second thread calls _exit(7) while main waits for it
 *   handler    a SIGUSR1 handler calls _exit(7)
 *   vfork      a vfork child calls _exit(0) at once; the parent then prints
 *              "ready", reads a line from stdin and returns 0
 *   wait       prints "ready" and sleeps until killed
 * For the states a session ends in, and for what removes a session.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *quit(void *arg)
{
	(void)arg;
	_exit(7);
}

static void on_usr1(int sig)
{
	(void)sig;
	_exit(7);
}

int main(int argc, char **argv)
{
	volatile char *kept;
	const char *how = argc > 1 ? argv[1] : "";

	kept = malloc(1000);
	kept[0] = 1;
	if (strcmp(how, "_exit") == 0) {
		_exit(7);
	} else if (strcmp(how, "_Exit") == 0) {
		_Exit(7);
	} else if (strcmp(how, "syscall") == 0) {
		syscall(SYS_exit_group, 7);
	} else if (strcmp(how, "thread") == 0) {
		pthread_t t;

		pthread_create(&t, NULL, quit, NULL);
		pthread_join(t, NULL);
	} else if (strcmp(how, "handler") == 0) {
		signal(SIGUSR1, on_usr1);
		raise(SIGUSR1);
	} else if (strcmp(how, "vfork") == 0) {
		char line[16];
		pid_t child = vfork();
		int status;

		if (child == 0)
			_exit(0);
		waitpid(child, &status, 0);
		printf("ready\n");
		fflush(stdout);
		return fgets(line, sizeof(line), stdin) != NULL && status == 0 ? 0 : 1;
	} else if (strcmp(how, "wait") == 0) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	return 2;
}
