/* Annotated blocks grouped by variable, type or scope (memscope/snapshot.h). */
#define _GNU_SOURCE
#include <memscope/snapshot.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *ms_note_key_name(ms_note_key by)
{
	return by == MS_NOTE_BY_TYPE ? "type" : by == MS_NOTE_BY_SCOPE ? "scope" : "var";
}

static const char *key_of(const ms_note_info *n, ms_note_key by)
{
	return by == MS_NOTE_BY_TYPE ? n->type : by == MS_NOTE_BY_SCOPE ? n->scope : n->var;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int by_live_then_name(const void *a, const void *b)
{
	const ms_note_group *x = a, *y = b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Fills g's lifetime figures from the ended blocks' lifetimes. */
static void lifetimes(ms_note_group *g, double *life, size_t n)
{
	g->life_min_s = g->life_median_s = g->life_max_s = -1;
	if (n == 0)
		return;
	qsort(life, n, sizeof(*life), by_double);
	g->life_min_s = life[0];
	g->life_max_s = life[n - 1];
	g->life_median_s = n % 2 ? life[n / 2] : (life[n / 2 - 1] + life[n / 2]) / 2;
}

/* The notes in order of one name, for grouping in one pass. */
static int by_name(const void *a, const void *b, void *key)
{
	const ms_note_info *x = *(const ms_note_info *const *)a;
	const ms_note_info *y = *(const ms_note_info *const *)b;
	ms_note_key by = *(const ms_note_key *)key;

	return strcmp(key_of(x, by), key_of(y, by));
}

int ms_note_groups(const ms_snapshot *s, ms_note_key by, ms_note_group **out)
{
	size_t n = s->nnotes ? s->nnotes : 1, ng = 0;
	ms_note_group *g = calloc(n, sizeof(*g));
	const ms_note_info **order = malloc(n * sizeof(*order));
	double *life = malloc(n * sizeof(*life));

	if (g == NULL || order == NULL || life == NULL) {
		free(g);
		free(order);
		free(life);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->nnotes; i++)
		order[i] = &s->notes[i];
	qsort_r(order, s->nnotes, sizeof(*order), by_name, &by);
	for (size_t i = 0; i < s->nnotes;) {
		ms_note_group *grp = &g[ng++];
		const char *name = key_of(order[i], by);
		size_t nlife = 0;

		strcpy(grp->name, name);
		for (; i < s->nnotes && strcmp(key_of(order[i], by), name) == 0; i++) {
			const ms_note_info *note = order[i];

			grp->borrows += note->borrows;
			grp->lent += note->lent;
			if (note->live) {
				grp->live_bytes += note->size;
				grp->live_allocs++;
			} else {
				grp->ended++;
				life[nlife++] = note->lifetime_s;
			}
		}
		lifetimes(grp, life, nlife);
	}
	free(order);
	free(life);
	qsort(g, ng, sizeof(*g), by_live_then_name);
	*out = g;
	return (int)ng;
}
