/*
 * The program's anonymous private mappings, for the mmap figures: which
 * call site mapped each range, so that an unmap (whole, partial, or a hole
 * punched in the middle) and a remap give each page back to the site that
 * mapped it.
 *
 * A sorted array of disjoint ranges, in pages of its own (no malloc), under
 * one lock held across the system call, so that no other thread's mmap is
 * handed an address between the kernel's change and the table's. mmap and
 * munmap are system calls that take the kernel's own per-process lock; ours
 * costs tens of nanoseconds beside their microseconds.
 *
 * A range remembers its mapping (origin), so that a mapping cut in two ends
 * once, when its last piece goes: only a range that may have other pieces
 * (split: a hole was punched in it, or part of it moved by mremap) has to
 * look for them, with one pass over the table.
 *
 * Runs: the hook path (the program's threads, under the hook's busy flag).
 */
#define _GNU_SOURCE
#include <memscope/maps.h>

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include <memscope/platform.h>

/* Ranges the first table holds (a page's worth); it doubles as needed. */
#define FIRST_CAP (4096 / sizeof(struct range))

struct range {
	uint64_t start, end; /* [start, end), whole pages */
	uint64_t origin;     /* the mapping it is (a piece of) */
	uint32_t stack;
	uint32_t split; /* cut in two once: other pieces may live */
};

struct ms_maps {
	pthread_mutex_t lock;
	struct range *v;
	size_t n, cap;
	uint64_t next_origin;
};

struct ms_maps *ms_maps_new(void)
{
	struct ms_maps *m = ms_pages_alloc(sizeof(*m));

	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void ms_maps_free(struct ms_maps *m)
{
	if (m == NULL)
		return;
	if (m->v != NULL)
		ms_pages_free(m->v, m->cap * sizeof(*m->v));
	ms_pages_free(m, sizeof(*m));
}

/* Room for `more` ranges beyond n: 0, or -1 when no memory is to be had. */
static int reserve(struct ms_maps *m, size_t more)
{
	size_t cap = m->cap ? m->cap : FIRST_CAP;
	struct range *v;

	if (m->n + more <= m->cap)
		return 0;
	while (cap < m->n + more)
		cap *= 2;
	v = ms_pages_alloc(cap * sizeof(*v));
	if (v == NULL)
		return -1;
	if (m->v != NULL) {
		memcpy(v, m->v, m->n * sizeof(*v));
		ms_pages_free(m->v, m->cap * sizeof(*v));
	}
	m->v = v;
	m->cap = cap;
	return 0;
}

/* The first range that ends after addr. */
static size_t first_after(const struct ms_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void insert_at(struct ms_maps *m, size_t i, const struct range *r)
{
	memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
	m->v[i] = *r;
	m->n++;
}

static void remove_at(struct ms_maps *m, size_t i)
{
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
	m->n--;
}

/* Whether a piece of origin other than the one at skip is in the table. */
static int other_piece(const struct ms_maps *m, uint64_t origin, size_t skip)
{
	for (size_t i = 0; i < m->n; i++)
		if (i != skip && m->v[i].origin == origin)
			return 1;
	return 0;
}

/* What cut found of the ranges it took out. */
struct taken {
	uint64_t bytes;
	uint32_t stack;
	uint64_t origin;
	int found;
};

/*
 * Takes [lo, hi) out of the table. count: the bytes leave their sites, and
 * a mapping whose last piece went ends (an unmap); else they are only
 * noted in *taken (a remap moves them). Returns -1 when a range cut in two
 * found no room for its second half (the table is left as it was).
 */
static int cut(struct ms_maps *m, ms_store *st, uint64_t lo, uint64_t hi, int count,
	       struct taken *taken)
{
	size_t i = first_after(m, lo);

	while (i < m->n && m->v[i].start < hi) {
		struct range *r = &m->v[i];
		uint64_t from = r->start > lo ? r->start : lo, to = r->end < hi ? r->end : hi;
		int ended = 0;

		if (taken != NULL && !taken->found) {
			taken->found = 1;
			taken->stack = r->stack;
			taken->origin = r->origin;
		}
		if (r->start < from && to < r->end) {
			/* A hole in the middle: two pieces of one mapping. */
			struct range tail = *r;

			if (reserve(m, 1) != 0)
				return -1;
			r = &m->v[i];
			tail.start = to;
			tail.split = 1;
			r->end = from;
			r->split = 1;
			insert_at(m, i + 1, &tail);
			i += 2;
		} else if (r->start < from) {
			r->end = from;
			r->split |= !count; /* the part taken lives on elsewhere */
			i++;
		} else if (to < r->end) {
			r->start = to;
			r->split |= !count;
			i++;
		} else {
			ended = !r->split || !other_piece(m, r->origin, i);
			if (count)
				ms_store_count_unmap(st, r->stack, to - from, ended);
			if (taken != NULL)
				taken->bytes += to - from;
			remove_at(m, i);
			continue;
		}
		if (count)
			ms_store_count_unmap(st, m->v[i - 1].stack, to - from, 0);
		if (taken != NULL)
			taken->bytes += to - from;
	}
	return 0;
}

/* Puts [start, start + len) of stack's mapping origin in the table (split:
 * other pieces of it may live); -1 when there is no room. */
static int put(struct ms_maps *m, uint64_t start, uint64_t len, uint32_t stack, uint64_t origin,
	       uint32_t split)
{
	struct range r = { start, start + len, origin, stack, split };

	if (reserve(m, 1) != 0)
		return -1;
	insert_at(m, first_after(m, start), &r);
	return 0;
}

void *ms_maps_map(struct ms_maps *m, ms_store *st, uint64_t len, int counted, uint32_t stack,
		  void *(*real)(void *ctx), void *ctx)
{
	void *p;

	pthread_mutex_lock(&m->lock);
	p = real(ctx);
	if (p != MAP_FAILED) {
		uint64_t at = (uint64_t)(uintptr_t)p;

		/* A MAP_FIXED mapping replaces what was there. */
		if (cut(m, st, at, at + len, 1, NULL) != 0)
			ms_store_count_dropped(st);
		if (counted) {
			if (put(m, at, len, stack, ++m->next_origin, 0) == 0)
				ms_store_count_map(st, stack, len, 1);
			else
				ms_store_count_dropped(st);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return p;
}

int ms_maps_unmap(struct ms_maps *m, ms_store *st, uint64_t addr, uint64_t len,
		  int (*real)(void *ctx), void *ctx)
{
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = real(ctx);
	if (rc == 0 && cut(m, st, addr, addr + len, 1, NULL) != 0)
		ms_store_count_dropped(st);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void *ms_maps_remap(struct ms_maps *m, ms_store *st, uint64_t old, uint64_t old_len,
		    uint64_t new_len, void *(*real)(void *ctx), void *ctx)
{
	struct taken taken = { 0 };
	void *p;
	uint64_t at;

	pthread_mutex_lock(&m->lock);
	p = real(ctx);
	if (p == MAP_FAILED)
		goto out;
	at = (uint64_t)(uintptr_t)p;
	if (cut(m, st, old, old + old_len, 0, &taken) != 0 ||
	    cut(m, st, at, at + new_len, 1, NULL) != 0) {
		ms_store_count_dropped(st);
		goto out;
	}
	if (!taken.found)
		goto out; /* not a mapping we count (a file's, say) */
	/* Part of a mapping may move, the rest staying: split. */
	if (put(m, at, new_len, taken.stack, taken.origin, 1) != 0) {
		/* Gone from the table: the whole mapping counts as unmapped. */
		ms_store_count_unmap(st, taken.stack, taken.bytes,
				     !other_piece(m, taken.origin, (size_t)-1));
		ms_store_count_dropped(st);
	} else if (new_len > taken.bytes) {
		ms_store_count_map(st, taken.stack, new_len - taken.bytes, 0);
	} else if (new_len < taken.bytes) {
		ms_store_count_unmap(st, taken.stack, taken.bytes - new_len, 0);
	}
out:
	pthread_mutex_unlock(&m->lock);
	return p;
}
