/* memscope-bench [--ops N] [--repeat R] [--no-heaptrack]: times the churn
 * workload plain, under the libmemscope.so hook with and without stack
 * capture, and under heaptrack (if it is on PATH), for 1, 2 and 4 threads,
 * and prints the slowdowns against the plain run of the same invocation. Each case is the best of R wall-clock
 * runs, fork to waitpid, so process start-up is part of every number.
 *
 * churn sits next to this binary; the hook is ../../hooks/libmemscope.so
 * from here (the bazel-bin layout) unless MEMSCOPE_LIB names it. Hook
 * segments and heaptrack files go to a private directory under /tmp that is
 * emptied after every run and removed at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memscope/session.h>
#include <memscope/snapshot.h>

/* About 0.2-0.3 s for a plain 1-thread run of an optimised build: glibc's
 * tcache serves this churn in ~9 ns a pair. */
#define DEFAULT_OPS 25000000UL
#define DEFAULT_REPEAT 3UL

/* HOOK captures stacks (the default), NOSTACK runs the hook with
 * MEMSCOPE_DEPTH=0: the difference is the cost of stack capture. */
enum mode { PLAIN, HOOK, NOSTACK, HEAPTRACK, NMODES };

static const char *const mode_name[NMODES] = { "plain", "hook", "hook without stacks",
					       "heaptrack" };
static const unsigned long thread_counts[] = { 1, 2, 4 };

struct bench {
	unsigned long ops, repeat;
	int use_heaptrack;
	int devnull;
	char churn[PATH_MAX];
	char hook[PATH_MAX];
	char heaptrack[PATH_MAX];
	char ht_out[PATH_MAX];
};

static char tmpdir[] = "/tmp/memscope-bench.XXXXXX";
static int have_tmpdir;
static int keep_top;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0 && keep_top)
		return 0;
	return remove(path) == 0 ? 0 : -1;
}

/* Removes everything under tmpdir, and tmpdir itself unless keep. */
static int clean_tmpdir(int keep)
{
	keep_top = keep;
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("memscope-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (have_tmpdir)
		clean_tmpdir(0);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: memscope-bench [--ops N] [--repeat R] [--no-heaptrack]\n"
			"environment: MEMSCOPE_LIB (absolute path of libmemscope.so)\n");
	exit(2);
}

static unsigned long parse_count(const char *opt, const char *s)
{
	char *end;
	unsigned long v;

	if (s == NULL)
		usage();
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v == 0) {
		fprintf(stderr, "memscope-bench: %s wants a positive integer, not '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	b->ops = DEFAULT_OPS;
	b->repeat = DEFAULT_REPEAT;
	b->use_heaptrack = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ops") == 0)
			b->ops = parse_count(argv[i], argv[i + 1]), i++;
		else if (strcmp(argv[i], "--repeat") == 0)
			b->repeat = parse_count(argv[i], argv[i + 1]), i++;
		else if (strcmp(argv[i], "--no-heaptrack") == 0)
			b->use_heaptrack = 0;
		else
			usage();
	}
}

static void join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		die("path too long: %s/%s", dir, name);
}

/* PATH lookup as execvp does it; an empty entry means the current directory. */
static int find_in_path(const char *name, char *out)
{
	const char *path = getenv("PATH");

	while (path != NULL && path[0] != '\0') {
		const char *colon = strchrnul(path, ':');
		int len = (int)(colon - path);
		int n = len ? snprintf(out, PATH_MAX, "%.*s/%s", len, path, name)
			    : snprintf(out, PATH_MAX, "./%s", name);

		if (n > 0 && n < PATH_MAX && access(out, X_OK) == 0)
			return 0;
		path = *colon ? colon + 1 : colon;
	}
	return -ENOENT;
}

static void locate(struct bench *b)
{
	const char *env = getenv("MEMSCOPE_LIB");
	char dir[PATH_MAX], hook[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0)
		die("cannot read /proc/self/exe: %s", strerror(errno));
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';

	join(b->churn, dir, "churn");
	if (access(b->churn, X_OK) != 0)
		die("cannot run %s: %s (build //tests/bench:churn)", b->churn, strerror(errno));

	if (env != NULL && env[0] != '\0') {
		if (env[0] != '/')
			die("MEMSCOPE_LIB must be an absolute path, not '%s'", env);
		if (strlen(env) >= sizeof(hook))
			die("MEMSCOPE_LIB is too long");
		strcpy(hook, env);
	} else {
		join(hook, dir, "../../hooks/libmemscope.so");
	}
	/* LD_PRELOAD wants an absolute path; realpath also proves it exists. */
	if (realpath(hook, b->hook) == NULL || access(b->hook, R_OK) != 0)
		die("cannot find the hook at %s: %s (build //hooks:libmemscope.so or set MEMSCOPE_LIB)",
		    hook, strerror(errno));

	if (b->use_heaptrack && find_in_path("heaptrack", b->heaptrack) != 0)
		b->use_heaptrack = 0;
}

static void child(const struct bench *b, enum mode m, char **argv, int report)
{
	int err;

	if (m == HOOK || m == NOSTACK) {
		char keeper[24];

		/* We keep the session, to check it counted every operation. */
		snprintf(keeper, sizeof(keeper), "%d", (int)getppid());
		setenv("LD_PRELOAD", b->hook, 1);
		setenv("MEMSCOPE_DIR", tmpdir, 1);
		setenv("MEMSCOPE_KEEPER", keeper, 1);
		setenv("MEMSCOPE_DEPTH", m == NOSTACK ? "0" : "32", 1);
	} else {
		/* The baseline and heaptrack must not carry any other preload. */
		unsetenv("LD_PRELOAD");
	}
	if (dup2(b->devnull, STDOUT_FILENO) < 0 || dup2(b->devnull, STDERR_FILENO) < 0) {
		err = errno;
	} else {
		execv(argv[0], argv);
		err = errno;
	}
	/* The parent reads this after waitpid to name the cause. */
	if (write(report, &err, sizeof(err)) != (ssize_t)sizeof(err))
		_exit(126);
	_exit(127);
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

/* A hooked run is only worth timing if the hook really counted: its session
 * must hold at least one allocation per churn operation. */
static void check_recorded(pid_t pid, unsigned long nthreads, unsigned long ops)
{
	char path[512];
	ms_reader r;
	ms_snapshot s;
	int err;

	if (ms_session_find(tmpdir, pid, path, sizeof(path)) != 0)
		die("hook run with %lu threads left no session: the hook did not load", nthreads);
	err = ms_reader_open(&r, path);
	if (err == 0) {
		err = ms_snapshot_take(&r, &s);
		ms_reader_close(&r);
	}
	if (err != 0)
		die("hook run with %lu threads: %s", nthreads, ms_reader_strerror(err));
	if (s.total_allocs < (uint64_t)nthreads * ops || s.dropped_events != 0)
		die("hook run with %lu threads counted %llu allocations (%llu dropped), expected at "
		    "least %lu", nthreads, (unsigned long long)s.total_allocs,
		    (unsigned long long)s.dropped_events, nthreads * ops);
	ms_snapshot_release(&s);
}

static double run_once(const struct bench *b, enum mode m, unsigned long nthreads)
{
	char threads[24], ops[24];
	char *plain_argv[] = { (char *)b->churn, threads, ops, NULL };
	char *ht_argv[] = { (char *)b->heaptrack, "-o", (char *)b->ht_out,
			    (char *)b->churn, threads, ops, NULL };
	char **argv = m == HEAPTRACK ? ht_argv : plain_argv;
	struct timespec t0, t1;
	int report[2], status, err;
	pid_t pid;

	snprintf(threads, sizeof(threads), "%lu", nthreads);
	snprintf(ops, sizeof(ops), "%lu", b->ops);
	if (pipe2(report, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child(b, m, argv, report[1]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	close(report[1]);
	if (read(report[0], &err, sizeof(err)) == (ssize_t)sizeof(err))
		die("%s run with %lu threads: cannot run %s: %s",
		    mode_name[m], nthreads, argv[0], strerror(err));
	close(report[0]);
	if (WIFSIGNALED(status))
		die("%s run with %lu threads killed by signal %d (%s)",
		    mode_name[m], nthreads, WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s run with %lu threads failed with exit status %d",
		    mode_name[m], nthreads, WEXITSTATUS(status));

	if (m == HOOK || m == NOSTACK)
		check_recorded(pid, nthreads, b->ops);
	if (m != PLAIN && clean_tmpdir(1) != 0)
		die("cannot empty %s: %s", tmpdir, strerror(errno));
	return seconds_between(&t0, &t1);
}

static void run_row(const struct bench *b, unsigned long nthreads)
{
	double best[NMODES];

	for (int m = 0; m < NMODES; m++)
		best[m] = -1.0;
	/* Interleave the modes so that drift in machine load hits all alike. */
	for (unsigned long r = 0; r < b->repeat; r++) {
		for (int m = 0; m < NMODES; m++) {
			double s;

			if (m == HEAPTRACK && !b->use_heaptrack)
				continue;
			s = run_once(b, (enum mode)m, nthreads);
			if (best[m] < 0 || s < best[m])
				best[m] = s;
		}
	}
	printf("%7lu%10.3f%10.3f%11.2fx%12.3f%11.2fx", nthreads, best[PLAIN], best[HOOK],
	       best[HOOK] / best[PLAIN], best[NOSTACK], best[NOSTACK] / best[PLAIN]);
	if (b->use_heaptrack)
		printf("%13.2f%16.1fx%15.1fx\n", best[HEAPTRACK],
		       best[HEAPTRACK] / best[PLAIN], best[HEAPTRACK] / best[HOOK]);
	else
		printf("%13s%17s%16s\n", "-", "-", "-");
	fflush(stdout);
}

static int bench_run(int argc, char **argv)
{
	struct bench b;

	parse_args(&b, argc, argv);
	locate(&b);
	b.devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (b.devnull < 0)
		die("cannot open /dev/null: %s", strerror(errno));
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp %s: %s", tmpdir, strerror(errno));
	have_tmpdir = 1;
	join(b.ht_out, tmpdir, "ht");

	printf("memscope churn benchmark: %lu malloc+free per thread, best of %lu runs\n",
	       b.ops, b.repeat);
	printf("%7s%10s%10s%12s%12s%12s%13s%17s%16s\n", "threads", "plain_s", "hook_s",
	       "hook/plain", "nostack_s", "nost/plain", "heaptrack_s", "heaptrack/plain",
	       "heaptrack/hook");
	for (size_t i = 0; i < sizeof(thread_counts) / sizeof(thread_counts[0]); i++)
		run_row(&b, thread_counts[i]);

	if (clean_tmpdir(0) != 0)
		die("cannot remove %s: %s", tmpdir, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	return bench_run(argc, argv);
}
