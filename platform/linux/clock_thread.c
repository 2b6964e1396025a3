/* Clocks and thread identity on Linux. */
#define _GNU_SOURCE
#include <memscope/platform.h>

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ms_clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t ms_clock_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t ms_clock_process_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* The clock pthread_getcpuclockid names, from the kernel's encoding of a
 * thread CPU clock (include/linux/posix-timers.h: the tid inverted and
 * shifted, "per thread" and "sched" in the low bits): by tid, so that a
 * thread's clock is read from another thread with no pthread_t at hand. */
static clockid_t thread_clock(pid_t tid)
{
	return (clockid_t)((~(unsigned)tid << 3) | 4u | 2u);
}

int ms_clock_thread_cpu_ns(pid_t tid, uint64_t *ns)
{
	struct timespec ts;

	if (tid < 0)
		return -EINVAL;
	if (clock_gettime(tid == 0 ? CLOCK_THREAD_CPUTIME_ID : thread_clock(tid), &ts) != 0)
		return -errno;
	*ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

/* The reads are taken again when they lasted longer than this (the caller
 * was preempted among them), a few times at most. */
#define FRESH_WINDOW_NS 20000u
#define FRESH_THREAD_NS 2000u

void ms_clock_process_cpu_fresh(uint64_t *cpu_ns, uint64_t *mono_ns)
{
	pid_t tids[MS_CLOCK_FRESH_THREADS];
	int n = ms_proc_threads(0, tids, MS_CLOCK_FRESH_THREADS);

	if (n > MS_CLOCK_FRESH_THREADS)
		n = MS_CLOCK_FRESH_THREADS;
	for (int tries = 0; tries < 8; tries++) {
		uint64_t start = ms_clock_mono_ns(), ns;

		for (int i = 0; i < n; i++)
			ms_clock_thread_cpu_ns(tids[i], &ns);
		*cpu_ns = ms_clock_process_cpu_ns();
		*mono_ns = ms_clock_mono_ns();
		if (*mono_ns - start <= FRESH_WINDOW_NS + (uint64_t)(n > 0 ? n : 0) * FRESH_THREAD_NS)
			break;
	}
}

pid_t ms_thread_id(void)
{
	/* The raw syscall: gettid() needs glibc 2.30 and the value must not be
	 * cached across fork by anyone but us. */
	return (pid_t)syscall(SYS_gettid);
}

void ms_thread_name_self(char *buf, size_t len)
{
	char name[17] = { 0 };

	if (len == 0)
		return;
	if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0)
		name[0] = '\0';
	strncpy(buf, name, len - 1);
	buf[len - 1] = '\0';
}
