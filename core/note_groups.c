/* Annotated blocks grouped by variable, type or scope (memscope/snapshot.h). */
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

int ms_note_groups(const ms_snapshot *s, ms_note_key by, ms_note_group **out)
{
	ms_note_group *g = calloc(s->nnotes ? s->nnotes : 1, sizeof(*g));
	double *life = malloc((s->nnotes ? s->nnotes : 1) * sizeof(*life));
	char *done = calloc(s->nnotes ? s->nnotes : 1, 1);
	size_t ng = 0;

	if (g == NULL || life == NULL || done == NULL) {
		free(g);
		free(life);
		free(done);
		return -ENOMEM;
	}
	/* Quadratic in the worst case, over at most the store's note slots;
	 * a group is gathered whole the first time its name is met. */
	for (size_t i = 0; i < s->nnotes; i++) {
		const char *name = key_of(&s->notes[i], by);
		ms_note_group *grp;
		size_t nlife = 0;

		if (done[i])
			continue;
		grp = &g[ng++];
		strcpy(grp->name, name);
		for (size_t j = i; j < s->nnotes; j++) {
			const ms_note_info *n = &s->notes[j];

			if (done[j] || strcmp(key_of(n, by), name) != 0)
				continue;
			done[j] = 1;
			grp->borrows += n->borrows;
			grp->lent += n->lent;
			if (n->live) {
				grp->live_bytes += n->size;
				grp->live_allocs++;
			} else {
				grp->ended++;
				life[nlife++] = n->lifetime_s;
			}
		}
		lifetimes(grp, life, nlife);
	}
	free(life);
	free(done);
	qsort(g, ng, sizeof(*g), by_live_then_name);
	*out = g;
	return (int)ng;
}
