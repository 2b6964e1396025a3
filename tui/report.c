/*
 * memscope-report FILE [--json | --folded | --leaks | --events | --pprof OUT] [--top N]
 *                 [--at [GEN:]SECONDS]
 * Summarises a recording made with memscope-top -w, without a terminal.
 *
 * Every time it prints or reads is the program's: seconds since its image
 * started, the time_s of memscope-top's frames (report_images.c). A
 * recording that followed an exec holds one image per generation, each
 * with a time of its own.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "pprof.h"
#include <memscope/recording.h>

enum mode { SUMMARY, JSON, FOLDED, LEAKS, EVENTS, PPROF };

struct options {
	const char *file;
	const char *pprof; /* --pprof OUT */
	enum mode mode;
	long top;
	int has_top;
	struct ms_report_at at;
};

static void usage(FILE *out)
{
	fputs("usage: memscope-report FILE [--json | --folded | --leaks | --events | --pprof OUT]\n"
	      "                      [--top N] [--at [GEN:]SECONDS]\n"
	      "  (none)     peak and when, top call sites at the peak, leaks at the end, totals\n"
	      "  --json     the frame at the end (or --at) in memscope-top's JSON frame format\n"
	      "  --folded   live bytes of every stack, folded (flamegraph.pl, speedscope)\n"
	      "  --leaks    call sites still holding memory at the end (or --at)\n"
	      "  --events   from the event stream (-w FILE --events): each allocation paired\n"
	      "             with its free; per call site lifetimes and temporary allocations\n"
	      "  --pprof OUT  a heap profile of the end (or --at) to OUT, in pprof's format\n"
	      "             (gzip'd profile.proto; go tool pprof reads it): every heap call\n"
	      "             site's blocks and bytes, allocated and live, with its stack\n"
	      "  --top N    at most N call sites (default 10, --folded all; 0: all)\n"
	      "  --at S     the last frame at or before S seconds of the program's time\n"
	      "             (time_s of memscope-top's frames: since the program image\n"
	      "             started); in the last image the recording holds\n"
	      "  --at GEN:S the same in the image of generation GEN (one per exec)\n",
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
		    strcmp(a, "--leaks") == 0 || strcmp(a, "--events") == 0 ||
		    strcmp(a, "--pprof") == 0) {
			if (o->mode != SUMMARY)
				return fail("choose one of --json, --folded, --leaks, --events and "
					    "--pprof", NULL);
			o->mode = a[2] == 'j' ? JSON : a[2] == 'f' ? FOLDED : a[2] == 'l' ? LEAKS :
				  a[2] == 'e' ? EVENTS : PPROF;
			if (o->mode == PPROF) {
				if (next == NULL)
					return fail("--pprof needs a file name", NULL);
				o->pprof = next;
				i++;
			}
		} else if (strcmp(a, "--top") == 0) {
			errno = 0;
			o->top = next ? strtol(next, &end, 10) : -1;
			if (next == NULL || errno != 0 || *end != '\0' || o->top < 0)
				return fail("--top needs a number of call sites (0: all)", next);
			o->has_top = 1;
			i++;
		} else if (strcmp(a, "--at") == 0) {
			if (ms_report_parse_at(next, &o->at) != 0)
				return fail("--at needs seconds of the program's time, or GEN:SECONDS",
					    next);
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
	if (o->mode == EVENTS && o->at.given)
		return fail("--events covers the whole recording; --at goes with the others", NULL);
	/* A profile of some call sites would misstate every share. */
	if (o->mode == PPROF && o->has_top)
		return fail("--pprof writes every call site; --top goes with the others", NULL);
	return 0;
}

static size_t shown(const struct options *o, size_t n)
{
	return o->top > 0 && (size_t)o->top < n ? (size_t)o->top : n;
}

static double time_of(const ms_recording *r, size_t i)
{
	ms_rec_frame_info f;

	return ms_recording_frame_info(r, i, &f) == 0 ? f.time_s : 0;
}

/* "the end", "1.186s", "the end of generation 1", ...: the frame the
 * report ends with. */
static const char *end_name(char *buf, size_t len, const struct options *o,
			    const struct ms_report_images *im, const ms_replay *at)
{
	if (o->at.given)
		return ms_report_when(buf, len, im, at->snap.generation, at->snap.time_s);
	if (im->n > 1)
		snprintf(buf, len, "the end of generation %u", at->snap.generation);
	else
		snprintf(buf, len, "the end");
	return buf;
}

/* The frames, and the peak: the highest of the images' peaks (each image's
 * last frame holds its own). Returns the peak's image, or NULL. */
static const struct ms_report_image *frames_and_peak(ms_recording *r,
						     const struct ms_report_images *im,
						     const ms_replay *at)
{
	const struct ms_report_image *best = NULL;
	uint64_t peak_bytes = 0;
	double peak_s = 0;
	char a[32], w[64], command[MS_COMMAND_MAX * 4];

	printf("memscope recording of %s (pid %d): %zu frames", im->n > 1 ? "a program" :
	       ms_format_command(command, sizeof(command), at->snap.command), (int)at->snap.pid,
	       ms_recording_count(r));
	if (im->n > 1)
		printf(" of %zu program images (one per exec), each timed from its own start:\n",
		       im->n);
	else if (im->n == 1)
		printf(", %.3fs to %.3fs of the program\n", time_of(r, im->v[0].first),
		       time_of(r, im->v[0].last));
	for (size_t k = 0; k < im->n; k++) {
		const struct ms_report_image *g = &im->v[k];
		ms_replay last;

		if (ms_recording_load(r, g->last, &last) != 0)
			continue;
		if (best == NULL || last.snap.peak_bytes > peak_bytes) {
			best = g;
			peak_bytes = last.snap.peak_bytes;
			peak_s = last.snap.peak_time_s;
		}
		if (im->n > 1)
			printf("  generation %u: %zu frames, %.3fs to %.3fs, peak %s at %.3fs: %s\n",
			       g->generation, g->nframes, time_of(r, g->first), time_of(r, g->last),
			       ms_format_bytes(a, sizeof(a), last.snap.peak_bytes),
			       last.snap.peak_time_s,
			       ms_format_command(command, sizeof(command), last.snap.command));
		ms_replay_release(&last);
	}
	if (best != NULL)
		printf("Peak: %s at %s\n", ms_format_bytes(a, sizeof(a), peak_bytes),
		       ms_report_when(w, sizeof(w), im, best->generation, peak_s));
	return best;
}

static void summary(const struct options *o, ms_recording *r, const struct ms_report_images *im,
		    ms_replay *end)
{
	char a[32], b[32], w[64], e[64];
	const struct ms_report_image *pg = frames_and_peak(r, im, end);
	ms_replay peak;

	end_name(e, sizeof(e), o, im, end);
	printf("At %s: %s live in %" PRIu64 " blocks (%s)\n", e,
	       ms_format_bytes(a, sizeof(a), end->snap.live_bytes), end->snap.live_allocs,
	       ms_session_state_name(end->snap.state));
	printf("Totals: %" PRIu64 " allocations, %" PRIu64 " frees, %s allocated, %" PRIu64
	       " dropped\n",
	       end->snap.total_allocs, end->snap.total_frees,
	       ms_format_bytes(b, sizeof(b), end->snap.total_bytes), end->snap.dropped_events);
	/* Frames come every -d seconds: the one nearest the peak in bytes
	 * stands for it. */
	if (pg != NULL && ms_recording_load(r, pg->busiest, &peak) == 0) {
		ms_callsites_sort(peak.sites, peak.nsites);
		printf("\nTop call sites at the peak (the frame with the most live bytes, at %s):\n",
		       ms_report_when(w, sizeof(w), im, peak.snap.generation, peak.snap.time_s));
		ms_frame_print_site_head(stdout);
		for (size_t i = 0; i < shown(o, peak.nsites); i++)
			if (peak.sites[i].site.live_bytes > 0)
				ms_frame_print_site_row(stdout, &peak.sites[i]);
		ms_replay_release(&peak);
	}
	printf("\nLeaks at %s (call sites still holding memory):\n", e);
	ms_frame_print_site_head(stdout);
	for (size_t i = 0, k = 0; i < end->nsites && k < shown(o, end->nsites); i++) {
		if (end->sites[i].site.live_bytes == 0)
			continue;
		ms_frame_print_site_row(stdout, &end->sites[i]);
		k++;
	}
}

/* "outermost;...;innermost live_bytes", one line per stack with live bytes.
 * Every stack unless --top says otherwise: a flame graph of some of them
 * would misstate every share. */
static void folded(const struct options *o, const ms_replay *f)
{
	char name[512];
	size_t n = o->has_top ? shown(o, f->nsites) : f->nsites;

	for (size_t i = 0; i < n; i++) {
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

/* --pprof: frame f as a heap profile. Returns the exit status. */
static int pprof(const struct options *o, const ms_replay *f)
{
	FILE *out = fopen(o->pprof, "wb");
	int err;

	if (out == NULL) {
		fprintf(stderr, "memscope-report: cannot write %s: %s\n", o->pprof, strerror(errno));
		return 1;
	}
	err = ms_pprof_write(out, &f->snap, f->sites, f->nsites);
	if (fclose(out) != 0 && err == 0)
		err = -errno;
	if (err != 0) {
		fprintf(stderr, "memscope-report: cannot write %s: %s\n", o->pprof, strerror(-err));
		return 1;
	}
	return 0;
}

int ms_report_run(int argc, char **argv)
{
	struct options o;
	struct ms_report_images im;
	ms_recording *r;
	ms_replay f;
	size_t i;
	int err, status = 0;

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
	err = ms_report_images(r, &im);
	if (err != 0) {
		fprintf(stderr, "memscope-report: %s: %s\n", o.file, ms_recording_strerror(err));
		ms_recording_close(r);
		return 1;
	}
	i = ms_recording_count(r) - 1;
	if (o.at.given && ms_report_frame_at(r, &im, &o.at, &i) != 0) {
		fprintf(stderr, "memscope-report: %s: no program image of generation %u in it\n",
			o.file, o.at.generation);
		ms_report_images_free(&im);
		ms_recording_close(r);
		return 1;
	}
	err = ms_recording_load(r, i, &f);
	if (err != 0) {
		fprintf(stderr, "memscope-report: %s: %s\n", o.file, ms_recording_strerror(err));
		ms_report_images_free(&im);
		ms_recording_close(r);
		return 1;
	}
	ms_callsites_sort(f.sites, f.nsites);
	switch (o.mode) {
	case SUMMARY:
		summary(&o, r, &im, &f);
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
	case PPROF:
		status = pprof(&o, &f);
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
	ms_report_images_free(&im);
	ms_recording_close(r);
	return status;
}
