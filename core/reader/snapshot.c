/*
 * The EventStore, reader side. The protocol is described at the top of
 * store.c. Every word read from the segment is read once into a local and
 * checked before use: the writer is another process that may be buggy,
 * hostile, or killed at any instruction.
 */
#define _GNU_SOURCE
#include <memscope/snapshot.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>
#include <memscope/python.h>

#include "core/shared/store_layout.h"

/* CPU% is taken over the newest samples spanning at least CPU_SPAN_S (the
 * newest is often only milliseconds old), and not at all over less than
 * CPU_MIN_SPAN_S: too short for the kernel's CPU clocks. In seconds. */
#define CPU_SPAN_S 0.09
#define CPU_MIN_SPAN_S 0.01

/* A section of count elements of elem bytes at off lies inside size. */
static int section_ok(uint64_t off, uint64_t count, uint64_t elem, uint64_t expected_elem,
		      uint64_t size)
{
	if (elem != expected_elem || count == 0 || off % 8 != 0 || off > size)
		return 0;
	if (count > (size - off) / elem)
		return 0;
	return 1;
}

static int validate(const struct ms_seg_header *h, size_t size)
{
	if (size < sizeof(*h))
		return MS_ERR_NOT_MEMSCOPE;
	if (memcmp(h->magic, MS_MAGIC, 8) != 0)
		return MS_ERR_NOT_MEMSCOPE;
	if (h->layout_version != MS_LAYOUT_VERSION)
		return MS_ERR_VERSION;
	if (h->header_size != sizeof(*h) || h->segment_size > size)
		return MS_ERR_CORRUPT;
	if (!section_ok(h->globals_off, 1, sizeof(struct ms_seg_globals),
			sizeof(struct ms_seg_globals), size) ||
	    !section_ok(h->cells_off, h->cell_count, h->cell_size, sizeof(struct ms_seg_cell),
			size) ||
	    !section_ok(h->threads_off, h->thread_count, h->thread_size,
			sizeof(struct ms_seg_thread), size) ||
	    !section_ok(h->timeline_off, (uint64_t)h->sample_count + 1, h->sample_size,
			sizeof(struct ms_seg_sample), size))
		return MS_ERR_CORRUPT;
	/* The timeline header is as large as one sample; counted above as +1. */
	_Static_assert(sizeof(struct ms_seg_timeline) <= sizeof(struct ms_seg_sample),
		       "timeline header fits the slot counted for it");
	if (!section_ok(h->stacks_off, h->stack_count, h->stack_size, sizeof(struct ms_seg_stack),
			size) ||
	    !section_ok(h->sites_off, h->stack_count, h->site_size, sizeof(struct ms_seg_site),
			size) ||
	    !section_ok(h->lives_off, h->stack_count, h->life_size, sizeof(struct ms_seg_life),
			size) ||
	    !section_ok(h->frames_off, h->frame_words, sizeof(uint64_t), sizeof(uint64_t), size) ||
	    !section_ok(h->modules_off, h->module_count, h->module_size,
			sizeof(struct ms_seg_module), size) ||
	    !section_ok(h->notes_off, h->note_count, h->note_size, sizeof(struct ms_seg_note),
			size) ||
	    !section_ok(h->names_off, h->name_count, h->name_size, sizeof(struct ms_seg_name),
			size))
		return MS_ERR_CORRUPT;
	if (h->cell_count > 4096 || h->thread_count > (1u << 20) || h->sample_count > (1u << 20) ||
	    h->stack_count > (1u << 24) || h->module_count > (1u << 16) ||
	    h->note_count != MS_SEG_NOTES || h->name_count != MS_SEG_NAMES)
		return MS_ERR_CORRUPT;
	return 0;
}

/* Copies the live header once and checks the copy: all offsets and counts
 * used afterwards come from the copy, so the writer cannot change them
 * between the check and the use. */
static int load_header(const ms_reader *r, struct ms_seg_header *copy)
{
	const struct ms_seg_header *live = r->base;

	if (r->size < sizeof(*copy))
		return MS_ERR_NOT_MEMSCOPE;
	if (ms_atomic_load_acquire_u32(&live->state) == MS_SEG_STARTING)
		return MS_ERR_STARTING;
	/* Word by word with atomic loads: a few header words (state,
	 * heartbeat) change while we copy. */
	MS_STATIC_ASSERT(sizeof(*copy) % sizeof(uint64_t) == 0, "header is whole words");
	for (size_t k = 0; k < sizeof(*copy) / sizeof(uint64_t); k++)
		((uint64_t *)copy)[k] = ms_atomic_load_relaxed((const uint64_t *)live + k);
	return validate(copy, r->size);
}

static int guarded_load_header(const ms_reader *r, struct ms_seg_header *copy);

/* Once per reader: the environment it depends on is the process's at
 * exec, and gone with it. */
static int python_own_allocator(const ms_reader *r, const struct ms_seg_header *h)
{
	ms_module_entry *mods;
	int n = ms_reader_modules(r, &mods), own;

	if (n < 0)
		return 0;
	own = ms_python_own_allocator(h->pid, h->proc_start_ticks, mods, (size_t)n);
	free(mods);
	return own;
}

int ms_reader_open(ms_reader *r, const char *path)
{
	int err;
	struct ms_seg_header copy;

	memset(r, 0, sizeof(*r));
	if (strlen(path) >= sizeof(r->path))
		return -ENAMETOOLONG;
	err = ms_shm_map_readonly(path, &r->base, &r->size);
	if (err != 0)
		return err;
	err = guarded_load_header(r, &copy);
	if (err != 0) {
		ms_shm_unmap(r->base, r->size);
		r->base = NULL;
		return err;
	}
	strcpy(r->path, path);
	r->python_pymalloc = python_own_allocator(r, &copy);
	return 0;
}

void ms_reader_close(ms_reader *r)
{
	ms_shm_unmap(r->base, r->size);
	r->base = NULL;
	r->size = 0;
}

const char *ms_reader_strerror(int err)
{
	switch (err) {
	case MS_ERR_NOT_MEMSCOPE:
		return "not a memscope session (bad magic)";
	case MS_ERR_VERSION:
		return "session layout version differs from this memscope-top's: use the "
		       "memscope-top built with the hook library the program runs under";
	case MS_ERR_CORRUPT:
		return "session segment is corrupt (offsets or sizes out of range)";
	case MS_ERR_STARTING:
		return "session is still being created; try again";
	case MS_ERR_TRUNCATED:
		return "session segment shrank while being read (its file was truncated): "
		       "it can no longer be trusted";
	case -EPERM:
		return "session segment belongs to another user; run memscope-top as that user";
	case -ENOENT:
		return "no such session";
	}
	return err < 0 ? strerror(-err) : "unknown error";
}

const char *ms_session_state_name(ms_session_state st)
{
	switch (st) {
	case MS_SESSION_RUNNING:
		return "running";
	case MS_SESSION_EXITED:
		return "exited";
	case MS_SESSION_EXECED:
		return "exec'd";
	case MS_SESSION_GONE:
		return "gone";
	}
	return "?";
}

/* Joins NUL-separated arguments with spaces; every other byte stays as
 * the program had it (JSON keeps a newline a newline; ms_format_command
 * makes it visible for people). Reads at most len bytes of src. */
static void copy_command(char *dst, size_t cap, const char *src, uint32_t len)
{
	size_t n = 0;

	if (len > MS_CMDLINE_MAX)
		len = MS_CMDLINE_MAX;
	for (uint32_t i = 0; i < len && n + 1 < cap; i++)
		dst[n++] = src[i] == '\0' ? ' ' : src[i];
	dst[n] = '\0';
}

static void copy_thread_name(char *dst, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < MS_THREAD_NAME_MAX; i++) {
		unsigned char c = (unsigned char)__atomic_load_n(&src[i], __ATOMIC_RELAXED);

		if (c == '\0')
			break;
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

static double seconds(uint64_t later, uint64_t earlier)
{
	return later > earlier ? (double)(later - earlier) / 1e9 : 0.0;
}

/* Copies the timeline under its seqcount (bounded retries). */
static int copy_timeline(const struct ms_seg_timeline *tl, const struct ms_seg_sample *src,
			 uint32_t cap, uint64_t start_mono, ms_snapshot *s)
{
	struct ms_seg_sample *raw = malloc((size_t)cap * sizeof(*raw));
	uint32_t count = 0;

	if (raw == NULL)
		return -ENOMEM;
	/* The sampler holds the timeline's seqcount for microseconds; a few
	 * yields outlast a preemption, and a dead sampler only costs these. */
	for (int tries = 0; tries < 64; tries++) {
		uint32_t s1 = ms_atomic_load_acquire_u32(&tl->seq);

		count = ms_atomic_load_relaxed_u32(&tl->count);
		if (count > cap)
			count = cap;
		for (uint32_t i = 0; i < count; i++) {
			const uint64_t *w = (const uint64_t *)&src[i];
			uint64_t *d = (uint64_t *)&raw[i];

			for (size_t k = 0; k < sizeof(*raw) / 8; k++)
				d[k] = ms_atomic_load_relaxed(&w[k]);
		}
		ms_atomic_fence_acquire();
		if (s1 == ms_atomic_load_relaxed_u32(&tl->seq) && (s1 & 1) == 0)
			break;
		if (tries == 63)
			s->torn = 1;
		else
			sched_yield();
	}
	s->samples = count ? calloc(count, sizeof(*s->samples)) : NULL;
	if (count && s->samples == NULL) {
		free(raw);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) {
		ms_sample *d = &s->samples[i];

		d->time_s = seconds(raw[i].mono_ns, start_mono);
		d->live_bytes = raw[i].live_bytes;
		d->live_allocs = raw[i].live_allocs;
		d->total_allocs = raw[i].total_allocs;
		d->total_frees = raw[i].total_frees;
		d->total_bytes = raw[i].total_bytes;
		d->rss_bytes = raw[i].rss_bytes;
		d->cpu_ns = raw[i].cpu_ns;
		d->threads = raw[i].threads;
		d->own_cpu_ns = raw[i].own_cpu_ns;
		d->mmap_bytes = raw[i].mmap_bytes;
	}
	s->nsamples = count;
	free(raw);
	return 0;
}

static int copy_threads(const struct ms_seg_header *h, const struct ms_seg_globals *g,
			const struct ms_seg_thread *slots, ms_snapshot *s)
{
	uint32_t cap = h->thread_count;
	uint32_t used = ms_atomic_load_relaxed_u32(&g->threads_used);
	uint32_t n = used < cap ? used : cap;

	s->threads = n ? calloc(n, sizeof(*s->threads)) : NULL;
	if (n && s->threads == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct ms_seg_thread *t = &slots[i];
		ms_thread_info *d = &s->threads[s->nthreads];
		uint32_t state = ms_atomic_load_acquire_u32(&t->state);
		uint64_t freed, freed_bytes;

		if (state != MS_THREAD_RUNNING && state != MS_THREAD_EXITED)
			continue; /* claimed but not yet published */
		d->tid = __atomic_load_n(&t->tid, __ATOMIC_RELAXED);
		copy_thread_name(d->name, t->name);
		d->exited = state == MS_THREAD_EXITED;
		/* Frees before allocations: a block's free is counted after its
		 * allocation, so this order never shows more freed than made. */
		d->frees = ms_atomic_load_relaxed(&t->frees);
		d->free_bytes = ms_atomic_load_relaxed(&t->free_bytes);
		freed = ms_atomic_load_relaxed(&t->remote_freed);
		freed_bytes = ms_atomic_load_relaxed(&t->remote_freed_bytes);
		freed += ms_atomic_load_relaxed(&t->self_freed);
		freed_bytes += ms_atomic_load_relaxed(&t->self_freed_bytes);
		ms_atomic_fence_acquire();
		d->allocs = ms_atomic_load_relaxed(&t->allocs);
		d->alloc_bytes = ms_atomic_load_relaxed(&t->alloc_bytes);
		/* Clamped: a hostile segment may claim more freed than made. */
		d->live_allocs = d->allocs > freed ? d->allocs - freed : 0;
		d->live_bytes = d->alloc_bytes > freed_bytes ? d->alloc_bytes - freed_bytes : 0;
		s->nthreads++;
	}
	return 0;
}

/* A call site's lifetimes in seconds (see ms_site_info). */
static void site_lifetimes(const struct ms_seg_life *l, uint64_t per_s, ms_site_info *d)
{
	uint64_t lo = ms_atomic_load_relaxed(&l->min_plus1);
	uint64_t hi = ms_atomic_load_relaxed(&l->max_plus1);
	uint64_t count = 0, seen = 0, hist[MS_LIFE_BUCKETS];
	double mid = 0;

	d->life_min_s = d->life_median_s = d->life_max_s = -1;
	if (per_s == 0 || lo == 0 || hi < lo)
		return;
	for (unsigned b = 0; b < MS_LIFE_BUCKETS; b++)
		count += hist[b] = ms_atomic_load_relaxed(&l->hist[b]);
	if (count == 0)
		return;
	for (unsigned b = 0; b < MS_LIFE_BUCKETS; b++) {
		seen += hist[b];
		if (2 * seen >= count) {
			/* The bucket [2^b, 2^(b+1)) by its geometric middle. */
			mid = (double)(1ull << b) * 1.41421356;
			break;
		}
	}
	if (mid < (double)(lo - 1))
		mid = (double)(lo - 1);
	if (mid > (double)(hi - 1))
		mid = (double)(hi - 1);
	d->life_min_s = (double)(lo - 1) / (double)per_s;
	d->life_median_s = mid / (double)per_s;
	d->life_max_s = (double)(hi - 1) / (double)per_s;
}

static int copy_sites(const struct ms_seg_header *h, const struct ms_seg_globals *g,
		      const struct ms_seg_site *sites, const struct ms_seg_life *lives,
		      ms_snapshot *s)
{
	uint64_t per_s = ms_atomic_load_relaxed(&g->time_per_s);
	uint32_t used = ms_atomic_load_relaxed_u32(&g->stacks_used);
	uint32_t n = used < h->stack_count ? used : h->stack_count;

	/* Room for all at once: no growing (and copying) as they come. */
	s->sites = malloc((n ? n : 1) * sizeof(*s->sites));
	if (s->sites == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct ms_seg_site *site = &sites[i];
		ms_site_info d = { .stack = i };

		/* Frees before allocations, as for threads. */
		d.frees = ms_atomic_load_relaxed(&site->frees);
		d.free_bytes = ms_atomic_load_relaxed(&site->free_bytes);
		d.peak_bytes = ms_atomic_load_relaxed(&site->peak_bytes);
		d.temporary_allocs = ms_atomic_load_relaxed(&site->temporary);
		d.kind = ms_atomic_load_acquire_u32(&site->kind) == MS_SEG_SITE_MMAP ? MS_SITE_MMAP
										     : MS_SITE_HEAP;
		ms_atomic_fence_acquire();
		d.allocs = ms_atomic_load_relaxed(&site->allocs);
		d.alloc_bytes = ms_atomic_load_relaxed(&site->alloc_bytes);
		if (d.allocs == 0)
			continue;
		d.live_allocs = d.allocs > d.frees ? d.allocs - d.frees : 0;
		d.live_bytes = d.alloc_bytes > d.free_bytes ? d.alloc_bytes - d.free_bytes : 0;
		/* The old figures are the last scan's (once a second): blocks
		 * freed since are no longer old, nor live. */
		for (unsigned a = 0; a < MS_STORE_AGES; a++) {
			d.old_bytes[a] = ms_atomic_load_relaxed(&site->old_bytes[a]);
			d.old_allocs[a] = ms_atomic_load_relaxed(&site->old_allocs[a]);
			if (d.old_bytes[a] > d.live_bytes)
				d.old_bytes[a] = d.live_bytes;
			if (d.old_allocs[a] > d.live_allocs)
				d.old_allocs[a] = d.live_allocs;
		}
		if (d.peak_bytes < d.live_bytes)
			d.peak_bytes = d.live_bytes;
		site_lifetimes(&lives[i], per_s, &d);
		s->sites[s->nsites++] = d;
	}
	return 0;
}

/* Copies one name, printable and terminated. */
static void copy_name(char *dst, size_t cap, const char *src, size_t max)
{
	size_t n = 0;

	for (; n + 1 < cap && n < max; n++) {
		char ch = src[n]; /* written once, before names_used was raised */

		if (ch == '\0')
			break;
		dst[n] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
	}
	dst[n] = '\0';
}

/* The names and the notes (memscope.h). A note whose writer holds it too
 * long (or died holding it) is left out. */
static int copy_notes(const struct ms_seg_header *h, const struct ms_seg_globals *g,
		      const char *base, uint64_t start, uint64_t now, ms_snapshot *s)
{
	uint32_t nnames = ms_atomic_load_acquire_u32(&g->names_used);
	uint32_t used = ms_atomic_load_acquire_u32(&g->notes_used);
	const struct ms_seg_name *names = (const void *)(base + h->names_off);
	const struct ms_seg_note *notes = (const void *)(base + h->notes_off);
	char (*text)[48];

	if (nnames > h->name_count)
		nnames = h->name_count;
	if (used > h->note_count)
		used = h->note_count;
	if (used == 0)
		return 0;
	text = calloc((size_t)nnames + 1, sizeof(*text)); /* id 0: no name */
	s->notes = malloc(used * sizeof(*s->notes));
	if (text == NULL || s->notes == NULL) {
		free(text);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nnames; i++)
		copy_name(text[i + 1], sizeof(text[i + 1]), names[i].text, MS_NAME_MAX);
	/* One budget of retries for all notes: a writer that died holding
	 * some cannot make each cost its own wait. */
	int budget = 10000;

	for (uint32_t i = 0; i < used; i++) {
		const struct ms_seg_note *e = &notes[i];
		uint32_t state = MS_NOTE_FREE, var = 0, type = 0, scope = 0;
		uint64_t tracked = 0, ended = 0;
		ms_note_info d = { 0 };
		int whole = 0;

		for (; budget > 0 && !whole; budget--) {
			uint32_t s1 = ms_atomic_load_acquire_u32(&e->seq);

			state = ms_atomic_load_relaxed_u32(&e->state);
			d.ptr = ms_atomic_load_relaxed(&e->ptr);
			d.size = ms_atomic_load_relaxed(&e->size);
			tracked = ms_atomic_load_relaxed(&e->tracked_mono_ns);
			ended = ms_atomic_load_relaxed(&e->ended_mono_ns);
			var = ms_atomic_load_relaxed_u32(&e->var);
			type = ms_atomic_load_relaxed_u32(&e->type);
			scope = ms_atomic_load_relaxed_u32(&e->scope);
			d.stack = ms_atomic_load_relaxed_u32(&e->stack);
			d.borrows = ms_atomic_load_relaxed_u32(&e->borrows);
			d.lent = ms_atomic_load_relaxed_u32(&e->lent);
			ms_atomic_fence_acquire();
			whole = (s1 & 1) == 0 && s1 == ms_atomic_load_relaxed_u32(&e->seq);
			if (!whole)
				ms_cpu_relax();
		}
		if (!whole || (state != MS_NOTE_LIVE && state != MS_NOTE_ENDED))
			continue;
		strcpy(d.var, text[var <= nnames ? var : 0]);
		strcpy(d.type, text[type <= nnames ? type : 0]);
		strcpy(d.scope, text[scope <= nnames ? scope : 0]);
		d.live = state == MS_NOTE_LIVE;
		d.tracked_s = seconds(tracked, start);
		d.lifetime_s = seconds(d.live ? now : ended, tracked);
		s->notes[s->nnotes++] = d;
	}
	free(text);
	return 0;
}

/* The process's CPU time between two samples, split into the program's
 * and memscope's threads', in percent of one core. The segment is
 * untrusted: figures that went backwards count as no time. */
static void cpu_split(const ms_sample *prev, const ms_sample *last, ms_snapshot *s)
{
	double dt = last->time_s - prev->time_s;
	uint64_t all = last->cpu_ns >= prev->cpu_ns ? last->cpu_ns - prev->cpu_ns : 0;
	uint64_t own = last->own_cpu_ns >= prev->own_cpu_ns ?
		last->own_cpu_ns - prev->own_cpu_ns : 0;

	/* Read a moment apart, our threads' time may run a little ahead. */
	if (own > all)
		own = all;
	s->cpu_percent = (double)(all - own) / 1e9 / dt * 100.0;
	s->memscope_cpu_percent = (double)own / 1e9 / dt * 100.0;
}

static int snapshot_take(const ms_reader *r, ms_snapshot *s)
{
	const struct ms_seg_header *live = r->base;
	struct ms_seg_header copy, *h = &copy;
	const char *base = r->base;
	const struct ms_seg_globals *g;
	const struct ms_seg_timeline *tl;
	struct ms_seg_totals tot;
	uint64_t now = ms_clock_mono_ns(), start, end, beat, peak_ns;
	uint64_t start_ticks;
	uint32_t state;
	int err;

	memset(s, 0, sizeof(*s));
	err = load_header(r, &copy);
	if (err != 0)
		return err;
	g = (const void *)(base + h->globals_off);
	tl = (const void *)(base + h->timeline_off);

	s->pid = h->pid;
	s->ppid = h->ppid;
	s->keeper_pid = h->keeper_pid <= 0x7fffffff ? (pid_t)h->keeper_pid : 0;
	s->generation = h->generation;
	copy_command(s->command, sizeof(s->command), h->cmdline, h->cmdline_len);
	s->start_real_ns = h->start_real_ns;
	start = h->start_mono_ns;
	start_ticks = h->proc_start_ticks;

	state = ms_atomic_load_acquire_u32(&live->state);
	end = ms_atomic_load_relaxed(&live->end_mono_ns);
	beat = ms_atomic_load_acquire(&live->heartbeat_mono_ns);
	if (state == MS_SEG_EXITED) {
		s->state = MS_SESSION_EXITED;
	} else if (state == MS_SEG_EXECED) {
		s->state = MS_SESSION_EXECED;
	} else if (ms_proc_alive(s->pid, start_ticks)) {
		s->state = MS_SESSION_RUNNING;
		end = now;
	} else {
		s->state = MS_SESSION_GONE;
		end = beat; /* the last sign of life */
	}
	s->time_s = seconds(end, start);

	ms_seg_sum_cells((const void *)(base + h->cells_off), h->cell_count, &tot);
	s->torn = tot.torn;
	s->python_pymalloc = r->python_pymalloc;
	s->total_allocs = tot.allocs;
	s->total_frees = tot.frees;
	s->total_reallocs = tot.reallocs;
	s->temporary_allocs = tot.temporary;
	s->total_bytes = tot.alloc_bytes;
	s->live_allocs = tot.allocs >= tot.frees ? tot.allocs - tot.frees : 0;
	s->live_bytes = tot.alloc_bytes >= tot.free_bytes ? tot.alloc_bytes - tot.free_bytes : 0;

	ms_seg_read_peak(g, &s->peak_bytes, &peak_ns);
	s->peak_time_s = seconds(peak_ns, start);
	/* Cells are read one after another, so their sum can exceed any live
	 * figure the process really had, by the few operations in flight; keep
	 * the invariant peak >= live visible to users. */
	if (s->live_bytes > s->peak_bytes) {
		s->peak_bytes = s->live_bytes;
		s->peak_time_s = s->time_s;
	}
	s->dropped_events = ms_atomic_load_relaxed(&g->dropped_events);
	s->untracked_frees = ms_atomic_load_relaxed(&g->untracked_frees);
	s->moves = ms_atomic_load_relaxed(&g->moves);
	s->borrows = ms_atomic_load_relaxed(&g->borrows);
	s->returns = ms_atomic_load_relaxed(&g->returns);
	s->threads_overflowed = ms_atomic_load_relaxed(&g->threads_overflowed);
	s->mmap_live_bytes = ms_atomic_load_relaxed(&g->mmap_live_bytes);
	s->mmap_peak_bytes = ms_atomic_load_relaxed(&g->mmap_peak_bytes);
	s->mmap_total_maps = ms_atomic_load_relaxed(&g->mmap_maps);
	if (s->mmap_peak_bytes < s->mmap_live_bytes)
		s->mmap_peak_bytes = s->mmap_live_bytes;
	{
		static const uint32_t ages[MS_STORE_AGES] = MS_STORE_AGE_TICKS;
		uint32_t now = ms_atomic_load_relaxed_u32(&g->ticks);
		uint32_t scan = ms_atomic_load_acquire_u32(&g->scan_ticks);

		s->ages_scanned = scan != 0;
		s->ages_scan_age_s = scan != 0 && now >= scan ?
			(double)(now - scan) * (double)MS_STORE_TICK_NS / 1e9 : 0;
		for (unsigned a = 0; a < MS_STORE_AGES; a++)
			s->age_s[a] = (double)ages[a] * (double)MS_STORE_TICK_NS / 1e9;
	}

	err = copy_threads(h, g, (const void *)(base + h->threads_off), s);
	if (err == 0)
		err = copy_sites(h, g, (const void *)(base + h->sites_off),
				 (const void *)(base + h->lives_off), s);
	if (err == 0)
		err = copy_timeline(tl, (const struct ms_seg_sample *)(tl + 1), h->sample_count,
				    start, s);
	if (err == 0)
		err = copy_notes(h, g, base, start, end, s);
	if (err != 0) {
		ms_snapshot_release(s);
		return err;
	}
	if (s->nsamples > 0) {
		const ms_sample *last = &s->samples[s->nsamples - 1], *prev = &s->samples[0];

		s->rss_bytes = last->rss_bytes;
		s->thread_count = last->threads;
		/* CPU% over the last full interval (CPU_SPAN_S). */
		for (size_t i = s->nsamples - 1; i-- > 0;) {
			if (last->time_s - s->samples[i].time_s >= CPU_SPAN_S) {
				prev = &s->samples[i];
				break;
			}
		}
		if (last->time_s - prev->time_s >= CPU_MIN_SPAN_S)
			cpu_split(prev, last, s);
	}
	/* A process that is gone has no running threads, whatever their slots
	 * said when it stopped. */
	if (s->state != MS_SESSION_RUNNING)
		for (size_t i = 0; i < s->nthreads; i++)
			s->threads[i].exited = 1;
	return 0;
}

void ms_snapshot_release(ms_snapshot *s)
{
	free(s->threads);
	free(s->samples);
	free(s->sites);
	free(s->notes);
	s->notes = NULL;
	s->nnotes = 0;
	s->threads = NULL;
	s->samples = NULL;
	s->sites = NULL;
	s->nthreads = 0;
	s->nsamples = 0;
	s->nsites = 0;
}

static int reader_stack(const ms_reader *r, uint32_t id, uint64_t *frames, uint32_t max,
			uint32_t *epoch)
{
	struct ms_seg_header h;
	const struct ms_seg_stack *e;
	const uint64_t *words;
	uint64_t off;
	uint32_t depth;
	int err = load_header(r, &h);

	if (err != 0)
		return err;
	if (id == 0 || id >= h.stack_count)
		return 0;
	e = (const struct ms_seg_stack *)((const char *)r->base + h.stacks_off) + id;
	depth = ms_atomic_load_acquire_u32(&e->depth);
	off = ms_atomic_load_relaxed(&e->frames_off);
	*epoch = ms_atomic_load_relaxed_u32(&e->module_epoch);
	if (depth == 0)
		return 0;
	if (off > h.frame_words || depth > h.frame_words - off)
		return MS_ERR_CORRUPT;
	if (depth > max)
		depth = max;
	words = (const uint64_t *)((const char *)r->base + h.frames_off) + off;
	for (uint32_t i = 0; i < depth; i++)
		frames[i] = ms_atomic_load_relaxed(&words[i]);
	return (int)depth;
}

static int reader_modules(const ms_reader *r, ms_module_entry **out)
{
	struct ms_seg_header h;
	const struct ms_seg_module *m;
	const struct ms_seg_globals *g;
	uint32_t n;
	int err = load_header(r, &h);

	*out = NULL;
	if (err != 0)
		return err;
	g = (const void *)((const char *)r->base + h.globals_off);
	m = (const void *)((const char *)r->base + h.modules_off);
	n = ms_atomic_load_acquire_u32(&g->modules_used);
	if (n > h.module_count)
		n = h.module_count;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		ms_module_entry *d = &(*out)[i];
		size_t k;

		d->base = m[i].base;
		d->lo = m[i].lo;
		d->hi = m[i].hi;
		d->load_epoch = m[i].load_epoch;
		d->unload_epoch = ms_atomic_load_acquire_u32(&m[i].unload_epoch);
		for (k = 0; k + 1 < sizeof(d->path) && k < MS_MODULE_PATH_MAX && m[i].path[k]; k++)
			d->path[k] = m[i].path[k];
		d->path[k] = '\0';
	}
	return (int)n;
}

/*
 * A segment can shrink under a reader: its owner may truncate the file, and
 * touching a mapped page past the new end raises SIGBUS. So every read of a
 * segment runs guarded: a SIGBUS in that thread, during that read, makes it
 * return MS_ERR_TRUNCATED instead. The handler is installed once per
 * process, on the first read, and hands any other SIGBUS to the handler
 * that was there before it (or to the default action).
 */
static __thread __attribute__((tls_model("initial-exec"))) sigjmp_buf *guard;
static struct sigaction before;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	sigjmp_buf *jump = guard;

	if (jump != NULL) {
		guard = NULL;
		siglongjmp(*jump, 1);
	}
	if ((before.sa_flags & SA_SIGINFO) && before.sa_sigaction != NULL) {
		before.sa_sigaction(sig, info, context);
	} else if (!(before.sa_flags & SA_SIGINFO) && before.sa_handler != SIG_DFL &&
		   before.sa_handler != SIG_IGN) {
		before.sa_handler(sig);
	} else {
		/* A fault cannot be ignored: it would only come back. */
		signal(SIGBUS, SIG_DFL);
		raise(SIGBUS);
	}
}

static void install_guard(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &before);
}

/* Runs read(r, out) guarded: a SIGBUS during it ends it, undo(out) (if
 * any) frees what it had made, and MS_ERR_TRUNCATED is returned. */
static int guarded(const ms_reader *r, int (*read)(const ms_reader *r, void *out), void *out,
		   void (*undo)(void *out))
{
	sigjmp_buf jump;
	int err;

	pthread_once(&guard_once, install_guard);
	if (sigsetjmp(jump, 1) != 0) {
		if (undo != NULL)
			undo(out);
		return MS_ERR_TRUNCATED;
	}
	guard = &jump;
	err = read(r, out);
	guard = NULL;
	return err;
}

static int take_read(const ms_reader *r, void *out)
{
	return snapshot_take(r, out);
}

static void take_undo(void *out)
{
	ms_snapshot_release(out);
}

int ms_snapshot_take(const ms_reader *r, ms_snapshot *s)
{
	return guarded(r, take_read, s, take_undo);
}

struct stack_read {
	uint32_t id, max;
	uint64_t *frames;
	uint32_t *epoch;
};

static int stack_read(const ms_reader *r, void *out)
{
	struct stack_read *a = out;

	return reader_stack(r, a->id, a->frames, a->max, a->epoch);
}

int ms_reader_stack(const ms_reader *r, uint32_t id, uint64_t *frames, uint32_t max,
		    uint32_t *epoch)
{
	struct stack_read a = { .id = id, .max = max, .frames = frames, .epoch = epoch };

	return guarded(r, stack_read, &a, NULL);
}

static int modules_read(const ms_reader *r, void *out)
{
	return reader_modules(r, out);
}

static void modules_undo(void *out)
{
	ms_module_entry **m = out;

	free(*m);
	*m = NULL;
}

int ms_reader_modules(const ms_reader *r, ms_module_entry **out)
{
	*out = NULL;
	return guarded(r, modules_read, out, modules_undo);
}

static int header_read(const ms_reader *r, void *out)
{
	return load_header(r, out);
}

static int guarded_load_header(const ms_reader *r, struct ms_seg_header *copy)
{
	return guarded(r, header_read, copy, NULL);
}
