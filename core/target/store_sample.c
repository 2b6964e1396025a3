/*
 * The sampler's work on the store, from memscope's own thread in the
 * program: the timeline, the clock's rate, the leak scan, thread names.
 * Never on the hook path; no malloc.
 */
#define _GNU_SOURCE
#include <memscope/atomic.h>
#include <memscope/own_threads.h>
#include <memscope/platform.h>

#include "store_private.h"

/* The sampler, every tick: clears the births rings' words two windows
 * ahead of now in every call site, before any block is born in them. */
static void clear_births_ahead(ms_store *st)
{
	uint64_t now = ms_store_time();
	unsigned fine = (unsigned)((fine_window(now) + 2) % MS_BIRTH_FINE);
	unsigned coarse = (unsigned)((coarse_window(now) + 2) % MS_BIRTH_COARSE);
	uint32_t n = ms_store_stack_count(st);

	for (uint32_t i = 0; i < n; i++) {
		struct ms_seg_births *b = births_of(st, i);

		ms_atomic_store_relaxed(&b->fine[fine], 0);
		ms_atomic_store_relaxed(&b->coarse[coarse], 0);
	}
}

/* Of a call site's live blocks, the bytes and blocks born from the window
 * that holds now - age up to now: those younger than age, and the rest of
 * that first window (at most one window older). */
static void young_sums(const uint64_t *ring, unsigned n, unsigned shift, uint64_t now,
		       uint64_t age, uint64_t *bytes, uint64_t *blocks)
{
	uint64_t last = (now & MS_BLOCK_BORN_MASK) >> shift;
	uint64_t first = ((now - age) & MS_BLOCK_BORN_MASK) >> shift;
	uint64_t span = (last - first) & (MS_BLOCK_BORN_MASK >> shift);
	uint64_t sum = 0;

	if (span > n - 3)
		span = n - 3;
	for (uint64_t k = 0; k <= span; k++)
		sum += ms_atomic_load_relaxed(&ring[(last - k) % n]);
	*bytes = sum >> MS_BIRTH_COUNT_BITS;
	*blocks = sum & ((1ull << MS_BIRTH_COUNT_BITS) - 1);
}

void ms_store_scan_ages(ms_store *st)
{
	static const uint32_t age_ticks[MS_STORE_AGES] = MS_STORE_AGE_TICKS;
	struct ms_seg_globals *g = globals(st);
	uint64_t per_s = ms_store_time_per_s(st), now = ms_store_time();
	uint32_t n = ms_store_stack_count(st), t;

	if (per_s == 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct ms_seg_births *b = births_of(st, i);
		struct ms_seg_site *site = site_of(st, i);
		uint64_t frees = ms_atomic_load_relaxed(&site->frees);
		uint64_t live = ms_atomic_load_relaxed(&site->live_bytes);
		uint64_t allocs = ms_atomic_load_relaxed(&site->allocs);
		uint64_t blocks = allocs > frees ? allocs - frees : 0;

		if ((int64_t)live < 0)
			live = 0;
		/* Mappings have no births rings: the leak view is the heap's. */
		if (ms_atomic_load_acquire_u32(&site->kind) == MS_SEG_SITE_MMAP)
			continue;
		for (unsigned a = 0; a < MS_STORE_AGES; a++) {
			uint64_t age = (uint64_t)((unsigned __int128)per_s * age_ticks[a] *
						  MS_STORE_TICK_NS / 1000000000u);
			uint64_t young_bytes, young_blocks;

			/* The fine ring for the ages it spans, the coarse one
			 * beyond. */
			if ((age >> MS_BIRTH_FINE_SHIFT) + 3 <= MS_BIRTH_FINE)
				young_sums(b->fine, MS_BIRTH_FINE, MS_BIRTH_FINE_SHIFT, now, age,
					   &young_bytes, &young_blocks);
			else
				young_sums(b->coarse, MS_BIRTH_COARSE, MS_BIRTH_COARSE_SHIFT, now,
					   age, &young_bytes, &young_blocks);
			ms_atomic_store_relaxed(&site->old_bytes[a],
						live > young_bytes ? live - young_bytes : 0);
			ms_atomic_store_relaxed(&site->old_allocs[a],
						blocks > young_blocks ? blocks - young_blocks : 0);
		}
	}
	/* 0 means "never": a scan in the first tick says 1. */
	t = ms_atomic_load_relaxed_u32(&g->ticks);
	ms_atomic_store_release_u32(&g->scan_ticks, t ? t : 1);
}

uint64_t ms_store_time_per_s(const ms_store *st)
{
	return ms_atomic_load_relaxed(&globals(st)->time_per_s);
}

/* Readers copy samples concurrently (and retry on a seqcount change), so
 * each word is stored atomically. */
static void put_sample(struct ms_seg_sample *dst, const struct ms_seg_sample *src)
{
	const uint64_t *from = (const uint64_t *)src;
	uint64_t *to = (uint64_t *)dst;

	for (size_t k = 0; k < sizeof(*src) / sizeof(uint64_t); k++)
		ms_atomic_store_relaxed(&to[k], from[k]);
}

/* Drops every other sample and doubles the interval. Inside the seqcount. */
static void timeline_compact(struct ms_seg_timeline *tl, struct ms_seg_sample *s)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < tl->count; i += 2) {
		struct ms_seg_sample keep = s[i];

		put_sample(&s[kept++], &keep);
	}
	ms_atomic_store_relaxed_u32(&tl->count, kept);
	tl->interval_ns *= 2;
}

/* Store time units a second, measured against the monotonic clock since
 * the start. Past a millisecond the two clocks' reading jitter (tens of ns)
 * weighs less than 1e-4; a program that ends sooner gets a rougher figure
 * rather than none. From 2 s on the figure stays as it is (exact to a few
 * ppm): readers and recordings then see lifetimes that do not wobble with
 * the clock's slewing. */
static void calibrate(ms_store *st, uint64_t mono_ns)
{
	uint64_t units = ms_store_time() - st->start_time, ns = mono_ns - st->start_time_mono_ns;

	if (st->calibrated)
		return;
	st->calibrated = ns >= 2000000000u;
	if (units == 0)
		return;
	if (ns >= 1000000u || (ns >= 10000u && globals(st)->time_per_s == 0)) {
		ms_atomic_store_relaxed(&globals(st)->time_per_s,
					(uint64_t)((unsigned __int128)units * 1000000000u / ns));
		__atomic_store_n(&st->ns_per_unit_q32,
				 (uint64_t)(((unsigned __int128)ns << 32) / units), __ATOMIC_RELAXED);
	}
}

/* The clocks first, together, so CPU% is not skewed by our own work
 * below; our threads' time right after, microseconds later, which is all
 * the program's and our share can be off by in an interval. */
static void read_clocks(struct ms_seg_sample *now)
{
	ms_clock_process_cpu_fresh(&now->cpu_ns, &now->mono_ns);
	now->own_cpu_ns = ms_own_threads_cpu_ns();
}

/* Thread names are read from /proc every this many samples (each is a
 * file read a thread): names change rarely. */
#define NAMES_EVERY 5

void ms_store_sample(ms_store *st)
{
	struct ms_seg_header *h = header(st);
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_timeline *tl = timeline(st);
	struct ms_seg_sample *s = samples(st), now = { 0 };
	static unsigned calls; /* one sampler thread */
	struct ms_seg_totals tot;

	read_clocks(&now);
	calibrate(st, now.mono_ns);
	ms_seg_sum_cells(cell_at(st, 0), MS_SEG_CELLS, &tot);
	now.live_bytes = tot.alloc_bytes - tot.free_bytes;
	now.live_allocs = tot.allocs - tot.frees;
	now.total_allocs = tot.allocs;
	now.total_frees = tot.frees;
	now.total_bytes = tot.alloc_bytes;
	now.mmap_bytes = ms_atomic_load_relaxed(&g->mmap_live_bytes);
	ms_proc_rss(0, &now.rss_bytes);
	if (ms_proc_thread_count(0, &now.threads) == 0) {
		uint32_t own = ms_own_thread_count();

		now.threads = now.threads > own ? now.threads - own : 0;
	}

	/* Samples are one interval apart, except the last, which always holds
	 * the latest figures: it is overwritten until it lies an interval (less
	 * a tenth for timer jitter) after the one before it. */
	ms_atomic_store_relaxed_u32(&tl->seq, tl->seq + 1);
	ms_atomic_fence_release();
	if (tl->count >= 2 &&
	    s[tl->count - 1].mono_ns - s[tl->count - 2].mono_ns < tl->interval_ns / 10 * 9) {
		put_sample(&s[tl->count - 1], &now);
	} else {
		if (tl->count == MS_SEG_SAMPLES)
			timeline_compact(tl, s);
		put_sample(&s[tl->count], &now);
		ms_atomic_store_relaxed_u32(&tl->count, tl->count + 1);
	}
	ms_atomic_store_release_u32(&tl->seq, tl->seq + 1);

	clear_births_ahead(st);
	ms_atomic_store_release(&h->heartbeat_mono_ns, now.mono_ns);
	ms_atomic_store_relaxed_u32(&g->ticks,
				    (uint32_t)((now.mono_ns - h->start_mono_ns) / MS_STORE_TICK_NS));

	if (calls++ % NAMES_EVERY == 0) {
		uint32_t used = ms_atomic_load_relaxed_u32(&g->threads_used);

		for (uint32_t i = 0; i < used && i < MS_SEG_THREADS - 1; i++) {
			struct ms_seg_thread *t = thread_at(st, i);
			char name[MS_THREAD_NAME_MAX];

			if (ms_atomic_load_acquire_u32(&t->state) != MS_THREAD_RUNNING)
				continue;
			if (ms_thread_name(0, t->tid, name, sizeof(name)) == 0)
				store_copy_name(t->name, name);
		}
	}
}
