/*
 * Stack capture for the hook, in the monitored program. Hook path: no
 * malloc, no lock but the loader's (on the first sight of a code address).
 *
 * On x86-64 the hook walks the stack itself, with the call frame rules of
 * cfi.c, and incrementally: each thread keeps its last stack with, for each
 * frame, the address of the slot that held its return address (CFA - 8)
 * and the rbp its caller had. A new walk stops at the first frame whose
 * slot, return address and rbp all equal a frame of the last stack, checks
 * that every outer slot of the last stack still holds its return address,
 * and then reuses those frames instead of walking them. A slot that no
 * longer holds its address (the program returned past it, threw through
 * it, longjmp'd, switched coroutines) fails the check, and the walk goes on
 * by itself: the stack is exactly the one a full walk would give. A thread
 * that allocates in a loop from one place walks one frame a capture, not
 * thirty (python3: six on average). Return addresses are read, never
 * patched.
 *
 * What the rules cannot follow (a signal frame, code without unwind
 * information, a CFA computed by expression) goes to libunwind's
 * unw_backtrace, which walks its own per-thread cache of frame layouts and
 * falls back to DWARF unwinding where needed (heaptrack relies on the
 * same); so do other architectures. The first frames are the hook's own
 * (malloc, its helpers); they are recognised by address, since inlining
 * makes their number vary.
 *
 * MEMSCOPE_UNWIND_CHECK=FILE (for tests) takes every capture a second time
 * with unw_backtrace, compares, and writes the counts to FILE at exit.
 */
#define _GNU_SOURCE
#include "unwind.h"
#include "cfi.h"
#include "runtime.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <fcntl.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memscope/platform.h>

#define MS_TLS __thread __attribute__((tls_model("initial-exec")))
#define EXPORT __attribute__((visibility("default")))

#define DEFAULT_DEPTH 32
#define OWN_FRAMES (MS_UNWIND_BUFFER - MS_UNWIND_MAX_DEPTH)
/* libunwind's trace stops at a return address this low (src/x86_64/
 * Gtrace.c): no code is mapped there. The walk stops alike. */
#define LOWEST_CODE 0x4000u
/* Two frames further apart than this are a broken rule, not a stack. */
#define FRAME_SPAN_MAX (1ull << 30)

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

/* ---- the check mode ---------------------------------------------------- */

static char check_path[256];
static int checking;
static struct {
	uint64_t captures, reused, walked, fallback, mismatches;
	uint64_t frames_walked, frames_reused;
} checked;
static uint64_t first_bad[2][MS_UNWIND_MAX_DEPTH];
static uint32_t first_bad_n[2];

/* ---- the walk ------------------------------------------------------------ */

#if defined(__x86_64__)
#define WALK_CAP MS_UNWIND_BUFFER

/* This thread's last stack, innermost first at [WALK_CAP - n, WALK_CAP):
 * anchored at the outer end, so that a new stack sharing its outer frames
 * rewrites only its inner ones. */
struct last_stack {
	uint32_t n;
	uint32_t complete;   /* it reached the stack's end (not cut at max) */
	uint32_t generation; /* ms_cfi_generation() of its rules */
	uint64_t ra[WALK_CAP], slot[WALK_CAP], bp[WALK_CAP];
};
static MS_TLS struct last_stack last;

struct walk_stats {
	int reused;
	uint32_t walked, taken;
};

/* The slots of an outer part of the last stack still hold its return
 * addresses. */
static int still_there(uint32_t from, uint32_t count)
{
	for (uint32_t i = from; i < from + count; i++)
		if (*(const volatile uint64_t *)(uintptr_t)last.slot[i] != last.ra[i])
			return 0;
	return 1;
}

/* Makes the last stack the n frames just found. */
static void remember(const uint64_t *ra, const uint64_t *slot, const uint64_t *bp, uint32_t n,
		     int complete, uint32_t generation)
{
	uint32_t at = WALK_CAP - n;

	memcpy(&last.ra[at], ra, n * sizeof(*ra));
	memcpy(&last.slot[at], slot, n * sizeof(*slot));
	memcpy(&last.bp[at], bp, n * sizeof(*bp));
	last.n = n;
	last.complete = (uint32_t)complete;
	last.generation = generation;
}

/*
 * Fills out (room for max <= WALK_CAP) with the return addresses above this
 * function, innermost first; returns how many, or -1 where libunwind must
 * do it. Not inlined: its own frame is where the walk starts.
 */
static __attribute__((noinline)) int walk(uint64_t *out, uint32_t max, struct walk_stats *ws)
{
	uint64_t pc, sp, bp;
	uint64_t slot[max], bps[max];
	uint32_t generation = ms_cfi_generation();
	uint32_t n = 0, j = 0, base;
	int use_prev = 0, complete = 0, matching;

	/* rbp first: an output register may be rbp itself. */
	__asm__ volatile("mov %%rbp, %0\n\t"
			 "mov %%rsp, %1\n\t"
			 "lea 0(%%rip), %2"
			 : "=r"(bp), "=r"(sp), "=r"(pc));
	if (last.generation != generation)
		last.n = 0;
	base = WALK_CAP - last.n;
	matching = last.n > 0;
	while (n < max) {
		ms_cfi_rule r = ms_cfi_find(pc - (uint64_t)use_prev);
		uint64_t cfa, ra;

		if (ms_cfi_kind_of(r) == MS_CFI_END) {
			complete = 1;
			break;
		}
		if (ms_cfi_kind_of(r) != MS_CFI_STANDARD)
			goto fallback;
		cfa = (ms_cfi_cfa_rbp(r) ? bp : sp) + (uint64_t)ms_cfi_cfa_off(r);
		if (cfa < sp + 8 || cfa - sp > FRAME_SPAN_MAX)
			goto fallback;
		ra = *(const uint64_t *)(uintptr_t)(cfa - 8);
		if (ms_cfi_rbp_saved(r))
			bp = *(const uint64_t *)(uintptr_t)(cfa + (uint64_t)ms_cfi_rbp_off(r));
		sp = cfa;
		use_prev = 1;
		if (ra < LOWEST_CODE) {
			complete = 1;
			break;
		}
		out[n] = ra;
		slot[n] = cfa - 8;
		bps[n] = bp;
		n++;
		pc = ra;
		if (!matching)
			continue;
		while (j < last.n && last.slot[base + j] < cfa - 8)
			j++;
		if (j == last.n) {
			matching = 0;
			continue;
		}
		if (last.slot[base + j] == cfa - 8 && last.ra[base + j] == ra &&
		    last.bp[base + j] == bp) {
			/* Frame n - 1 is frame j of the last stack: the rest is
			 * the last stack's, if its slots say so. */
			uint32_t outer = last.n - 1 - j, take = outer < max - n ? outer : max - n;
			uint32_t fresh = n - 1, size = fresh + last.n - j;

			matching = 0;
			if (!still_there(base + j + 1, take))
				continue;
			memcpy(&out[n], &last.ra[base + j + 1], take * sizeof(*out));
			ws->reused = 1;
			ws->walked = n;
			ws->taken = take;
			if (take == outer && !last.complete && n + take < max) {
				/* The last stack was cut shorter than this one
				 * may be: walk on from its outermost frame. */
				memcpy(&slot[n], &last.slot[base + j + 1], take * sizeof(*slot));
				memcpy(&bps[n], &last.bp[base + j + 1], take * sizeof(*bps));
				n += take;
				pc = out[n - 1];
				sp = slot[n - 1] + 8;
				bp = bps[n - 1];
				continue;
			}
			if (size <= WALK_CAP) {
				uint32_t at = base + j - fresh;

				memcpy(&last.ra[at], out, fresh * sizeof(*out));
				memcpy(&last.slot[at], slot, fresh * sizeof(*slot));
				memcpy(&last.bp[at], bps, fresh * sizeof(*bps));
				last.n = size;
			} else {
				last.n = 0;
			}
			return (int)(n + take);
		}
	}
	if (!ws->reused)
		ws->walked = n;
	remember(out, slot, bps, n, complete, generation);
	return (int)n;
fallback:
	last.n = 0;
	return -1;
}
#endif

/* ---- capture --------------------------------------------------------- */

static uint32_t own_frames_out(uint64_t *frames, int n)
{
	int skip = 0;

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

static uint32_t by_libunwind(uint64_t *frames)
{
	/* Straight into the caller's buffer (a pointer is 64 bits here). */
	_Static_assert(sizeof(void *) == sizeof(uint64_t), "return addresses fit uint64_t");
	return own_frames_out(frames, unw_backtrace((void **)frames, (int)depth + OWN_FRAMES));
}

static void check(const uint64_t *frames, uint32_t n, int fast, const struct walk_stats *ws)
{
	uint64_t again[MS_UNWIND_BUFFER];
	uint32_t m = by_libunwind(again);

	__atomic_add_fetch(&checked.captures, 1, __ATOMIC_RELAXED);
	if (!fast) {
		__atomic_add_fetch(&checked.fallback, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(ws->reused ? &checked.reused : &checked.walked, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&checked.frames_walked, ws->walked, __ATOMIC_RELAXED);
	__atomic_add_fetch(&checked.frames_reused, ws->taken, __ATOMIC_RELAXED);
	if (m == n && memcmp(again, frames, n * sizeof(*frames)) == 0)
		return;
	if (__atomic_add_fetch(&checked.mismatches, 1, __ATOMIC_RELAXED) == 1) {
		memcpy(first_bad[0], frames, n * sizeof(*frames));
		first_bad_n[0] = n;
		memcpy(first_bad[1], again, m * sizeof(*again));
		first_bad_n[1] = m;
	}
}

uint32_t ms_unwind(uint64_t *frames)
{
	struct walk_stats ws = { 0 };
	uint32_t n;
	int fast = 0;

	if (depth == 0)
		return 0;
#if defined(__x86_64__)
	{
		int got = walk(frames, depth + OWN_FRAMES, &ws);

		if (got >= 0) {
			n = own_frames_out(frames, got);
			fast = 1;
		} else {
			n = by_libunwind(frames);
		}
	}
#else
	n = by_libunwind(frames);
#endif
	if (__builtin_expect(checking, 0))
		check(frames, n, fast, &ws);
	return n;
}

void ms_unwind_init(void)
{
	const char *env = getenv("MEMSCOPE_DEPTH");
	const char *check_env = getenv("MEMSCOPE_UNWIND_CHECK");

	if (env != NULL && env[0] != '\0') {
		long v = strtol(env, NULL, 10);

		depth = v < 0 ? 0 : v > MS_UNWIND_MAX_DEPTH ? MS_UNWIND_MAX_DEPTH : (uint32_t)v;
	}
	if (check_env != NULL && check_env[0] != '\0' &&
	    strlen(check_env) < sizeof(check_path)) {
		strcpy(check_path, check_env);
		checking = 1;
	}
	ms_modules_scan(find_self, NULL);
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

void ms_unwind_forget(void)
{
#if defined(__x86_64__)
	ms_cfi_forget();
#endif
}

/* dlclose, so that the rules of a library's code are forgotten once it is
 * gone: another library may be loaded at its addresses. */
static int (*real_dlclose)(void *);

static void dlclose_resolve(void)
{
	int busy = ms_hook_busy;

	ms_hook_busy = 1; /* dlsym's own allocations are not the program's */
	__atomic_store_n(&real_dlclose, (int (*)(void *))dlsym(RTLD_NEXT, "dlclose"),
			 __ATOMIC_RELEASE);
	ms_hook_busy = busy;
}

__attribute__((constructor(102))) static void dlclose_init(void)
{
	dlclose_resolve();
}

EXPORT int dlclose(void *handle)
{
	int r;

	/* Another library's constructor may come before ours. */
	if (__atomic_load_n(&real_dlclose, __ATOMIC_ACQUIRE) == NULL)
		dlclose_resolve();
	if (real_dlclose == NULL)
		return -1;
	r = real_dlclose(handle);
	ms_unwind_forget();
	return r;
}

void ms_unwind_report(void)
{
	char line[8192];
	int len, fd;

	if (!checking)
		return;
	len = snprintf(line, sizeof(line),
		       "captures %lu reused %lu walked %lu fallback %lu mismatches %lu "
		       "frames_walked %lu frames_reused %lu\n",
		       (unsigned long)checked.captures, (unsigned long)checked.reused,
		       (unsigned long)checked.walked, (unsigned long)checked.fallback,
		       (unsigned long)checked.mismatches, (unsigned long)checked.frames_walked,
		       (unsigned long)checked.frames_reused);
	for (int w = 0; w < 2 && checked.mismatches > 0; w++) {
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s",
				w == 0 ? "first mismatch, walk:" : "libunwind:");
		for (uint32_t i = 0; i < first_bad_n[w] && len < (int)sizeof(line) - 24; i++)
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %lx",
					(unsigned long)first_bad[w][i]);
		len += snprintf(line + len, sizeof(line) - (size_t)len, "\n");
	}
	fd = open(check_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)len) < 0) {
		/* a test's file: nothing more to do */
	}
	close(fd);
}
