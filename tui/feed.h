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

#include "model.h"

typedef struct ms_feed {
	pid_t pid;
	int launched;            /* pid is our child: the feed reaps it */
	double interval_s;
	pthread_t thread;
	pthread_mutex_t lock;    /* guards the fields below */
	pthread_cond_t wake;
	int stop, paused, refresh;
	int gone;                /* the target is gone and the last model out */
	int exit_status;         /* a launched target's, once reaped; else -1 */
	char error[256];         /* the last problem reading the session */
	ms_model *current;       /* RCU-protected; read with ms_feed_model */
} ms_feed;

int ms_feed_start(ms_feed *f, pid_t pid, int launched, double interval_s);
void ms_feed_stop(ms_feed *f);

/* The current model, or NULL. Call inside urcu_bp_read_lock(); the model
 * stays valid until the matching unlock. */
ms_model *ms_feed_model(ms_feed *f);

/* Pausing stops new models (the screen keeps the last one). */
void ms_feed_set_paused(ms_feed *f, int paused);
/* Take a snapshot now rather than at the next interval. */
void ms_feed_poke(ms_feed *f);

#endif
