/* Clocks and thread identity on Linux. */
#define _GNU_SOURCE
#include <memscope/platform.h>

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
