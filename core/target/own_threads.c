/*
 * memscope's own threads in the program: see memscope/own_threads.h.
 *
 * Their CPU time. A thread of ours that runs is read by its thread CPU
 * clock, less what the clock read when it entered (base_ns); one that has
 * left added its time to retired_ns as it left, read by itself. Enter and
 * leave change the slots and retired_ns inside a bracket (begun raised
 * before, ended after, both by atomic adds, as two of our threads may come
 * or go at once); the sum is taken between reading ended and begun and
 * kept only when the two are equal. So a thread that leaves
 * while we sum is counted exactly once, and a tid the kernel hands a new
 * thread of the program after ours ended is never read as ours.
 */
#define _GNU_SOURCE
#include <memscope/own_threads.h>

#include <errno.h>
#include <sched.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>

/* Sums that met a change of the registry are retried this many times;
 * after that (a registry that never stands still) the last sum counts,
 * held to no less than the one before. */
#define SUM_TRIES 16

/* A slot holds a registered thread's id, 0 when free. Slots are claimed by
 * compare-and-swap and freed by their own thread only. */
static uint32_t slots[MS_OWN_THREADS_MAX];
static uint64_t base_ns[MS_OWN_THREADS_MAX];
static uint64_t retired_ns;
static uint32_t begun, ended;
static uint64_t last_sum; /* callers take turns: see the header */

static void change_begin(void)
{
	ms_atomic_add_relaxed_u32(&begun, 1);
	/* A sum that sees any of the new values below sees begun raised. */
	ms_atomic_fence_release();
}

static void change_end(void)
{
	ms_atomic_fence_release();
	ms_atomic_add_relaxed_u32(&ended, 1);
}

void ms_own_thread_enter(void)
{
	uint32_t tid = (uint32_t)ms_thread_id();
	uint64_t now = 0;

	ms_clock_thread_cpu_ns(0, &now);
	change_begin();
	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++) {
		if (ms_atomic_cas_acquire_u32(&slots[i], 0, tid)) {
			ms_atomic_store_relaxed(&base_ns[i], now);
			break;
		}
	}
	change_end();
}

void ms_own_thread_leave(void)
{
	uint32_t tid = (uint32_t)ms_thread_id();

	change_begin();
	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++) {
		uint64_t ns, base = ms_atomic_load_relaxed(&base_ns[i]);

		if (ms_atomic_load_relaxed_u32(&slots[i]) != tid)
			continue;
		if (ms_clock_thread_cpu_ns(0, &ns) == 0 && ns > base)
			ms_atomic_add_relaxed(&retired_ns, ns - base);
		ms_atomic_store_release_u32(&slots[i], 0);
	}
	change_end();
}

int ms_own_thread_is(pid_t tid)
{
	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++)
		if (tid > 0 && ms_atomic_load_acquire_u32(&slots[i]) == (uint32_t)tid)
			return 1;
	return 0;
}

uint32_t ms_own_thread_count(void)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++)
		n += ms_atomic_load_relaxed_u32(&slots[i]) != 0;
	return n;
}

/* One try at the sum: 0 when nothing changed meanwhile. */
static int try_sum(uint64_t *sum)
{
	uint32_t before = ms_atomic_load_acquire_u32(&ended);
	int ok = 1;

	*sum = ms_atomic_load_relaxed(&retired_ns);
	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++) {
		uint32_t tid = ms_atomic_load_acquire_u32(&slots[i]);
		uint64_t ns, base = ms_atomic_load_relaxed(&base_ns[i]);

		if (tid == 0)
			continue;
		if (ms_clock_thread_cpu_ns((pid_t)tid, &ns) == 0)
			*sum += ns > base ? ns - base : 0;
		else
			ok = 0; /* it ended: it left first, so the counts moved */
	}
	ms_atomic_fence_acquire();
	return ok && ms_atomic_load_relaxed_u32(&begun) == before ? 0 : -EAGAIN;
}

uint64_t ms_own_threads_cpu_ns(void)
{
	uint64_t sum = 0;

	for (int tries = 0; tries < SUM_TRIES; tries++) {
		if (try_sum(&sum) == 0)
			break;
		sched_yield();
	}
	if (sum < last_sum)
		sum = last_sum;
	last_sum = sum;
	return sum;
}

void ms_own_threads_forget(void)
{
	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++)
		ms_atomic_store_relaxed_u32(&slots[i], 0);
	/* The child's CPU clocks start from nothing. */
	ms_atomic_store_relaxed(&retired_ns, 0);
	ms_atomic_store_relaxed_u32(&begun, 0);
	ms_atomic_store_relaxed_u32(&ended, 0);
	last_sum = 0;
}
