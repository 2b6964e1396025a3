/*
 * Replay: the feed's other source. A thread turns the frame at the cursor
 * into a model, as the live feed does with a snapshot, so every view shows
 * the recording as it showed the program. Playing moves the cursor along
 * the recording's own clock, at a chosen speed.
 */
#define _GNU_SOURCE
#include "feed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/pointer.h>

#define TICK_S 0.05

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ms_model *build(ms_recording *r, size_t i, int *err)
{
	ms_model *m = calloc(1, sizeof(*m));
	ms_replay f;
	const ms_snapshot *s;

	if (m == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = ms_recording_load(r, i, &f);
	if (*err != 0) {
		free(m);
		return NULL;
	}
	m->snap = f.snap;
	m->sites = f.sites;
	m->nsites = f.nsites;
	m->exit_status = f.exit_status;
	s = &m->snap;
	m->threads = calloc(s->nthreads ? s->nthreads : 1, sizeof(*m->threads));
	if (m->threads == NULL) {
		free(f.views);
		ms_model_free(m);
		*err = -ENOMEM;
		return NULL;
	}
	/* The threads as the screen showed them when recording. The process's
	 * rates come from the last two frames. */
	for (size_t k = 0; k < s->nthreads; k++) {
		m->threads[k].info = &s->threads[k];
		m->threads[k].v = f.views[k];
	}
	free(f.views);
	if (s->nsamples >= 2) {
		const ms_sample *a = &s->samples[s->nsamples - 2], *b = &s->samples[s->nsamples - 1];
		double dt = b->time_s - a->time_s;

		if (dt > 0 && b->total_allocs >= a->total_allocs && b->total_frees >= a->total_frees) {
			m->alloc_rate = (double)(b->total_allocs - a->total_allocs) / dt;
			m->free_rate = (double)(b->total_frees - a->total_frees) / dt;
		}
	}
	return m;
}

static void *replay_main(void *arg)
{
	ms_feed *f = arg;
	ms_recording *r = f->recording;
	size_t last = ms_recording_count(r) - 1, shown = (size_t)-1;
	double play_from_wall = 0, play_from_time = 0, speed = 0;
	int was_playing = 0;
	ms_model *old;

	for (;;) {
		size_t cursor;
		int stop, playing, err;

		pthread_mutex_lock(&f->lock);
		stop = f->stop;
		if (f->seek_to >= 0) {
			f->cursor = ms_recording_frame_at(r, f->seek_to);
			f->seek_to = -1;
			was_playing = 0; /* restart the play clock from here */
		}
		if (f->step != 0) {
			long to = (long)f->cursor + f->step;

			f->cursor = to < 0 ? 0 : (size_t)to > last ? last : (size_t)to;
			f->step = 0;
			was_playing = 0;
		}
		if (f->playing) {
			if (!was_playing || f->speed != speed) {
				play_from_wall = now_s();
				play_from_time = ms_recording_time(r, f->cursor);
			}
			f->cursor = ms_recording_frame_at(r, play_from_time + (now_s() - play_from_wall) * f->speed);
			if (f->cursor == last)
				f->playing = 0;
		}
		was_playing = f->playing;
		speed = f->speed;
		cursor = f->cursor;
		playing = f->playing;
		pthread_mutex_unlock(&f->lock);
		if (stop)
			break;
		if (cursor != shown) {
			ms_model *m = build(r, cursor, &err);

			if (m != NULL) {
				ms_feed_publish(f, m);
				shown = cursor;
			} else {
				pthread_mutex_lock(&f->lock);
				snprintf(f->error, sizeof(f->error), "frame %zu: %s", cursor,
					 ms_recording_strerror(err));
				pthread_mutex_unlock(&f->lock);
			}
		}
		/* Idle until a control, or the next tick while playing. */
		{
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += playing ? (long)(TICK_S * 1e9) : 0;
			until.tv_sec += playing ? 0 : 3600;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_mutex_lock(&f->lock);
			if (!f->stop && !f->refresh)
				pthread_cond_timedwait(&f->wake, &f->lock, &until);
			f->refresh = 0;
			pthread_mutex_unlock(&f->lock);
		}
	}
	old = f->current;
	rcu_assign_pointer(f->current, NULL);
	urcu_bp_synchronize_rcu();
	ms_model_free(old);
	return NULL;
}

int ms_feed_start_replay(ms_feed *f, ms_recording *rec)
{
	memset(f, 0, sizeof(*f));
	f->recording = rec;
	f->exit_status = -1;
	f->speed = 1;
	f->seek_to = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	return -pthread_create(&f->thread, NULL, replay_main, f);
}

static void control(ms_feed *f)
{
	f->refresh = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

void ms_feed_replay_seek(ms_feed *f, double seconds)
{
	pthread_mutex_lock(&f->lock);
	f->seek_to = seconds < 0 ? 0 : seconds;
	control(f);
}

void ms_feed_replay_step(ms_feed *f, long frames)
{
	pthread_mutex_lock(&f->lock);
	f->step += frames;
	control(f);
}

void ms_feed_replay_play(ms_feed *f, int playing)
{
	pthread_mutex_lock(&f->lock);
	f->playing = playing;
	control(f);
}

void ms_feed_replay_speed(ms_feed *f, double speed)
{
	pthread_mutex_lock(&f->lock);
	f->speed = speed < 0.25 ? 0.25 : speed > 16 ? 16 : speed;
	control(f);
}
