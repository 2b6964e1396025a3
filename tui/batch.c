#define _GNU_SOURCE
#include "batch.h"
#include "events.h"
#include "follow.h"
#include "launch.h"
#include "model.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "pprof.h"
#include <memscope/platform.h>
#include <memscope/recording.h>
#include <memscope/sessions.h>
#include <memscope/snapshot.h>
#include <memscope/symbols.h>

/* How often the target is checked for exit between frames. */
#define POLL_NS (20 * 1000 * 1000ULL)
/* How long the last frame may wait for the names of its call sites. */
#define MS_LAST_FRAME_NAMES_NS (30 * 1000 * 1000 * 1000ULL)
/* How long a launched program may run before we say no session appeared. */
#define NO_SESSION_WARN_NS (3 * 1000 * 1000 * 1000ULL)

struct watch {
	pid_t pid;
	int launched;
	int reaped;
	int exit_status;    /* shell convention: code, or 128 + signal */
	int exited;         /* reaped, and it exited (was not killed) */
	/* The session and its symbols; earlier images' symbols are kept while
	 * recording (the recorder knows their frames by address until it sees
	 * the new image). */
	ms_follow follow;
	ms_recorder *recorder; /* -w */
	struct ms_event_tap *events; /* --events */
	ms_model_history history; /* for the threads' rates in recordings */
	FILE *pprof;          /* --pprof, written at the last frame */
	int pprof_state;      /* 0: not yet, 1: written, -1: failed, said so */
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void reap(struct watch *w, int block)
{
	int status;
	pid_t r;

	if (!w->launched || w->reaped)
		return;
	do {
		r = waitpid(w->pid, &status, block ? 0 : WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r != w->pid)
		return;
	w->reaped = 1;
	w->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	w->exited = WIFEXITED(status);
}

static int target_gone(struct watch *w)
{
	if (w->launched) {
		reap(w, 0);
		return w->reaped;
	}
	return kill(w->pid, 0) != 0 && errno == ESRCH;
}

/* print_frame's answer when the program has ended: no frame printed. */
#define ENDED 1

/* Records the events taken before a frame (after it, if there is one). */
static void record_events(const struct ms_top_options *opt, struct watch *w, ms_event_batch *b)
{
	int err;

	if (w->recorder == NULL || b->count == 0) {
		ms_event_batch_free(b);
		return;
	}
	err = ms_event_tap_record(w->events, w->recorder, b);
	if (err != 0) {
		fprintf(stderr, "memscope-top: cannot record to %s: %s; recording stops\n",
			opt->record, strerror(-err));
		ms_recorder_close(w->recorder);
		w->recorder = NULL;
		w->follow.keep_old = 0;
	}
}

/* final: the program is gone, this is its final frame; last: no frame
 * follows (final, or the last of -n), so it waits for its names. */
static int print_frame(const struct ms_top_options *opt, FILE *out, struct watch *w, int final,
		       int last)
{
	ms_frame_extra x = { .exit_status = -1 };
	ms_event_batch events = { 0 };
	ms_callsite *sites = NULL;
	ms_snapshot s;
	int err;

	if (w->follow.reader.base == NULL)
		return -ENOENT;
	/* Events first, then the snapshot: it has every call site they name. */
	if (w->events != NULL && w->recorder != NULL)
		events = ms_event_tap_take(w->events, final);
	err = ms_snapshot_take(&w->follow.reader, &s);
	if (err != 0) {
		ms_event_tap_return(w->events, &events);
		fprintf(stderr, "memscope-top: cannot read session %s: %s\n",
			w->follow.reader.path, ms_reader_strerror(err));
		return err;
	}
	/* Our child is reaped: its status says how it ended, whatever the
	 * segment says (an exit the hook did not see leaves it "running"). */
	if (final && w->reaped && (s.state == MS_SESSION_RUNNING || s.state == MS_SESSION_GONE))
		s.state = w->exited ? MS_SESSION_EXITED : MS_SESSION_GONE;
	else if (final && s.state == MS_SESSION_RUNNING)
		s.state = MS_SESSION_GONE;
	/* The program ended between two frames: the final frame says so, once,
	 * when the process is gone. */
	if (!final && (s.state == MS_SESSION_EXITED || s.state == MS_SESSION_GONE)) {
		ms_snapshot_release(&s);
		ms_event_tap_return(w->events, &events); /* for the final frame */
		return ENDED;
	}
	x.exit_status = final && w->reaped ? w->exit_status : -1;
	x.max_sites = (size_t)opt->sites;
	if (w->follow.symbols != NULL) {
		/* Whole stacks where they are written: all of them in a
		 * recording, the frame's share in JSON; text shows call sites
		 * only. Frames never wait for names; the last one does. */
		size_t whole = w->recorder != NULL || (opt->json && opt->sites == 0) ||
					(last && w->pprof != NULL) ? SIZE_MAX :
			       opt->json ? (size_t)opt->sites : 0;
		int n = ms_symbols_sorted_callsites(w->follow.symbols, &w->follow.reader, &s,
						    whole, last ? MS_LAST_FRAME_NAMES_NS : 0,
						    &sites);

		if (n > 0) {
			x.sites = sites;
			x.nsites = (size_t)n;
		}
	}
	if (w->recorder != NULL) {
		double alloc_rate, free_rate;
		ms_thread_view *views = ms_thread_views(&s, &w->history, &alloc_rate, &free_rate);

		err = views != NULL ? ms_recorder_frame(w->recorder, &s, views, x.sites, x.nsites,
							x.exit_status) :
				      -ENOMEM;
		free(views);
		if (err != 0) {
			fprintf(stderr, "memscope-top: cannot record to %s: %s; recording stops\n",
				opt->record, strerror(-err));
			ms_recorder_close(w->recorder);
			w->recorder = NULL;
		}
	}
	record_events(opt, w, &events);
	if (opt->json)
		ms_frame_print_json(out, &s, &x);
	else
		ms_frame_print_text(out, &s, &x);
	fflush(out);
	if (last && w->pprof != NULL) {
		err = ms_pprof_write(w->pprof, &s, x.sites, x.nsites);
		if (err != 0)
			fprintf(stderr, "memscope-top: cannot write %s: %s\n", opt->pprof,
				strerror(-err));
		w->pprof_state = err == 0 ? 1 : -1;
	}
	free(sites);
	ms_snapshot_release(&s);
	return 0;
}

int ms_batch_run(const struct ms_top_options *opt, FILE *out, FILE *pprof, pid_t pid,
		 int launched, struct ms_event_tap *events)
{
	struct watch w = { .pid = pid, .launched = launched, .exit_status = 0, .events = events,
			   .follow = { .pid = pid, .skip = opt->skip }, .pprof = pprof };
	int err, status;
	uint64_t interval = (uint64_t)(opt->interval_s * 1e9);
	uint64_t start = ms_clock_mono_ns(), next = start + interval;
	long printed = 0;
	int warned = 0, gone = 0;

	if (opt->record != NULL) {
		err = ms_recorder_create(opt->record, &w.recorder);
		if (err != 0) {
			fprintf(stderr, "memscope-top: cannot create %s: %s\n", opt->record,
				strerror(-err));
			if (pprof != NULL)
				unlink(opt->pprof);
			return 1;
		}
		w.follow.keep_old = 1;
	}
	if (launched) {
		/* Like time(1): Ctrl-C and Ctrl-\ are for the target; we report
		 * what it did. */
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
	}
	for (;;) {
		uint64_t now;

		ms_follow_update(&w.follow);
		gone = target_gone(&w);
		if (gone)
			break;
		now = ms_clock_mono_ns();
		if (now >= next) {
			int r = print_frame(opt, out, &w, 0, opt->frames > 0 && printed + 1 >= opt->frames);

			if (r == ENDED) {
				/* Its exit path ran; wait for the process to be gone. */
				reap(&w, 1);
				gone = 1;
				break;
			}
			if (r == 0)
				printed++;
			if (opt->frames > 0 && printed >= opt->frames)
				break;
			next += interval;
			if (next < now)
				next = now + interval;
		}
		if (w.follow.reader.base == NULL && !warned && launched &&
		    now - start > NO_SESSION_WARN_NS) {
			fprintf(stderr, "memscope-top: pid %d has no memscope session yet (a static "
				"binary, or one that clears LD_PRELOAD, cannot be watched)\n", (int)pid);
			warned = 1;
		}
		now = ms_clock_mono_ns();
		sleep_ns(next > now && next - now < POLL_NS ? next - now : POLL_NS);
	}
	if (gone) {
		ms_follow_update(&w.follow); /* an exec just before the exit made a new generation */
		if (print_frame(opt, out, &w, 1, 1) != 0 && launched && w.follow.reader.base == NULL &&
		    w.exit_status != 127)
			fprintf(stderr, "memscope-top: pid %d exited without a memscope session "
				"(statically linked, or LD_PRELOAD was cleared)\n", (int)pid);
	}
	if (w.recorder != NULL && (err = ms_recorder_close(w.recorder)) != 0)
		fprintf(stderr, "memscope-top: cannot finish %s: %s\n", opt->record, strerror(-err));
	ms_follow_close(&w.follow);
	ms_model_history_free(&w.history);
	if (launched && gone)
		ms_launch_cleanup(pid);
	status = launched && gone ? w.exit_status : 0;
	/* No profile, or half of one: no file, rather than one that reads as
	 * a profile of nothing or not at all. */
	if (pprof != NULL && w.pprof_state != 1) {
		if (w.pprof_state == 0)
			fprintf(stderr, "memscope-top: no profile written to %s: no frame of the "
				"program to take it from\n", opt->pprof);
		unlink(opt->pprof);
		status = status != 0 ? status : 1;
	}
	return status;
}
