/* memscope's own threads in the program: see memscope/own_threads.h. */
#define _GNU_SOURCE
#include <memscope/own_threads.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>

/* A slot holds a registered thread's id, 0 when free. Slots are claimed by
 * compare-and-swap and freed by their own thread only. */
static uint32_t slots[MS_OWN_THREADS_MAX];

void ms_own_thread_enter(void)
{
	uint32_t tid = (uint32_t)ms_thread_id();

	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++)
		if (ms_atomic_cas_acquire_u32(&slots[i], 0, tid))
			return;
}

void ms_own_thread_leave(void)
{
	uint32_t tid = (uint32_t)ms_thread_id();

	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++)
		if (ms_atomic_load_relaxed_u32(&slots[i]) == tid)
			ms_atomic_store_release_u32(&slots[i], 0);
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

void ms_own_threads_forget(void)
{
	for (unsigned i = 0; i < MS_OWN_THREADS_MAX; i++)
		ms_atomic_store_relaxed_u32(&slots[i], 0);
}
