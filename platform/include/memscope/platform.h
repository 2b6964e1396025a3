/*
 * memscope platform contract: everything memscope needs from the operating
 * system, behind one header. Implemented per OS under platform/<os>/; an OS
 * without an implementation fails the build with a clear message instead of
 * getting a silent stub.
 *
 * Conventions for every function here:
 *   - Errors: functions that can fail return 0 on success or -errno.
 *   - Runs: anywhere, the hook path included. Nothing here allocates
 *     through malloc, takes a lock or uses stdio, so each may be called from
 *     inside an interposed malloc (ms_modules_scan takes the loader's lock:
 *     said on it).
 *   - Strings written to caller buffers are always NUL-terminated and
 *     truncated to fit.
 *   - /proc content is untrusted: readers are bounds-checked and a malformed
 *     file gives -EINVAL, never a crash.
 */
#ifndef MEMSCOPE_PLATFORM_H
#define MEMSCOPE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks, in nanoseconds. Monotonic time is shared by all processes of the
 * machine, so a reader may compare it with times a target wrote. */
uint64_t ms_clock_mono_ns(void);
uint64_t ms_clock_real_ns(void);
/* CPU time consumed by the whole calling process. */
uint64_t ms_clock_process_cpu_ns(void);
/* The same, up to date, and the monotonic time it was read at, within
 * microseconds of each other. The kernel's process clock counts a thread
 * that is running on another CPU only up to its last scheduler tick (4 ms
 * at 250 Hz: a busy thread would seem to use 96% of one interval and 104%
 * of the next); reading that thread's own clock first brings it up to
 * date, so the first MS_CLOCK_FRESH_THREADS threads of /proc/self/task are
 * read first (threads beyond them may lag by a tick). Lists the threads
 * with getdents. */
#define MS_CLOCK_FRESH_THREADS 256
void ms_clock_process_cpu_fresh(uint64_t *cpu_ns, uint64_t *mono_ns);
/* CPU time consumed by thread tid of the calling process (0: the calling
 * thread), from its thread CPU clock. -EINVAL once that thread has ended;
 * a tid the kernel reused for a new thread of the process reads that
 * thread's time. */
int ms_clock_thread_cpu_ns(pid_t tid, uint64_t *ns);

/* Kernel thread id of the calling thread (not pthread_t). */
pid_t ms_thread_id(void);

/* Name of the calling thread (the kernel "comm", at most 15 characters). */
void ms_thread_name_self(char *buf, size_t len);

/* Name of thread tid of process pid (0 = the caller), from /proc. */
int ms_thread_name(pid_t pid, pid_t tid, char *buf, size_t len);

/* Reads a whole small file into buf (at most len - 1 bytes, NUL-terminated).
 * Returns the number of bytes read or -errno. */
ssize_t ms_read_file(const char *path, char *buf, size_t len);

/* Resident set size of pid (0 = the caller) in bytes, from /proc/PID/statm. */
int ms_proc_rss(pid_t pid, uint64_t *bytes);

/* User plus system CPU time of pid (0 = the caller), from /proc/PID/stat. */
int ms_proc_cpu_ns(pid_t pid, uint64_t *ns);

/* The process's thread count (all its threads, the kernel's count). pid 0
 * is the calling process. Returns 0 or a negative errno. */
int ms_proc_thread_count(pid_t pid, uint64_t *threads);

/* State letter of pid's main thread (0 = the caller) and the process's
 * thread count, from /proc/PID/stat. A running process's main thread may be
 * a zombie ('Z'): it ended with pthread_exit while other threads go on. */
int ms_proc_state(pid_t pid, char *state, uint64_t *threads);

/* State letter (R, S, D, Z, ...) and user plus system CPU time of thread
 * tid of pid, from /proc/PID/task/TID/stat. */
int ms_proc_thread_stat(pid_t pid, pid_t tid, char *state, uint64_t *cpu_ns);

/* Start time of pid (0 = the caller) in clock ticks since boot, from
 * /proc/PID/stat. Together with the pid it names one process for good: a
 * reused pid has a different start time. */
int ms_proc_start_ticks(pid_t pid, uint64_t *ticks);

/* Whether the process that had start time start_ticks is still alive (a
 * zombie counts as gone; a zombie main thread whose other threads run on
 * does not). */
int ms_proc_alive(pid_t pid, uint64_t start_ticks);

/* Thread ids of pid (0 = the caller) from /proc/PID/task: fills at most
 * max entries and returns how many threads there are (may exceed max), or
 * -errno. */
int ms_proc_threads(pid_t pid, pid_t *tids, int max);

/* The command line of the calling process, arguments separated by NULs.
 * Returns its length in bytes (truncated to len - 1) or -errno. */
ssize_t ms_proc_cmdline_self(char *buf, size_t len);

/* Text without stdio, for the paths and names built inside the program.
 * Each put appends to buf from offset n while room is left (one byte stays
 * for the NUL) and returns the offset the whole text reaches; ms_text_end
 * writes the NUL and returns 0, or -ENAMETOOLONG if the text was cut. */
size_t ms_text_put(char *buf, size_t len, size_t n, const char *s);
size_t ms_text_put_uint(char *buf, size_t len, size_t n, uint64_t v);
int ms_text_end(char *buf, size_t len, size_t n);

/* Shared memory. Segments are plain files in a tmpfs directory: the default
 * is /dev/shm, the MEMSCOPE_DIR environment variable overrides it. */
const char *ms_shm_dir(void);

/* Creates path exclusively with owner-only permissions, sizes it (sparse)
 * and maps it read-write. Returns 0 and sets *addr, or -errno (-EEXIST if
 * it exists). With fd not NULL the file stays open there (for
 * ms_shm_reserve); otherwise it is closed. */
int ms_shm_create(const char *path, size_t size, void **addr, int *fd);

/* Gives bytes [off, off + len) of a segment real memory now, so that a
 * write there can never fault for want of space in the tmpfs (a sparse
 * page written when the tmpfs is full kills the writer with SIGBUS).
 * Returns 0 or -errno (-ENOSPC). */
int ms_shm_reserve(int fd, uint64_t off, uint64_t len);

/* Opens an existing segment read-only and maps all of it. Refuses files not
 * owned by the caller (-EPERM) and files that are not regular (-EINVAL).
 * Returns 0 and sets *addr and *size, or -errno. */
int ms_shm_map_readonly(const char *path, const void **addr, size_t *size);

/* Maps an existing segment of the caller's read-write (for the hook to take
 * over a segment of its own pid left by a previous image). */
int ms_shm_map_readwrite(const char *path, void **addr, size_t *size);

void ms_shm_unmap(const void *addr, size_t size);

/* Calls cb with the name of each entry of directory dir until it returns
 * non-zero. Hook-safe: reads the directory with getdents64 into a buffer
 * on the stack. Returns 0 or -errno. */
int ms_dir_scan(const char *dir, int (*cb)(void *ctx, const char *name), void *ctx);

/* Anonymous private memory straight from the kernel, zero-filled. The hook
 * uses this for its own tables so it never allocates through malloc. */
void *ms_pages_alloc(size_t size);
void ms_pages_free(void *addr, size_t size);

/* Loaded objects of the calling process (the executable, shared libraries,
 * the vDSO), as the dynamic loader lists them. */
typedef struct ms_module_info {
	uint64_t base;    /* load bias */
	uint64_t lo, hi;  /* runtime range of the loadable segments */
	const char *path; /* valid during the callback only */
} ms_module_info;

/* Calls cb for each loaded object until it returns non-zero. The
 * executable's path is read from /proc/self/exe. Hook-safe, but takes the
 * loader's lock: do not call it from the callback of another scan. */
int ms_modules_scan(int (*cb)(void *ctx, const ms_module_info *m), void *ctx);

/* The loader's counts of objects loaded and unloaded so far: when both are
 * unchanged, so is the set of loaded objects. Cheap (one callback). */
void ms_modules_counts(uint64_t *adds, uint64_t *subs);

#ifdef __cplusplus
}
#endif

#endif
