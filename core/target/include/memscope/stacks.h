/*
 * Stack interning, in the target process: the first time a stack (a list of
 * return addresses) is seen it is appended to the store's stack table; every
 * later occurrence finds its id again. The index is an RCU lock-free hash
 * table (liburcu's cds_lfht, urcu-bp flavour, the one meant for libraries
 * inside unmodified programs), read on the hook path without locks; a
 * small per-thread cache in front of it catches the hottest stacks.
 *
 * Interning a new stack first brings the store's module map up to date, so
 * every address of a published stack lies in a module a reader can find.
 *
 * Runs: in the program: interning on the hook path (lock-free reads, a
 * lock only to append a new stack); ms_stacks_maintain on the sampler.
 */
#ifndef MEMSCOPE_STACKS_H
#define MEMSCOPE_STACKS_H

#include <pthread.h>
#include <stdint.h>

#include <memscope/store.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cds_lfht;

typedef struct ms_stacks {
	struct cds_lfht *index;
	ms_store *store;
	uint32_t generation;     /* per-thread caches hold this; bumped on reset */
	uint32_t count;          /* stacks in the index, atomic */
	int full;                /* the store's stack table is full, atomic */
	unsigned long buckets;   /* index size the sampler last set */
	pthread_mutex_t modules; /* serialises module map updates */
	uint64_t adds, subs;     /* loader counts at the last update */
	char *arena;             /* index nodes: never freed, so from pages */
	size_t arena_left;
	void *chunks;            /* the arena's pages, chained */
	pthread_mutex_t arena_lock;
} ms_stacks;

/* Sets up an empty index for store. Not on the hook path (allocates). */
int ms_stacks_init(ms_stacks *s, ms_store *store);

/* The id of the stack, interning it if new; MS_STACK_NONE for an empty
 * stack or a full table. Hook path: no malloc on the way (urcu-bp may
 * register the calling thread once, with mmap). */
uint32_t ms_stacks_intern(ms_stacks *s, const uint64_t *frames, uint32_t depth);

/* Frees the index and its nodes. No thread may intern concurrently or
 * afterwards. Not on the hook path. */
void ms_stacks_destroy(ms_stacks *s);

/* Sampler: grows the index when it has filled up. Must not run inside an
 * RCU read-side critical section (it waits for a grace period). */
void ms_stacks_maintain(ms_stacks *s);

/* fork: around the fork, urcu-bp's own handlers; in the child, an empty
 * index for the child's new store (the parent's nodes point into the
 * parent's segment, which the child has unmapped). */
void ms_stacks_fork_prepare(ms_stacks *s);
void ms_stacks_fork_parent(ms_stacks *s);
int ms_stacks_fork_child(ms_stacks *s, ms_store *store);

#ifdef __cplusplus
}
#endif

#endif
