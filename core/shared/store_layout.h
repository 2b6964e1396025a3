/*
 * The shared segment's layout, shared by the writer (core/target/store.c, in
 * the program) and the reader (core/reader/snapshot.c, in memscope-top).
 * Private to core/ and the tests (Bazel's visibility).
 *
 * Runs: anywhere (layout and bounded reads: no allocation).
 *
 * The segment holds no pointers, only offsets from its start, so that every
 * process may map it anywhere. All multi-byte words are naturally aligned and
 * accessed through memscope/atomic.h. Any change to this file that changes
 * what a reader sees bumps MS_LAYOUT_VERSION.
 */
#ifndef MEMSCOPE_STORE_LAYOUT_H
#define MEMSCOPE_STORE_LAYOUT_H

#include <stdint.h>

#include <memscope/segment.h>

#ifdef __cplusplus
#define MS_STATIC_ASSERT static_assert
#else
#define MS_STATIC_ASSERT _Static_assert
#endif

#define MS_MAGIC "MEMSCOPE"
#define MS_LAYOUT_VERSION 7u

#define MS_CMDLINE_MAX 2048u
#define MS_THREAD_NAME_MAX 16u

/* Sizes of the fixed regions. */
#define MS_SEG_CELLS 64u
#define MS_SEG_THREADS 4096u
#define MS_SEG_SAMPLES 2048u
#define MS_SEG_STACKS (1u << 18)       /* distinct stacks (call sites) */
#define MS_SEG_STACK_WORDS (1u << 23)  /* return addresses, all stacks */
#define MS_SEG_MODULES 1024u
#define MS_LIFE_BUCKETS 46u   /* a call site's lifetimes: powers of two of time units */
#define MS_SEG_NOTES MS_STORE_NOTES /* annotated blocks (memscope.h), live and ended */
#define MS_SEG_NAMES 4096u    /* distinct variable, type and scope names */
#define MS_NAME_MAX 48u       /* bytes of a name, its NUL included */

/* Values of ms_seg_header.state. */
#define MS_SEG_STARTING 0u
#define MS_SEG_RUNNING 1u
#define MS_SEG_EXITED 2u /* the image ran its exit path */
#define MS_SEG_EXECED 3u /* the image was replaced by exec */

/* Values of ms_seg_thread.state. */
#define MS_THREAD_FREE 0u
#define MS_THREAD_RUNNING 1u
#define MS_THREAD_EXITED 2u

struct ms_seg_header {
	char magic[8];
	uint32_t layout_version;
	uint32_t header_size;
	uint64_t segment_size;

	int32_t pid;
	int32_t ppid;
	uint32_t uid;
	uint32_t generation;     /* n in the name memscope-UID-PID-n */
	uint64_t proc_start_ticks; /* with pid, names the process for good */
	uint64_t start_real_ns;
	uint64_t start_mono_ns;
	uint64_t keeper_pid;     /* a launcher that removes the segment itself */

	uint32_t state;          /* MS_SEG_* */
	uint32_t cmdline_len;
	uint64_t heartbeat_mono_ns; /* sampler, every tick */
	uint64_t end_mono_ns;       /* when state left RUNNING */

	/* Section table: offsets from the segment start, element counts and
	 * sizes. The reader checks each against segment_size. */
	uint64_t globals_off;
	uint64_t cells_off;
	uint32_t cell_count, cell_size;
	uint64_t threads_off;
	uint32_t thread_count, thread_size;
	uint64_t timeline_off;
	uint32_t sample_count, sample_size;
	uint64_t stacks_off;      /* struct ms_seg_stack[stack_count] */
	uint32_t stack_count, stack_size;
	uint64_t sites_off;       /* struct ms_seg_site[stack_count] */
	uint32_t site_size, pad_sites;
	uint64_t frames_off;      /* uint64_t[frame_words] */
	uint32_t frame_words, pad_frames;
	uint64_t modules_off;     /* struct ms_seg_module[module_count] */
	uint32_t module_count, module_size;
	uint64_t lives_off;       /* struct ms_seg_life[stack_count] */
	uint32_t life_size, pad_lives;
	uint64_t notes_off;       /* struct ms_seg_note[note_count] */
	uint32_t note_count, note_size;
	uint64_t names_off;       /* struct ms_seg_name[name_count]; id i at i - 1 */
	uint32_t name_count, name_size;
	uint64_t births_off;      /* struct ms_seg_births[stack_count]; the writer's */
	uint32_t births_size, pad_births;

	char cmdline[MS_CMDLINE_MAX]; /* arguments separated by NULs */
};

/* Process-wide figures that are not per cell. */
struct ms_seg_globals {
	uint64_t live_bytes;      /* atomic; the truth the peak is taken from */
	uint64_t dropped_events;  /* operations the hook could not account */
	uint64_t untracked_frees; /* frees of blocks the hook never saw */
	uint64_t borrows, returns, moves;
	uint64_t threads_overflowed; /* threads folded into the last slot */
	uint32_t threads_used;    /* slots handed out, atomic; bounds readers */
	uint32_t stacks_used;     /* stack ids handed out, atomic */
	uint64_t frame_words_used; /* of the frames region, atomic */
	uint32_t modules_used;    /* module entries published, release */
	uint32_t module_epoch;    /* bumped on every change of the module map */
	/* Peak, guarded by peak_lock (writers, in the target) and peak_seq
	 * (seqcount for readers). */
	uint32_t peak_lock;
	uint32_t peak_seq;
	uint64_t peak_bytes;
	uint64_t peak_mono_ns;
	/* The sampler's clock, in MS_STORE_TICK_NS since the start: blocks
	 * are stamped with it (cheaper than reading a clock per allocation). */
	uint32_t ticks;
	uint32_t scan_ticks;  /* when the last leak scan ended; 0: none yet */
	uint32_t notes_used;  /* note slots ever written, release */
	uint32_t names_used;  /* names published, release */
	uint64_t time_per_s;  /* store time units a second (sampler); 0: not yet */
	/* Anonymous private mappings of the program's own mmap calls (not
	 * the allocator's): written under the hook's mapping table lock. */
	uint64_t mmap_live_bytes;
	uint64_t mmap_peak_bytes;
	uint64_t mmap_maps; /* mappings made, all told */
	uint64_t pad_mmap[5];
};

/* A counter cell. Each update is bracketed: begun is raised before the
 * counters change, ended after; a reader that reads ended, the counters,
 * then begun, and finds the two equal, saw no update half done. With one
 * writer at a time (the holder of the backend's lock for the cell) this is
 * a seqcount; with shared cells (ms_store.shared_cells) every writer raises
 * both with atomic adds. */
struct ms_seg_cell {
	uint32_t ended;
	uint32_t begun;
	uint64_t allocs;
	uint64_t frees;
	uint64_t reallocs;
	uint64_t alloc_bytes;
	uint64_t free_bytes;
	uint64_t temporary; /* frees of temporaries (memscope/event.h) */
	uint64_t pad1[1];
};

struct ms_seg_thread {
	uint32_t state;  /* MS_THREAD_*, release-published after the rest */
	int32_t tid;
	char name[MS_THREAD_NAME_MAX];
	uint64_t start_mono_ns;
	uint64_t end_mono_ns;
	/* Written by this thread only (plain stores, no locked instruction;
	 * the shared overflow slot is the exception and uses atomic adds). */
	uint64_t allocs;
	uint64_t alloc_bytes;
	uint64_t frees;          /* every free this thread made */
	uint64_t free_bytes;
	uint64_t self_freed;     /* ... of which blocks it had allocated */
	uint64_t self_freed_bytes;
	/* This thread's blocks freed by other threads: atomic adds. Its live
	 * figure is allocs - self_freed - remote_freed (and so for bytes). */
	uint64_t remote_freed;
	uint64_t remote_freed_bytes;
	uint64_t pad[3];
};

struct ms_seg_sample {
	uint64_t mono_ns;
	uint64_t live_bytes;
	uint64_t live_allocs;
	uint64_t total_allocs;
	uint64_t total_frees;
	uint64_t total_bytes;
	uint64_t rss_bytes;
	uint64_t cpu_ns;  /* the whole process's, memscope's threads included */
	uint64_t threads; /* the process's, as the kernel counts them */
	uint64_t own_cpu_ns; /* memscope's own threads' (memscope/own_threads.h) */
	uint64_t mmap_bytes; /* mapped by the program's mmap calls (globals) */
};

/*
 * A stack: its return addresses, innermost first, in the frames region.
 * Appended once and never changed: the writer fills the frames, then
 * publishes the entry by a release store of depth (0 = not yet there).
 * module_epoch is the module map's epoch when the stack was interned, so a
 * reader resolves each address against the modules loaded then.
 */
struct ms_seg_stack {
	uint64_t frames_off;  /* index of the first word in the frames region */
	uint32_t depth;       /* release-published last */
	uint32_t module_epoch;
};

/* The figures of one call site (one stack), updated by any thread with
 * atomic adds. live_bytes is the exact running figure its peak comes from. */
#define MS_SEG_SITE_HEAP 0u
#define MS_SEG_SITE_MMAP 1u

struct ms_seg_site {
	uint64_t allocs;
	uint64_t alloc_bytes;
	uint64_t frees;
	uint64_t free_bytes;
	uint64_t live_bytes;
	uint64_t peak_bytes;
	/* Live blocks older than each of MS_STORE_AGE_TICKS, as of the last
	 * leak scan (globals.scan_ticks): written by the sampler only. */
	uint64_t old_bytes[MS_STORE_AGES];
	uint64_t old_allocs[MS_STORE_AGES];
	uint64_t temporary; /* its blocks freed as temporaries (memscope/event.h) */
	/* MS_SEG_SITE_HEAP, or MS_SEG_SITE_MMAP for a site of mmap calls: its
	 * allocs are then mappings, its bytes whole pages, frees mappings
	 * whose last page went (release store, once). */
	uint32_t kind;
	uint32_t pad32;
	uint64_t pad[2];
};

/*
 * The lifetimes of one call site's freed blocks, in store time units
 * (memscope/store.h): hist[b] counts lifetimes in [2^b, 2^(b+1)) (the last
 * bucket everything longer); min and max are exact, stored plus one so
 * that 0 means none yet. Atomic adds and CAS by any thread.
 */
struct ms_seg_life {
	uint64_t min_plus1;
	uint64_t max_plus1;
	uint64_t hist[MS_LIFE_BUCKETS];
};

/* A loaded object (the executable or a shared library). Entries are
 * appended, never reused: one dlclose'd stays, with the epoch it left in,
 * so that stacks from its time still resolve. */
struct ms_seg_module {
	uint64_t base;          /* load bias: file address = runtime - base */
	uint64_t lo, hi;        /* runtime range of its loadable segments */
	uint32_t load_epoch;    /* epoch it appeared in */
	uint32_t unload_epoch;  /* epoch it was gone in; 0 while loaded */
	char path[MS_MODULE_PATH_MAX];
};

/*
 * An annotated block (memscope.h): its names, borrows and lifetime. One
 * writer at a time (the engine's annotation lock), inside a seqcount. A
 * slot is reused once its block has ended and every slot has been used.
 */
struct ms_seg_note {
	uint32_t seq;
	uint32_t state;          /* MS_NOTE_* */
	uint64_t ptr;
	uint64_t size;
	uint64_t tracked_mono_ns; /* when ms_track named it */
	uint64_t ended_mono_ns;   /* when it was freed; 0 while live */
	uint32_t var, type, scope; /* name ids, 0: none */
	uint32_t stack;          /* its allocation's call site */
	uint32_t borrows;        /* ms_borrow calls, all told */
	uint32_t lent;           /* borrows not returned yet */
};

#define MS_NOTE_FREE 0u
#define MS_NOTE_LIVE 1u
#define MS_NOTE_ENDED 2u

/*
 * The live blocks of one call site by when they were born, for the leak
 * scan: two rings of time windows, fine (2^MS_BIRTH_FINE_SHIFT store time
 * units a window, at least 134 ms) and coarse (at least 2.1 s). Each word
 * packs the bytes (high 40 bits) and the blocks (low 24) born in its
 * window and still live: an allocation adds (size << 24) + 1 to its
 * window's word in each ring, a free subtracts it while the window is
 * still in the ring (younger than the ring less two windows). The sampler
 * clears the word two windows ahead of now, which no thread touches. The
 * writer's alone: readers see the scan's sums in the site.
 */
#define MS_BIRTH_FINE 16u
#define MS_BIRTH_COARSE 64u
#define MS_BIRTH_FINE_SHIFT 19
#define MS_BIRTH_COARSE_SHIFT 23
#define MS_BIRTH_COUNT_BITS 24

struct ms_seg_births {
	uint64_t fine[MS_BIRTH_FINE];
	uint64_t coarse[MS_BIRTH_COARSE];
};

/* A name, published by a release store of globals.names_used. */
struct ms_seg_name {
	char text[MS_NAME_MAX];
};

/* The timeline: a single writer (the sampler thread). When full, every
 * other sample is dropped and the interval doubles, so the whole history
 * since the start stays, at decreasing resolution. */
struct ms_seg_timeline {
	uint32_t seq;
	uint32_t count;
	uint64_t interval_ns;
	uint64_t pad[6];
	/* followed by sample_count struct ms_seg_sample */
};

MS_STATIC_ASSERT(sizeof(struct ms_seg_cell) == 64, "a cell is one cache line");
MS_STATIC_ASSERT(sizeof(struct ms_seg_thread) == 128, "two cache lines a thread");
MS_STATIC_ASSERT(sizeof(struct ms_seg_globals) % 64 == 0, "globals fill lines");
MS_STATIC_ASSERT(sizeof(struct ms_seg_timeline) == 64, "timeline header is one line");
MS_STATIC_ASSERT(sizeof(struct ms_seg_site) == 128, "a site is two cache lines");
MS_STATIC_ASSERT(sizeof(struct ms_seg_note) == 64, "a note is one cache line");
MS_STATIC_ASSERT(sizeof(struct ms_seg_life) % 64 == 0, "lifetimes fill lines");
MS_STATIC_ASSERT(sizeof(struct ms_seg_births) % 64 == 0, "births fill lines");

/* Totals summed over all cells. */
struct ms_seg_totals {
	uint64_t allocs, frees, reallocs, alloc_bytes, free_bytes, temporary;
	int torn; /* a cell stayed mid-update (its writer died): values best effort */
};

#ifdef __cplusplus
extern "C" {
#endif

/* Sums the cells, reading each at one instant (see ms_seg_cell). Bounded: a cell whose
 * writer never finishes (killed mid-update) is read as it is and flagged. */
void ms_seg_sum_cells(const struct ms_seg_cell *cells, uint32_t count, struct ms_seg_totals *out);

/* Reads the peak under its seqcount, with the same bound. */
void ms_seg_read_peak(const struct ms_seg_globals *g, uint64_t *bytes, uint64_t *mono_ns);

#ifdef __cplusplus
}
#endif

#endif
