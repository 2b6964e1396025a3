#define _GNU_SOURCE
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/skip.h>

#include "serve.h"

void ms_top_usage(FILE *out)
{
	fputs("usage: memscope-top [OPTIONS] -- COMMAND [ARGS...]   launch COMMAND under the hook, watch it\n"
	      "       memscope-top [OPTIONS] -p PID                 watch a program already running under the hook\n"
	      "       memscope-top -l [--clean]                     list sessions (--clean: remove dead ones)\n"
	      "       memscope-top [OPTIONS] --demo                 run the bundled demo workload and watch it\n"
	      "       memscope-top [OPTIONS] -r FILE                replay a recorded session\n"
	      "       memscope-top --serve [ADDR:]PORT [-p PID]     serve the sessions' figures to Prometheus\n"
	      "options:\n"
	      "  -b, --batch   no TUI: print a frame every -d seconds to stdout; on the\n"
	      "                target's exit print a final frame and exit with its status.\n"
	      "                A launched program's stdout goes to stderr, so that stdout\n"
	      "                holds frames only\n"
	      "  -o FILE       with --batch: frames to FILE instead; the program keeps stdout\n"
	      "  --json        with --batch: one JSON object per line per frame\n"
	      "  -d SECONDS    refresh interval (default 1; fractions allowed)\n"
	      "  -n N          stop after N frames\n"
	      "  --sites N     call sites per batch frame, by live bytes (default 100; 0: all);\n"
	      "                with --serve, per process (default 20)\n"
	      "  --pprof OUT   with --batch: at the last frame (the program's exit, or -n's\n"
	      "                last), write a heap profile of every call site to OUT in\n"
	      "                pprof's format (gzip'd profile.proto; go tool pprof reads it)\n"
	      "  --skip F,...  functions that only wrap the allocator: a call site is named\n"
	      "                for the first frame that is none of these (nor a built-in\n"
	      "                wrapper: xmalloc, g_malloc, ...); F* matches a prefix\n"
	      "  -w FILE       also record the session to FILE (-r replays it, memscope-report\n"
	      "                summarises it)\n"
	      "  --events      with -w and a launched COMMAND: record every allocation and\n"
	      "                free too, for exact per-allocation analysis (memscope-report\n"
	      "                --events); the program waits for the recorder if it falls behind\n"
	      "  --python-malloc  run COMMAND with PYTHONMALLOC=malloc: CPython then\n"
	      "                calls malloc for every object, which pymalloc hides\n"
	      "  --serve [ADDR:]PORT  no screen: answer GET /metrics on ADDR:PORT (ADDR\n"
	      "                127.0.0.1 when left out; [::]:PORT or 0.0.0.0:PORT for every\n"
	      "                address; port 0 picks one, printed on stdout) with the figures\n"
	      "                of every session of yours, or of -p PID's, read every -d\n"
	      "                seconds; SIGINT or SIGTERM stops it\n"
	      "  -h, --help    this text;  -V, --version  the version\n"
	      "environment: MEMSCOPE_LIB (the hook library), MEMSCOPE_DIR (where sessions\n"
	      "live, default /dev/shm), MEMSCOPE_SKIP (as --skip, before it),\n"
	      "MEMSCOPE_BACKEND (capture backend: unified, the default, async, core or\n"
	      "lockfree), MEMSCOPE_DEPTH (frames per stack, default 32), MEMSCOPE_MMAP\n"
	      "(0: mapped memory not counted),\n"
	      "MEMSCOPE_KEEP_DEAD (seconds a killed program's session stays for -l and\n"
	      "-p, default 600)\n",
	      out);
}

static int fail(const char *msg, const char *arg)
{
	fprintf(stderr, "memscope-top: %s%s%s (see memscope-top --help)\n", msg, arg ? ": " : "",
		arg ? arg : "");
	return -1;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.01 && v <= 86400.0))
		return -1;
	*out = v;
	return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Appends names to opt->skip, checked as memscope/skip.h reads them. */
static int add_skip(struct ms_top_options *opt, const char *names)
{
	ms_skip *check;
	char *joined;

	if (ms_skip_new(names, &check) != 0)
		return -1;
	ms_skip_free(check);
	if (asprintf(&joined, "%s%s%s", opt->skip ? opt->skip : "", opt->skip ? "," : "",
		     names) < 0)
		return -1;
	free(opt->skip);
	opt->skip = joined;
	return 0;
}

void ms_top_options_free(struct ms_top_options *opt)
{
	free(opt->skip);
	opt->skip = NULL;
}

int ms_top_parse(int argc, char **argv, struct ms_top_options *opt)
{
	const char *env_skip = getenv("MEMSCOPE_SKIP");
	int modes = 0;
	long v;

	memset(opt, 0, sizeof(*opt));
	opt->interval_s = 1.0;
	opt->sites = -1; /* the mode's default, below */
	opt->mode = MS_TOP_HELP;
	if (env_skip != NULL && env_skip[0] != '\0' && add_skip(opt, env_skip) != 0)
		return fail("MEMSCOPE_SKIP needs function names separated by commas", env_skip);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			if (i + 1 >= argc)
				return fail("-- needs a command to run", NULL);
			opt->command = &argv[i + 1];
			opt->mode = MS_TOP_LAUNCH;
			modes++;
			break;
		} else if (strcmp(a, "-b") == 0 || strcmp(a, "--batch") == 0) {
			opt->batch = 1;
		} else if (strcmp(a, "--json") == 0) {
			opt->json = 1;
		} else if (strcmp(a, "--events") == 0) {
			opt->events = 1;
		} else if (strcmp(a, "--python-malloc") == 0) {
			opt->python_malloc = 1;
		} else if (strcmp(a, "--clean") == 0) {
			opt->clean = 1;
		} else if (strcmp(a, "-l") == 0) {
			opt->mode = MS_TOP_LIST;
			modes++;
		} else if (strcmp(a, "--demo") == 0) {
			opt->mode = MS_TOP_DEMO;
			modes++;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			opt->mode = MS_TOP_HELP;
			return 0;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			opt->mode = MS_TOP_VERSION;
			return 0;
		} else if (strcmp(a, "-d") == 0) {
			if (next == NULL || parse_seconds(next, &opt->interval_s) != 0)
				return fail("-d needs seconds between 0.01 and 86400", next);
			i++;
		} else if (strcmp(a, "-n") == 0) {
			if (next == NULL || parse_long(next, 1, 1000000000L, &opt->frames) != 0)
				return fail("-n needs a positive number of frames", next);
			i++;
		} else if (strcmp(a, "--sites") == 0) {
			if (next == NULL || parse_long(next, 0, 100000000L, &opt->sites) != 0)
				return fail("--sites needs a number of call sites (0: all)", next);
			i++;
		} else if (strcmp(a, "-p") == 0) {
			if (next == NULL || parse_long(next, 1, 0x7fffffffL, &v) != 0)
				return fail("-p needs a process id", next);
			opt->pid = (pid_t)v;
			opt->mode = MS_TOP_ATTACH;
			modes++;
			i++;
		} else if (strcmp(a, "-w") == 0) {
			if (next == NULL)
				return fail("-w needs a file name", NULL);
			opt->record = next;
			i++;
		} else if (strcmp(a, "--skip") == 0) {
			if (next == NULL || add_skip(opt, next) != 0)
				return fail("--skip needs function names separated by commas", next);
			i++;
		} else if (strcmp(a, "--serve") == 0) {
			char host[256], port[16];

			if (next == NULL || ms_serve_parse_address(next, host, sizeof(host), port,
								   sizeof(port)) != 0)
				return fail("--serve needs [ADDR:]PORT (an IPv6 ADDR in brackets)",
					    next);
			opt->serve = next;
			i++;
		} else if (strcmp(a, "-o") == 0) {
			if (next == NULL)
				return fail("-o needs a file name", NULL);
			opt->output = next;
			i++;
		} else if (strcmp(a, "--pprof") == 0) {
			if (next == NULL)
				return fail("--pprof needs a file name", NULL);
			opt->pprof = next;
			i++;
		} else if (strcmp(a, "-r") == 0) {
			if (next == NULL)
				return fail("-r needs a file name", NULL);
			opt->replay = next;
			opt->mode = MS_TOP_REPLAY;
			modes++;
			i++;
		} else {
			return fail("unknown option", a);
		}
	}
	if (modes > 1)
		return fail("choose one of -- COMMAND, -p, -l, --demo and -r", NULL);
	if (opt->sites < 0)
		opt->sites = opt->serve != NULL ? 20 : 100;
	if (opt->serve != NULL && opt->mode != MS_TOP_HELP && opt->mode != MS_TOP_ATTACH)
		return fail("--serve watches programs already running under the hook: alone, or "
			    "with -p PID", NULL);
	if (opt->serve != NULL && (opt->batch || opt->record != NULL || opt->frames != 0))
		return fail("--serve has no frames to print or record (-b, -w, -n)", NULL);
	if (opt->json && !opt->batch)
		return fail("--json needs --batch (-b)", NULL);
	if (opt->output != NULL && !opt->batch)
		return fail("-o needs --batch (-b): the screen has no frames to write", NULL);
	if (opt->pprof != NULL && !opt->batch)
		return fail("--pprof needs --batch (-b): the profile is of its last frame", NULL);
	if (opt->events && (opt->record == NULL ||
			    (opt->mode != MS_TOP_LAUNCH && opt->mode != MS_TOP_DEMO)))
		return fail("--events needs -w FILE and a program to launch (-- COMMAND): the "
			    "stream starts with the program", NULL);
	if (opt->python_malloc && opt->mode != MS_TOP_LAUNCH)
		return fail("--python-malloc goes with a program to launch (-- COMMAND)", NULL);
	if (opt->clean && opt->mode != MS_TOP_LIST)
		return fail("--clean goes with -l", NULL);
	return 0;
}
