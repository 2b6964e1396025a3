#define _GNU_SOURCE
#include "feed.h"
#include "events.h"
#include "follow.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <urcu/pointer.h>

#include <memscope/platform.h>
#include <memscope/sessions.h>

/* How often the feed looks for a launched program's session until it has
 * one, and for its end once its exit path ran. */
#define POLL_S 0.05

static void set_error(ms_feed *f, const char *msg)
{
	pthread_mutex_lock(&f->lock);
	snprintf(f->error, sizeof(f->error), "%s", msg);
	pthread_mutex_unlock(&f->lock);
}

static void poke(void *f)
{
	ms_feed_poke(f);
}

/* Opens the newest session of the pid, across exec: a new image starts a
 * new history, and names found between two ticks are shown at once. */
static void follow(ms_feed *f, ms_follow *src, ms_model_history *history)
{
	int got = ms_follow_update(src);

	if (got < 0) {
		set_error(f, ms_reader_strerror(got));
		return;
	}
	if (got == 0)
		return;
	ms_model_history_free(history);
	if (src->symbols != NULL)
		ms_symbols_on_progress(src->symbols, poke, f);
}

void ms_feed_publish(ms_feed *f, ms_model *m)
{
	static unsigned long seq;
	ms_model *old;

	m->seq = ++seq;
	old = f->current;
	rcu_assign_pointer(f->current, m);
	urcu_bp_synchronize_rcu();
	ms_model_free(old);
}

static int target_gone(ms_feed *f)
{
	int status;

	if (!f->launched)
		return 0; /* the session's state tells (feed_main) */
	if (waitpid(f->pid, &status, WNOHANG) != f->pid)
		return 0;
	pthread_mutex_lock(&f->lock);
	f->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	f->exited = WIFEXITED(status);
	pthread_mutex_unlock(&f->lock);
	return 1;
}

/* Waits until the next tick, a poke or stop. Returns 0 to go on. */
static int wait_tick(ms_feed *f, double seconds)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)seconds;
	until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->lock);
	while (!f->stop && !f->refresh &&
	       pthread_cond_timedwait(&f->wake, &f->lock, &until) != ETIMEDOUT)
		;
	f->refresh = 0;
	stop = f->stop;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

static int record_frame(ms_recorder *rec, const ms_model *m)
{
	ms_thread_view *views = malloc((m->snap.nthreads ? m->snap.nthreads : 1) * sizeof(*views));
	int err;

	if (views == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->snap.nthreads; i++)
		views[i] = m->threads[i].v;
	err = ms_recorder_frame(rec, &m->snap, views, m->sites, m->nsites, m->exit_status);
	free(views);
	return err;
}

static void *feed_main(void *arg)
{
	ms_feed *f = arg;
	/* Symbols of an earlier image are kept: older models may still point
	 * into them. */
	ms_follow src = { .pid = f->pid, .skip = f->skip, .keep_old = 1 };
	ms_model_history history = { 0 };
	ms_model *last;
	int gone = 0, ending = 0;

	do {
		ms_event_batch events = { 0 };
		int paused, err;
		ms_model *m;

		if (!gone)
			gone = target_gone(f);
		follow(f, &src, &history);
		if (gone && src.reader.base == NULL) {
			/* It ended without a session we could read: nothing more
			 * will come. */
			pthread_mutex_lock(&f->lock);
			f->gone = 1;
			pthread_mutex_unlock(&f->lock);
			while (!wait_tick(f, 3600))
				;
			break;
		}
		pthread_mutex_lock(&f->lock);
		paused = f->paused;
		pthread_mutex_unlock(&f->lock);
		/* Paused, the screen keeps its model; a recording goes on. */
		if (src.reader.base == NULL || (paused && !gone && f->recorder == NULL))
			continue;
		/* Events first, then the snapshot: it has every call site they
		 * name. */
		if (f->events != NULL && f->recorder != NULL)
			events = ms_event_tap_take(f->events, gone);
		m = ms_model_build(&src.reader, src.symbols, &history, gone, &err);
		if (m == NULL) {
			ms_event_tap_return(f->events, &events);
			set_error(f, ms_reader_strerror(err));
			continue;
		}
		/* Reaped: its status says how it ended, whatever the segment
		 * says (an exit the hook did not see leaves it "running"). */
		if (gone && f->launched && (m->snap.state == MS_SESSION_RUNNING ||
					    m->snap.state == MS_SESSION_GONE))
			m->snap.state = f->exited ? MS_SESSION_EXITED : MS_SESSION_GONE;
		/* Attached: the session says when the process is gone (an exec'd
		 * image is followed to the next one instead). */
		if (!f->launched && (m->snap.state == MS_SESSION_EXITED ||
				     m->snap.state == MS_SESSION_GONE))
			gone = 1;
		/* Launched: its exit path ran; the status comes when we reap it,
		 * in a moment. */
		ending = f->launched && m->snap.state != MS_SESSION_RUNNING;
		pthread_mutex_lock(&f->lock);
		m->exit_status = f->exit_status;
		pthread_mutex_unlock(&f->lock);
		if (f->recorder != NULL) {
			err = record_frame(f->recorder, m);
			if (err == 0 && events.count > 0)
				err = ms_event_tap_record(f->events, f->recorder, &events);
			ms_event_batch_free(&events);
			if (err != 0) {
				pthread_mutex_lock(&f->lock);
				snprintf(f->record_error, sizeof(f->record_error),
					 "recording stopped: %s", strerror(-err));
				pthread_mutex_unlock(&f->lock);
				ms_recorder_close(f->recorder);
				f->recorder = NULL;
			}
		}
		if (paused && !gone) {
			ms_model_free(m);
			continue;
		}
		ms_feed_publish(f, m);
		if (gone) {
			pthread_mutex_lock(&f->lock);
			f->gone = 1;
			pthread_mutex_unlock(&f->lock);
			/* The last state stays on screen; nothing more will come. */
			while (!wait_tick(f, 3600))
				;
			break;
		}
		/* Until the session appears, and from its exit path to the
		 * exit, look often: the first screen should not wait a whole
		 * interval for a program that started a moment after we first
		 * looked, nor the last one for its status. */
	} while (!wait_tick(f, gone ? 0 :
			       src.reader.base == NULL || ending ? POLL_S : f->interval_s));

	ms_model_history_free(&history);
	/* Models point into the symbols: the last model goes first. */
	last = f->current;
	rcu_assign_pointer(f->current, NULL);
	urcu_bp_synchronize_rcu();
	ms_model_free(last);
	ms_follow_close(&src);
	return NULL;
}

int ms_feed_start(ms_feed *f, pid_t pid, int launched, double interval_s, const char *skip,
		  ms_recorder *recorder, struct ms_event_tap *events)
{
	memset(f, 0, sizeof(*f));
	f->skip = skip;
	f->recorder = recorder;
	f->events = events;
	f->pid = pid;
	f->launched = launched;
	f->interval_s = interval_s;
	f->exit_status = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	return -pthread_create(&f->thread, NULL, feed_main, f);
}

void ms_feed_stop(ms_feed *f)
{
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
}

ms_model *ms_feed_model(ms_feed *f)
{
	return rcu_dereference(f->current);
}

void ms_feed_set_paused(ms_feed *f, int paused)
{
	pthread_mutex_lock(&f->lock);
	f->paused = paused;
	pthread_mutex_unlock(&f->lock);
}

void ms_feed_poke(ms_feed *f)
{
	pthread_mutex_lock(&f->lock);
	f->refresh = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}
