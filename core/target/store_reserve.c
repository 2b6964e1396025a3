/*
 * Real memory for the sparse segment. A region that grows (threads, stacks
 * and their call sites, frames, modules) gets memory a chunk ahead of its
 * use; a chunk that cannot be had (the tmpfs is full) makes the region
 * count as full, and the hook goes on without it instead of dying of
 * SIGBUS on its next write. Rare (a chunk at a time), so one spin lock.
 *
 * Runs: in the program, the hook path included.
 */
#define _GNU_SOURCE
#include <errno.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>

#include "store_private.h"

#define THREAD_CHUNK 64u
#define STACK_CHUNK 4096u
#define WORD_CHUNK 65536u
#define MODULE_CHUNK 64u
#define LIFE_CHUNK 256u /* 96 KiB: a site's lifetimes are 384 bytes */
#define NOTE_CHUNK 256u
#define NAME_CHUNK 256u

struct region {
	uint64_t off, elem;
};

/* Makes elements [0, needed) of up to two regions that grow together real
 * memory. Returns 0 or -ENOSPC. */
static int reserve(ms_store *st, uint64_t *reserved, uint64_t needed, uint64_t chunk, uint64_t cap,
		   struct region a, struct region b)
{
	uint64_t have, want;
	int err = 0;

	if (needed <= ms_atomic_load_acquire(reserved))
		return 0;
	if (needed > cap)
		return -ENOSPC;
	while (!ms_atomic_cas_acquire_u32(&st->reserve_lock, 0, 1))
		ms_cpu_relax();
	have = *reserved;
	if (needed > have) {
		want = (needed + chunk - 1) / chunk * chunk;
		if (want > cap)
			want = cap;
		err = ms_shm_reserve(st->fd, a.off + have * a.elem, (want - have) * a.elem);
		if (err == 0 && b.elem != 0)
			err = ms_shm_reserve(st->fd, b.off + have * b.elem, (want - have) * b.elem);
		if (err == 0)
			ms_atomic_store_release(reserved, want);
	}
	ms_atomic_store_release_u32(&st->reserve_lock, 0);
	return err != 0 ? -ENOSPC : 0;
}

int store_reserve_threads(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_threads, n, THREAD_CHUNK, MS_SEG_THREADS,
		       (struct region){ h->threads_off, sizeof(struct ms_seg_thread) },
		       (struct region){ 0, 0 });
}

/* A stack id's entry and its call site's counters. */
int store_reserve_stacks(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_stacks, n, STACK_CHUNK, MS_SEG_STACKS,
		       (struct region){ h->stacks_off, sizeof(struct ms_seg_stack) },
		       (struct region){ h->sites_off, sizeof(struct ms_seg_site) });
}

/* A call site's lifetimes and births. */
int store_reserve_lives(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_lives, n, LIFE_CHUNK, MS_SEG_STACKS,
		       (struct region){ h->lives_off, sizeof(struct ms_seg_life) },
		       (struct region){ h->births_off, sizeof(struct ms_seg_births) });
}

int store_reserve_words(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_words, n, WORD_CHUNK, MS_SEG_STACK_WORDS,
		       (struct region){ h->frames_off, sizeof(uint64_t) }, (struct region){ 0, 0 });
}

int store_reserve_modules(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_modules, n, MODULE_CHUNK, MS_SEG_MODULES,
		       (struct region){ h->modules_off, sizeof(struct ms_seg_module) },
		       (struct region){ 0, 0 });
}

int store_reserve_notes(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_notes, n, NOTE_CHUNK, MS_SEG_NOTES,
		       (struct region){ h->notes_off, sizeof(struct ms_seg_note) },
		       (struct region){ 0, 0 });
}

int store_reserve_names(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_names, n, NAME_CHUNK, MS_SEG_NAMES,
		       (struct region){ h->names_off, sizeof(struct ms_seg_name) },
		       (struct region){ 0, 0 });
}

/* What every segment needs from the start: the fixed regions (header,
 * globals, cells, timeline), the shared last thread slot, and a first
 * chunk of each growing region. */
int store_reserve_start(ms_store *st)
{
	struct ms_seg_header *h = header(st);
	uint64_t last_thread = h->threads_off + (MS_SEG_THREADS - 1) * sizeof(struct ms_seg_thread);

	if (ms_shm_reserve(st->fd, 0, h->threads_off) != 0 ||
	    ms_shm_reserve(st->fd, h->timeline_off, h->stacks_off - h->timeline_off) != 0 ||
	    ms_shm_reserve(st->fd, last_thread, sizeof(struct ms_seg_thread)) != 0 ||
	    store_reserve_threads(st, 1) != 0 || store_reserve_stacks(st, 1) != 0 ||
	    store_reserve_lives(st, 1) != 0 || store_reserve_words(st, 1) != 0 ||
	    store_reserve_modules(st, 1) != 0)
		return -ENOSPC;
	return 0;
}
