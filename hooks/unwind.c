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
#include <string.h>

#include <memscope/platform.h>

#define DEFAULT_DEPTH 32
#define OWN_FRAMES (MS_UNWIND_BUFFER - MS_UNWIND_MAX_DEPTH)

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
	int n, skip = 0;

	if (depth == 0)
		return 0;
	/* Straight into the caller's buffer (a pointer is 64 bits here), then
	 * our own frames are shifted out: one buffer on the hook's stack. */
	_Static_assert(sizeof(void *) == sizeof(uint64_t), "return addresses fit uint64_t");
	n = unw_backtrace((void **)frames, (int)depth + OWN_FRAMES);
	while (skip < n && frames[skip] >= self_lo && frames[skip] < self_hi)
		skip++;
	n -= skip;
	if (n > (int)depth)
		n = (int)depth;
	if (n <= 0)
		return 0;
	if (skip > 0)
		memmove(frames, frames + skip, (size_t)n * sizeof(*frames));
	return (uint32_t)n;
}
