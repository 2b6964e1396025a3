/* Stack capture for the hook: the caller's return addresses, with the
 * hook's own frames left out. Private to hooks/.
 *
 * Runs: the hook path (no malloc; libunwind only where the hook's own walk
 * gives up). */
#ifndef MEMSCOPE_HOOK_UNWIND_H
#define MEMSCOPE_HOOK_UNWIND_H

#include <stdint.h>

#define MS_UNWIND_MAX_DEPTH 128
/* Room for the hook's own frames too, which ms_unwind drops. */
#define MS_UNWIND_BUFFER (MS_UNWIND_MAX_DEPTH + 8)

/* Reads MEMSCOPE_DEPTH (default 32; 0 turns stacks off) and sets libunwind
 * up for per-thread caching. Call once, from the constructor. */
void ms_unwind_init(void);

/* Fills frames (room for MS_UNWIND_BUFFER) with the stack above the hook,
 * innermost first; returns how many. Hook path. */
uint32_t ms_unwind(uint64_t *frames);

/* With MEMSCOPE_UNWIND_CHECK=FILE, writes the check's counts there: every
 * capture, how it was made (reusing the thread's last stack, walked
 * through, or by libunwind) and how many differed from unw_backtrace.
 * At exit. */
void ms_unwind_report(void);

/* A library is gone: code addresses may now mean other code. */
void ms_unwind_forget(void);

#endif
