/* memscope-bench [--ops N] [--rounds N] [--dict N] [--repeat R] [--threads LIST]
 *                [--no-heaptrack] [--no-python] [--no-sqlite]
 *
 * The overhead benchmark: each workload run plain, under libmemscope.so with
 * each capture backend, stacks on and off, and under heaptrack (if on PATH),
 * timed in this one invocation. Workloads: churn (malloc/free over a window
 * of 64 blocks) in 1, 2, 4 and 8 threads; python3 building a dict with
 * PYTHONMALLOC=malloc; cxx_churn (small C++ news and deletes); the sqlite3
 * shell on :memory: running a script generated here (100,000 rows with
 * texts of varied sizes, an index, updates, deletes, GROUP BY and ORDER BY:
 * some 590,000 malloc, realloc and free calls), skipped with a line saying
 * so where sqlite3 is not installed; sparse (a malloc and a free every
 * millisecond, asleep in between: its cpu line is the one that tells);
 * map_churn (100,000 mmaps and munmaps of 64 KiB: what counting mapped
 * memory costs).
 * Every hooked run's session must have counted every operation with no
 * event dropped, or the benchmark stops.
 *
 * The table gives each workload two lines, each figure the least of R runs:
 *   wall  the time from fork to waitpid, start-up included;
 *   cpu   user+sys time of the whole program from wait4's rusage: all its
 *         threads, memscope's own (sampler, drain) among them, for they
 *         are part of what the hook costs the program; under heaptrack, its
 *         script and the helpers it waits for too.
 * Columns: plain, in seconds; then each configuration as a multiple of
 * plain: the backends core, lockfree, async and unified with stacks
 * (MEMSCOPE_DEPTH=32), -ns without (MEMSCOPE_DEPTH=0), heaptrack; last,
 * ht/hook, heaptrack over the fastest backend with stacks. "-": not run
 * (or a plain time of 0). So the wall line says how much slower the program
 * ran, the cpu line how much more CPU it took: a drain thread on another
 * core costs CPU and little wall time.
 *
 * Last, the hook's memory per live block: hold (one and two million live
 * 16-byte blocks) plain and hooked; what a million more blocks cost beyond
 * plain, per block, and the rest, fixed (the session, the hook's own).
 *
 * churn, cxx_churn, sparse and hold sit next to this binary; the hook is
 * ../../hooks/libmemscope.so from here (the bazel-bin layout) unless
 * MEMSCOPE_LIB names it. The scripts go to a private directory under /tmp,
 * sessions and heaptrack files to its run/, emptied after every run; all
 * is removed at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memscope/sessions.h>
#include <memscope/snapshot.h>

#define DEFAULT_OPS 2000000UL    /* churn: malloc+free per thread */
#define DEFAULT_ROUNDS 100000UL  /* cxx_churn: ~100 news and deletes a round */
#define DEFAULT_DICT 300000UL    /* python3: dict entries */
#define DEFAULT_REPEAT 3UL
#define HOLD_BLOCKS 1000000L

/* sqlite3: rows written out as multi-row INSERTs, then copied over by SQL
 * to 100,000 rows (the parser's allocations for every literal row would
 * otherwise be most of the run). */
#define SQLITE_LITERAL_ROWS 20000
#define SQLITE_ROWS_PER_INSERT 100
#define SQLITE_COPIES 5
/* Counted once plain, sqlite 3.40.1 (Debian 12) makes 292,330 mallocs and
 * 3,416 reallocs on the script (a session counts both: 295,746); a little
 * under that leaves room for other versions. */
#define SQLITE_MIN_ALLOCS 290000UL

/* How a workload is run. */
struct config {
	const char *name;
	const char *backend; /* NULL: not hooked */
	int depth;           /* MEMSCOPE_DEPTH */
	int heaptrack;
};

static const struct config configs[] = {
	{ "plain", NULL, 0, 0 },
	{ "core", "core", 32, 0 },
	{ "core-ns", "core", 0, 0 },
	{ "lockfree", "lockfree", 32, 0 },
	{ "async", "async", 32, 0 },
	{ "async-ns", "async", 0, 0 },
	{ "unified", "unified", 32, 0 },
	{ "heaptrack", NULL, 0, 1 },
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))
#define HEAPTRACK_CONFIG (NCONFIGS - 1)

struct workload {
	char name[64];
	char *argv[8];
	char args[7][PATH_MAX];
	const char *env; /* NAME=value, or NULL */
	unsigned long min_allocs; /* a hooked run must count at least these */
	unsigned long min_maps;   /* ... and these mappings */
};

struct bench {
	unsigned long ops, rounds, dict, repeat;
	unsigned long threads[8];
	size_t nthreads;
	int use_heaptrack, use_python, use_sqlite;
	int devnull;
	char dir[PATH_MAX]; /* where the helper binaries are */
	char hook[PATH_MAX];
	char heaptrack[PATH_MAX];
	char python[PATH_MAX];
	char sqlite[PATH_MAX]; /* "": not installed */
	char ht_out[PATH_MAX];
};

/* The private directory holds the generated scripts; its run/ holds what
 * one run leaves (sessions, heaptrack's file) and is emptied after each. */
static char tmpdir[] = "/tmp/memscope-bench.XXXXXX";
static char rundir[PATH_MAX];
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

/* Removes everything under dir, and dir itself unless keep. */
static int clean_dir(const char *dir, int keep)
{
	keep_top = keep;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
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
		clean_dir(tmpdir, 0);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: memscope-bench [--ops N] [--rounds N] [--dict N] [--repeat R]\n"
			"                      [--threads 1,2,4,8] [--no-heaptrack] [--no-python]\n"
			"                      [--no-sqlite]\n"
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

static void parse_threads(struct bench *b, const char *s)
{
	char copy[128], *save = NULL;

	if (s == NULL || strlen(s) >= sizeof(copy))
		usage();
	strcpy(copy, s);
	b->nthreads = 0;
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (b->nthreads == sizeof(b->threads) / sizeof(b->threads[0]))
			usage();
		b->threads[b->nthreads++] = parse_count("--threads", t);
	}
	if (b->nthreads == 0)
		usage();
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	memset(b, 0, sizeof(*b));
	b->ops = DEFAULT_OPS;
	b->rounds = DEFAULT_ROUNDS;
	b->dict = DEFAULT_DICT;
	b->repeat = DEFAULT_REPEAT;
	b->use_heaptrack = b->use_python = b->use_sqlite = 1;
	parse_threads(b, "1,2,4,8");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--ops") == 0)
			b->ops = parse_count(a, next), i++;
		else if (strcmp(a, "--rounds") == 0)
			b->rounds = parse_count(a, next), i++;
		else if (strcmp(a, "--dict") == 0)
			b->dict = parse_count(a, next), i++;
		else if (strcmp(a, "--repeat") == 0)
			b->repeat = parse_count(a, next), i++;
		else if (strcmp(a, "--threads") == 0)
			parse_threads(b, next), i++;
		else if (strcmp(a, "--no-heaptrack") == 0)
			b->use_heaptrack = 0;
		else if (strcmp(a, "--no-python") == 0)
			b->use_python = 0;
		else if (strcmp(a, "--no-sqlite") == 0)
			b->use_sqlite = 0;
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
	char hook[PATH_MAX], helper[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", b->dir, sizeof(b->dir) - 1);

	if (n <= 0)
		die("cannot read /proc/self/exe: %s", strerror(errno));
	b->dir[n] = '\0';
	*strrchr(b->dir, '/') = '\0';
	for (const char *const *h = (const char *const[]){ "churn", "cxx_churn", "sparse", "hold",
							   "map_churn", NULL };
	     *h != NULL; h++) {
		join(helper, b->dir, *h);
		if (access(helper, X_OK) != 0)
			die("cannot run %s: %s (build //tests/bench:all)", helper, strerror(errno));
	}
	if (env != NULL && env[0] != '\0') {
		if (env[0] != '/' || strlen(env) >= sizeof(hook))
			die("MEMSCOPE_LIB must be an absolute path, not '%s'", env);
		strcpy(hook, env);
	} else {
		join(hook, b->dir, "../../hooks/libmemscope.so");
	}
	/* LD_PRELOAD wants an absolute path; realpath also proves it exists. */
	if (realpath(hook, b->hook) == NULL || access(b->hook, R_OK) != 0)
		die("cannot find the hook at %s: %s (build //hooks:libmemscope.so or set MEMSCOPE_LIB)",
		    hook, strerror(errno));
	if (b->use_heaptrack && find_in_path("heaptrack", b->heaptrack) != 0)
		b->use_heaptrack = 0;
	/* The system's python3 itself: a wrapper on PATH (a version manager's
	 * shell script) would be timed too, and traced instead of python. */
	if (access("/usr/bin/python3", X_OK) == 0)
		strcpy(b->python, "/usr/bin/python3");
	else if (b->use_python && find_in_path("python3", b->python) != 0)
		b->use_python = 0;
	if (access("/usr/bin/sqlite3", X_OK) == 0)
		strcpy(b->sqlite, "/usr/bin/sqlite3");
	else if (!b->use_sqlite || find_in_path("sqlite3", b->sqlite) != 0)
		b->sqlite[0] = '\0';
}

static void child(const struct bench *b, const struct workload *w, const struct config *c,
		  int out, int report)
{
	char *ht_argv[12] = { (char *)b->heaptrack, (char *)"-o", (char *)b->ht_out };
	char *const *argv = w->argv;
	int err;

	unsetenv("LD_PRELOAD"); /* the baseline and heaptrack carry no other */
	if (w->env != NULL)
		putenv((char *)w->env);
	if (c->backend != NULL) {
		char keeper[24], depth[16];

		/* We keep the session, to check it counted every operation. */
		snprintf(keeper, sizeof(keeper), "%d", (int)getppid());
		snprintf(depth, sizeof(depth), "%d", c->depth);
		setenv("LD_PRELOAD", b->hook, 1);
		setenv("MEMSCOPE_DIR", rundir, 1);
		setenv("MEMSCOPE_KEEPER", keeper, 1);
		setenv("MEMSCOPE_DEPTH", depth, 1);
		setenv("MEMSCOPE_BACKEND", c->backend, 1);
	}
	if (c->heaptrack) {
		for (int i = 0; w->argv[i] != NULL && i < 8; i++)
			ht_argv[3 + i] = w->argv[i];
		argv = ht_argv;
	}
	if (dup2(out, STDOUT_FILENO) < 0 || dup2(b->devnull, STDERR_FILENO) < 0) {
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
 * must hold at least the workload's allocations, none dropped. */
static void check_recorded(const struct workload *w, const struct config *c, pid_t pid)
{
	char path[512];
	ms_reader r;
	ms_snapshot s;
	int err;

	if (ms_session_find(rundir, pid, path, sizeof(path)) != 0)
		die("%s under %s left no session: the hook did not load", w->name, c->name);
	err = ms_reader_open(&r, path);
	if (err == 0) {
		err = ms_snapshot_take(&r, &s);
		ms_reader_close(&r);
	}
	if (err != 0)
		die("%s under %s: %s", w->name, c->name, ms_reader_strerror(err));
	if (s.mmap_total_maps < w->min_maps)
		die("%s under %s counted %llu mappings, expected %lu", w->name, c->name,
		    (unsigned long long)s.mmap_total_maps, w->min_maps);
	if (s.total_allocs < w->min_allocs || s.dropped_events != 0)
		die("%s under %s counted %llu allocations (%llu dropped), expected at least %lu",
		    w->name, c->name, (unsigned long long)s.total_allocs,
		    (unsigned long long)s.dropped_events, w->min_allocs);
	ms_snapshot_release(&s);
}

/* Runs w under c once; returns the wall time (and in *cpu, when not NULL,
 * the CPU time the program used). out: the child's stdout. */
static double run_once(const struct bench *b, const struct workload *w, const struct config *c,
		       int out, double *cpu)
{
	struct timespec t0, t1;
	struct rusage ru;
	int report[2], status, err;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child(b, w, c, out, report[1]);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (cpu != NULL)
		*cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
		       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;

	close(report[1]);
	if (read(report[0], &err, sizeof(err)) == (ssize_t)sizeof(err))
		die("%s under %s: cannot run %s: %s", w->name, c->name, w->argv[0], strerror(err));
	close(report[0]);
	if (WIFSIGNALED(status))
		die("%s under %s killed by signal %d (%s)", w->name, c->name, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s under %s failed with exit status %d", w->name, c->name,
		    WEXITSTATUS(status));
	if (c->backend != NULL)
		check_recorded(w, c, pid);
	if (c->backend != NULL || c->heaptrack) {
		if (clean_dir(rundir, 1) != 0)
			die("cannot empty %s: %s", rundir, strerror(errno));
	}
	return seconds_between(&t0, &t1);
}

/* The width of configuration k's column, the space before it left out. */
static int column_width(size_t k)
{
	return configs[k].heaptrack ? 9 : 8;
}

/* One line of a row: plain in seconds, the others as multiples of it, and
 * heaptrack over the fastest hook with stacks (it has them). best: the
 * least of the repeats, < 0 where not run. */
static void print_line(const char *name, const char *kind, const double *best)
{
	double fastest_hook = -1;

	printf("%-15s %-4s %6.3f", name, kind, best[0]);
	for (size_t k = 1; k < NCONFIGS; k++) {
		/* A plain CPU time of 0 has no multiples. */
		if (best[k] < 0 || best[0] <= 0)
			printf(" %*s", column_width(k), "-");
		else
			printf(" %*.2fx", column_width(k) - 1, best[k] / best[0]);
		if (configs[k].backend != NULL && configs[k].depth > 0 &&
		    (fastest_hook < 0 || best[k] < fastest_hook))
			fastest_hook = best[k];
	}
	if (best[HEAPTRACK_CONFIG] >= 0 && fastest_hook > 0)
		printf(" %6.1fx", best[HEAPTRACK_CONFIG] / fastest_hook);
	putchar('\n');
}

static void run_row(const struct bench *b, const struct workload *w)
{
	double wall[NCONFIGS], cpu[NCONFIGS];

	for (size_t k = 0; k < NCONFIGS; k++)
		wall[k] = cpu[k] = -1.0;
	/* Interleave the configurations so that drift in machine load hits all
	 * alike. */
	for (unsigned long r = 0; r < b->repeat; r++) {
		for (size_t k = 0; k < NCONFIGS; k++) {
			double s, c;

			if (configs[k].heaptrack && !b->use_heaptrack)
				continue;
			s = run_once(b, w, &configs[k], b->devnull, &c);
			if (wall[k] < 0 || s < wall[k])
				wall[k] = s;
			if (cpu[k] < 0 || c < cpu[k])
				cpu[k] = c;
		}
	}
	print_line(w->name, "wall", wall);
	print_line("", "cpu", cpu);
	fflush(stdout);
}

static void set_workload(struct workload *w, const char *name, int nargs, ...)
{
	va_list ap;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	va_start(ap, nargs);
	for (int i = 0; i < nargs; i++) {
		snprintf(w->args[i], sizeof(w->args[i]), "%s", va_arg(ap, const char *));
		w->argv[i] = w->args[i];
	}
	va_end(ap);
}

/* hold's resident kB holding blocks blocks, plain (c NULL) or under c. */
static long hold_kb(const struct bench *b, const struct config *c, long blocks)
{
	struct workload w;
	char path[PATH_MAX], out_path[PATH_MAX], count[24], buf[64];
	int fd;
	ssize_t n;
	long kb;

	join(path, b->dir, "hold");
	snprintf(count, sizeof(count), "%ld", blocks);
	set_workload(&w, "hold", 2, path, count);
	w.min_allocs = (unsigned long)blocks;
	join(out_path, tmpdir, "hold.out");
	fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("cannot create %s: %s", out_path, strerror(errno));
	run_once(b, &w, c != NULL ? c : &configs[0], fd, NULL);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(out_path);
	buf[n > 0 ? n : 0] = '\0';
	kb = strtol(buf, NULL, 10);
	if (kb <= 0)
		die("hold printed no resident size");
	return kb;
}

/* The hook's memory per live block: what HOLD_BLOCKS more live blocks cost
 * under the hook beyond what they cost plain (hold with N and with 2N
 * blocks), so that the session's and the hook's own fixed memory, shown
 * apart, does not count as a block's. */
static void memory_row(const struct bench *b, const struct config *c)
{
	long plain1 = hold_kb(b, NULL, HOLD_BLOCKS), plain2 = hold_kb(b, NULL, 2 * HOLD_BLOCKS);
	long hooked1 = hold_kb(b, c, HOLD_BLOCKS), hooked2 = hold_kb(b, c, 2 * HOLD_BLOCKS);
	double per_block = (double)((hooked2 - hooked1) - (plain2 - plain1)) * 1024 / HOLD_BLOCKS;
	double fixed_kb = (double)(hooked1 - plain1) - per_block * HOLD_BLOCKS / 1024;

	printf("%-9s %6.1f bytes per live block, %6.0f kB fixed (%ld and %ld blocks: %ld and %ld kB "
	       "resident plain, %ld and %ld kB hooked)\n",
	       c->name, per_block, fixed_kb, HOLD_BLOCKS, 2 * HOLD_BLOCKS, plain1, plain2, hooked1,
	       hooked2);
}

/* Deterministic: the same script on every machine. */
static uint64_t next_random(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x >> 33;
}

static void put_word(FILE *f, uint64_t *x, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		fputc('a' + (int)(next_random(x) % 26), f);
}

/* The sqlite3 workload: a table of 100,000 rows, texts of varied sizes,
 * an index, an update that grows texts, a delete, grouping and sorting. */
static int write_sqlite_script(const char *path)
{
	FILE *f = fopen(path, "w");
	uint64_t x = 12345;
	int err = 0;

	if (f == NULL)
		return -errno;
	fputs("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, grp INTEGER, name TEXT, "
	      "body TEXT);\nBEGIN;\n", f);
	for (int i = 0; i < SQLITE_LITERAL_ROWS; i += SQLITE_ROWS_PER_INSERT) {
		fputs("INSERT INTO t(k, grp, name, body) VALUES\n", f);
		for (int j = 0; j < SQLITE_ROWS_PER_INSERT; j++) {
			uint64_t k = next_random(&x) % 1000003, grp = next_random(&x) % 97;
			uint64_t name = 3 + next_random(&x) % 10, r = next_random(&x);
			/* Most bodies short, one in eight long. */
			uint64_t body = r % 8 != 0 ? 4 + r % 24 : 32 + r % 200;

			fprintf(f, "(%" PRIu64 ", %" PRIu64 ", '", k, grp);
			put_word(f, &x, (unsigned)name);
			fputs("', '", f);
			put_word(f, &x, (unsigned)body);
			fputs(j + 1 < SQLITE_ROWS_PER_INSERT ? "'),\n" : "');\n", f);
		}
	}
	fprintf(f,
		"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < %d)\n"
		"  INSERT INTO t(k, grp, name, body)\n"
		"  SELECT (k * 31 + n) %% 1000003, (grp + n) %% 97, name, substr(body, 1 + n)"
		" FROM t, c;\n"
		"COMMIT;\n"
		"CREATE INDEX t_name ON t(name);\n"
		"UPDATE t SET body = body || name, k = k + 1 WHERE id %% 5 = 0;\n"
		"DELETE FROM t WHERE id %% 7 = 0;\n"
		"SELECT grp, count(*), sum(k), max(length(body)) FROM t GROUP BY grp ORDER BY 2 DESC;\n"
		"SELECT name, count(*) FROM t GROUP BY name ORDER BY 2 DESC, 1 LIMIT 20;\n"
		"SELECT id, k FROM t ORDER BY body LIMIT 10;\n"
		"SELECT count(*), sum(length(body)) FROM t;\n",
		SQLITE_COPIES - 1);
	if (ferror(f))
		err = -EIO;
	if (fclose(f) != 0 && err == 0)
		err = -errno;
	return err;
}

static int bench_run(int argc, char **argv)
{
	struct bench b;
	struct workload w;
	char path[PATH_MAX], sql[PATH_MAX], a1[32], a2[32];
	int err;

	parse_args(&b, argc, argv);
	locate(&b);
	b.devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (b.devnull < 0)
		die("cannot open /dev/null: %s", strerror(errno));
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp %s: %s", tmpdir, strerror(errno));
	have_tmpdir = 1;
	join(rundir, tmpdir, "run");
	if (mkdir(rundir, 0700) != 0)
		die("mkdir %s: %s", rundir, strerror(errno));
	join(b.ht_out, rundir, "ht");
	if (b.use_sqlite && b.sqlite[0] != '\0') {
		join(sql, tmpdir, "sqlite.sql");
		err = write_sqlite_script(sql);
		if (err != 0)
			die("cannot write %s: %s", sql, strerror(-err));
	}

	printf("memscope overhead benchmark (best of %lu): plain in seconds, the others as "
	       "multiples of it\n"
	       "  wall: fork to exit    cpu: user+sys of the whole program, all its threads\n"
	       "  -ns: no stacks        ht/hook: heaptrack over the fastest hook with stacks\n\n",
	       b.repeat);
	printf("%-15s %-4s %6s", "workload", "", "plain");
	for (size_t k = 1; k < NCONFIGS; k++)
		printf(" %*s", column_width(k), configs[k].name);
	printf("%s\n", b.use_heaptrack ? " ht/hook" : "");

	join(path, b.dir, "churn");
	for (size_t i = 0; i < b.nthreads; i++) {
		char name[64];

		snprintf(name, sizeof(name), "churn %lu thread%s", b.threads[i],
			 b.threads[i] > 1 ? "s" : "");
		snprintf(a1, sizeof(a1), "%lu", b.threads[i]);
		snprintf(a2, sizeof(a2), "%lu", b.ops);
		set_workload(&w, name, 3, path, a1, a2);
		w.min_allocs = b.threads[i] * b.ops;
		run_row(&b, &w);
	}
	if (b.use_python) {
		char script[PATH_MAX];
		FILE *f;

		join(script, tmpdir, "dict.py");
		f = fopen(script, "w");
		if (f == NULL)
			die("cannot write %s: %s", script, strerror(errno));
		fprintf(f, "d = {}\nfor i in range(%lu):\n    d[str(i)] = [i] * 3\n", b.dict);
		fclose(f);
		set_workload(&w, "python3 dict", 2, b.python, script);
		w.env = "PYTHONMALLOC=malloc";
		w.min_allocs = b.dict;
		run_row(&b, &w);
		unlink(script);
	}
	join(path, b.dir, "cxx_churn");
	snprintf(a1, sizeof(a1), "%lu", b.rounds);
	set_workload(&w, "c++ new/delete", 2, path, a1);
	w.min_allocs = b.rounds * 64;
	run_row(&b, &w);

	if (b.use_sqlite && b.sqlite[0] == '\0') {
		printf("%-15s skipped: sqlite3 is not installed (Debian: apt-get install sqlite3)\n",
		       "sqlite3");
	} else if (b.use_sqlite) {
		char read_cmd[PATH_MAX + 8];

		/* -bail: an error in the script stops it, with exit status 1;
		 * -init: no ~/.sqliterc. */
		snprintf(read_cmd, sizeof(read_cmd), ".read %s", sql);
		set_workload(&w, "sqlite3", 7, b.sqlite, "-batch", "-bail", "-init", "/dev/null",
			     ":memory:", read_cmd);
		w.min_allocs = SQLITE_MIN_ALLOCS;
		run_row(&b, &w);
	}

	/* A program that maps memory itself: what counting mappings costs
	 * (MEMSCOPE_MMAP=0 turns it off). */
	join(path, b.dir, "map_churn");
	set_workload(&w, "mmap/munmap", 2, path, "100000");
	w.min_maps = 100000;
	run_row(&b, &w);

	/* A mostly idle program: its cpu line is the one that tells. */
	join(path, b.dir, "sparse");
	set_workload(&w, "sparse", 2, path, "2000");
	w.min_allocs = 2000;
	run_row(&b, &w);

	printf("\nhook memory (RSS hooked minus plain, stacks on; per block: of a million more):\n");
	memory_row(&b, &configs[1]); /* core */
	memory_row(&b, &configs[3]); /* lockfree */
	memory_row(&b, &configs[6]); /* unified, the default */

	if (clean_dir(tmpdir, 0) != 0)
		die("cannot remove %s: %s", tmpdir, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	return bench_run(argc, argv);
}
