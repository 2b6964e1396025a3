/*
 * The store's accounting: what every allocation and free changes in the
 * segment (store.c: "Ordering guarantees"). Runs on the hook path (and on
 * a backend's drain): no malloc, no lock but the peak's.
 */
#define _GNU_SOURCE
#include <sched.h>

#include <memscope/atomic.h>
#include <memscope/event.h>
#include <memscope/platform.h>

#include "store_private.h"

/* Brackets an update of a cell (see ms_seg_cell): plain stores for the one
 * writer a lock admits, atomic adds for shared cells. The release fence
 * keeps the raised begun ahead of the counters' stores. */
static void cell_begin(const ms_store *st, struct ms_seg_cell *c)
{
	if (st->shared_cells)
		__atomic_add_fetch(&c->begun, 1, __ATOMIC_RELAXED);
	else
		ms_atomic_store_relaxed_u32(&c->begun, c->begun + 1);
	ms_atomic_fence_release();
}

static void cell_end(const ms_store *st, struct ms_seg_cell *c)
{
	if (st->shared_cells)
		__atomic_add_fetch(&c->ended, 1, __ATOMIC_RELEASE);
	else
		ms_atomic_store_release_u32(&c->ended, c->ended + 1);
}

/* Adds to a cell's counter, inside cell_begin/cell_end. */
static void cell_add(const ms_store *st, uint64_t *p, uint64_t v)
{
	if (st->shared_cells)
		ms_atomic_add_relaxed(p, v);
	else
		ms_atomic_store_relaxed(p, ms_atomic_load_relaxed(p) + v);
}

/* Single-writer counter bump: no locked instruction needed. */
static void bump(uint64_t *p, uint64_t v)
{
	ms_atomic_store_relaxed(p, ms_atomic_load_relaxed(p) + v);
}

/* Whether counters shared by all threads take plain stores now: a single
 * writer (ms_store.single_writer) or solo mode (ms_store_solo_start). */
static int plain_writes(const ms_store *st)
{
	return st->single_writer || __atomic_load_n(&st->solo, __ATOMIC_RELAXED);
}

/* Adds to a counter that every thread may change: an atomic add, or a
 * plain one when plain_writes says so. Returns the new value. */
static uint64_t shared_add(const ms_store *st, uint64_t *p, uint64_t v)
{
	if (plain_writes(st)) {
		bump(p, v);
		return ms_atomic_load_relaxed(p);
	}
	return ms_atomic_add_relaxed(p, v);
}

/* Spins on the peak's lock before a thread yields its processor. */
#define PEAK_SPINS 64

/* A store time (units) on the monotonic clock, once the sampler has
 * measured the units' rate (before, the clock is read): a program whose
 * heap keeps growing raises the peak at nearly every allocation, and a
 * clock read there cost more than the rest of the peak's upkeep. */
static uint64_t peak_time_ns(const ms_store *st, uint64_t now)
{
	uint64_t q = __atomic_load_n(&st->ns_per_unit_q32, __ATOMIC_RELAXED);

	if (q == 0 || now < st->start_time)
		return ms_clock_mono_ns();
	return st->start_time_mono_ns +
	       (uint64_t)(((unsigned __int128)(now - st->start_time) * q) >> 32);
}

/* A new peak of live bytes, reached at now (store time units: the birth of
 * the block that made it, so that no clock is read again). */
static void raise_peak(const ms_store *st, struct ms_seg_globals *g, uint64_t live, uint64_t now)
{
	int plain = plain_writes(st);

	if (st->shared_cells && !plain) {
		/* No lock at all: the highest live figure wins by CAS and stamps
		 * its time right after. Two threads raising it at once may leave
		 * the higher peak with the time of the lower one, reached an
		 * instant before it. */
		uint64_t peak = ms_atomic_load_relaxed(&g->peak_bytes);

		while (live > peak) {
			if (__atomic_compare_exchange_n(&g->peak_bytes, &peak, live, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				ms_atomic_store_relaxed(&g->peak_mono_ns, peak_time_ns(st, now));
				break;
			}
		}
		return;
	}
	/* Below the peak, the common case, there is nothing to take: the peak
	 * only grows. */
	if (live <= ms_atomic_load_relaxed(&g->peak_bytes))
		return;
	/* A holder preempted in its few instructions would leave the others
	 * spinning through their time slices (threads outnumbering cores
	 * took minutes under TSan): spin a little, then yield. */
	for (unsigned spins = 0;
	     !plain && !ms_atomic_cas_acquire_u32(&g->peak_lock, 0, 1); spins++) {
		if (spins < PEAK_SPINS)
			ms_cpu_relax();
		else
			sched_yield();
	}
	if (live > g->peak_bytes) {
		ms_atomic_store_relaxed_u32(&g->peak_seq, g->peak_seq + 1);
		ms_atomic_fence_release();
		ms_atomic_store_relaxed(&g->peak_bytes, live);
		ms_atomic_store_relaxed(&g->peak_mono_ns, peak_time_ns(st, now));
		ms_atomic_store_release_u32(&g->peak_seq, g->peak_seq + 1);
	}
	if (!plain)
		ms_atomic_store_release_u32(&g->peak_lock, 0);
}

/* Adds to a thread slot's counter: a plain store when the slot has one
 * writer, an atomic add for the shared overflow slot. */
static void thread_add(uint32_t slot, uint64_t *p, uint64_t v)
{
	if (slot == MS_SEG_THREADS - 1)
		ms_atomic_add_relaxed(p, v);
	else
		bump(p, v);
}

static struct ms_seg_life *life_of(const ms_store *st, uint32_t stack)
{
	return (struct ms_seg_life *)((char *)st->base + header(st)->lives_off) +
	       (stack < MS_SEG_STACKS ? stack : MS_STACK_NONE);
}

/* A freed block's lifetime into its call site's: a power-of-two bucket,
 * and the extremes by CAS (rarely more than a load once they settle). */
static void count_lifetime(const ms_store *st, uint32_t stack, uint64_t lifetime)
{
	struct ms_seg_life *l = life_of(st, stack);
	unsigned b = 63 - (unsigned)__builtin_clzll(lifetime | 1);
	uint64_t v = lifetime + 1, seen;

	shared_add(st, &l->hist[b < MS_LIFE_BUCKETS ? b : MS_LIFE_BUCKETS - 1], 1);
	seen = ms_atomic_load_relaxed(&l->min_plus1);
	while ((seen == 0 || v < seen) &&
	       !__atomic_compare_exchange_n(&l->min_plus1, &seen, v, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
	seen = ms_atomic_load_relaxed(&l->max_plus1);
	while (v > seen && !__atomic_compare_exchange_n(&l->max_plus1, &seen, v, 1,
							 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void raise_site_peak(const ms_store *st, struct ms_seg_site *site, uint64_t live)
{
	uint64_t peak = ms_atomic_load_relaxed(&site->peak_bytes);

	if (plain_writes(st)) {
		ms_atomic_store_relaxed(&site->peak_bytes, live);
		return;
	}
	while (live > peak &&
	       !__atomic_compare_exchange_n(&site->peak_bytes, &peak, live, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

/* A block's word in the births rings: its bytes above, one block below. */
static uint64_t birth_word(uint64_t size)
{
	return (size << MS_BIRTH_COUNT_BITS) + 1;
}

static void count_birth(const ms_store *st, uint32_t stack, uint64_t size, uint64_t born)
{
	struct ms_seg_births *b = births_of(st, stack);
	uint64_t w = birth_word(size);

	shared_add(st, &b->fine[fine_window(born) % MS_BIRTH_FINE], w);
	shared_add(st, &b->coarse[coarse_window(born) % MS_BIRTH_COARSE], w);
}

/* A block's end, out of its birth windows that are still in the rings. */
static void count_death(const ms_store *st, uint32_t stack, uint64_t size, uint64_t born,
			uint64_t now)
{
	struct ms_seg_births *b = births_of(st, stack);
	uint64_t w = birth_word(size);
	uint64_t fine = (fine_window(now) - fine_window(born)) % FINE_WINDOWS;
	uint64_t coarse = (coarse_window(now) - coarse_window(born)) % COARSE_WINDOWS;

	if (fine <= MS_BIRTH_FINE - 3)
		shared_add(st, &b->fine[fine_window(born) % MS_BIRTH_FINE], -w);
	if (coarse <= MS_BIRTH_COARSE - 3)
		shared_add(st, &b->coarse[coarse_window(born) % MS_BIRTH_COARSE], -w);
}

void ms_store_count_alloc(ms_store *st, unsigned cell, uint32_t thread, uint32_t stack,
			  uint64_t size, int is_realloc, uint64_t born)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_cell *c = cell_at(st, cell % MS_SEG_CELLS);
	uint32_t slot = thread % MS_SEG_THREADS;
	struct ms_seg_thread *t = thread_at(st, slot);
	struct ms_seg_site *site = site_of(st, stack);
	uint64_t live;

	cell_begin(st, c);
	cell_add(st, &c->allocs, 1);
	cell_add(st, &c->alloc_bytes, size);
	if (is_realloc)
		cell_add(st, &c->reallocs, 1);
	cell_end(st, c);

	thread_add(slot, &t->allocs, 1);
	thread_add(slot, &t->alloc_bytes, size);

	shared_add(st, &site->allocs, 1);
	shared_add(st, &site->alloc_bytes, size);
	live = shared_add(st, &site->live_bytes, size);
	if (live > ms_atomic_load_relaxed(&site->peak_bytes))
		raise_site_peak(st, site, live);
	count_birth(st, stack, size, born);

	live = shared_add(st, &g->live_bytes, size);
	if (live > ms_atomic_load_relaxed(&g->peak_bytes))
		raise_peak(st, g, live, born);
}

void ms_store_count_free(ms_store *st, unsigned cell, uint32_t thread, uint32_t owner,
			 uint32_t stack, uint64_t size, uint64_t born, uint64_t now, int temporary)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_cell *c = cell_at(st, cell % MS_SEG_CELLS);
	uint32_t slot = thread % MS_SEG_THREADS, owner_slot = owner % MS_SEG_THREADS;
	struct ms_seg_thread *t = thread_at(st, slot);
	struct ms_seg_site *site = site_of(st, stack);

	cell_begin(st, c);
	cell_add(st, &c->frees, 1);
	cell_add(st, &c->free_bytes, size);
	if (temporary)
		cell_add(st, &c->temporary, 1);
	cell_end(st, c);

	thread_add(slot, &t->frees, 1);
	thread_add(slot, &t->free_bytes, size);
	if (owner_slot == slot) {
		thread_add(slot, &t->self_freed, 1);
		thread_add(slot, &t->self_freed_bytes, size);
	} else {
		struct ms_seg_thread *o = thread_at(st, owner_slot);

		shared_add(st, &o->remote_freed, 1);
		shared_add(st, &o->remote_freed_bytes, size);
	}

	shared_add(st, &site->frees, 1);
	shared_add(st, &site->free_bytes, size);
	shared_add(st, &site->live_bytes, -size);
	if (temporary)
		shared_add(st, &site->temporary, 1);
	count_lifetime(st, stack, ms_block_age(now, born));
	count_death(st, stack, size, born, now);

	shared_add(st, &g->live_bytes, -size);
}

/* Mapped memory: the caller (maps.c) holds the mapping table's lock, the
 * only writer of these figures and of the mmap sites' peaks. */
void ms_store_count_map(ms_store *st, uint32_t stack, uint64_t bytes, int mapping)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_site *site = site_of(st, stack);
	uint64_t live;

	if (ms_atomic_load_relaxed_u32(&site->kind) != MS_SEG_SITE_MMAP)
		ms_atomic_store_release_u32(&site->kind, MS_SEG_SITE_MMAP);
	if (mapping) {
		ms_atomic_add_relaxed(&site->allocs, 1);
		ms_atomic_add_relaxed(&g->mmap_maps, 1);
	}
	ms_atomic_add_relaxed(&site->alloc_bytes, bytes);
	live = ms_atomic_add_relaxed(&site->live_bytes, bytes);
	if (live > ms_atomic_load_relaxed(&site->peak_bytes))
		ms_atomic_store_relaxed(&site->peak_bytes, live);
	live = ms_atomic_add_relaxed(&g->mmap_live_bytes, bytes);
	if (live > ms_atomic_load_relaxed(&g->mmap_peak_bytes))
		ms_atomic_store_relaxed(&g->mmap_peak_bytes, live);
}

void ms_store_count_unmap(ms_store *st, uint32_t stack, uint64_t bytes, int ended)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_site *site = site_of(st, stack);

	if (ended)
		ms_atomic_add_relaxed(&site->frees, 1);
	ms_atomic_add_relaxed(&site->free_bytes, bytes);
	ms_atomic_add_relaxed(&site->live_bytes, -bytes);
	ms_atomic_add_relaxed(&g->mmap_live_bytes, -bytes);
}

void ms_store_count_event(ms_store *st, const ms_event *ev)
{
	switch (ev->op) {
	case MS_OP_ALLOC:
		ms_store_count_alloc(st, ms_store_cell_of(ev->ptr), ev->thread, ev->stack, ev->size,
				     0, ev->born);
		break;
	case MS_OP_FREE:
		ms_store_count_free(st, ms_store_cell_of(ev->ptr), ev->thread, ev->owner, ev->stack,
				    ev->size, ev->born, ms_store_time(), ev->flags & MS_EVENT_TEMPORARY);
		break;
	case MS_OP_REALLOC: /* the old block ends as the new one is born */
		ms_store_count_free(st, ms_store_cell_of(ev->old_ptr), ev->thread, ev->old_thread,
				    ev->old_stack, ev->old_size, ev->old_born, ev->born,
				    ev->flags & MS_EVENT_TEMPORARY);
		ms_store_count_alloc(st, ms_store_cell_of(ev->ptr), ev->thread, ev->stack, ev->size,
				     1, ev->born);
		break;
	default: /* annotations: counted, the blocks left as they are */
		ms_store_count_annotation(st, ev->op);
		break;
	}
}

void ms_store_count_dropped(ms_store *st)
{
	ms_atomic_add_relaxed(&globals(st)->dropped_events, 1);
}

void ms_store_count_untracked_free(ms_store *st)
{
	ms_atomic_add_relaxed(&globals(st)->untracked_frees, 1);
}

void ms_store_count_annotation(ms_store *st, int op)
{
	struct ms_seg_globals *g = globals(st);

	if (op == MS_OP_MOVE)
		ms_atomic_add_relaxed(&g->moves, 1);
	else if (op == MS_OP_BORROW)
		ms_atomic_add_relaxed(&g->borrows, 1);
	else if (op == MS_OP_RETURN)
		ms_atomic_add_relaxed(&g->returns, 1);
}
