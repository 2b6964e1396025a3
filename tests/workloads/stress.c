/*
 * Stress and fault workloads with exactly known allocations. Every block of
 * a mode comes from one named function (its call site), so a test can check
 * that site's figures exactly whatever the C library allocates besides.
 *
 *   stress threads N OPS      N threads; each allocates OPS blocks from
 *                             churn_block (16..79 bytes), keeping at most 8
 *                             live, and frees every one.
 *   stress storm WAVES PER    WAVES waves of PER threads started and joined;
 *                             each thread allocates 3 blocks of 40 bytes
 *                             from storm_block and frees 2; the main thread
 *                             frees the third after the join.
 *   stress dlopen LIB LOOPS   LOOPS times: dlopen LIB, 2 blocks from its
 *                             plugin_alloc (100 and 200 bytes), one freed at
 *                             once, dlclose; the other freed at the end.
 *   stress signals N          4 threads churn signal_block (32 bytes, malloc
 *                             then free) while SIGALRM comes every 50 us and
 *                             SIGUSR1 is sent to the threads, until N signals
 *                             were handled; prints "blocks B" (B allocated
 *                             and freed).
 *   stress oom MIB            caps its address space at MIB more than now,
 *                             allocates 1 MiB blocks from oom_block until
 *                             malloc fails, frees them all; prints "blocks
 *                             B".
 *   stress linger FILE SECS   16 blocks of 64 bytes from linger_block, sleeps
 *                             SECS, frees them, writes "done" to FILE.
 *   stress daemon FILE SECS   forks, the child starts a session (setsid) and
 *                             forks again; the grandchild holds 10 blocks of
 *                             128 bytes from daemon_block, writes its pid to
 *                             FILE and sleeps SECS, its stdio on /dev/null.
 *                             The first process exits at once.
 *   stress spawn FILE SECS    posix_spawn()s itself as "stress hold FILE
 *                             SECS", waits for it, exits with its status.
 *   stress hold FILE SECS     10 blocks of 128 bytes from hold_block, its pid
 *                             to FILE, sleeps SECS, frees them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NOINLINE __attribute__((noinline))

static void sleep_s(double s)
{
	struct timespec t = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* --- threads --------------------------------------------------------------- */

static long ops;

NOINLINE static void *churn_block(size_t size)
{
	return malloc(size);
}

static void *churn_main(void *arg)
{
	void *window[8] = { 0 };

	(void)arg;
	for (long i = 0; i < ops; i++) {
		free(window[i % 8]);
		window[i % 8] = churn_block(16 + (size_t)(i % 64));
	}
	for (int k = 0; k < 8; k++)
		free(window[k]);
	return NULL;
}

static int run_threads(int n, long per)
{
	pthread_t *t = calloc((size_t)n, sizeof(*t));

	ops = per;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, churn_main, NULL) != 0)
			return 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
	return 0;
}

/* --- storm ----------------------------------------------------------------- */

NOINLINE static void *storm_block(void)
{
	return malloc(40);
}

static void *storm_main(void *arg)
{
	void *a = storm_block(), *b = storm_block(), *c = storm_block();

	(void)arg;
	free(a);
	free(b);
	return c; /* freed by the main thread, after this one is gone */
}

static int run_storm(int waves, int per)
{
	pthread_t *t = calloc((size_t)per, sizeof(*t));

	for (int w = 0; w < waves; w++) {
		int started = 0;

		for (int i = 0; i < per; i++)
			started += pthread_create(&t[i], NULL, storm_main, NULL) == 0;
		if (started != per)
			return 1;
		for (int i = 0; i < per; i++) {
			void *left;

			pthread_join(t[i], &left);
			free(left);
		}
	}
	free(t);
	return 0;
}

/* --- dlopen ---------------------------------------------------------------- */

static int run_dlopen(const char *lib, int loops)
{
	void **kept = calloc((size_t)loops, sizeof(*kept));

	for (int i = 0; i < loops; i++) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		void *(*plugin_alloc)(size_t);

		if (h == NULL) {
			fprintf(stderr, "stress: %s\n", dlerror());
			return 1;
		}
		*(void **)&plugin_alloc = dlsym(h, "plugin_alloc");
		if (plugin_alloc == NULL)
			return 1;
		free(plugin_alloc(100));
		kept[i] = plugin_alloc(200);
		dlclose(h);
	}
	for (int i = 0; i < loops; i++)
		free(kept[i]);
	free(kept);
	return 0;
}

/* --- signals --------------------------------------------------------------- */

static volatile sig_atomic_t handled;
static volatile int stop_signals;
static long signal_blocks[4];

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

NOINLINE static void *signal_block(void)
{
	return malloc(32);
}

static void *signal_main(void *arg)
{
	long *count = arg;

	while (!stop_signals) {
		free(signal_block());
		(*count)++;
	}
	return NULL;
}

static int run_signals(long n)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct itimerval every = { { 0, 50 }, { 0, 50 } }, off = { { 0, 0 }, { 0, 0 } };
	pthread_t t[4];
	long blocks = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, signal_main, &signal_blocks[i]);
	setitimer(ITIMER_REAL, &every, NULL);
	while (handled < n) {
		for (int i = 0; i < 4; i++)
			pthread_kill(t[i], SIGUSR1);
		sleep_s(0.0001);
	}
	setitimer(ITIMER_REAL, &off, NULL);
	stop_signals = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		blocks += signal_blocks[i];
	}
	printf("blocks %ld\n", blocks);
	return 0;
}

/* --- oom ------------------------------------------------------------------- */

NOINLINE static void *oom_block(void)
{
	return malloc(1 << 20);
}

/* The address space in use now, from /proc/self/statm (pages). */
static long vm_bytes(void)
{
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pages) != 1)
		pages = -1;
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

static int run_oom(long mib)
{
	struct rlimit cap;
	void **blocks = calloc(4096, sizeof(*blocks));
	long n = 0, now = vm_bytes();

	if (blocks == NULL || now < 0)
		return 1;
	cap.rlim_cur = cap.rlim_max = (rlim_t)now + (rlim_t)mib * 1024 * 1024;
	if (setrlimit(RLIMIT_AS, &cap) != 0)
		return 1;
	while (n < 4096 && (blocks[n] = oom_block()) != NULL)
		n++;
	if (n == 4096)
		return 1; /* the cap did not hold */
	for (long i = 0; i < n; i++)
		free(blocks[i]);
	free(blocks);
	printf("blocks %ld\n", n);
	return 0;
}

/* --- processes -------------------------------------------------------------- */

NOINLINE static void *linger_block(void)
{
	return malloc(64);
}

static int run_linger(const char *file, double secs)
{
	void *b[16];

	for (int i = 0; i < 16; i++)
		b[i] = linger_block();
	sleep_s(secs);
	for (int i = 0; i < 16; i++)
		free(b[i]);
	return write_text(file, "done\n") == 0 ? 0 : 1;
}

NOINLINE static void *daemon_block(void)
{
	return malloc(128);
}

NOINLINE static void *hold_block(void)
{
	return malloc(128);
}

/* Holds 10 blocks of from(), says its pid in file, sleeps, frees them. */
static int hold(void *(*from)(void), const char *file, double secs)
{
	char pid[32];
	void *b[10];

	for (int i = 0; i < 10; i++)
		b[i] = from();
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write_text(file, pid) != 0)
		return 1;
	sleep_s(secs);
	for (int i = 0; i < 10; i++)
		free(b[i]);
	return 0;
}

static int run_daemon(const char *file, double secs)
{
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid > 0) {
		int status;

		waitpid(pid, &status, 0); /* the middle process exits at once */
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	/* The daemon: its own session, no parent waiting, no terminal or
	 * pipe of its launcher's kept open. */
	if (freopen("/dev/null", "r", stdin) == NULL || freopen("/dev/null", "w", stdout) == NULL ||
	    freopen("/dev/null", "w", stderr) == NULL)
		_exit(1);
	_exit(hold(daemon_block, file, secs));
}

static int run_spawn(const char *self, const char *file, const char *secs)
{
	char *argv[] = { (char *)self, "hold", (char *)file, (char *)secs, NULL };
	pid_t pid;
	int status;

	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0)
		return 1;
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "threads") == 0 && argc == 4)
		return run_threads(atoi(argv[2]), atol(argv[3]));
	if (strcmp(mode, "storm") == 0 && argc == 4)
		return run_storm(atoi(argv[2]), atoi(argv[3]));
	if (strcmp(mode, "dlopen") == 0 && argc == 4)
		return run_dlopen(argv[2], atoi(argv[3]));
	if (strcmp(mode, "signals") == 0 && argc == 3)
		return run_signals(atol(argv[2]));
	if (strcmp(mode, "oom") == 0 && argc == 3)
		return run_oom(atol(argv[2]));
	if (strcmp(mode, "linger") == 0 && argc == 4)
		return run_linger(argv[2], atof(argv[3]));
	if (strcmp(mode, "daemon") == 0 && argc == 4)
		return run_daemon(argv[2], atof(argv[3]));
	if (strcmp(mode, "spawn") == 0 && argc == 4)
		return run_spawn(argv[0], argv[2], argv[3]);
	if (strcmp(mode, "hold") == 0 && argc == 4)
		return hold(hold_block, argv[2], atof(argv[3]));
	fprintf(stderr, "usage: stress threads|storm|dlopen|signals|oom|linger|daemon|spawn|hold ...\n");
	return 2;
}
