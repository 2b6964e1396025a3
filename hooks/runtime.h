/* The hook library's runtime: the one capture engine of the process, its
 * start-up, fork handling, sampler thread and shutdown. Private to hooks/.
 *
 * Runs: in the program: the hook path, the sampler thread, the start, fork
 * and exit paths. */
#ifndef MEMSCOPE_HOOK_RUNTIME_H
#define MEMSCOPE_HOOK_RUNTIME_H

#include <memscope/capture.h>

#define MS_HOOK_TLS __thread __attribute__((tls_model("initial-exec")))

/* Set while a thread is inside the hook (or is the sampler): allocations it
 * makes then go straight to the real allocator, untracked. */
extern MS_HOOK_TLS int ms_hook_busy;

/* Non-zero once the engine is open and recording. Hook path reads it. */
extern int ms_hook_ready;
/* Mappings are counted (MEMSCOPE_MMAP is not "0"): hooks/mmap.c. */
extern int ms_hook_mmap;

extern ms_capture ms_hook_capture;

/* Opens the engine (once per process image). Called from the library's
 * constructor, after the real allocator functions are resolved. */
void ms_runtime_start(void);

/* Ends the session as the library's destructor does, for the exits that
 * run no destructors (_exit, _Exit). Does nothing in a process that is not
 * the session's (a vfork child) or when called from inside the hook. Once:
 * the destructor does nothing after it. */
void ms_runtime_exit(void);

#endif
