/* Seqcount readers shared by the sampler (store.c) and readers (snapshot.c).
 * The protocol is described at the top of store.c. */
#include <string.h>

#include <memscope/atomic.h>

#include "store_layout.h"

/* Retries before a seqcount is taken as abandoned by a dead writer. A live
 * writer holds a cell for a few dozen instructions. */
#define SEQ_TRIES 4096

void ms_seg_sum_cells(const struct ms_seg_cell *cells, uint32_t count, struct ms_seg_totals *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < count; i++) {
		const struct ms_seg_cell *c = &cells[i];
		uint64_t allocs, frees, reallocs, abytes, fbytes;
		uint32_t s1, s2;
		int tries = 0;

		for (;;) {
			s1 = ms_atomic_load_acquire_u32(&c->seq);
			allocs = ms_atomic_load_relaxed(&c->allocs);
			frees = ms_atomic_load_relaxed(&c->frees);
			reallocs = ms_atomic_load_relaxed(&c->reallocs);
			abytes = ms_atomic_load_relaxed(&c->alloc_bytes);
			fbytes = ms_atomic_load_relaxed(&c->free_bytes);
			ms_atomic_fence_acquire();
			s2 = ms_atomic_load_relaxed_u32(&c->seq);
			if (s1 == s2 && (s1 & 1) == 0)
				break;
			if (++tries == SEQ_TRIES) {
				out->torn = 1;
				break;
			}
			ms_cpu_relax();
		}
		out->allocs += allocs;
		out->frees += frees;
		out->reallocs += reallocs;
		out->alloc_bytes += abytes;
		out->free_bytes += fbytes;
	}
}

void ms_seg_read_peak(const struct ms_seg_globals *g, uint64_t *bytes, uint64_t *mono_ns)
{
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		uint32_t s1 = ms_atomic_load_acquire_u32(&g->peak_seq);

		*bytes = ms_atomic_load_relaxed(&g->peak_bytes);
		*mono_ns = ms_atomic_load_relaxed(&g->peak_mono_ns);
		ms_atomic_fence_acquire();
		if (s1 == ms_atomic_load_relaxed_u32(&g->peak_seq) && (s1 & 1) == 0)
			return;
		ms_cpu_relax();
	}
}
