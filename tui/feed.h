/*
 * The feed: a thread that takes a snapshot of the session every interval,
 * resolves it into a model and publishes it with rcu_assign_pointer. The
 * screen reads the current model under urcu_bp_read_lock and never waits
 * for the feed, however long a snapshot takes; a model replaced is freed
 * after a grace period.
 */
#ifndef MEMSCOPE_TUI_FEED_H
#define MEMSCOPE_TUI_FEED_H

#include <pthread.h>
#include <sys/types.h>

#include <memscope/recording.h>

#include "model.h"

struct ms_event_tap;

typedef struct ms_feed {
	pid_t pid;
	int launched;            /* pid is our child: the feed reaps it */
	double interval_s;
	const char *skip;        /* for the sessions' symbols */
	pthread_t thread;
	pthread_mutex_t lock;    /* guards the fields below */
	pthread_cond_t wake;
	int stop, paused, refresh;
	int gone;                /* the target is gone and the last model out */
	int exit_status;         /* a launched target's, once reaped; else -1 */
	int exited;              /* ... and it exited (was not killed) */
	char error[256];         /* the last problem reading the session */
	ms_model *current;       /* RCU-protected; read with ms_feed_model */
	ms_recorder *recorder;   /* -w: every model is recorded, paused or not */
	struct ms_event_tap *events; /* --events: recorded after each frame */
	char record_error[256];
	/* Replaying a recording instead (replay.c): */
	ms_recording *recording;
	size_t cursor;           /* the frame shown */
	int playing;
	double speed;            /* x0.25 to x16 */
	double seek_to;          /* seconds from the start; < 0: no request */
	long step;               /* frames to move; 0: none */
} ms_feed;

/* skip: the user's frames that are not call sites (memscope/skip.h). */
int ms_feed_start(ms_feed *f, pid_t pid, int launched, double interval_s, const char *skip,
		  ms_recorder *recorder, struct ms_event_tap *events);

/* Feeds the frames of a recording instead of a live session, from the
 * first, paused. The controls below move the cursor. */
int ms_feed_start_replay(ms_feed *f, ms_recording *rec);
void ms_feed_replay_seek(ms_feed *f, double seconds);
void ms_feed_replay_step(ms_feed *f, long frames);
void ms_feed_replay_play(ms_feed *f, int playing);
void ms_feed_replay_speed(ms_feed *f, double speed);

/* Internal to the feed's sources: replaces the current model. */
void ms_feed_publish(ms_feed *f, ms_model *m);
void ms_feed_stop(ms_feed *f);

/* The current model, or NULL. Call inside urcu_bp_read_lock(); the model
 * stays valid until the matching unlock. */
ms_model *ms_feed_model(ms_feed *f);

/* Pausing stops new models (the screen keeps the last one). */
void ms_feed_set_paused(ms_feed *f, int paused);
/* Take a snapshot now rather than at the next interval. */
void ms_feed_poke(ms_feed *f);

#endif
