/*
 * What the store's files (store.c, store_count.c, store_tables.c,
 * store_sample.c, store_reserve.c) share: the segment's sections by
 * offset, a call site's births windows, and the reservation of growing
 * regions. Private to core/target.
 *
 * Runs: in the program, the hook path included (no malloc, no lock but
 * the reservation's spin lock).
 */
#ifndef MEMSCOPE_STORE_PRIVATE_H
#define MEMSCOPE_STORE_PRIVATE_H

#include <stdint.h>

#include <memscope/block.h>
#include <memscope/store.h>

#include "core/shared/store_layout.h"

static inline struct ms_seg_header *header(const ms_store *st)
{
	return (struct ms_seg_header *)st->base;
}

static inline struct ms_seg_globals *globals(const ms_store *st)
{
	return (struct ms_seg_globals *)((char *)st->base + header(st)->globals_off);
}

static inline struct ms_seg_cell *cell_at(const ms_store *st, unsigned i)
{
	return (struct ms_seg_cell *)((char *)st->base + header(st)->cells_off) + i;
}

static inline struct ms_seg_thread *thread_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_thread *)((char *)st->base + header(st)->threads_off) + i;
}

static inline struct ms_seg_stack *stack_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_stack *)((char *)st->base + header(st)->stacks_off) + i;
}

static inline struct ms_seg_site *site_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_site *)((char *)st->base + header(st)->sites_off) + i;
}

static inline uint64_t *frame_words(const ms_store *st)
{
	return (uint64_t *)((char *)st->base + header(st)->frames_off);
}

static inline struct ms_seg_module *module_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_module *)((char *)st->base + header(st)->modules_off) + i;
}

static inline struct ms_seg_timeline *timeline(const ms_store *st)
{
	return (struct ms_seg_timeline *)((char *)st->base + header(st)->timeline_off);
}

static inline struct ms_seg_sample *samples(const ms_store *st)
{
	return (struct ms_seg_sample *)(timeline(st) + 1);
}

static inline struct ms_seg_site *site_of(const ms_store *st, uint32_t stack)
{
	return site_at(st, stack < MS_SEG_STACKS ? stack : MS_STACK_NONE);
}

static inline struct ms_seg_births *births_of(const ms_store *st, uint32_t stack)
{
	return (struct ms_seg_births *)((char *)st->base + header(st)->births_off) +
	       (stack < MS_SEG_STACKS ? stack : MS_STACK_NONE);
}

/* The windows of the two rings, in the header's range of birth times
 * (memscope/block.h): a window number may wrap, and only differences of
 * window numbers are ever used. */
#define FINE_WINDOWS (1ull << (MS_BLOCK_BORN_BITS - MS_BIRTH_FINE_SHIFT))
#define COARSE_WINDOWS (1ull << (MS_BLOCK_BORN_BITS - MS_BIRTH_COARSE_SHIFT))

static inline uint64_t fine_window(uint64_t t)
{
	return (t & MS_BLOCK_BORN_MASK) >> MS_BIRTH_FINE_SHIFT;
}

static inline uint64_t coarse_window(uint64_t t)
{
	return (t & MS_BLOCK_BORN_MASK) >> MS_BIRTH_COARSE_SHIFT;
}

/* Makes elements [0, n) of a growing region real memory (store_reserve.c):
 * the thread slots, the stack entries with their call sites, the call
 * sites' lifetimes and births, the frame words, the modules, the notes,
 * the names. Returns 0 or -ENOSPC. store_reserve_start reserves what every
 * segment needs from the start. */
int store_reserve_start(ms_store *st);
int store_reserve_threads(ms_store *st, uint64_t n);
int store_reserve_stacks(ms_store *st, uint64_t n);
int store_reserve_lives(ms_store *st, uint64_t n);
int store_reserve_words(ms_store *st, uint64_t n);
int store_reserve_modules(ms_store *st, uint64_t n);
int store_reserve_notes(ms_store *st, uint64_t n);
int store_reserve_names(ms_store *st, uint64_t n);

/* Writes a thread's name into its slot, for readers copying it meanwhile. */
void store_copy_name(char *dst, const char *src);

#endif
