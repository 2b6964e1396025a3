/*
 * Stack capture with libunwind's unw_backtrace, which on x86-64 walks a
 * per-thread cache of frame layouts and falls back to DWARF unwinding only
 * for addresses it has not seen (heaptrack relies on the same fast path).
 * The first frames are the hook's own (malloc, its helpers); they are
 * recognised by address, since inlining makes their number vary.
 */
#define _GNU_SOURCE
#include "unwind.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdlib.h>

#include <memscope/platform.h>

#define DEFAULT_DEPTH 32
/* Our own frames at the top of the stack, at most. */
#define OWN_FRAMES 8

static uint32_t depth = DEFAULT_DEPTH;
static uint64_t self_lo, self_hi;

static int find_self(void *ctx, const ms_module_info *m)
{
	uint64_t here = (uint64_t)(uintptr_t)&ms_unwind_init;

	(void)ctx;
	if (here >= m->lo && here < m->hi) {
		self_lo = m->lo;
		self_hi = m->hi;
		return 1;
	}
	return 0;
}

void ms_unwind_init(void)
{
	const char *env = getenv("MEMSCOPE_DEPTH");

	if (env != NULL && env[0] != '\0') {
		long v = strtol(env, NULL, 10);

		depth = v < 0 ? 0 : v > MS_UNWIND_MAX_DEPTH ? MS_UNWIND_MAX_DEPTH : (uint32_t)v;
	}
	ms_modules_scan(find_self, NULL);
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

uint32_t ms_unwind(uint64_t *frames)
{
	void *ips[MS_UNWIND_MAX_DEPTH + OWN_FRAMES];
	int n, skip = 0;
	uint32_t kept = 0;

	if (depth == 0)
		return 0;
	n = unw_backtrace(ips, (int)depth + OWN_FRAMES);
	while (skip < n && (uint64_t)(uintptr_t)ips[skip] >= self_lo &&
	       (uint64_t)(uintptr_t)ips[skip] < self_hi)
		skip++;
	for (int i = skip; i < n && kept < depth; i++)
		frames[kept++] = (uint64_t)(uintptr_t)ips[i];
	return kept;
}
