/* memscope-top's command line (DESIGN.md: "Command-line contract"). */
#ifndef MEMSCOPE_TUI_OPTIONS_H
#define MEMSCOPE_TUI_OPTIONS_H

#include <stdio.h>
#include <sys/types.h>

enum ms_top_mode {
	MS_TOP_LAUNCH, /* -- COMMAND ARGS */
	MS_TOP_ATTACH, /* -p PID */
	MS_TOP_LIST,   /* -l */
	MS_TOP_DEMO,   /* --demo */
	MS_TOP_REPLAY, /* -r FILE */
	MS_TOP_HELP,
	MS_TOP_VERSION,
};

struct ms_top_options {
	enum ms_top_mode mode;
	int batch;          /* -b */
	int json;           /* --json */
	int clean;          /* -l --clean */
	double interval_s;  /* -d */
	long frames;        /* -n, 0 = unlimited */
	long sites;         /* --sites: call sites per frame (per process with
			       --serve), 0 = all */
	pid_t pid;          /* -p */
	const char *record; /* -w */
	const char *output; /* -o: batch frames to this file, not stdout */
	const char *pprof;  /* --pprof: a heap profile at the last frame */
	char *skip;         /* MEMSCOPE_SKIP and --skip: frames that are not call sites */
	int events;         /* --events: the event stream too */
	const char *replay; /* -r */
	int python_malloc;  /* --python-malloc: PYTHONMALLOC=malloc for COMMAND */
	const char *serve;  /* --serve [ADDR]:PORT: metrics over HTTP, no screen */
	char **command;     /* after --, NULL-terminated */
};

/* Parses argv. On a usage error prints one line to stderr and returns -1.
 * Free what it made with ms_top_options_free, either way. */
int ms_top_parse(int argc, char **argv, struct ms_top_options *opt);
void ms_top_options_free(struct ms_top_options *opt);

void ms_top_usage(FILE *out);

#endif
