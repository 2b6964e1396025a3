/* What one screen shows: a snapshot, its call sites resolved, and the
 * per-thread figures only the live process has (state, CPU%, rates). */
#ifndef MEMSCOPE_TUI_MODEL_H
#define MEMSCOPE_TUI_MODEL_H

#include <urcu/urcu-bp.h>

#include <memscope/recording.h>
#include <memscope/snapshot.h>
#include <memscope/symbols.h>

typedef struct ms_thread_row {
	const ms_thread_info *info; /* in the model's snapshot */
	ms_thread_view v;           /* state and CPU from /proc, rates */
} ms_thread_row;

typedef struct ms_model {
	ms_snapshot snap;
	ms_callsite *sites;    /* in stack id order: the views sort */
	size_t nsites;
	ms_thread_row *threads; /* one per snap.threads[i] */
	double alloc_rate, free_rate; /* whole process, per second */
	int exit_status;       /* of a launched target that exited; else -1 */
	unsigned long seq;     /* counts models, to tell a new one */
	struct rcu_head rcu;
} ms_model;

/* The figures a model needs from the one before it (for rates). */
typedef struct ms_thread_mark {
	pid_t tid;
	uint64_t allocs, frees, cpu_ns;
} ms_thread_mark;

typedef struct ms_model_history {
	double time_s;
	uint64_t allocs, frees;
	size_t nthreads;
	ms_thread_mark *threads;
} ms_model_history;

/* The threads' views (one per s->threads; malloc'ed) and the process's
 * rates, against the history, which then becomes this snapshot's. NULL
 * when out of memory. */
ms_thread_view *ms_thread_views(const ms_snapshot *s, ms_model_history *h, double *alloc_rate,
				double *free_rate);

/* Builds a model from reader r, its call sites with what sym knows of
 * their frames now; last: the program is gone, wait for the names. Returns
 * NULL on failure (the error is in *err). */
ms_model *ms_model_build(const ms_reader *r, ms_symbols *sym, ms_model_history *h, int last,
			 int *err);
void ms_model_free(ms_model *m);
void ms_model_history_free(ms_model_history *h);

#endif
