/*
 * A map from block address to what the hook knows of the block: open
 * addressing with linear probing and backward-shift deletion (no
 * tombstones, so lookups stay short under churn). Memory comes straight from
 * the kernel (ms_pages_alloc), never from malloc, so the hook may use it.
 * Not thread-safe: the caller locks.
 *
 * Runs: in the program, the hook path included (no malloc, no lock).
 */
#ifndef MEMSCOPE_PTR_MAP_H
#define MEMSCOPE_PTR_MAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bits of a block's birth time (store time units, memscope/store.h): with
 * a 3 GHz TSC, units of 0.34 us and ages exact up to 139 days (half the
 * range: a later birth reads as age 0). */
#define MS_BORN_BITS 46
#define MS_BORN_MASK ((1ull << MS_BORN_BITS) - 1)

/* How long since born, in store time units, modulo 2^MS_BORN_BITS; 0 for a
 * birth that reads as later than now (clocks read a few cycles apart on
 * two CPUs, an allocation stamped during a scan). */
static inline uint64_t ms_born_age(uint64_t now, uint64_t born)
{
	uint64_t age = (now - born) & MS_BORN_MASK;

	return age > MS_BORN_MASK / 2 ? 0 : age;
}

/* 24 bytes: the table is most of the hook's memory per live block. */
typedef struct ms_ptr_entry {
	uint64_t ptr;        /* 0 marks an empty slot */
	uint64_t size : 44;  /* no block comes near 16 TiB */
	uint64_t owner : 12; /* thread slot that allocated the block (< 4096) */
	uint64_t spare : 8;
	uint64_t stack : 18; /* stack id of its allocation (< 2^18, the store's) */
	uint64_t born : MS_BORN_BITS; /* when it was allocated, store time units */
} ms_ptr_entry;

typedef struct ms_ptr_map {
	ms_ptr_entry *slots;
	size_t mask;  /* capacity - 1; capacity is a power of two */
	size_t count;
} ms_ptr_map;

/* Mixes an address into a well-spread hash (shared with callers that pick
 * shards, so shard and slot use different bits). */
static inline uint64_t ms_ptr_hash(uint64_t ptr)
{
	uint64_t h = ptr;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Asks the CPU to fetch the slot where ptr's search starts: a table much
 * larger than the cache misses on every access, and a caller that knows
 * the next address can overlap that miss with its work on this one. */
static inline void ms_ptr_map_prefetch(const ms_ptr_map *m, uint64_t ptr)
{
	if (m->slots != NULL)
		__builtin_prefetch(&m->slots[(size_t)(ms_ptr_hash(ptr) >> 16) & m->mask], 1);
}

/* capacity: a power of two, at least 16. Returns 0 or -ENOMEM. */
int ms_ptr_map_init(ms_ptr_map *m, size_t capacity);
void ms_ptr_map_destroy(ms_ptr_map *m);

/* Inserts e. If e->ptr is already present, its entry is replaced and the old
 * one copied to *replaced (when not NULL) and 1 is returned; 0 for a new
 * entry; -ENOMEM when the map could not grow (nothing changed). */
int ms_ptr_map_put(ms_ptr_map *m, const ms_ptr_entry *e, ms_ptr_entry *replaced);

/* Inserts e unless e->ptr is there already (then nothing changes). Returns
 * 0, -EEXIST or -ENOMEM. */
int ms_ptr_map_add(ms_ptr_map *m, const ms_ptr_entry *e);

/* Copies ptr's entry to *out. Returns 0 or -ENOENT. */
int ms_ptr_map_find(const ms_ptr_map *m, uint64_t ptr, ms_ptr_entry *out);

/* Removes ptr and copies its entry to *out. Returns 0 or -ENOENT. */
int ms_ptr_map_take(ms_ptr_map *m, uint64_t ptr, ms_ptr_entry *out);

#ifdef __cplusplus
}
#endif

#endif
