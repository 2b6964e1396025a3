/*
 * The EventStore, reader side: maps a session's segment read-only, checks
 * it, and copies consistent snapshots out of it. The segment's bytes are
 * untrusted (another process writes them, and may die at any instant):
 * every offset, count and string is validated, and every retry is bounded.
 *
 * Runs: readers only (memscope-top, memscope-report, tests): snapshots
 * allocate.
 */
#ifndef MEMSCOPE_SNAPSHOT_H
#define MEMSCOPE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memscope/segment.h>
#include <memscope/session.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_COMMAND_MAX 2048u

/* Errors of ms_reader_open besides plain -errno values. */
#define MS_ERR_NOT_MEMSCOPE (-1001)
#define MS_ERR_VERSION (-1002)
#define MS_ERR_CORRUPT (-1003)
#define MS_ERR_STARTING (-1004)
/* The segment shrank while it was read (its file was truncated). */
#define MS_ERR_TRUNCATED (-1005)

typedef enum ms_session_state {
	MS_SESSION_RUNNING,
	MS_SESSION_EXITED, /* the program exited (exit, _exit, _Exit, main returned) */
	MS_SESSION_EXECED, /* the program image was replaced by exec */
	MS_SESSION_GONE,   /* the process died without an exit path (killed) */
} ms_session_state;

typedef struct ms_reader {
	const void *base;
	size_t size;
	char path[MS_SESSION_PATH_MAX];
	/* The program is CPython with its own allocator (memscope/python.h),
	 * as found when the reader opened: it needs the live process. */
	int python_pymalloc;
} ms_reader;

typedef struct ms_thread_info {
	pid_t tid;
	char name[16];
	int exited;
	uint64_t allocs, frees, alloc_bytes, free_bytes;
	uint64_t live_bytes, live_allocs;
} ms_thread_info;

/* A call site: the figures of the blocks allocated with one stack. */
/* What a call site allocates: heap blocks, or mappings (the program's own
 * anonymous private mmap calls): allocs are then mappings made, frees
 * mappings whose last page went, bytes whole pages. */
typedef enum ms_site_kind { MS_SITE_HEAP, MS_SITE_MMAP } ms_site_kind;

typedef struct ms_site_info {
	uint32_t stack; /* stack id; MS_STACK_NONE (0) for blocks without one */
	ms_site_kind kind;
	uint64_t allocs, frees, alloc_bytes, free_bytes;
	uint64_t live_bytes, live_allocs;
	uint64_t peak_bytes; /* the most this site ever held live at once */
	/* Its blocks freed before their thread allocated again (heaptrack's
	 * temporaries; memscope/event.h), among frees. */
	uint64_t temporary_allocs;
	/* Live blocks older than MS_STORE_AGE_TICKS[i], as of the last leak
	 * scan (see ms_snapshot.ages_scanned). */
	uint64_t old_bytes[MS_STORE_AGES];
	uint64_t old_allocs[MS_STORE_AGES];
	/* Lifetimes of its freed blocks, in seconds; -1 when none (or before
	 * the store's clock is calibrated). min and max are exact, the median
	 * within a factor of 1.5 (kept as powers of two). */
	double life_min_s, life_median_s, life_max_s;
} ms_site_info;

/* A loaded object as the target recorded it (see memscope/store.h). */
typedef struct ms_module_entry {
	uint64_t base, lo, hi;
	uint32_t load_epoch, unload_epoch; /* unload 0: still loaded */
	char path[MS_MODULE_PATH_MAX];
} ms_module_entry;

/* An annotated block (memscope.h): its names, borrows and lifetime. */
typedef struct ms_note_info {
	uint64_t ptr, size;
	char var[48], type[48], scope[48]; /* "" where none was given */
	uint32_t stack;      /* its allocation's call site */
	uint32_t borrows;    /* ms_borrow calls, all told */
	uint32_t lent;       /* borrows not returned yet */
	int live;
	double tracked_s;    /* when ms_track named it, since the session start */
	double lifetime_s;   /* from then until freed, or until now while live */
} ms_note_info;

typedef struct ms_sample {
	double time_s; /* since the session started */
	uint64_t live_bytes, live_allocs, total_allocs, total_frees, total_bytes;
	uint64_t rss_bytes, cpu_ns;
	uint64_t threads; /* the process's thread count */
	uint64_t own_cpu_ns; /* of memscope's threads in it, in cpu_ns too */
	uint64_t mmap_bytes; /* mapped (ms_snapshot.mmap_live_bytes) */
} ms_sample;

typedef struct ms_snapshot {
	pid_t pid, ppid;
	pid_t keeper_pid;  /* a launcher that removes the session; 0: none */
	unsigned generation;
	/* The arguments joined by spaces, each as the program had it: control
	 * characters included (ms_format_command shows them to people). */
	char command[MS_COMMAND_MAX];
	ms_session_state state;
	uint64_t start_real_ns;
	double time_s;      /* seconds since the start: now, or at the end */

	uint64_t live_bytes, live_allocs;
	uint64_t peak_bytes;
	double peak_time_s;
	uint64_t total_allocs, total_frees, total_reallocs, total_bytes;
	uint64_t temporary_allocs; /* of all sites (ms_site_info) */
	/* Mapped memory, apart from the heap figures: the program's own
	 * anonymous private mmap calls (MS_SITE_MMAP sites). */
	uint64_t mmap_live_bytes, mmap_peak_bytes, mmap_total_maps;
	uint64_t dropped_events, untracked_frees;
	uint64_t moves, borrows, returns;
	uint64_t threads_overflowed;
	uint64_t rss_bytes;
	/* Over the last sample interval: the program's (the hook's work on
	 * its threads included), and that of memscope's own threads in it
	 * (sampler, drain). Together, the whole process's. */
	double cpu_percent;
	double memscope_cpu_percent;
	uint64_t thread_count; /* the process's threads at the last sample */
	int torn;           /* some figures were read while a dead writer held them */
	/* CPython with its own allocator on (pymalloc): most of its heap is
	 * out of sight (memscope/python.h). */
	int python_pymalloc;

	size_t nthreads;
	ms_thread_info *threads;
	size_t nsamples;
	ms_sample *samples;
	size_t nsites;        /* sites with at least one allocation */
	ms_site_info *sites;
	int ages_scanned;     /* a leak scan has run: old_* figures are there */
	double ages_scan_age_s; /* how long ago it ran */
	double age_s[MS_STORE_AGES]; /* the ages it counts above, in seconds */
	size_t nnotes;        /* annotated blocks, live and recently ended */
	ms_note_info *notes;
} ms_snapshot;

/* Annotated blocks grouped by one of their names. */
typedef enum ms_note_key { MS_NOTE_BY_VAR, MS_NOTE_BY_TYPE, MS_NOTE_BY_SCOPE } ms_note_key;

typedef struct ms_note_group {
	char name[48]; /* "" for blocks without that name */
	uint64_t live_bytes, live_allocs;
	uint64_t ended;          /* blocks freed (of those still remembered) */
	uint64_t borrows, lent;
	/* Lifetimes of the ended blocks; -1 when none has ended. */
	double life_min_s, life_median_s, life_max_s;
} ms_note_group;

/* "var", "type", "scope". */
const char *ms_note_key_name(ms_note_key by);

/* Groups s's notes by one name, most live bytes first (then by name).
 * *out is malloc'ed (free it). Returns the count, or -ENOMEM. */
int ms_note_groups(const ms_snapshot *s, ms_note_key by, ms_note_group **out);

/* Maps and checks the segment at path, and finds out whether its program
 * is CPython with its own allocator (reads /proc while the process lives).
 * Returns 0 or a negative error: -errno or one of MS_ERR_*. */
int ms_reader_open(ms_reader *r, const char *path);
void ms_reader_close(ms_reader *r);

/* One line saying what an error of ms_reader_open means. */
const char *ms_reader_strerror(int err);

/* Copies the current state. Returns 0, or -ENOMEM, or MS_ERR_CORRUPT if
 * the segment's counts went out of range. Release with ms_snapshot_release. */
int ms_snapshot_take(const ms_reader *r, ms_snapshot *s);
void ms_snapshot_release(ms_snapshot *s);

const char *ms_session_state_name(ms_session_state st);

/* Copies stack id's return addresses (innermost first, at most max) and the
 * module epoch it was recorded in. Stacks never change once published.
 * Returns the depth, 0 for MS_STACK_NONE or a stack not (yet) published, or
 * MS_ERR_CORRUPT. */
int ms_reader_stack(const ms_reader *r, uint32_t id, uint64_t *frames, uint32_t max,
		    uint32_t *epoch);

/* Copies the module map. *out is malloc'ed (free it). Returns the count or
 * a negative error. */
int ms_reader_modules(const ms_reader *r, ms_module_entry **out);

#ifdef __cplusplus
}
#endif

#endif
