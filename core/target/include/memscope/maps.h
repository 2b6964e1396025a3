/* The engine's side of mapped memory (maps.c), for capture.c (and tests,
 * which play the kernel through the callbacks).
 *
 * Runs: the hook path (the program's mmap, munmap and mremap, under the
 * hook's busy flag). */
#ifndef MEMSCOPE_MAPS_H
#define MEMSCOPE_MAPS_H

#include <stdint.h>

#include <memscope/store.h>

struct ms_maps;

/* A table of no ranges, or NULL when out of memory. */
struct ms_maps *ms_maps_new(void);
/* Frees the table's memory; in a forked child too, whatever its lock. */
void ms_maps_free(struct ms_maps *m);

/*
 * Each operation takes the table's lock, runs the real call (the callback)
 * under it, and counts what the call changed: between the system call and
 * the table, no other thread's mmap can be handed the same addresses.
 * Lengths are whole pages (the caller rounds them up).
 */

/* mmap: real() maps and returns the address or MAP_FAILED. Whatever the
 * result overlapped is unmapped (MAP_FIXED); counted as a mapping of
 * stack when `counted` (anonymous and private). */
void *ms_maps_map(struct ms_maps *m, ms_store *st, uint64_t len, int counted, uint32_t stack,
		  void *(*real)(void *ctx), void *ctx);

/* munmap of [addr, addr + len): real() returns 0 or -1; on success the
 * bytes leave their sites, and a mapping whose last piece goes ends. */
int ms_maps_unmap(struct ms_maps *m, ms_store *st, uint64_t addr, uint64_t len,
		  int (*real)(void *ctx), void *ctx);

/* mremap of [old, old + old_len) to new_len: real() returns the new address
 * or MAP_FAILED. The mapping keeps its site: growth counts as bytes mapped,
 * shrinking as bytes unmapped. */
void *ms_maps_remap(struct ms_maps *m, ms_store *st, uint64_t old, uint64_t old_len,
		    uint64_t new_len, void *(*real)(void *ctx), void *ctx);

#endif
