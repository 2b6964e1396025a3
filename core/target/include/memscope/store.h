/*
 * The EventStore, writer side: the shared-memory segment a target process
 * fills with what its heap does. Backends call the accounting functions; the
 * hook's sampler thread calls ms_store_sample(). memscope/snapshot.h is the
 * reader side. The protocol between the two is described at the top of
 * core/target/store.c.
 *
 * Runs: in the program: accounting and stacks on the hook path, the
 * sampler's functions (said on each) on memscope's own thread there.
 * Nothing here allocates through malloc.
 */
#ifndef MEMSCOPE_STORE_H
#define MEMSCOPE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <memscope/ptr_map.h>
#include <memscope/segment.h>
#include <memscope/session.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The store's time, for blocks' births and lifetimes: the CPU's time stamp
 * counter on x86-64 (the async backend's stamps), else the monotonic clock
 * in ns, in units of 2^MS_STORE_TIME_SHIFT. The sampler measures the units
 * per second for readers. Cheap enough for every allocation and free.
 */
#define MS_STORE_TIME_SHIFT 10

static inline uint64_t ms_store_time(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc() >> MS_STORE_TIME_SHIFT;
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) >> MS_STORE_TIME_SHIFT;
#endif
}

/* Number of counter cells: a backend maps each of its lock domains to one. */
#define MS_STORE_CELLS 64u

typedef struct ms_store {
	void *base;       /* the mapped segment; NULL when not open */
	size_t size;
	char path[MS_SESSION_PATH_MAX];
	/* The segment is sparse; regions that grow (threads, stacks, frames,
	 * modules) get real memory a chunk ahead of their use (see store.c),
	 * through the file kept open here. */
	int fd;
	uint32_t reserve_lock;
	/* Set by a backend whose counts one thread at a time makes (async):
	 * counters then take plain adds instead of atomic ones. */
	int single_writer;
	/* Set by a backend that accounts without any lock (lockfree): a cell
	 * may then have many writers at once and takes atomic adds. */
	int shared_cells;
	uint64_t reserved_threads, reserved_stacks, reserved_modules, reserved_words;
	uint64_t reserved_notes, reserved_names, reserved_lives;
	uint64_t start_time, start_time_mono_ns; /* for the time units' rate */
	int calibrated; /* the rate is measured for good */
	uint64_t ns_per_unit_q32; /* ns a time unit, 32 fraction bits (sampler); 0: not yet */
	/* Solo mode (ms_store_solo_start): while solo is set, one thread of the
	 * program accounts, and every counter takes plain stores. */
	uint32_t solo;
	uint32_t solo_allowed; /* solo mode is on for this store */
	uint32_t solo_claimed; /* whether the solo thread claimed, or the mode is over */
	uint32_t solo_begun, solo_ended; /* the solo thread's operations */
} ms_store;

/* Creates the segment of the calling process in dir, named
 * memscope-UID-PID-GEN with the lowest free GEN. A segment left by an earlier
 * image of this very process (before an exec) is marked as replaced; one
 * left by a dead process whose pid was reused is removed. keeper_pid, if not
 * 0, is a launcher that will remove the segment itself after the exit; while
 * it lives ms_store_finish() leaves the name, otherwise it removes it (an
 * attached reader keeps its mapping and sees the final state). Removes the
 * sessions in dir of the caller's processes that died without an exit at
 * least MEMSCOPE_KEEP_DEAD seconds (default 600) ago, unless a live keeper
 * will. Not hook-safe only in that it reads /proc and the environment; it
 * does not allocate. Returns 0 or -errno. */
int ms_store_create(ms_store *st, const char *dir, pid_t keeper_pid);

/* Marks the image as exited and stamps the time; removes the segment's name
 * unless a live keeper will. The mapping stays valid: late operations of the
 * exiting process are still accounted. */
void ms_store_finish(ms_store *st);

/* Forgets the segment without touching it: a forked child calls this on the
 * parent's segment before creating its own. */
void ms_store_detach(ms_store *st);

/*
 * Solo mode: a program with one thread makes its counts without a single
 * locked instruction. ms_store_solo_start turns it on (a backend, when it
 * opens: core does); it returns 0, or -ENOSYS where the system cannot end
 * it safely (no membarrier(2)), and the mode then stays off. The first
 * thread to claim a slot is the solo thread; the claim of any other thread
 * ends the mode for good: it waits until the solo thread is out of the
 * operation it may be in (membarrier makes the solo thread's side free of
 * fences), and from then on every counter is shared as usual. The solo
 * thread brackets each operation: ms_store_solo_enter returns 1 if it may
 * write plainly (then _leave(st, 1) after), else 0; for any other thread it
 * returns 0. Hook path.
 */
int ms_store_solo_start(ms_store *st);

static inline int ms_store_solo_enter(ms_store *st)
{
	if (!__atomic_load_n(&st->solo, __ATOMIC_RELAXED))
		return 0;
	__atomic_store_n(&st->solo_begun, st->solo_begun + 1, __ATOMIC_RELAXED);
	/* The other side's membarrier orders this store before the load. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&st->solo, __ATOMIC_RELAXED))
		return 1;
	__atomic_store_n(&st->solo_ended, st->solo_begun, __ATOMIC_RELEASE);
	return 0;
}

static inline void ms_store_solo_leave(ms_store *st, int entered)
{
	if (entered)
		__atomic_store_n(&st->solo_ended, st->solo_begun, __ATOMIC_RELEASE);
}

/* Takes a slot in the thread table for the calling thread. When the table is
 * full, every further thread shares its last slot. Ends solo mode if the
 * caller is not the first thread (see above). Hook path: does not
 * allocate; waits only for the solo thread to leave an operation. */
uint32_t ms_store_thread_claim(ms_store *st, pid_t tid, const char *name);
void ms_store_thread_exit(ms_store *st, uint32_t slot);

/*
 * Accounting, hook path: wait-free except when an allocation raises the peak
 * (a short spin lock; a CAS loop with shared_cells). Unless shared_cells is
 * set, the caller must be the only writer of `cell` for the duration of the
 * call (backends hold the lock of the domain the cell belongs to); a
 * block's allocation and its free go to one cell. `thread` is the acting
 * thread's slot, `owner` the slot of the thread that allocated the block
 * being freed, `stack` the block's stack id (MS_STACK_NONE when it has
 * none), `born` its birth and `now` the time of its free, in store time
 * units. An allocation's `born` is the whole time (a new peak is stamped
 * with it); a freed block's may be the low MS_BLOCK_BORN_BITS its header
 * keeps (memscope/block.h). `temporary`: the block is a temporary
 * (MS_EVENT_TEMPORARY).
 */
void ms_store_count_alloc(ms_store *st, unsigned cell, uint32_t thread, uint32_t stack,
			  uint64_t size, int is_realloc, uint64_t born);
void ms_store_count_free(ms_store *st, unsigned cell, uint32_t thread, uint32_t owner,
			 uint32_t stack, uint64_t size, uint64_t born, uint64_t now, int temporary);
/* Mapped memory (the program's anonymous private mmap calls), kept apart
 * from the heap: bytes mapped at stack's site (mapping: a new mapping, not
 * a remap's growth), and bytes unmapped (ended: the mapping's last). One
 * writer at a time: the caller serialises them. */
void ms_store_count_map(ms_store *st, uint32_t stack, uint64_t bytes, int mapping);
void ms_store_count_unmap(ms_store *st, uint32_t stack, uint64_t bytes, int ended);
/* A whole event (memscope/event.h) at once, in the cells its blocks'
 * addresses hash to, a free at the present time: for a caller that may
 * write any cell now (the only writer, in solo mode; any thread, with
 * shared_cells). */
struct ms_event;
void ms_store_count_event(ms_store *st, const struct ms_event *ev);

/* The counter cell of a block's address, as the backends choose it. Hook
 * path: inline, as every event needs it. */
static inline unsigned ms_store_cell_of(uint64_t ptr)
{
	return (unsigned)(ms_ptr_hash(ptr) % MS_STORE_CELLS);
}

/* An operation the hook could not account (its own table could not grow). */
void ms_store_count_dropped(ms_store *st);
/* A free of a block the hook never saw allocated (before it loaded). */
void ms_store_count_untracked_free(ms_store *st);
/* Annotation events. */
void ms_store_count_annotation(ms_store *st, int op);

/* Appends a stack (return addresses, innermost first) to the stack table
 * and publishes it. Returns its id, or MS_STACK_NONE when the table is
 * full. Hook path: lock-free, does not allocate. Interning (finding an
 * existing equal stack) is the caller's job: see memscope/stacks.h. */
uint32_t ms_store_stack_add(ms_store *st, const uint64_t *frames, uint32_t depth,
			    uint32_t module_epoch);

/* The frames of a published stack of this store (writer side). */
const uint64_t *ms_store_stack_frames(const ms_store *st, uint32_t id, uint32_t *depth);

/*
 * The module map (loaded objects), kept so that readers can resolve return
 * addresses even of libraries closed since. Every change of the map starts
 * a new epoch E: objects gone get unload epoch E, new ones load epoch E,
 * then E is published; a stack interned in epoch E resolves against the
 * objects loaded in E. Writers serialise these calls among themselves
 * (memscope/stacks.h does, under its lock).
 */
uint32_t ms_store_module_epoch(const ms_store *st);
void ms_store_module_set_epoch(ms_store *st, uint32_t epoch);
/* Appends a loaded object; returns its index, or -ENOSPC. */
int ms_store_module_add(ms_store *st, uint32_t epoch, uint64_t base, uint64_t lo, uint64_t hi,
			const char *path);
uint32_t ms_store_module_count(const ms_store *st);
int ms_store_module_get(const ms_store *st, uint32_t i, uint64_t *base, const char **path,
			int *loaded);
void ms_store_module_unload(ms_store *st, uint32_t i, uint32_t epoch);

/*
 * Annotations (memscope.h). The engine owns them, under a lock of its own:
 * these have one caller at a time.
 */
/* Publishes a variable, type or scope name (cut to 47 bytes). Returns its
 * id (from 1), or 0 when the name table is full. Interning is the caller's
 * job. */
uint32_t ms_store_name_add(ms_store *st, const char *text);

/* An annotated block as the store keeps it. */
typedef struct ms_note {
	uint64_t ptr, size;
	uint64_t tracked_mono_ns, ended_mono_ns; /* ended 0: still live */
	uint32_t var, type, scope;               /* name ids, 0: none */
	uint32_t stack;
	uint32_t borrows, lent;
} ms_note;

/* Writes note slot i (< MS_STORE_NOTES). Returns 0 or -ENOSPC. */
int ms_store_note_put(ms_store *st, uint32_t i, const ms_note *n);

/* Store time units a second as the sampler last measured them; 0 before
 * its first measure. */
uint64_t ms_store_time_per_s(const ms_store *st);

/* The number of stack ids handed out. */
uint32_t ms_store_stack_count(const ms_store *st);

/* The leak scan, sampler only: per call site, the live bytes and blocks
 * older than each of MS_STORE_AGE_TICKS, from the births the accounting
 * keeps by time window (so an age is exact to a window: 134 ms or more up
 * to 1 s, 2.1 s or more beyond), published in the site; marks the scan's
 * time for readers. */
void ms_store_scan_ages(ms_store *st);

/* Sampler: heartbeat, a timeline sample (live and total figures, RSS, CPU
 * time) and, every few calls, the names of running threads. Call from one
 * thread only. */
void ms_store_sample(ms_store *st);

#ifdef __cplusplus
}
#endif

#endif
