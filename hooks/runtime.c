/*
 * Start-up and shutdown of the hook, fork handling, and the sampler thread.
 *
 * Start-up runs in the library constructor, not lazily in malloc: creating
 * the segment and a thread from inside an arbitrary malloc call (possibly
 * under a libc or loader lock) could deadlock. Allocations made before the
 * constructor pass through untracked; their frees later count as untracked
 * frees, so every tracked figure stays exact.
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "unwind.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <memscope/backends.h>
#include <memscope/own_threads.h>
#include <memscope/platform.h>
#include <memscope/stream.h>

#define SAMPLE_INTERVAL_NS (100 * 1000 * 1000)
/* The leak scan walks every live block: once a second is enough for ages
 * counted in seconds. */
#define SCAN_EVERY 10
/* The sampler's stack: its deepest path (a sample, the leak scan, a
 * backend's maintenance) uses a few KiB, and the kernel only backs what is
 * touched. */
#define SAMPLER_STACK (64u << 10)

MS_HOOK_TLS int ms_hook_busy;
int ms_hook_ready;
int ms_hook_mmap;
ms_capture ms_hook_capture;

/* Serialises the sampler with fork and with the final sample at exit: the
 * timeline has a single writer at any time. */
static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
static int finished;
/* The process the open session is of (ms_runtime_exit tells a vfork child
 * from its parent by it). */
static pid_t session_pid;

/* A thread of memscope's own (the sampler, a backend's drain): what it
 * allocates is not the program's, and it is not counted among its threads. */
static void internal_thread(void)
{
	ms_hook_busy = 1;
}

/*
 * Whether every thread of the program has ended and only ours run on. The
 * main thread ends this way with pthread_exit (it stays a zombie while any
 * thread lives), and so does a process forked from a thread that was not
 * the main one when that thread returns. glibc ends the process with
 * exit(0) when its last thread ends, but it counts our threads among them:
 * left alone, the process would live on forever with all signals blocked
 * (ours block them so that the program's handlers never run on them).
 * Cheap in the common case: one read of /proc/self/stat.
 */
static int program_ended(void)
{
	pid_t tids[MS_OWN_THREADS_MAX + 1], main = getpid();
	uint64_t threads;
	char state;
	int n;

	if (ms_proc_state(0, &state, &threads) != 0 || state != 'Z' ||
	    threads > 1 + ms_own_thread_count())
		return 0;
	n = ms_proc_threads(0, tids, MS_OWN_THREADS_MAX + 1);
	if (n < 0 || n > MS_OWN_THREADS_MAX + 1)
		return 0;
	for (int i = 0; i < n; i++)
		if (tids[i] != main && !ms_own_thread_is(tids[i]))
			return 0; /* a thread of the program's runs on */
	return 1;
}

/* Does for the program what glibc would have done when its last thread
 * ended: exit(0), with its exit handlers, on this thread. From here on the
 * thread is the program's: what those handlers allocate and free is
 * counted. */
static void end_for_the_program(void)
{
	ms_own_thread_leave();
	ms_hook_busy = 0;
	exit(0);
}

static void *sampler_main(void *arg)
{
	struct timespec interval = { 0, SAMPLE_INTERVAL_NS };
	unsigned ticks = 0;

	(void)arg;
	ms_own_thread_enter();
	internal_thread(); /* the sampler's own allocations are not the program's */
	for (;;) {
		struct timespec left = interval;
		int ended;

		while (nanosleep(&left, &left) != 0)
			;
		pthread_mutex_lock(&sample_lock);
		ended = !finished && program_ended();
		if (!finished && ms_hook_ready) {
			ms_store_sample(&ms_hook_capture.store);
			ms_capture_maintain(&ms_hook_capture);
			if (++ticks % SCAN_EVERY == 0)
				ms_capture_scan_ages(&ms_hook_capture);
		}
		pthread_mutex_unlock(&sample_lock);
		if (ended)
			end_for_the_program();
	}
	return NULL;
}

/* The sampler must never receive the program's signals. */
static void start_sampler(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t tid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, SAMPLER_STACK);
	if (pthread_create(&tid, &attr, sampler_main, NULL) == 0)
		pthread_setname_np(tid, "memscope");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * fork. Between prepare and parent/child we hold every lock of ours, and
 * other libraries' fork handlers (and signal handlers) may allocate in that
 * window: the busy flag sends those allocations straight to the real
 * allocator instead of into our locks.
 */
static void fork_prepare(void)
{
	if (!ms_hook_ready)
		return;
	ms_hook_busy = 1;
	pthread_mutex_lock(&sample_lock);
	ms_capture_fork_prepare(&ms_hook_capture);
}

static void fork_parent(void)
{
	if (!ms_hook_ready)
		return;
	ms_capture_fork_parent(&ms_hook_capture);
	pthread_mutex_unlock(&sample_lock);
	ms_hook_busy = 0;
}

static void fork_child(void)
{
	if (!ms_hook_ready)
		return;
	pthread_mutex_init(&sample_lock, NULL);
	finished = 0; /* a child forked on the exit path starts afresh */
	/* Only the forking thread came along; our threads start anew. */
	ms_own_threads_forget();
	if (ms_capture_fork_child(&ms_hook_capture) != 0) {
		/* No session for the child: it runs on untracked. */
		ms_hook_ready = 0;
	} else {
		session_pid = getpid();
		start_sampler();
	}
	ms_hook_busy = 0;
}

static pid_t env_pid(const char *name)
{
	const char *s = getenv(name);
	long v = 0;

	if (s == NULL)
		return 0;
	for (; *s >= '0' && *s <= '9' && v < 0x7fffffff; s++)
		v = v * 10 + (*s - '0');
	return *s == '\0' ? (pid_t)v : 0;
}

static void say(const char *msg)
{
	ssize_t n = write(STDERR_FILENO, msg, strlen(msg));

	(void)n;
}

void ms_runtime_start(void)
{
	const char *want = getenv("MEMSCOPE_BACKEND");
	const char *mmap_env = getenv("MEMSCOPE_MMAP");
	const ms_backend_ops *ops = ms_backend_find(want);
	pid_t keeper = env_pid("MEMSCOPE_KEEPER");
	int events_fd = (int)env_pid(MS_STREAM_ENV);

	if (ops == NULL) {
		/* The one case where the hook speaks: the user asked for
		 * something that does not exist. */
		say("memscope: unknown MEMSCOPE_BACKEND; using the default backend\n");
		ops = ms_backend_find(NULL);
	}
	ms_hook_busy = 1;
	ms_hook_mmap = mmap_env == NULL || mmap_env[0] != '0';
	ms_capture_internal_thread = internal_thread;
	ms_unwind_init();
	if (ms_capture_open(&ms_hook_capture, ops, ms_shm_dir(), keeper) == 0) {
		/* The event stream, when the launcher asked for it. After an
		 * exec the variable stays but the socket does not (it is
		 * close-on-exec): ms_capture_stream checks that it is the
		 * launcher's socket before using it. */
		if (events_fd > 0 && keeper > 0)
			ms_capture_stream(&ms_hook_capture, events_fd, keeper);
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		session_pid = getpid();
		start_sampler();
		__atomic_store_n(&ms_hook_ready, 1, __ATOMIC_RELEASE);
	}
	ms_hook_busy = 0;
}

__attribute__((destructor)) static void runtime_stop(void)
{
	if (!ms_hook_ready)
		return;
	pthread_mutex_lock(&sample_lock);
	if (finished) {
		/* _exit came first (ms_runtime_exit) */
		pthread_mutex_unlock(&sample_lock);
		return;
	}
	finished = 1;
	/* The last word on what is left live, and how old. */
	ms_capture_flush(&ms_hook_capture);
	ms_store_sample(&ms_hook_capture.store);
	ms_capture_scan_ages(&ms_hook_capture);
	/* Accounting goes on after this: destructors and exit handlers that
	 * run later may still free, and readers keep seeing it. */
	ms_capture_finish(&ms_hook_capture);
	pthread_mutex_unlock(&sample_lock);
	ms_unwind_report();
}

void ms_runtime_exit(void)
{
	/* Only the session's own process: a vfork child (or a clone sharing
	 * our memory) sees our variables, even our thread's TLS, but its exit
	 * is not ours. The system call, as the pid is not cached. */
	if (!__atomic_load_n(&ms_hook_ready, __ATOMIC_ACQUIRE) ||
	    (pid_t)syscall(SYS_getpid) != session_pid)
		return;
	/* Inside our own code (a signal handler interrupted the hook, or
	 * fork holds our locks): ending the session could wait on a lock this
	 * thread holds. The session then reads "gone" instead. */
	if (ms_hook_busy)
		return;
	runtime_stop();
}
