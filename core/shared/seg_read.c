/* Seqcount readers shared by the sampler (store.c) and readers (snapshot.c).
 * The protocol is described at the top of store.c. */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>

#include "core/shared/store_layout.h"

/*
 * How long a reader waits for a seqcount to turn even. A live writer holds a
 * cell for a few dozen instructions, but it can be preempted there for a
 * whole time slice; a writer that died mid-update never finishes. So a
 * reader spins briefly, then yields until a deadline shared by the whole
 * read, after which every still-odd seqcount is read as it is (and
 * flagged): a dead writer costs a snapshot at most this long, once.
 */
#define SPIN_TRIES 256
#define PATIENCE_NS (100 * 1000 * 1000ULL)

struct patience {
	uint64_t deadline; /* 0 until the first wait */
	int expired;
};

/* Called after a failed try; returns 0 to try again, 1 to give up. */
static int wait_more(struct patience *p, int tries)
{
	uint64_t now;

	if (tries < SPIN_TRIES) {
		ms_cpu_relax();
		return 0;
	}
	if (p->expired)
		return 1;
	now = ms_clock_mono_ns();
	if (p->deadline == 0)
		p->deadline = now + PATIENCE_NS;
	if (now >= p->deadline) {
		p->expired = 1;
		return 1;
	}
	sched_yield();
	return 0;
}

void ms_seg_sum_cells(const struct ms_seg_cell *cells, uint32_t count, struct ms_seg_totals *out)
{
	struct patience patience = { 0, 0 };

	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < count; i++) {
		const struct ms_seg_cell *c = &cells[i];
		uint64_t allocs, frees, reallocs, abytes, fbytes, temporary;
		int tries = 0;

		for (;;) {
			uint32_t ended = ms_atomic_load_acquire_u32(&c->ended);

			allocs = ms_atomic_load_relaxed(&c->allocs);
			frees = ms_atomic_load_relaxed(&c->frees);
			reallocs = ms_atomic_load_relaxed(&c->reallocs);
			abytes = ms_atomic_load_relaxed(&c->alloc_bytes);
			fbytes = ms_atomic_load_relaxed(&c->free_bytes);
			temporary = ms_atomic_load_relaxed(&c->temporary);
			ms_atomic_fence_acquire();
			if (ms_atomic_load_relaxed_u32(&c->begun) == ended)
				break;
			if (wait_more(&patience, tries++)) {
				out->torn = 1;
				break;
			}
		}
		out->allocs += allocs;
		out->frees += frees;
		out->reallocs += reallocs;
		out->alloc_bytes += abytes;
		out->free_bytes += fbytes;
		out->temporary += temporary;
	}
}

void ms_seg_read_peak(const struct ms_seg_globals *g, uint64_t *bytes, uint64_t *mono_ns)
{
	struct patience patience = { 0, 0 };

	for (int tries = 0;; tries++) {
		uint32_t s1 = ms_atomic_load_acquire_u32(&g->peak_seq);

		*bytes = ms_atomic_load_relaxed(&g->peak_bytes);
		*mono_ns = ms_atomic_load_relaxed(&g->peak_mono_ns);
		ms_atomic_fence_acquire();
		if (s1 == ms_atomic_load_relaxed_u32(&g->peak_seq) && (s1 & 1) == 0)
			return;
		if (wait_more(&patience, tries))
			return;
	}
}
