/*
 * The store's tables that only grow: stacks (with their frames), the
 * module map, annotation names and notes. Runs in the program: stacks on
 * the hook path, the rest under the callers' locks (memscope/store.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include <memscope/atomic.h>

#include "store_private.h"

uint32_t ms_store_stack_add(ms_store *st, const uint64_t *frames, uint32_t depth,
			    uint32_t module_epoch)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_stack *e;
	uint64_t at;
	uint32_t id;
	uint64_t *words = frame_words(st);

	if (depth == 0)
		return MS_STACK_NONE;
	/* Reserve the frames first: an id is only taken when its frames fit. */
	at = __atomic_fetch_add(&g->frame_words_used, depth, __ATOMIC_RELAXED);
	if (at + depth > MS_SEG_STACK_WORDS)
		return MS_STACK_NONE;
	id = __atomic_fetch_add(&g->stacks_used, 1, __ATOMIC_RELAXED);
	if (id >= MS_SEG_STACKS || store_reserve_stacks(st, (uint64_t)id + 1) != 0 ||
	    store_reserve_lives(st, (uint64_t)id + 1) != 0 ||
	    store_reserve_words(st, at + depth) != 0)
		return MS_STACK_NONE;
	for (uint32_t i = 0; i < depth; i++)
		ms_atomic_store_relaxed(&words[at + i], frames[i]);
	e = stack_at(st, id);
	e->frames_off = at;
	e->module_epoch = module_epoch;
	ms_atomic_store_release_u32(&e->depth, depth);
	return id;
}

const uint64_t *ms_store_stack_frames(const ms_store *st, uint32_t id, uint32_t *depth)
{
	const struct ms_seg_stack *e;

	if (id == MS_STACK_NONE || id >= MS_SEG_STACKS)
		return NULL;
	e = stack_at(st, id);
	*depth = ms_atomic_load_acquire_u32(&e->depth);
	return *depth ? frame_words(st) + e->frames_off : NULL;
}

uint32_t ms_store_stack_count(const ms_store *st)
{
	uint32_t used = ms_atomic_load_relaxed_u32(&globals(st)->stacks_used);

	return used < MS_SEG_STACKS ? used : MS_SEG_STACKS;
}

uint32_t ms_store_module_epoch(const ms_store *st)
{
	return ms_atomic_load_acquire_u32(&globals(st)->module_epoch);
}

void ms_store_module_set_epoch(ms_store *st, uint32_t epoch)
{
	ms_atomic_store_release_u32(&globals(st)->module_epoch, epoch);
}

int ms_store_module_add(ms_store *st, uint32_t epoch, uint64_t base, uint64_t lo, uint64_t hi,
			const char *path)
{
	struct ms_seg_globals *g = globals(st);
	uint32_t i = g->modules_used;
	struct ms_seg_module *m;
	size_t n = 0;

	if (i >= MS_SEG_MODULES || store_reserve_modules(st, (uint64_t)i + 1) != 0)
		return -ENOSPC;
	m = module_at(st, i);
	m->base = base;
	m->lo = lo;
	m->hi = hi;
	m->load_epoch = epoch;
	m->unload_epoch = 0;
	for (; path != NULL && path[n] != '\0' && n + 1 < MS_MODULE_PATH_MAX; n++)
		m->path[n] = path[n];
	m->path[n] = '\0';
	ms_atomic_store_release_u32(&g->modules_used, i + 1);
	return (int)i;
}

uint32_t ms_store_name_add(ms_store *st, const char *text)
{
	struct ms_seg_globals *g = globals(st);
	uint32_t i = g->names_used;
	struct ms_seg_name *e;
	size_t n = 0;

	if (i >= MS_SEG_NAMES || store_reserve_names(st, (uint64_t)i + 1) != 0)
		return 0;
	e = (struct ms_seg_name *)((char *)st->base + header(st)->names_off) + i;
	for (; text != NULL && text[n] != '\0' && n + 1 < MS_NAME_MAX; n++)
		e->text[n] = text[n];
	e->text[n] = '\0';
	ms_atomic_store_release_u32(&g->names_used, i + 1);
	return i + 1;
}

int ms_store_note_put(ms_store *st, uint32_t i, const ms_note *n)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_note *e;

	if (i >= MS_SEG_NOTES || store_reserve_notes(st, (uint64_t)i + 1) != 0)
		return -ENOSPC;
	e = (struct ms_seg_note *)((char *)st->base + header(st)->notes_off) + i;
	ms_atomic_store_relaxed_u32(&e->seq, e->seq + 1);
	ms_atomic_fence_release();
	ms_atomic_store_relaxed_u32(&e->state, n->ended_mono_ns != 0 ? MS_NOTE_ENDED : MS_NOTE_LIVE);
	ms_atomic_store_relaxed(&e->ptr, n->ptr);
	ms_atomic_store_relaxed(&e->size, n->size);
	ms_atomic_store_relaxed(&e->tracked_mono_ns, n->tracked_mono_ns);
	ms_atomic_store_relaxed(&e->ended_mono_ns, n->ended_mono_ns);
	ms_atomic_store_relaxed_u32(&e->var, n->var);
	ms_atomic_store_relaxed_u32(&e->type, n->type);
	ms_atomic_store_relaxed_u32(&e->scope, n->scope);
	ms_atomic_store_relaxed_u32(&e->stack, n->stack);
	ms_atomic_store_relaxed_u32(&e->borrows, n->borrows);
	ms_atomic_store_relaxed_u32(&e->lent, n->lent);
	ms_atomic_store_release_u32(&e->seq, e->seq + 1);
	if (i >= g->notes_used)
		ms_atomic_store_release_u32(&g->notes_used, i + 1);
	return 0;
}

uint32_t ms_store_module_count(const ms_store *st)
{
	return ms_atomic_load_acquire_u32(&globals(st)->modules_used);
}

int ms_store_module_get(const ms_store *st, uint32_t i, uint64_t *base, const char **path,
			int *loaded)
{
	const struct ms_seg_module *m;

	if (i >= ms_store_module_count(st))
		return -ENOENT;
	m = module_at(st, i);
	*base = m->base;
	*path = m->path;
	*loaded = ms_atomic_load_relaxed_u32(&m->unload_epoch) == 0;
	return 0;
}

void ms_store_module_unload(ms_store *st, uint32_t i, uint32_t epoch)
{
	if (i < ms_store_module_count(st))
		ms_atomic_store_release_u32(&module_at(st, i)->unload_epoch, epoch);
}
