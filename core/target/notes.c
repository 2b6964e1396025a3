/*
 * Annotations (memscope.h): names a program gives its blocks, their borrows
 * and their lifetimes, kept in the store's note slots for readers.
 *
 * Annotation calls are the program's own, far rarer than malloc, so they
 * take one lock. The malloc path must not: a free (or a realloc) first
 * reads a counting filter of annotated addresses (a 16-bit count per hash
 * bucket, changed under the lock), and takes the lock only on a hit, that
 * is for an annotated block or, rarely, one sharing its bucket. Memory is
 * taken on the first annotation, so programs that never annotate read one
 * pointer per free.
 *
 * A block's note follows it: realloc gives it the new address (the note
 * leaves the index with the old block, before the real realloc can hand
 * that address to another thread), ms_move hands it to another block, and
 * its free ends it (its lifetime is then fixed). Once every slot has been
 * used, a new note takes the slot of an ended one; with every slot live,
 * the annotation is not kept.
 */
#define _GNU_SOURCE
#include <memscope/capture.h>

#include <sched.h>
#include <string.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>
#include <memscope/ptr_map.h>

#include "notes.h"

#define MS_TLS __thread __attribute__((tls_model("initial-exec")))

#define NAMES 4096u       /* as the store's name table */
#define FILTER_BITS 16
#define NAME_MAX_LEN 47u
#define SCOPE_DEPTH 64u

struct ms_notes {
	uint32_t lock;
	uint32_t used;     /* slots handed out */
	uint32_t cursor;   /* where the search for an ended slot goes on */
	ms_ptr_map index;  /* address -> slot, in the entry's stack field */
	ms_note note[MS_STORE_NOTES];
	/* Names published, by content: hash -> id, and each id's text. */
	uint32_t name_slot[2 * NAMES];
	char name[NAMES + 1][NAME_MAX_LEN + 1];
	uint32_t nnames;
	/* Indexed addresses per hash bucket: written under the lock, read
	 * without it by the malloc path. */
	uint16_t filter[1u << FILTER_BITS];
};

static uint16_t *bucket(struct ms_notes *n, uint64_t ptr)
{
	return &n->filter[ms_ptr_hash(ptr) >> (64 - FILTER_BITS)];
}

/* Whether ptr may be annotated (no lock: a false hit only costs one). The
 * program orders ms_track of a block before its free, so a zero read here
 * means no note. */
static int maybe_noted(struct ms_notes *n, uint64_t ptr)
{
	return __atomic_load_n(bucket(n, ptr), __ATOMIC_RELAXED) != 0;
}

/* The index, with the filter kept in step. Under the lock. */
static int index_add(struct ms_notes *n, uint64_t ptr, uint32_t slot)
{
	ms_ptr_entry e = { .ptr = ptr, .stack = slot };
	uint16_t *b = bucket(n, ptr);

	if (*b == UINT16_MAX || ms_ptr_map_add(&n->index, &e) != 0)
		return -1;
	__atomic_store_n(b, (uint16_t)(*b + 1), __ATOMIC_RELAXED);
	return 0;
}

/* The slot indexed at ptr, taken out; MS_STORE_NOTES if none. */
static uint32_t index_take(struct ms_notes *n, uint64_t ptr)
{
	ms_ptr_entry e;
	uint16_t *b = bucket(n, ptr);

	if (ms_ptr_map_take(&n->index, ptr, &e) != 0)
		return MS_STORE_NOTES;
	__atomic_store_n(b, (uint16_t)(*b - 1), __ATOMIC_RELAXED);
	return e.stack;
}

/* The calling thread's open scopes (MS_SCOPE), innermost last. */
static MS_TLS const char *scopes[SCOPE_DEPTH];
static MS_TLS uint32_t scope_depth;

static void lock(struct ms_notes *n)
{
	for (int spins = 0; !ms_atomic_cas_acquire_u32(&n->lock, 0, 1); spins++) {
		if (spins < 128)
			ms_cpu_relax();
		else
			sched_yield();
	}
}

static void unlock(struct ms_notes *n)
{
	ms_atomic_store_release_u32(&n->lock, 0);
}

/* The notes, made on first use. Returns NULL when no memory could be had. */
static struct ms_notes *notes_of(ms_capture *c)
{
	struct ms_notes *n = __atomic_load_n(&c->notes, __ATOMIC_ACQUIRE), *fresh;

	if (n != NULL)
		return n;
	fresh = ms_pages_alloc(sizeof(*fresh));
	if (fresh == NULL)
		return NULL;
	if (ms_ptr_map_init(&fresh->index, 256) != 0) {
		ms_pages_free(fresh, sizeof(*fresh));
		return NULL;
	}
	if (__atomic_compare_exchange_n(&c->notes, &n, fresh, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return fresh;
	ms_ptr_map_destroy(&fresh->index);
	ms_pages_free(fresh, sizeof(*fresh));
	return n;
}

static uint64_t name_hash(const char *text, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
	return h;
}

/* The id of a name (published on first use); 0 for none or a full table.
 * Under the lock. */
static uint32_t name_id(ms_capture *c, struct ms_notes *n, const char *text)
{
	size_t len = 0;
	uint64_t i;

	if (text == NULL || text[0] == '\0')
		return 0;
	while (len < NAME_MAX_LEN && text[len] != '\0')
		len++;
	for (i = name_hash(text, len) % (2 * NAMES);; i = (i + 1) % (2 * NAMES)) {
		uint32_t id = n->name_slot[i];

		if (id == 0)
			break;
		if (strncmp(n->name[id], text, len) == 0 && n->name[id][len] == '\0')
			return id;
	}
	if (n->nnames == NAMES)
		return 0;
	{
		uint32_t id = ms_store_name_add(&c->store, text);

		if (id == 0 || id > NAMES)
			return 0;
		memcpy(n->name[id], text, len);
		n->name[id][len] = '\0';
		n->name_slot[i] = id;
		n->nnames++;
		return id;
	}
}

/* A slot for a new note: a fresh one, else an ended one. Under the lock.
 * Returns MS_STORE_NOTES when every slot holds a live block. */
static uint32_t free_slot(struct ms_notes *n)
{
	if (n->used < MS_STORE_NOTES)
		return n->used++;
	for (uint32_t k = 0; k < MS_STORE_NOTES; k++) {
		uint32_t i = (n->cursor + k) % MS_STORE_NOTES;

		if (n->note[i].ended_mono_ns != 0) {
			n->cursor = (i + 1) % MS_STORE_NOTES;
			return i;
		}
	}
	return MS_STORE_NOTES;
}

/* The slot of ptr's live note; MS_STORE_NOTES if it has none. Under the
 * lock. */
static uint32_t slot_of(struct ms_notes *n, uint64_t ptr)
{
	ms_ptr_entry e;

	return ms_ptr_map_find(&n->index, ptr, &e) == 0 ? e.stack : MS_STORE_NOTES;
}

static void publish(ms_capture *c, struct ms_notes *n, uint32_t i)
{
	ms_store_note_put(&c->store, i, &n->note[i]);
}

void ms_capture_track(ms_capture *c, const void *ptr, const char *var, const char *type)
{
	uint64_t p = (uintptr_t)ptr;
	struct ms_notes *n;
	ms_block b = { 0 };
	uint32_t i;

	if (ptr == NULL || (n = notes_of(c)) == NULL)
		return;
	if (ms_capture_lookup(c, ptr, &b) != 0)
		return; /* not a live block of ours: nothing to name */
	lock(n);
	i = slot_of(n, p);
	if (i == MS_STORE_NOTES) {
		i = free_slot(n);
		if (i == MS_STORE_NOTES) {
			unlock(n);
			return;
		}
		if (index_add(n, p, i) != 0) {
			/* No room in the index: the slot is handed back, ended. */
			memset(&n->note[i], 0, sizeof(n->note[i]));
			n->note[i].ended_mono_ns = 1;
			unlock(n);
			return;
		}
		memset(&n->note[i], 0, sizeof(n->note[i]));
		n->note[i].ptr = p;
		n->note[i].tracked_mono_ns = ms_clock_mono_ns();
	}
	/* Tracking a block again renames it. */
	n->note[i].size = b.size;
	n->note[i].stack = b.stack;
	n->note[i].var = name_id(c, n, var);
	n->note[i].type = name_id(c, n, type);
	n->note[i].scope = scope_depth > 0 && scope_depth <= SCOPE_DEPTH ?
				   name_id(c, n, scopes[scope_depth - 1]) :
				   0;
	publish(c, n, i);
	unlock(n);
}

void ms_capture_scope_enter(const char *name)
{
	if (scope_depth < SCOPE_DEPTH)
		scopes[scope_depth] = name;
	scope_depth++;
}

void ms_capture_scope_leave(void)
{
	if (scope_depth > 0)
		scope_depth--;
}

/* The notes, if ptr may be annotated; NULL for the malloc path to go on. */
static struct ms_notes *notes_for(ms_capture *c, uint64_t ptr)
{
	struct ms_notes *n = __atomic_load_n(&c->notes, __ATOMIC_ACQUIRE);

	return n != NULL && maybe_noted(n, ptr) ? n : NULL;
}

static void end_note(ms_capture *c, struct ms_notes *n, uint32_t i)
{
	n->note[i].ended_mono_ns = ms_clock_mono_ns();
	publish(c, n, i);
}

void ms_notes_end(ms_capture *c, uint64_t ptr)
{
	struct ms_notes *n = notes_for(c, ptr);
	uint32_t i;

	if (n == NULL)
		return;
	lock(n);
	i = index_take(n, ptr);
	if (i != MS_STORE_NOTES)
		end_note(c, n, i);
	unlock(n);
}

uint32_t ms_notes_claim(ms_capture *c, uint64_t ptr)
{
	struct ms_notes *n = notes_for(c, ptr);
	uint32_t i;

	if (n == NULL)
		return 0;
	lock(n);
	i = index_take(n, ptr);
	unlock(n);
	return i == MS_STORE_NOTES ? 0 : i + 1;
}

void ms_notes_settle(ms_capture *c, uint32_t claimed, uint64_t old_ptr, uint64_t new_ptr,
		     uint64_t size)
{
	struct ms_notes *n = __atomic_load_n(&c->notes, __ATOMIC_ACQUIRE);
	uint32_t i = claimed - 1;

	if (claimed == 0 || n == NULL)
		return;
	lock(n);
	if (new_ptr == 0 && size != 0) {
		/* The realloc failed: the block stays where it was. */
		if (index_add(n, old_ptr, i) != 0)
			end_note(c, n, i);
	} else if (new_ptr == 0 || index_add(n, new_ptr, i) != 0) {
		end_note(c, n, i); /* realloc(p, 0), or no room to follow */
	} else {
		n->note[i].ptr = new_ptr;
		n->note[i].size = size;
		publish(c, n, i);
	}
	unlock(n);
}

void ms_notes_move(ms_capture *c, uint64_t from, uint64_t to)
{
	struct ms_notes *n = __atomic_load_n(&c->notes, __ATOMIC_ACQUIRE);
	ms_block b = { 0 };
	int known;
	uint32_t i, there;

	if (n == NULL || from == to || to == 0)
		return;
	known = ms_capture_lookup(c, (const void *)(uintptr_t)to, &b) == 0;
	lock(n);
	i = index_take(n, from);
	if (i != MS_STORE_NOTES) {
		/* The receiving block's own note, if it had one, ends. */
		there = index_take(n, to);
		if (there != MS_STORE_NOTES)
			end_note(c, n, there);
		if (index_add(n, to, i) != 0) {
			end_note(c, n, i);
		} else {
			n->note[i].ptr = to;
			if (known) {
				n->note[i].size = b.size;
				n->note[i].stack = b.stack;
			}
			publish(c, n, i);
		}
	}
	unlock(n);
}

void ms_notes_borrow(ms_capture *c, uint64_t ptr, int lend)
{
	struct ms_notes *n = notes_for(c, ptr);
	uint32_t i;

	if (n == NULL)
		return;
	lock(n);
	i = slot_of(n, ptr);
	if (i != MS_STORE_NOTES) {
		if (lend) {
			n->note[i].borrows++;
			n->note[i].lent++;
		} else if (n->note[i].lent > 0) {
			n->note[i].lent--;
		}
		publish(c, n, i);
	}
	unlock(n);
}

void ms_notes_destroy(ms_capture *c)
{
	struct ms_notes *n = c->notes;

	c->notes = NULL;
	if (n == NULL)
		return;
	ms_ptr_map_destroy(&n->index);
	ms_pages_free(n, sizeof(*n));
}
