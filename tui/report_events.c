/*
 * memscope-report --events: exact per-allocation figures from a recording's
 * event stream (memscope-top -w FILE --events). Every allocation is paired
 * with its free by address, in the program's own order, which gives each
 * block's lifetime; per call site: how many, how long they lived (min,
 * median, max), how many were temporary, how many are left.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/grow.h>

#include "frame.h"

/* A live block. */
struct block {
	uint64_t ptr, size, born_ms, seq;
	uint32_t stack;
	uint32_t thread; /* the slot that made it */
	int used;
};

/* Live blocks by address (open addressing, at most half full). */
struct live {
	struct block *slots;
	size_t cap, count;
};

struct site {
	uint64_t allocs, frees, temporary, live_allocs, live_bytes;
	uint64_t *lifetimes; /* ms, one per free */
	size_t nlifetimes, cap;
};

/* Per thread: the seq of the last block it made (for temporaries) and the
 * old block of a realloc in flight (settled by the thread's next event). */
struct thread {
	uint64_t last_seq;
	int has_last;
	struct block pending;
	uint64_t pending_free_ms;
	int has_pending;
};

/* Threads are followed up to this slot (slots come from the file). */
#define MAX_THREADS 65536u

struct analysis {
	struct live live;
	struct site *sites; /* by stack id; the last one for blocks without */
	size_t nsites;
	struct thread *threads;
	uint64_t allocs, frees, reallocs, unmatched, doubled, temporary;
	int failed;
};

static size_t hash_ptr(uint64_t p, size_t cap)
{
	p ^= p >> 33;
	p *= 0xff51afd7ed558ccdull;
	p ^= p >> 33;
	return (size_t)p & (cap - 1);
}

static struct block *live_find(struct live *l, uint64_t ptr)
{
	size_t i;

	for (i = hash_ptr(ptr, l->cap); l->slots[i].used; i = (i + 1) & (l->cap - 1))
		if (l->slots[i].ptr == ptr)
			return &l->slots[i];
	return &l->slots[i];
}

static int live_grow(struct live *l)
{
	struct live bigger = { calloc(l->cap * 2, sizeof(struct block)), l->cap * 2, l->count };

	if (bigger.slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < l->cap; i++)
		if (l->slots[i].used)
			*live_find(&bigger, l->slots[i].ptr) = l->slots[i];
	free(l->slots);
	*l = bigger;
	return 0;
}

/* Removes b, keeping every probe chain whole (backward shift). */
static void live_remove(struct live *l, struct block *b)
{
	size_t i = (size_t)(b - l->slots), j = i;

	l->slots[i].used = 0;
	l->count--;
	for (;;) {
		size_t home;

		j = (j + 1) & (l->cap - 1);
		if (!l->slots[j].used)
			return;
		home = hash_ptr(l->slots[j].ptr, l->cap);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			l->slots[i] = l->slots[j];
			l->slots[j].used = 0;
			i = j;
		}
	}
}

static struct site *site_of(struct analysis *a, uint32_t stack)
{
	return &a->sites[stack < a->nsites - 1 ? stack : a->nsites - 1];
}

static void add_lifetime(struct analysis *a, struct site *s, uint64_t us)
{
	if (s->nlifetimes == s->cap) {
		uint64_t *more = ms_grow(s->lifetimes, &s->cap, s->nlifetimes + 1, sizeof(*more), 16);

		if (more == NULL) {
			a->failed = 1;
			return;
		}
		s->lifetimes = more;
	}
	s->lifetimes[s->nlifetimes++] = us;
}

/* A block's end: its site's free and lifetime; a temporary when the thread
 * that made it made none since (heaptrack's definition, as the hook counts
 * them live: memscope/event.h). */
static void ended(struct analysis *a, const struct block *b, uint64_t at_ms)
{
	struct site *s = site_of(a, b->stack);
	const struct thread *t = b->thread < MAX_THREADS ? &a->threads[b->thread] : NULL;

	s->frees++;
	a->frees++;
	add_lifetime(a, s, at_ms >= b->born_ms ? at_ms - b->born_ms : 0);
	if (t != NULL && t->has_last && t->last_seq == b->seq) {
		s->temporary++;
		a->temporary++;
	}
}

static void made(struct analysis *a, const ms_rec_event *e)
{
	struct block *b;

	if (a->live.count + 1 > a->live.cap / 2 && live_grow(&a->live) != 0) {
		a->failed = 1;
		return;
	}
	b = live_find(&a->live, e->ptr);
	if (b->used) {
		/* Its free went by unseen (it cannot: the stream has every one);
		 * count it, and the new block replaces it. */
		a->doubled++;
		live_remove(&a->live, b);
		b = live_find(&a->live, e->ptr);
	}
	*b = (struct block){ e->ptr, e->size, e->time_ms, e->seq, e->stack, e->thread, 1 };
	a->live.count++;
	if (e->thread < MAX_THREADS) {
		a->threads[e->thread].last_seq = e->seq;
		a->threads[e->thread].has_last = 1;
	}
	site_of(a, e->stack)->allocs++;
	a->allocs++;
}

/* The old block of the thread's realloc in flight is settled: freed (the
 * realloc went through), or back (it failed). */
static void settle(struct analysis *a, struct thread *t, int failed)
{
	if (!t->has_pending)
		return;
	t->has_pending = 0;
	if (failed) {
		struct block *b = live_find(&a->live, t->pending.ptr);

		if (!b->used) {
			*b = t->pending;
			a->live.count++;
		}
		return;
	}
	ended(a, &t->pending, t->pending_free_ms);
}

static void apply(struct analysis *a, const ms_rec_event *e)
{
	struct thread *t = e->thread < MAX_THREADS ? &a->threads[e->thread] : NULL;
	struct block *b;

	if (t != NULL)
		settle(a, t, e->op == MS_STREAM_ALLOC && (e->flags & MS_STREAM_RESTORE));
	if (e->op == MS_STREAM_ALLOC && !(e->flags & MS_STREAM_RESTORE)) {
		made(a, e);
		if (e->flags & MS_STREAM_REALLOC)
			a->reallocs++;
	} else if (e->op == MS_STREAM_FREE) {
		b = live_find(&a->live, e->ptr);
		if (!b->used) {
			a->unmatched++;
		} else if ((e->flags & MS_STREAM_REALLOC) && t != NULL) {
			/* Counted when the realloc is known to have gone through. */
			t->pending = *b;
			t->pending_free_ms = e->time_ms;
			t->has_pending = 1;
			live_remove(&a->live, b);
		} else {
			ended(a, b, e->time_ms);
			live_remove(&a->live, b);
		}
	}
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int by_allocs(const void *x, const void *y, void *ctx)
{
	const struct site *s = ctx;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;

	if (s[a].allocs != s[b].allocs)
		return s[a].allocs > s[b].allocs ? -1 : 1;
	return a < b ? -1 : a > b;
}

static void print_ms(uint64_t ms)
{
	if (ms < 10000)
		printf(" %8" PRIu64 "ms", ms);
	else
		printf(" %8.1fs ", (double)ms / 1e3);
}

static void print_site(ms_recording *r, struct analysis *a, size_t id)
{
	struct site *s = &a->sites[id];
	ms_callsite cs = { 0 };

	printf("%10" PRIu64 " %10" PRIu64, s->allocs, s->temporary);
	if (s->nlifetimes > 0) {
		qsort(s->lifetimes, s->nlifetimes, sizeof(*s->lifetimes), cmp_u64);
		print_ms(s->lifetimes[0]);
		print_ms(s->lifetimes[s->nlifetimes / 2]);
		print_ms(s->lifetimes[s->nlifetimes - 1]);
	} else {
		printf(" %10s %10s %10s", "-", "-", "-");
	}
	printf(" %10" PRIu64 "  ", s->live_allocs);
	/* The last site holds the blocks without a stack (stack id 0 reads
	 * the same way). */
	if (id + 1 < a->nsites)
		ms_recording_stack(r, (uint32_t)id, &cs);
	ms_frame_print_site_name(stdout, &cs);
	putchar('\n');
}

int ms_report_events(ms_recording *r, long top)
{
	struct analysis a = { 0 };
	ms_rec_event *ev;
	size_t n, *order = NULL, nused = 0;
	uint64_t live_bytes = 0, session = 0;
	int err;

	if (ms_recording_event_count(r) == 0) {
		fprintf(stderr, "memscope-report: this recording has no event stream; record with "
			"memscope-top -w FILE --events -- COMMAND\n");
		return 1;
	}
	err = ms_recording_events(r, &ev, &n);
	if (err != 0) {
		fprintf(stderr, "memscope-report: cannot read the events: %s\n",
			ms_recording_strerror(err));
		return 1;
	}
	/* Stack ids are bounded by the dictionary (checked on reading). */
	for (size_t i = 0; i < n; i++)
		if (ev[i].stack != MS_REC_NO_STACK && ev[i].stack + 1u > a.nsites)
			a.nsites = ev[i].stack + 1u;
	a.nsites++; /* the last: blocks without a stack */
	a.sites = calloc(a.nsites, sizeof(*a.sites));
	a.threads = calloc(MAX_THREADS, sizeof(*a.threads));
	a.live.cap = 1024;
	a.live.slots = calloc(a.live.cap, sizeof(*a.live.slots));
	if (a.sites == NULL || a.threads == NULL || a.live.slots == NULL)
		a.failed = 1;
	for (size_t i = 0; i < n && !a.failed; i++) {
		if (ev[i].session != session) {
			/* A new image: what the old one held is its own. */
			fprintf(stderr, "memscope-report: events of later program images are "
				"left out\n");
			break;
		}
		apply(&a, &ev[i]);
	}
	for (uint32_t t = 0; t < MAX_THREADS && !a.failed; t++)
		settle(&a, &a.threads[t], 0);
	if (a.failed) {
		fprintf(stderr, "memscope-report: out of memory analysing %zu events\n", n);
		err = 1;
		goto out;
	}
	for (size_t i = 0; i < a.live.cap; i++) {
		const struct block *b = &a.live.slots[i];

		if (!b->used)
			continue;
		site_of(&a, b->stack)->live_allocs++;
		site_of(&a, b->stack)->live_bytes += b->size;
		live_bytes += b->size;
	}

	printf("events:       %zu, %.3f s of the program\n", n, n ? (double)ev[n - 1].time_ms / 1e3 : 0.0);
	printf("allocations:  %" PRIu64 " (%" PRIu64 " by realloc)\n", a.allocs, a.reallocs);
	printf("frees:        %" PRIu64 "\n", a.frees);
	printf("temporary:    %" PRIu64 " (freed before their thread's next allocation)\n",
	       a.temporary);
	printf("left live:    %zu blocks, %" PRIu64 " bytes\n", a.live.count, live_bytes);
	printf("unmatched:    %" PRIu64 " frees of blocks allocated before the hook\n", a.unmatched);
	if (a.doubled > 0)
		printf("anomalies:    %" PRIu64 " addresses allocated twice without a free\n",
		       a.doubled);

	order = malloc(a.nsites * sizeof(*order));
	if (order == NULL) {
		err = 1;
		goto out;
	}
	for (size_t i = 0; i < a.nsites; i++)
		if (a.sites[i].allocs > 0 || a.sites[i].frees > 0)
			order[nused++] = i;
	qsort_r(order, nused, sizeof(*order), by_allocs, a.sites);
	printf("\n%10s %10s %10s %10s %10s %10s  %s\n", "ALLOCS", "TEMPORARY", "MIN LIFE",
	       "MEDIAN", "MAX LIFE", "LEFT", "CALL SITE");
	for (size_t k = 0; k < nused && (top == 0 || k < (size_t)top); k++)
		print_site(r, &a, order[k]);
	err = 0;
out:
	for (size_t i = 0; a.sites != NULL && i < a.nsites; i++)
		free(a.sites[i].lifetimes);
	free(a.sites);
	free(a.threads);
	free(a.live.slots);
	free(order);
	free(ev);
	return err;
}
