#define _GNU_SOURCE
#include "model.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/platform.h>

void ms_model_free(ms_model *m)
{
	if (m == NULL)
		return;
	ms_snapshot_release(&m->snap);
	free(m->sites);
	free(m->threads);
	free(m);
}

void ms_model_history_free(ms_model_history *h)
{
	free(h->threads);
	memset(h, 0, sizeof(*h));
}

static double per_second(uint64_t now, uint64_t before, double dt)
{
	return dt > 0 && now >= before ? (double)(now - before) / dt : 0.0;
}

ms_thread_view *ms_thread_views(const ms_snapshot *s, ms_model_history *h, double *alloc_rate,
				double *free_rate)
{
	double dt = s->time_s - h->time_s;
	ms_thread_view *views = calloc(s->nthreads ? s->nthreads : 1, sizeof(*views));
	ms_thread_mark *next = calloc(s->nthreads ? s->nthreads : 1, sizeof(*next));

	if (views == NULL || next == NULL) {
		free(views);
		free(next);
		return NULL;
	}
	for (size_t i = 0; i < s->nthreads; i++) {
		const ms_thread_info *t = &s->threads[i];
		ms_thread_view *v = &views[i];
		uint64_t cpu = 0;
		char state = 'X';

		if (!t->exited && s->state == MS_SESSION_RUNNING && t->tid > 0 &&
		    ms_proc_thread_stat(s->pid, t->tid, &state, &cpu) != 0)
			state = 'X';
		v->state = t->exited ? 'X' : state;
		for (size_t k = 0; k < h->nthreads; k++) {
			if (h->threads[k].tid != t->tid)
				continue;
			v->allocs_per_s = per_second(t->allocs, h->threads[k].allocs, dt);
			v->frees_per_s = per_second(t->frees, h->threads[k].frees, dt);
			if (cpu != 0)
				v->cpu_percent = per_second(cpu, h->threads[k].cpu_ns, dt) / 1e7;
			break;
		}
		next[i] = (ms_thread_mark){ t->tid, t->allocs, t->frees, cpu };
	}
	*alloc_rate = per_second(s->total_allocs, h->allocs, dt);
	*free_rate = per_second(s->total_frees, h->frees, dt);
	free(h->threads);
	h->threads = next;
	h->nthreads = s->nthreads;
	h->time_s = s->time_s;
	h->allocs = s->total_allocs;
	h->frees = s->total_frees;
	return views;
}

static int fill_threads(ms_model *m, ms_model_history *h)
{
	const ms_snapshot *s = &m->snap;
	ms_thread_view *views = ms_thread_views(s, h, &m->alloc_rate, &m->free_rate);

	m->threads = calloc(s->nthreads ? s->nthreads : 1, sizeof(*m->threads));
	if (views == NULL || m->threads == NULL) {
		free(views);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->nthreads; i++)
		m->threads[i] = (ms_thread_row){ &s->threads[i], views[i] };
	free(views);
	return 0;
}

/* How long the last model may wait for the names of its call sites. */
#define LAST_MODEL_NAMES_NS (30 * 1000 * 1000 * 1000ULL)

ms_model *ms_model_build(const ms_reader *r, ms_symbols *sym, ms_model_history *h, int last,
			 int *err)
{
	ms_model *m = calloc(1, sizeof(*m));
	int n;

	if (m == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	m->exit_status = -1;
	*err = ms_snapshot_take(r, &m->snap);
	if (*err != 0) {
		free(m);
		return NULL;
	}
	/* Every stack whole: the screen may open any, a recording keeps all. */
	n = ms_symbols_sorted_callsites(sym, r, &m->snap, SIZE_MAX, last ? LAST_MODEL_NAMES_NS : 0,
					&m->sites);
	if (n < 0 || (*err = fill_threads(m, h)) != 0) {
		*err = n < 0 ? n : *err;
		ms_model_free(m);
		return NULL;
	}
	m->nsites = (size_t)n;
	return m;
}
