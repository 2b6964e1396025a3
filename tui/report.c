/*
 * memscope-report FILE [--json | --folded | --leaks | --events] [--top N] [--at SECONDS]
 * Summarises a recording made with memscope-top -w, without a terminal.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/frame.h>
#include <memscope/recording.h>

enum mode { SUMMARY, JSON, FOLDED, LEAKS, EVENTS };

struct options {
	const char *file;
	enum mode mode;
	long top;
	double at;
	int has_at;
};

static void usage(FILE *out)
{
	fputs("usage: memscope-report FILE [--json | --folded | --leaks | --events] [--top N]\n"
	      "                      [--at SECONDS]\n"
	      "  (none)     peak and when, top call sites at the peak, leaks at the end, totals\n"
	      "  --json     the frame at the end (or --at) in memscope-top's JSON frame format\n"
	      "  --folded   live bytes by stack, folded (flamegraph.pl, speedscope)\n"
	      "  --leaks    call sites still holding memory at the end (or --at)\n"
	      "  --events   from the event stream (-w FILE --events): each allocation paired\n"
	      "             with its free; per call site lifetimes and temporary allocations\n"
	      "  --top N    at most N call sites (default 10; 0: all)\n"
	      "  --at S     the frame S seconds after the start of the recording\n",
	      out);
}

static int fail(const char *msg, const char *arg)
{
	fprintf(stderr, "memscope-report: %s%s%s (see memscope-report --help)\n", msg,
		arg ? ": " : "", arg ? arg : "");
	return -1;
}

static int parse(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->top = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(a, "--json") == 0 || strcmp(a, "--folded") == 0 ||
		    strcmp(a, "--leaks") == 0 || strcmp(a, "--events") == 0) {
			if (o->mode != SUMMARY)
				return fail("choose one of --json, --folded, --leaks and --events",
					    NULL);
			o->mode = a[2] == 'j' ? JSON : a[2] == 'f' ? FOLDED : a[2] == 'l' ? LEAKS :
								       EVENTS;
		} else if (strcmp(a, "--top") == 0) {
			errno = 0;
			o->top = next ? strtol(next, &end, 10) : -1;
			if (next == NULL || errno != 0 || *end != '\0' || o->top < 0)
				return fail("--top needs a number of call sites (0: all)", next);
			i++;
		} else if (strcmp(a, "--at") == 0) {
			errno = 0;
			o->at = next ? strtod(next, &end) : -1;
			if (next == NULL || errno != 0 || *end != '\0' || !(o->at >= 0))
				return fail("--at needs seconds from the start of the recording", next);
			o->has_at = 1;
			i++;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (a[0] == '-' && a[1] != '\0') {
			return fail("unknown option", a);
		} else if (o->file == NULL) {
			o->file = a;
		} else {
			return fail("one recording at a time", a);
		}
	}
	if (o->file == NULL)
		return fail("which recording?", NULL);
	if (o->mode == EVENTS && o->has_at)
		return fail("--events covers the whole recording; --at goes with the others", NULL);
	return 0;
}

static size_t shown(const struct options *o, size_t n)
{
	return o->top > 0 && (size_t)o->top < n ? (size_t)o->top : n;
}

static void summary(const struct options *o, ms_recording *r, ms_replay *end)
{
	char a[32], b[32], command[MS_COMMAND_MAX * 4];
	size_t n = ms_recording_count(r), at_peak = ms_recording_peak_frame(r);
	ms_replay peak;

	printf("memscope recording of %s (pid %d): %zu frames over %.1fs\n",
	       ms_format_command(command, sizeof(command), end->snap.command),
	       (int)end->snap.pid, n, ms_recording_time(r, n - 1));
	printf("Peak: %s at %.1fs\n", ms_format_bytes(a, sizeof(a), end->snap.peak_bytes),
	       end->snap.peak_time_s);
	printf("At the end: %s live in %" PRIu64 " blocks (%s)\n",
	       ms_format_bytes(a, sizeof(a), end->snap.live_bytes), end->snap.live_allocs,
	       ms_session_state_name(end->snap.state));
	printf("Totals: %" PRIu64 " allocations, %" PRIu64 " frees, %s allocated, %" PRIu64
	       " dropped\n",
	       end->snap.total_allocs, end->snap.total_frees,
	       ms_format_bytes(b, sizeof(b), end->snap.total_bytes), end->snap.dropped_events);
	if (ms_recording_load(r, at_peak, &peak) == 0) {
		ms_callsites_sort(peak.sites, peak.nsites);
		printf("\nTop call sites at the peak (frame at %.1fs):\n", ms_recording_time(r, at_peak));
		ms_frame_print_site_head(stdout);
		for (size_t i = 0; i < shown(o, peak.nsites); i++)
			if (peak.sites[i].site.live_bytes > 0)
				ms_frame_print_site_row(stdout, &peak.sites[i]);
		ms_replay_release(&peak);
	}
	printf("\nLeaks at the end (call sites still holding memory):\n");
	ms_frame_print_site_head(stdout);
	for (size_t i = 0, k = 0; i < end->nsites && k < shown(o, end->nsites); i++) {
		if (end->sites[i].site.live_bytes == 0)
			continue;
		ms_frame_print_site_row(stdout, &end->sites[i]);
		k++;
	}
}

/* "outermost;...;innermost live_bytes", one line per stack with live bytes. */
static void folded(const struct options *o, const ms_replay *f)
{
	char name[512];

	for (size_t i = 0; i < shown(o, f->nsites); i++) {
		const ms_callsite *c = &f->sites[i];

		if (c->site.live_bytes == 0)
			continue;
		if (c->depth == 0)
			fputs("(no stack)", stdout);
		for (uint32_t k = c->depth; k-- > 0;) {
			/* ';' and spaces would split the line: keep them out. */
			for (char *p = (char *)ms_frame_name(c->frames[k], name, sizeof(name)); *p; p++)
				if (*p == ';' || *p == '\n')
					*p = ',';
			printf("%s%s", name, k ? ";" : "");
		}
		printf(" %" PRIu64 "\n", c->site.live_bytes);
	}
}

int ms_report_run(int argc, char **argv)
{
	struct options o;
	ms_recording *r;
	ms_replay f;
	size_t i;
	int err;

	if (parse(argc, argv, &o) != 0)
		return 2;
	err = ms_recording_open(o.file, &r);
	if (err != 0) {
		fprintf(stderr, "memscope-report: %s: %s\n", o.file, ms_recording_strerror(err));
		return 1;
	}
	if (ms_recording_problem(r) != NULL)
		fprintf(stderr, "memscope-report: %s: %s; reporting its %zu readable frames\n", o.file,
			ms_recording_problem(r), ms_recording_count(r));
	if (o.mode == EVENTS) {
		err = ms_report_events(r, o.top);
		ms_recording_close(r);
		return err;
	}
	i = o.has_at ? ms_recording_frame_at(r, o.at) : ms_recording_count(r) - 1;
	err = ms_recording_load(r, i, &f);
	if (err != 0) {
		fprintf(stderr, "memscope-report: %s: %s\n", o.file, ms_recording_strerror(err));
		ms_recording_close(r);
		return 1;
	}
	ms_callsites_sort(f.sites, f.nsites);
	switch (o.mode) {
	case SUMMARY:
		summary(&o, r, &f);
		break;
	case JSON: {
		ms_frame_extra x = { .exit_status = f.exit_status, .sites = f.sites,
				     .nsites = f.nsites, .max_sites = (size_t)o.top };

		ms_frame_print_json(stdout, &f.snap, &x);
		break;
	}
	case FOLDED:
		folded(&o, &f);
		break;
	case EVENTS: /* handled above */
		break;
	case LEAKS:
		ms_frame_print_site_head(stdout);
		for (size_t k = 0, n = 0; k < f.nsites && n < shown(&o, f.nsites); k++) {
			if (f.sites[k].site.live_bytes == 0)
				continue;
			ms_frame_print_site_row(stdout, &f.sites[k]);
			n++;
		}
		break;
	}
	ms_replay_release(&f);
	ms_recording_close(r);
	return 0;
}
