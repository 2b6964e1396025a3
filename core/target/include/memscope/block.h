/*
 * The in-band block header: what the hook knows of a block lives in the 16
 * bytes just before the pointer the program sees, so that free() and
 * realloc() read it there instead of looking the address up anywhere.
 *
 * Runs: the hook path (every function here is inline or hook-safe).
 *
 *   user - 16  word0: size (45 bits) | stack id (18) | ALIGNED (1)
 *   user -  8  word1: check (8) | generation (4) | owner slot (12) | born (40)
 *   user - 24  (ALIGNED blocks only) how far the real block starts before
 *              user; every other block starts at user - 16.
 *
 * The check byte. On x86-64 glibc every chunk's size field, the word just
 * before any pointer glibc's own malloc returns, is a multiple of 16 plus
 * three flag bits: its bit 3 is always 0. The check byte, where that field
 * sits, always has bit 3 set, so no block of the real allocator (allocated
 * before the hook, or through dlsym(RTLD_NEXT, "malloc"), or __libc_malloc)
 * can pass for one of ours. Its other 7 bits are a hash of both words, the
 * address and a per-process secret: a pointer that is not a block start,
 * or a header the program overwrote, fails with odds of 127 in 128.
 *
 * The generation names the engine (session) that counted the block: 1-15,
 * new for every session, a forked child's included, so that a child never
 * counts the free of a block its parent allocated. 0: a block made while
 * the hook was not counting (inside the hook, before the engine started),
 * which has a header so that it can be freed like any other.
 */
#ifndef MEMSCOPE_BLOCK_H
#define MEMSCOPE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_BLOCK_HEAD 16u /* bytes in front of every block */

#define MS_BLOCK_SIZE_BITS 45
#define MS_BLOCK_SIZE_MAX ((1ull << MS_BLOCK_SIZE_BITS) - 1)
#define MS_BLOCK_STACK_BITS 18
#define MS_BLOCK_ALIGNED (1ull << 63)
#define MS_BLOCK_GENS 16u /* generations 1..15 */
#define MS_BLOCK_BORN_BITS 40
#define MS_BLOCK_BORN_MASK ((1ull << MS_BLOCK_BORN_BITS) - 1)
#define MS_BLOCK_GLIBC_BIT 0x08u /* always 0 in a glibc chunk's size field */

/* A block as its header describes it. */
typedef struct ms_block_info {
	uint64_t size;   /* what the program asked for */
	uint32_t stack;  /* its call site's stack id */
	uint32_t owner;  /* thread slot that allocated it */
	uint32_t gen;    /* 0: not counted; else the session's generation */
	uint64_t born;   /* store time units, low MS_BLOCK_BORN_BITS */
	uint64_t offset; /* user - (real block start) */
} ms_block_info;

/* The per-process secret the check hashes in: fixed once per process image
 * (a forked child keeps it: it frees its parent's blocks too). */
extern uint64_t ms_block_secret;

/* Sets the secret from the kernel's AT_RANDOM bytes; idempotent, hook-safe. */
void ms_block_init(void);

static inline uint64_t ms_block_mix(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static inline unsigned ms_block_check(uint64_t user, uint64_t w0, uint64_t w1_rest)
{
	uint64_t h = ms_block_mix(ms_block_secret ^ user ^ w0 ^ (w1_rest << 1));

	return (unsigned)((h & 0xf7u) | MS_BLOCK_GLIBC_BIT);
}

/* How long since born, in store time units, modulo the header's range; 0
 * for a birth that reads as later than now (two CPUs' clocks read a few
 * cycles apart). */
static inline uint64_t ms_block_age(uint64_t now, uint64_t born)
{
	uint64_t age = (now - born) & MS_BLOCK_BORN_MASK;

	return age > MS_BLOCK_BORN_MASK / 2 ? 0 : age;
}

/* Writes user's header. offset: user - real start (MS_BLOCK_HEAD unless
 * the block is aligned, when it is at least 32). size beyond
 * MS_BLOCK_SIZE_MAX is not counted: the caller passes gen 0 then. */
static inline void ms_block_put(void *user, uint64_t size, uint32_t stack, uint32_t owner,
				uint32_t gen, uint64_t born, uint64_t offset)
{
	uint64_t *w = (uint64_t *)user - 2;
	uint64_t w0 = (size & MS_BLOCK_SIZE_MAX) |
		      ((uint64_t)(stack & ((1u << MS_BLOCK_STACK_BITS) - 1)) << MS_BLOCK_SIZE_BITS);
	uint64_t rest = ((born & MS_BLOCK_BORN_MASK) << 24) | ((uint64_t)(owner & 0xfffu) << 12) |
			((uint64_t)(gen & 0xfu) << 8);

	if (offset != MS_BLOCK_HEAD) {
		w0 |= MS_BLOCK_ALIGNED;
		((uint64_t *)user)[-3] = offset;
	}
	w[0] = w0;
	w[1] = rest | ms_block_check((uint64_t)(uintptr_t)user, w0, rest >> 8);
}

/* Reads user's header: 0, or -1 when user is not a block of ours (a
 * foreign block goes to the real allocator as it is). */
static inline int ms_block_get(const void *user, ms_block_info *out)
{
	const uint64_t *w = (const uint64_t *)user - 2;
	uint64_t w0 = w[0], w1 = w[1];

	if ((w1 & 0xffu) != ms_block_check((uint64_t)(uintptr_t)user, w0, w1 >> 8))
		return -1;
	out->size = w0 & MS_BLOCK_SIZE_MAX;
	out->stack = (uint32_t)(w0 >> MS_BLOCK_SIZE_BITS) & ((1u << MS_BLOCK_STACK_BITS) - 1);
	out->gen = (uint32_t)(w1 >> 8) & 0xfu;
	out->owner = (uint32_t)(w1 >> 12) & 0xfffu;
	out->born = w1 >> 24;
	out->offset = MS_BLOCK_HEAD;
	if (w0 & MS_BLOCK_ALIGNED) {
		out->offset = ((const uint64_t *)user)[-3];
		/* An aligned block's offset is a power of two >= 32 (its
		 * alignment); anything else is not ours after all. */
		if (out->offset < 32 || out->offset > (1ull << 40) ||
		    (out->offset & (out->offset - 1)) != 0)
			return -1;
	}
	return 0;
}

/* The start of the real block behind user (what the real free takes). */
static inline void *ms_block_base(void *user, const ms_block_info *b)
{
	return (char *)user - b->offset;
}

#ifdef __cplusplus
}
#endif

#endif
