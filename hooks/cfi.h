/* Call frame rules for the hook's own unwinder (unwind.c): for a code
 * address, where its frame's caller left the return address and the frame
 * pointer, read from the module's .eh_frame and cached. Private to hooks/;
 * x86-64 only.
 *
 * Runs: the hook path (no malloc, no stdio, no lock). */
#ifndef MEMSCOPE_HOOK_CFI_H
#define MEMSCOPE_HOOK_CFI_H

#include <stdint.h>

enum ms_cfi_kind {
	/* The caller's frame is CFA = (rsp or rbp) + cfa_off, the return
	 * address at CFA - 8, rbp saved at CFA + rbp_off or unchanged. */
	MS_CFI_STANDARD = 1,
	/* The outermost frame: its return address is undefined. */
	MS_CFI_END = 2,
	/* Anything else (no unwind information, a signal frame, a rule that
	 * needs a DWARF expression or another register): libunwind's job. */
	MS_CFI_OTHER = 3,
};

/* A rule in one word, so that the walk keeps it in registers: kind (bits
 * 0-1), CFA from rbp rather than rsp (bit 2), rbp saved rather than
 * unchanged (bit 3), cfa_off (bits 4-35), rbp_off (bits 36-63, signed). */
typedef uint64_t ms_cfi_rule;

static inline enum ms_cfi_kind ms_cfi_kind_of(ms_cfi_rule r)
{
	return (enum ms_cfi_kind)(r & 3);
}

static inline int ms_cfi_cfa_rbp(ms_cfi_rule r)
{
	return (r >> 2) & 1;
}

static inline int ms_cfi_rbp_saved(ms_cfi_rule r)
{
	return (r >> 3) & 1;
}

static inline int64_t ms_cfi_cfa_off(ms_cfi_rule r)
{
	return (int32_t)(uint32_t)(r >> 4);
}

static inline int64_t ms_cfi_rbp_off(ms_cfi_rule r)
{
	return (int64_t)r >> 36;
}

/* The rule at pc from the unwind information whose .eh_frame_hdr is at
 * hdr, reading nothing outside [lo, hi). What ms_cfi_fill does once it has
 * found the object of pc; apart, for the fuzzer. */
ms_cfi_rule ms_cfi_parse(const uint8_t *hdr, uintptr_t lo, uintptr_t hi, uint64_t pc);

/* Forgets every cached rule: after a dlclose, an address may hold other
 * code. Cheap; any thread. */
void ms_cfi_forget(void);

/* The rule at pc, found the slow way (dl_iterate_phdr: the loader's lock)
 * and cached. */
ms_cfi_rule ms_cfi_fill(uint64_t pc, uint64_t key);

/* The cache (cfi.c): a table of (key, packed rule), the key the address
 * with the generation in its top bits (user addresses are below 2^47).
 * Read without a lock: key, rule, key again, as a seqcount. Two ways a
 * set, the newest first: direct-mapped, two hot addresses that hash alike
 * (the hook's own frame and one of the program's, say: every capture
 * walks both) evicted each other at every capture, and which two do
 * depends on where the loader put the libraries (sqlite3 spent 9% of its
 * time refilling one slot). */
#define MS_CFI_CACHE_BITS 14 /* entries; sets of MS_CFI_WAYS */
#define MS_CFI_WAYS 2
#define MS_CFI_KEY_PC_BITS 48
#define MS_CFI_KEY_GEN_MASK 0xffffu

struct ms_cfi_entry {
	uint64_t key;
	uint64_t rule;
};

extern struct ms_cfi_entry ms_cfi_cache[1u << MS_CFI_CACHE_BITS];
extern uint32_t ms_cfi_generation_now;

/* Changes whenever ms_cfi_forget runs: what a caller cached from rules
 * before is stale when this differs. */
static inline uint32_t ms_cfi_generation(void)
{
	return __atomic_load_n(&ms_cfi_generation_now, __ATOMIC_ACQUIRE);
}

/* The first of the MS_CFI_WAYS entries of pc's set. */
static inline struct ms_cfi_entry *ms_cfi_set_of(uint64_t pc)
{
	return &ms_cfi_cache[((pc * 0x9e3779b97f4a7c15ull) >> (64 - MS_CFI_CACHE_BITS + 1)) *
			     MS_CFI_WAYS];
}

/* An entry's rule if it holds key, read as a seqcount; 0 (no rule packs to
 * 0) if not. */
static inline ms_cfi_rule ms_cfi_entry_rule(const struct ms_cfi_entry *e, uint64_t key)
{
	if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == key) {
		uint64_t w = __atomic_load_n(&e->rule, __ATOMIC_RELAXED);

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->key, __ATOMIC_RELAXED) == key)
			return w;
	}
	return 0;
}

/* The rule at pc (already moved back into the call instruction for a
 * return address). Hook path; a miss in the cache walks the loaded objects
 * (dl_iterate_phdr, the loader's lock). */
static inline ms_cfi_rule ms_cfi_find(uint64_t pc)
{
	uint64_t key = pc | (uint64_t)(ms_cfi_generation() & MS_CFI_KEY_GEN_MASK)
				    << MS_CFI_KEY_PC_BITS;
	const struct ms_cfi_entry *set = ms_cfi_set_of(pc);
	ms_cfi_rule w = ms_cfi_entry_rule(&set[0], key);

	if (__builtin_expect(w != 0, 1))
		return w;
	w = ms_cfi_entry_rule(&set[1], key);
	return w != 0 ? w : ms_cfi_fill(pc, key);
}

#endif
