#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ms_top_usage(FILE *out)
{
	fputs("usage: memscope-top [OPTIONS] -- COMMAND [ARGS...]   launch COMMAND under the hook, watch it\n"
	      "       memscope-top [OPTIONS] -p PID                 watch a program already running under the hook\n"
	      "       memscope-top -l [--clean]                     list sessions (--clean: remove dead ones)\n"
	      "       memscope-top [OPTIONS] --demo                 run the bundled demo workload and watch it\n"
	      "       memscope-top [OPTIONS] -r FILE                replay a recorded session\n"
	      "options:\n"
	      "  -b, --batch   no TUI: print a frame every -d seconds to stdout; on the\n"
	      "                target's exit print a final frame and exit with its status\n"
	      "  --json        with --batch: one JSON object per line per frame\n"
	      "  -d SECONDS    refresh interval (default 1; fractions allowed)\n"
	      "  -n N          stop after N frames\n"
	      "  --sites N     call sites per batch frame, by live bytes (default 100; 0: all)\n"
	      "  -w FILE       also record the session to FILE (-r replays it, memscope-report\n"
	      "                summarises it)\n"
	      "  --events      with -w and a launched COMMAND: record every allocation and\n"
	      "                free too, for exact per-allocation analysis (memscope-report\n"
	      "                --events); the program waits for the recorder if it falls behind\n"
	      "  --python-malloc  run COMMAND with PYTHONMALLOC=malloc: CPython then\n"
	      "                calls malloc for every object, which pymalloc hides\n"
	      "  -h, --help    this text;  -V, --version  the version\n"
	      "environment: MEMSCOPE_LIB (the hook library), MEMSCOPE_DIR (where sessions\n"
	      "live, default /dev/shm), MEMSCOPE_BACKEND (capture backend:\n"
	      "unified, the default, async, core or lockfree), MEMSCOPE_DEPTH (frames\n"
	      "per stack, default 32), MEMSCOPE_KEEP_DEAD (seconds a killed program's\n"
	      "session stays for -l and -p, default 600)\n",
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

int ms_top_parse(int argc, char **argv, struct ms_top_options *opt)
{
	int modes = 0;
	long v;

	memset(opt, 0, sizeof(*opt));
	opt->interval_s = 1.0;
	opt->sites = 100;
	opt->mode = MS_TOP_HELP;
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
	if (opt->json && !opt->batch)
		return fail("--json needs --batch (-b)", NULL);
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
