#define _GNU_SOURCE
#include "top.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memscope/platform.h>
#include <memscope/sessions.h>
#include <memscope/snapshot.h>

#include "batch.h"
#include "events.h"
#include "launch.h"
#include "list.h"
#include "options.h"
#include "serve.h"
#include "ui.h"

#define MS_VERSION "0.1.0"

static int launch(const struct ms_top_options *opt, FILE *frames, FILE *pprof, char *const argv[],
		  int is_demo)
{
	char hook[PATH_MAX], output[PATH_MAX];
	ms_event_tap tap, *events = NULL;
	pid_t pid;
	int status, err;

	if (ms_find_hook_library(hook, sizeof(hook)) != 0) {
		fprintf(stderr, "memscope-top: cannot find libmemscope.so next to memscope-top; "
			"set MEMSCOPE_LIB to its absolute path\n");
		return 1;
	}
	if (!opt->batch) {
		err = ms_launch_output_file(output, sizeof(output));
		if (err != 0) {
			fprintf(stderr, "memscope-top: cannot create a file for the program's "
				"output: %s\n", strerror(-err));
			return 1;
		}
	}
	if (opt->events) {
		err = ms_event_tap_open(&tap);
		if (err != 0) {
			fprintf(stderr, "memscope-top: cannot make a socket for --events: %s\n",
				strerror(-err));
			return 1;
		}
		events = &tap;
	}
	/* Ours to set: the program inherits it, and nothing here is Python. */
	if (opt->python_malloc)
		setenv("PYTHONMALLOC", "malloc", 1);
	fflush(stdout);
	/* In batch mode, frames alone go to stdout: the program's output to
	 * stdout would cut into them (a line without its newline yet). */
	pid = ms_launch(argv, hook, opt->batch ? NULL : output, opt->batch && frames == stdout,
			events ? tap.child_fd : -1);
	if (pid < 0) {
		fprintf(stderr, "memscope-top: cannot start %s: %s\n", argv[0], strerror(-pid));
		if (events != NULL)
			ms_event_tap_close(events, NULL);
		return 1;
	}
	if (events != NULL && (err = ms_event_tap_start(events)) != 0) {
		fprintf(stderr, "memscope-top: cannot receive events: %s; recording without them\n",
			strerror(-err));
		ms_event_tap_close(events, NULL);
		events = NULL;
	}
	if (opt->batch)
		status = ms_batch_run(opt, frames, pprof, pid, 1, events);
	else
		status = ms_ui_run(opt, pid, 1, output, is_demo, events);
	if (events != NULL) {
		uint64_t refused;
		size_t lost = ms_event_tap_close(events, &refused);

		if (refused > 0)
			fprintf(stderr, "memscope-top: %llu messages of the event stream could not "
				"be taken and are not in %s\n", (unsigned long long)refused,
				opt->record);
		if (lost > 0)
			fprintf(stderr, "memscope-top: %zu events of the program's first image are not "
				"in %s: it exec'd before its first frame (try a shorter -d)\n", lost,
				opt->record);
	}
	return status;
}

static int attach(const struct ms_top_options *opt, FILE *frames, FILE *pprof)
{
	char path[MS_SESSION_PATH_MAX];
	ms_reader r;
	int err;

	/* A program that died without an exit leaves its session for a while
	 * (see store.c, "Retention"): its last state can still be shown. */
	if (ms_session_find(ms_shm_dir(), opt->pid, path, sizeof(path)) != 0) {
		if (kill(opt->pid, 0) != 0 && errno == ESRCH) {
			fprintf(stderr, "memscope-top: no process %d\n", (int)opt->pid);
			return 1;
		}
		fprintf(stderr, "memscope-top: process %d is not running under memscope; start it "
			"with LD_PRELOAD=libmemscope.so, or launch it: memscope-top -- COMMAND\n",
			(int)opt->pid);
		return 1;
	}
	err = ms_reader_open(&r, path);
	if (err != 0) {
		fprintf(stderr, "memscope-top: %s: %s\n", path, ms_reader_strerror(err));
		return 1;
	}
	ms_reader_close(&r);
	if (opt->batch)
		return ms_batch_run(opt, frames, pprof, opt->pid, 0, NULL);
	return ms_ui_run(opt, opt->pid, 0, NULL, 0, NULL);
}

static int demo(const struct ms_top_options *opt, FILE *frames, FILE *pprof)
{
	char path[PATH_MAX];
	/* Watched on the screen, the demo runs until q (five minutes at most). */
	char *argv[] = { path, opt->batch ? NULL : "--seconds", "300", NULL };

	if (ms_find_sibling("memscope-demo", path, sizeof(path)) != 0) {
		fprintf(stderr, "memscope-top: cannot find memscope-demo next to memscope-top\n");
		return 1;
	}
	return launch(opt, frames, pprof, argv, 1);
}

/* Runs what opt asks for; returns memscope-top's exit status. */
static int run(struct ms_top_options *opt)
{
	FILE *frames = stdout, *pprof = NULL;
	int status;

	if (opt->serve != NULL)
		return ms_serve_run(opt);
	switch (opt->mode) {
	case MS_TOP_HELP:
		ms_top_usage(stdout);
		return 0;
	case MS_TOP_VERSION:
		printf("memscope-top %s\n", MS_VERSION);
		return 0;
	case MS_TOP_LIST:
		return ms_list_sessions(opt->clean);
	case MS_TOP_REPLAY:
		if (opt->batch || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
			fprintf(stderr, "memscope-top: -r replays on the screen (a terminal); for "
				"frames on stdout use memscope-report FILE --json --at SECONDS\n");
			return 2;
		}
		return ms_ui_replay(opt->replay);
	default:
		break;
	}
	if (!opt->batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "memscope-top: not a terminal; printing frames as with -b\n");
		opt->batch = 1;
	}
	if (opt->batch && opt->output != NULL) {
		frames = fopen(opt->output, "w");
		if (frames == NULL) {
			fprintf(stderr, "memscope-top: cannot write frames to %s: %s\n", opt->output,
				strerror(errno));
			return 1;
		}
	}
	/* Before the program starts: a profile that cannot be written is
	 * better known at once than after the run. */
	if (opt->pprof != NULL) {
		pprof = fopen(opt->pprof, "wb");
		if (pprof == NULL) {
			fprintf(stderr, "memscope-top: cannot write %s: %s\n", opt->pprof,
				strerror(errno));
			if (frames != stdout)
				fclose(frames);
			return 1;
		}
	}
	if (opt->mode == MS_TOP_ATTACH)
		status = attach(opt, frames, pprof);
	else if (opt->mode == MS_TOP_DEMO)
		status = demo(opt, frames, pprof);
	else
		status = launch(opt, frames, pprof, opt->command, 0);
	if (pprof != NULL && fclose(pprof) != 0) {
		fprintf(stderr, "memscope-top: cannot finish %s: %s\n", opt->pprof, strerror(errno));
		status = status != 0 ? status : 1;
	}
	if (frames != stdout && fclose(frames) != 0) {
		fprintf(stderr, "memscope-top: cannot finish %s: %s\n", opt->output, strerror(errno));
		return status != 0 ? status : 1;
	}
	return status;
}

int ms_top_run(int argc, char **argv)
{
	struct ms_top_options opt;
	int status;

	/* Every refresh allocates and frees a few large arrays (a snapshot, its
	 * call sites): keep that memory in our heap for the next refresh
	 * rather than map and fault it in again each time (glibc would use
	 * fresh mmaps and trim). */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);

	status = ms_top_parse(argc, argv, &opt) != 0 ? 2 : run(&opt);
	ms_top_options_free(&opt);
	return status;
}
