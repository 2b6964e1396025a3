/*
 * memscope's own threads inside the monitored program (the sampler, a
 * backend's drain), by kernel thread id.
 *
 * Runs: in the program, on memscope's own threads and on the hook path.
 * Every function here is hook-safe (no malloc, no lock) and may be called
 * from any thread at any time.
 *
 * Why: the program's figures leave these threads out (its thread count,
 * its CPU time: ours is shown as memscope's own cost), and the sampler
 * must know when the program has no thread of its own left: glibc ends a
 * process when its last thread ends, but it counts our threads too, so
 * without us the process would never end (hooks/runtime.c).
 *
 * Every such thread calls ms_own_thread_enter() first thing and
 * ms_own_thread_leave() before it returns, so that a thread id the kernel
 * hands out again later is never taken for ours.
 */
#ifndef MEMSCOPE_OWN_THREADS_H
#define MEMSCOPE_OWN_THREADS_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many of our threads are known at once; more are counted as
 * the program's (which errs on the side of keeping the process alive). */
#define MS_OWN_THREADS_MAX 8

/* Registers / unregisters the calling thread. */
void ms_own_thread_enter(void);
void ms_own_thread_leave(void);

/* Whether tid is one of ours now. */
int ms_own_thread_is(pid_t tid);

/* How many of our threads are registered now. */
uint32_t ms_own_thread_count(void);

/* CPU time of our threads in this process so far: of those registered now
 * by their thread clocks, of those that have left as they left. Never less
 * than the answer before, however threads come and go. A thread's time
 * before it entered, or beyond MS_OWN_THREADS_MAX, is not in it. Not the
 * hook's work on the program's threads, which no thread clock can tell
 * apart. Callers take turns (the sampler's lock): the guard against going
 * backwards is one plain word. */
uint64_t ms_own_threads_cpu_ns(void);

/* In a forked child: only the forking thread came along, none of ours,
 * and the CPU clocks start afresh. */
void ms_own_threads_forget(void);

#ifdef __cplusplus
}
#endif

#endif
