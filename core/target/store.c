/*
 * The EventStore, writer side.
 *
 * Design
 * ------
 * A target process under the hook owns one shared segment (layout in
 * store_layout.h). Many threads of the target write it; any number of reader
 * processes (memscope-top) map it read-only and never write. No pointers are
 * stored, only offsets, so each process may map it at any address.
 *
 * Every heap operation is accounted exactly once, in one counter cell. A
 * backend splits its work into lock domains (the core backend: shards of its
 * live-pointer table, chosen by address) and maps each domain to a cell; a
 * cell therefore has one writer at a time. Because a block's allocation and
 * its free hash to the same shard, a cell's own figures are never negative:
 * its allocs >= frees and alloc_bytes >= free_bytes at every instant.
 *
 * Ordering guarantees
 * -------------------
 * - Cells: a seqcount per cell, as two counters. The writer raises begun
 *   (relaxed store, then a release fence), updates the counters with
 *   relaxed atomic stores, and raises ended with a release store. A reader
 *   loads ended with acquire, copies the counters with relaxed loads,
 *   issues an acquire fence, loads begun, and retries unless the two are
 *   equal. A reader
 *   therefore sees each cell as of one instant. Cells are not read at one
 *   common instant, so live figures summed over cells are each real but may
 *   come from moments a few microseconds apart.
 * - Shared cells (ms_store.shared_cells, the lockfree backend): any thread
 *   writes any cell. The seqcount is then two counters, begun and ended,
 *   each raised by an atomic add around the update (ms_seg_cell); a
 *   reader's copy is whole when ended before it equals begun after it. The
 *   backend puts a block's allocation and free in one cell, as core does.
 * - Peak: the live byte count of the whole process is one atomic word
 *   (globals.live_bytes); an allocation learns the exact live figure right
 *   after itself from its atomic add, so the peak is exact. Raising the peak
 *   takes a spin lock that only allocations at a new high take, and writes
 *   bytes and time inside a seqcount so a reader sees a matching pair.
 * - Threads: a slot is claimed with an atomic add on globals.threads_used;
 *   its fields are written before its state is published with a release
 *   store, and readers load state with acquire before reading the rest. The
 *   counters a thread alone writes are relaxed stores (no locked
 *   instruction on the hot path); only the frees of its blocks by other
 *   threads (remote_freed*) are atomic adds. A reader derives the slot's
 *   live figures, reading the free counters before the allocation ones.
 * - The timeline has one writer, the sampler; its seqcount covers the whole
 *   ring, so a compaction (when full, every other sample is dropped and the
 *   interval doubles) is never seen half done.
 * - The header is written before state becomes RUNNING (release); readers
 *   ignore a segment still STARTING.
 *
 * What a reader may assume
 * ------------------------
 * Nothing it has not checked: the reader (snapshot.c) validates magic,
 * version, every offset and count against the mapped size, and bounds all
 * retry loops, because a writer may die at any instruction.
 */
#define _GNU_SOURCE
#include <memscope/store.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memscope/atomic.h>
#include <memscope/block.h>
#include <memscope/event.h>
#include <memscope/own_threads.h>
#include <memscope/platform.h>
#include <memscope/session.h>

#include "core/shared/store_layout.h"

/* Largest number of images (exec generations) of one pid kept apart. */
#define MAX_GENERATIONS 1024u

/* A launcher that said it would remove our segment, and is still there to
 * do it. Without one, the target removes its own name at exit. */
static int keeper_alive(uint64_t keeper)
{
	if (keeper == 0 || keeper > 0x7fffffff)
		return 0;
	return kill((pid_t)keeper, 0) == 0 || errno == EPERM;
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static struct ms_seg_header *header(const ms_store *st)
{
	return (struct ms_seg_header *)st->base;
}

static struct ms_seg_globals *globals(const ms_store *st)
{
	return (struct ms_seg_globals *)((char *)st->base + header(st)->globals_off);
}

static struct ms_seg_cell *cell_at(const ms_store *st, unsigned i)
{
	return (struct ms_seg_cell *)((char *)st->base + header(st)->cells_off) + i;
}

static struct ms_seg_thread *thread_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_thread *)((char *)st->base + header(st)->threads_off) + i;
}

static struct ms_seg_stack *stack_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_stack *)((char *)st->base + header(st)->stacks_off) + i;
}

static struct ms_seg_site *site_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_site *)((char *)st->base + header(st)->sites_off) + i;
}

static uint64_t *frame_words(const ms_store *st)
{
	return (uint64_t *)((char *)st->base + header(st)->frames_off);
}

static struct ms_seg_module *module_at(const ms_store *st, uint32_t i)
{
	return (struct ms_seg_module *)((char *)st->base + header(st)->modules_off) + i;
}

static struct ms_seg_timeline *timeline(const ms_store *st)
{
	return (struct ms_seg_timeline *)((char *)st->base + header(st)->timeline_off);
}

static struct ms_seg_sample *samples(const ms_store *st)
{
	return (struct ms_seg_sample *)(timeline(st) + 1);
}

/* Lays out the sections of a fresh, zero-filled segment; returns its size
 * when base is NULL. */
static size_t layout(struct ms_seg_header *h)
{
	size_t off = align_up(sizeof(struct ms_seg_header), 64);
	size_t globals_off = off, cells_off, threads_off, timeline_off;
	size_t stacks_off, sites_off, lives_off, frames_off, modules_off, notes_off, names_off;
	size_t births_off;

	off = align_up(off + sizeof(struct ms_seg_globals), 64);
	cells_off = off;
	off = align_up(off + MS_SEG_CELLS * sizeof(struct ms_seg_cell), 64);
	threads_off = off;
	off = align_up(off + MS_SEG_THREADS * sizeof(struct ms_seg_thread), 64);
	timeline_off = off;
	off += sizeof(struct ms_seg_timeline) + MS_SEG_SAMPLES * sizeof(struct ms_seg_sample);
	off = align_up(off, 64);
	stacks_off = off;
	off = align_up(off + MS_SEG_STACKS * sizeof(struct ms_seg_stack), 64);
	sites_off = off;
	off = align_up(off + MS_SEG_STACKS * sizeof(struct ms_seg_site), 64);
	lives_off = off;
	off = align_up(off + MS_SEG_STACKS * sizeof(struct ms_seg_life), 64);
	frames_off = off;
	off = align_up(off + MS_SEG_STACK_WORDS * sizeof(uint64_t), 64);
	modules_off = off;
	off = align_up(off + MS_SEG_MODULES * sizeof(struct ms_seg_module), 64);
	notes_off = off;
	off = align_up(off + MS_SEG_NOTES * sizeof(struct ms_seg_note), 64);
	names_off = off;
	off = align_up(off + MS_SEG_NAMES * sizeof(struct ms_seg_name), 64);
	births_off = off;
	off += MS_SEG_STACKS * sizeof(struct ms_seg_births);
	/* The file is sparse: only the pages written take memory. */
	off = align_up(off, 4096);
	if (h != NULL) {
		h->header_size = sizeof(*h);
		h->segment_size = off;
		h->globals_off = globals_off;
		h->cells_off = cells_off;
		h->cell_count = MS_SEG_CELLS;
		h->cell_size = sizeof(struct ms_seg_cell);
		h->threads_off = threads_off;
		h->thread_count = MS_SEG_THREADS;
		h->thread_size = sizeof(struct ms_seg_thread);
		h->timeline_off = timeline_off;
		h->sample_count = MS_SEG_SAMPLES;
		h->sample_size = sizeof(struct ms_seg_sample);
		h->stacks_off = stacks_off;
		h->stack_count = MS_SEG_STACKS;
		h->stack_size = sizeof(struct ms_seg_stack);
		h->sites_off = sites_off;
		h->site_size = sizeof(struct ms_seg_site);
		h->lives_off = lives_off;
		h->life_size = sizeof(struct ms_seg_life);
		h->frames_off = frames_off;
		h->frame_words = MS_SEG_STACK_WORDS;
		h->modules_off = modules_off;
		h->module_count = MS_SEG_MODULES;
		h->module_size = sizeof(struct ms_seg_module);
		h->notes_off = notes_off;
		h->note_count = MS_SEG_NOTES;
		h->note_size = sizeof(struct ms_seg_note);
		h->names_off = names_off;
		h->name_count = MS_SEG_NAMES;
		h->name_size = sizeof(struct ms_seg_name);
		h->births_off = births_off;
		h->births_size = sizeof(struct ms_seg_births);
	}
	return off;
}

/*
 * Looks at an existing segment with our pid. One of an earlier image of
 * this very process (same start time: replaced by exec) is marked so, and
 * removed unless a live keeper will remove it; one of a dead process whose
 * pid we now have is removed. Returns 1 if its generation counts (an
 * earlier image of ours, even removed, or a file we cannot judge), 0 for a
 * dead process's.
 */
static int settle_existing(const char *path, pid_t pid, uint64_t start_ticks)
{
	struct ms_seg_header *h;
	size_t size;
	void *map;
	int taken = 1;

	if (ms_shm_map_readwrite(path, &map, &size) != 0)
		return 1;
	h = map;
	if (size < sizeof(*h) || memcmp(h->magic, MS_MAGIC, 8) != 0 || h->pid != pid) {
		ms_shm_unmap(map, size);
		return 1;
	}
	if (h->proc_start_ticks == start_ticks) {
		uint32_t state = ms_atomic_load_acquire_u32(&h->state);

		if (state == MS_SEG_RUNNING || state == MS_SEG_STARTING) {
			ms_atomic_store_relaxed(&h->end_mono_ns, ms_clock_mono_ns());
			ms_atomic_store_release_u32(&h->state, MS_SEG_EXECED);
		}
		if (!keeper_alive(h->keeper_pid))
			unlink(path);
	} else {
		taken = unlink(path) != 0;
	}
	ms_shm_unmap(map, size);
	return taken;
}

/*
 * Real memory for the sparse segment. A region that grows (threads, stacks
 * and their call sites, frames, modules) gets memory a chunk ahead of its
 * use; a chunk that cannot be had (the tmpfs is full) makes the region
 * count as full, and the hook goes on without it instead of dying of
 * SIGBUS on its next write. Rare (a chunk at a time), so one spin lock.
 */
#define THREAD_CHUNK 64u
#define STACK_CHUNK 4096u
#define WORD_CHUNK 65536u
#define MODULE_CHUNK 64u
#define LIFE_CHUNK 256u /* 96 KiB: a site's lifetimes are 384 bytes */
#define NOTE_CHUNK 256u
#define NAME_CHUNK 256u

struct region {
	uint64_t off, elem;
};

/* Makes elements [0, needed) of up to two regions that grow together real
 * memory. Returns 0 or -ENOSPC. */
static int reserve(ms_store *st, uint64_t *reserved, uint64_t needed, uint64_t chunk, uint64_t cap,
		   struct region a, struct region b)
{
	uint64_t have, want;
	int err = 0;

	if (needed <= ms_atomic_load_acquire(reserved))
		return 0;
	if (needed > cap)
		return -ENOSPC;
	while (!ms_atomic_cas_acquire_u32(&st->reserve_lock, 0, 1))
		ms_cpu_relax();
	have = *reserved;
	if (needed > have) {
		want = (needed + chunk - 1) / chunk * chunk;
		if (want > cap)
			want = cap;
		err = ms_shm_reserve(st->fd, a.off + have * a.elem, (want - have) * a.elem);
		if (err == 0 && b.elem != 0)
			err = ms_shm_reserve(st->fd, b.off + have * b.elem, (want - have) * b.elem);
		if (err == 0)
			ms_atomic_store_release(reserved, want);
	}
	ms_atomic_store_release_u32(&st->reserve_lock, 0);
	return err != 0 ? -ENOSPC : 0;
}

static int reserve_threads(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_threads, n, THREAD_CHUNK, MS_SEG_THREADS,
		       (struct region){ h->threads_off, sizeof(struct ms_seg_thread) },
		       (struct region){ 0, 0 });
}

/* A stack id's entry and its call site's counters. */
static int reserve_stacks(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_stacks, n, STACK_CHUNK, MS_SEG_STACKS,
		       (struct region){ h->stacks_off, sizeof(struct ms_seg_stack) },
		       (struct region){ h->sites_off, sizeof(struct ms_seg_site) });
}

/* A call site's lifetimes and births. */
static int reserve_lives(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_lives, n, LIFE_CHUNK, MS_SEG_STACKS,
		       (struct region){ h->lives_off, sizeof(struct ms_seg_life) },
		       (struct region){ h->births_off, sizeof(struct ms_seg_births) });
}

static int reserve_words(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_words, n, WORD_CHUNK, MS_SEG_STACK_WORDS,
		       (struct region){ h->frames_off, sizeof(uint64_t) }, (struct region){ 0, 0 });
}

static int reserve_modules(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_modules, n, MODULE_CHUNK, MS_SEG_MODULES,
		       (struct region){ h->modules_off, sizeof(struct ms_seg_module) },
		       (struct region){ 0, 0 });
}

static int reserve_notes(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_notes, n, NOTE_CHUNK, MS_SEG_NOTES,
		       (struct region){ h->notes_off, sizeof(struct ms_seg_note) },
		       (struct region){ 0, 0 });
}

static int reserve_names(ms_store *st, uint64_t n)
{
	struct ms_seg_header *h = header(st);

	return reserve(st, &st->reserved_names, n, NAME_CHUNK, MS_SEG_NAMES,
		       (struct region){ h->names_off, sizeof(struct ms_seg_name) },
		       (struct region){ 0, 0 });
}

/* What every segment needs from the start: the fixed regions (header,
 * globals, cells, timeline), the shared last thread slot, and a first
 * chunk of each growing region. */
static int reserve_start(ms_store *st)
{
	struct ms_seg_header *h = header(st);
	uint64_t last_thread = h->threads_off + (MS_SEG_THREADS - 1) * sizeof(struct ms_seg_thread);

	if (ms_shm_reserve(st->fd, 0, h->threads_off) != 0 ||
	    ms_shm_reserve(st->fd, h->timeline_off, h->stacks_off - h->timeline_off) != 0 ||
	    ms_shm_reserve(st->fd, last_thread, sizeof(struct ms_seg_thread)) != 0 ||
	    reserve_threads(st, 1) != 0 || reserve_stacks(st, 1) != 0 || reserve_lives(st, 1) != 0 ||
	    reserve_words(st, 1) != 0 ||
	    reserve_modules(st, 1) != 0)
		return -ENOSPC;
	return 0;
}

/*
 * Retention. A program that ends by an exit of any kind removes its own
 * session (ms_store_finish), unless a keeper that is still alive will. One
 * that dies without one (killed, crashed) leaves it, for a look afterwards:
 * memscope-top -l lists it, -p PID shows its last state. The next program
 * that starts under the hook with the same directory removes it once it
 * has been silent (no heartbeat) for keep_ns, MEMSCOPE_KEEP_DEAD seconds:
 * without that, a shell script run with the hook preloaded could fill the
 * tmpfs with the sessions of its killed children.
 */
#define KEEP_DEAD_DEFAULT_S 600u
#define KEEP_DEAD_MAX_S 1000000000u

/* Read once, at the start: a forked child (which creates a session of its
 * own) reuses it rather than read the environment again. */
static uint64_t keep_dead_ns(void)
{
	static uint64_t keep_s = UINT64_MAX; /* not read yet */
	const char *s;
	uint64_t v = 0;

	if (keep_s != UINT64_MAX)
		return keep_s * 1000000000u;
	s = getenv("MEMSCOPE_KEEP_DEAD");
	keep_s = KEEP_DEAD_DEFAULT_S;
	if (s == NULL || *s == '\0')
		return keep_s * 1000000000u;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (uint64_t)(*s - '0')) > KEEP_DEAD_MAX_S)
			v = KEEP_DEAD_MAX_S;
	if (*s == '\0')
		keep_s = v;
	return keep_s * 1000000000u;
}

/* Removes the session at path of pid if pid is gone, no live keeper will
 * remove it, and its last sign of life is keep_ns old. Only the header's
 * first words are read (pread: no mapping of a segment we may remove). */
static void sweep_dead(const char *path, pid_t pid, uint64_t keep_ns)
{
	struct ms_seg_header h;
	const size_t head = offsetof(struct ms_seg_header, globals_off);
	uint64_t now, last;
	ssize_t n;
	int fd;

	/* A process that is there (or is not ours to signal) is left alone,
	 * even if it is another that reused the pid: its own start will settle
	 * the session, or memscope-top -l --clean. */
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	do {
		n = pread(fd, &h, head, 0);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n != (ssize_t)head || memcmp(h.magic, MS_MAGIC, 8) != 0 || h.pid != pid ||
	    keeper_alive(h.keeper_pid))
		return;
	last = h.heartbeat_mono_ns > h.end_mono_ns ? h.heartbeat_mono_ns : h.end_mono_ns;
	if (last < h.start_mono_ns)
		last = h.start_mono_ns;
	now = ms_clock_mono_ns();
	/* A time past now is from before a reboot (a directory on disk). */
	if (last <= now && now - last < keep_ns)
		return;
	unlink(path);
}

struct settle {
	const char *dir;
	uid_t uid;
	pid_t pid;
	uint64_t start_ticks;
	uint64_t keep_ns; /* of dead processes' sessions (sweep_dead) */
	unsigned next; /* the lowest generation after all that count */
};

static int settle_one(void *ctx, const char *name)
{
	struct settle *s = ctx;
	char path[MS_SESSION_PATH_MAX];
	uid_t uid;
	pid_t pid;
	unsigned gen;

	if (ms_session_parse_name(name, &uid, &pid, &gen) != 0 || uid != s->uid)
		return 0;
	if (ms_session_path(path, sizeof(path), s->dir, uid, pid, gen) != 0)
		return 0;
	if (pid != s->pid) {
		sweep_dead(path, pid, s->keep_ns);
		return 0;
	}
	if (settle_existing(path, pid, s->start_ticks) && gen + 1 > s->next)
		s->next = gen + 1;
	return 0;
}

int ms_store_create(ms_store *st, const char *dir, pid_t keeper_pid)
{
	size_t size = layout(NULL);
	pid_t pid = getpid();
	uid_t uid = geteuid();
	uint64_t start_ticks = 0;
	struct ms_seg_header *h;
	struct ms_seg_timeline *tl;
	struct settle scan = { 0 };
	ssize_t n;
	int err;
	unsigned gen;

	memset(st, 0, sizeof(*st));
	ms_proc_start_ticks(0, &start_ticks);
	/* Settle every segment our pid already has (the earlier images of a
	 * chain of execs, or a dead process's), then take the generation after
	 * the last one of this process, so that generations only grow along
	 * one process's life and the newest is the current image. On the way,
	 * remove the sessions of other processes that are gone for good
	 * (sweep_dead). */
	scan.dir = dir;
	scan.uid = uid;
	scan.pid = pid;
	scan.start_ticks = start_ticks;
	scan.keep_ns = keep_dead_ns();
	ms_dir_scan(dir, settle_one, &scan);
	err = -EEXIST;
	for (gen = scan.next; gen < MAX_GENERATIONS && err == -EEXIST; gen++) {
		err = ms_session_path(st->path, sizeof(st->path), dir, uid, pid, gen);
		if (err != 0)
			return err;
		err = ms_shm_create(st->path, size, &st->base, &st->fd);
	}
	gen--;
	if (err != 0) {
		st->base = NULL;
		return err;
	}
	st->size = size;

	h = header(st);
	memcpy(h->magic, MS_MAGIC, 8);
	h->layout_version = MS_LAYOUT_VERSION;
	layout(h);
	err = reserve_start(st);
	if (err != 0) {
		/* No room in the tmpfs: no session, rather than a crash later. */
		unlink(st->path);
		ms_store_detach(st);
		return err;
	}
	h->pid = pid;
	h->ppid = getppid();
	h->uid = uid;
	h->generation = gen;
	h->proc_start_ticks = start_ticks;
	h->start_real_ns = ms_clock_real_ns();
	h->start_mono_ns = ms_clock_mono_ns();
	st->start_time = ms_store_time();
	st->start_time_mono_ns = h->start_mono_ns;
	h->keeper_pid = (uint64_t)(keeper_pid > 0 ? keeper_pid : 0);
	h->heartbeat_mono_ns = h->start_mono_ns;
	n = ms_proc_cmdline_self(h->cmdline, sizeof(h->cmdline));
	h->cmdline_len = n > 0 ? (uint32_t)n : 0;
	tl = timeline(st);
	tl->interval_ns = 100 * 1000 * 1000;
	/* Stack id 0 is MS_STACK_NONE: a site without frames. */
	globals(st)->stacks_used = 1;
	globals(st)->module_epoch = 1;
	/* A first sample at the start: the baseline for rates and CPU%. */
	ms_store_sample(st);
	ms_atomic_store_release_u32(&h->state, MS_SEG_RUNNING);
	return 0;
}

void ms_store_finish(ms_store *st)
{
	struct ms_seg_header *h = header(st);

	if (st->base == NULL)
		return;
	ms_store_sample(st);
	ms_atomic_store_relaxed(&h->end_mono_ns, ms_clock_mono_ns());
	ms_atomic_store_release_u32(&h->state, MS_SEG_EXITED);
	if (!keeper_alive(h->keeper_pid)) {
		int saved = errno;

		unlink(st->path);
		errno = saved;
	}
}

void ms_store_detach(ms_store *st)
{
	if (st->base != NULL)
		close(st->fd);
	st->base = NULL;
	st->size = 0;
	st->fd = -1;
}

static void copy_name(char *dst, const char *src)
{
	size_t i = 0;

	/* Byte-wise relaxed stores: a reader may copy the name concurrently and
	 * checks for its terminator itself. */
	for (; src != NULL && src[i] != '\0' && i + 1 < MS_THREAD_NAME_MAX; i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
	for (; i < MS_THREAD_NAME_MAX; i++)
		__atomic_store_n(&dst[i], '\0', __ATOMIC_RELAXED);
}

static int membarrier(int cmd)
{
	return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

/* solo_claimed: no thread yet, the solo thread's, the mode is over. */
enum { SOLO_OPEN, SOLO_TAKEN, SOLO_OVER };

int ms_store_solo_start(ms_store *st)
{
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0)
		return -ENOSYS;
	st->solo_claimed = SOLO_OPEN;
	st->solo_begun = st->solo_ended = 0;
	st->solo_allowed = 1;
	__atomic_store_n(&st->solo, 1, __ATOMIC_RELEASE);
	return 0;
}

/* How long a thread that ends solo mode waits, at most, for the solo
 * thread's operation to end: one that never ends (a signal handler that
 * left it with longjmp) must not hold the new thread forever. */
#define SOLO_WAIT_NS 1000000000ull

/* A thread claims a slot: the first is the solo thread; any other ends
 * the mode. Until one of them has seen the solo thread out of its last
 * plain operation (SOLO_OVER), each makes sure by itself that the solo
 * thread sees the end (its own membarrier) and waits for that operation;
 * later threads find the mode over and pay nothing (a program that makes
 * thousands of threads must not send an interrupt to every CPU for each). */
static void solo_join(ms_store *st)
{
	uint64_t deadline;

	if (!st->solo_allowed ||
	    __atomic_load_n(&st->solo_claimed, __ATOMIC_ACQUIRE) == SOLO_OVER)
		return;
	if (ms_atomic_cas_acquire_u32(&st->solo_claimed, SOLO_OPEN, SOLO_TAKEN))
		return;
	__atomic_store_n(&st->solo, 0, __ATOMIC_SEQ_CST);
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
		__atomic_thread_fence(__ATOMIC_SEQ_CST); /* registered at start: not expected */
	deadline = ms_clock_mono_ns() + SOLO_WAIT_NS;
	while (__atomic_load_n(&st->solo_ended, __ATOMIC_ACQUIRE) !=
		       __atomic_load_n(&st->solo_begun, __ATOMIC_RELAXED) &&
	       ms_clock_mono_ns() < deadline)
		sched_yield();
	__atomic_store_n(&st->solo_claimed, SOLO_OVER, __ATOMIC_RELEASE);
}

uint32_t ms_store_thread_claim(ms_store *st, pid_t tid, const char *name)
{
	struct ms_seg_globals *g = globals(st);
	uint32_t last = MS_SEG_THREADS - 1;
	uint32_t slot;
	struct ms_seg_thread *t;

	solo_join(st);
	slot = ms_atomic_add_relaxed_u32(&g->threads_used, 1) - 1;
	if (slot < last && reserve_threads(st, (uint64_t)slot + 1) != 0) {
		/* No memory for its slot: it shares the last one. */
		ms_atomic_add_relaxed(&g->threads_overflowed, 1);
		return last;
	}
	if (slot >= last) {
		/* The table is full: every further thread shares the last slot. The
		 * first to get here names it. */
		t = thread_at(st, last);
		ms_atomic_add_relaxed(&g->threads_overflowed, 1);
		if (slot == last) {
			t->tid = 0;
			copy_name(t->name, "(more threads)");
			t->start_mono_ns = ms_clock_mono_ns();
			ms_atomic_store_release_u32(&t->state, MS_THREAD_RUNNING);
		}
		return last;
	}
	t = thread_at(st, slot);
	t->tid = tid;
	copy_name(t->name, name);
	t->start_mono_ns = ms_clock_mono_ns();
	ms_atomic_store_release_u32(&t->state, MS_THREAD_RUNNING);
	return slot;
}

void ms_store_thread_exit(ms_store *st, uint32_t slot)
{
	struct ms_seg_thread *t;

	if (slot >= MS_SEG_THREADS - 1)
		return; /* the shared overflow slot never exits */
	t = thread_at(st, slot);
	ms_atomic_store_relaxed(&t->end_mono_ns, ms_clock_mono_ns());
	ms_atomic_store_release_u32(&t->state, MS_THREAD_EXITED);
}

/* Brackets an update of a cell (see ms_seg_cell): plain stores for the one
 * writer a lock admits, atomic adds for shared cells. The release fence
 * keeps the raised begun ahead of the counters' stores. */
static void cell_begin(const ms_store *st, struct ms_seg_cell *c)
{
	if (st->shared_cells)
		__atomic_add_fetch(&c->begun, 1, __ATOMIC_RELAXED);
	else
		ms_atomic_store_relaxed_u32(&c->begun, c->begun + 1);
	ms_atomic_fence_release();
}

static void cell_end(const ms_store *st, struct ms_seg_cell *c)
{
	if (st->shared_cells)
		__atomic_add_fetch(&c->ended, 1, __ATOMIC_RELEASE);
	else
		ms_atomic_store_release_u32(&c->ended, c->ended + 1);
}

/* Adds to a cell's counter, inside cell_begin/cell_end. */
static void cell_add(const ms_store *st, uint64_t *p, uint64_t v)
{
	if (st->shared_cells)
		ms_atomic_add_relaxed(p, v);
	else
		ms_atomic_store_relaxed(p, ms_atomic_load_relaxed(p) + v);
}

/* Single-writer counter bump: no locked instruction needed. */
static void bump(uint64_t *p, uint64_t v)
{
	ms_atomic_store_relaxed(p, ms_atomic_load_relaxed(p) + v);
}

/* Whether counters shared by all threads take plain stores now: a single
 * writer (ms_store.single_writer) or solo mode (ms_store_solo_start). */
static int plain_writes(const ms_store *st)
{
	return st->single_writer || __atomic_load_n(&st->solo, __ATOMIC_RELAXED);
}

/* Adds to a counter that every thread may change: an atomic add, or a
 * plain one when plain_writes says so. Returns the new value. */
static uint64_t shared_add(const ms_store *st, uint64_t *p, uint64_t v)
{
	if (plain_writes(st)) {
		bump(p, v);
		return ms_atomic_load_relaxed(p);
	}
	return ms_atomic_add_relaxed(p, v);
}

/* Spins on the peak's lock before a thread yields its processor. */
#define PEAK_SPINS 64

/* A store time (units) on the monotonic clock, once the sampler has
 * measured the units' rate (before, the clock is read): a program whose
 * heap keeps growing raises the peak at nearly every allocation, and a
 * clock read there cost more than the rest of the peak's upkeep. */
static uint64_t peak_time_ns(const ms_store *st, uint64_t now)
{
	uint64_t q = __atomic_load_n(&st->ns_per_unit_q32, __ATOMIC_RELAXED);

	if (q == 0 || now < st->start_time)
		return ms_clock_mono_ns();
	return st->start_time_mono_ns +
	       (uint64_t)(((unsigned __int128)(now - st->start_time) * q) >> 32);
}

/* A new peak of live bytes, reached at now (store time units: the birth of
 * the block that made it, so that no clock is read again). */
static void raise_peak(const ms_store *st, struct ms_seg_globals *g, uint64_t live, uint64_t now)
{
	int plain = plain_writes(st);

	if (st->shared_cells && !plain) {
		/* No lock at all: the highest live figure wins by CAS and stamps
		 * its time right after. Two threads raising it at once may leave
		 * the higher peak with the time of the lower one, reached an
		 * instant before it. */
		uint64_t peak = ms_atomic_load_relaxed(&g->peak_bytes);

		while (live > peak) {
			if (__atomic_compare_exchange_n(&g->peak_bytes, &peak, live, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				ms_atomic_store_relaxed(&g->peak_mono_ns, peak_time_ns(st, now));
				break;
			}
		}
		return;
	}
	/* Below the peak, the common case, there is nothing to take: the peak
	 * only grows. */
	if (live <= ms_atomic_load_relaxed(&g->peak_bytes))
		return;
	/* A holder preempted in its few instructions would leave the others
	 * spinning through their time slices (threads outnumbering cores
	 * took minutes under TSan): spin a little, then yield. */
	for (unsigned spins = 0;
	     !plain && !ms_atomic_cas_acquire_u32(&g->peak_lock, 0, 1); spins++) {
		if (spins < PEAK_SPINS)
			ms_cpu_relax();
		else
			sched_yield();
	}
	if (live > g->peak_bytes) {
		ms_atomic_store_relaxed_u32(&g->peak_seq, g->peak_seq + 1);
		ms_atomic_fence_release();
		ms_atomic_store_relaxed(&g->peak_bytes, live);
		ms_atomic_store_relaxed(&g->peak_mono_ns, peak_time_ns(st, now));
		ms_atomic_store_release_u32(&g->peak_seq, g->peak_seq + 1);
	}
	if (!plain)
		ms_atomic_store_release_u32(&g->peak_lock, 0);
}

/* Adds to a thread slot's counter: a plain store when the slot has one
 * writer, an atomic add for the shared overflow slot. */
static void thread_add(uint32_t slot, uint64_t *p, uint64_t v)
{
	if (slot == MS_SEG_THREADS - 1)
		ms_atomic_add_relaxed(p, v);
	else
		bump(p, v);
}

static struct ms_seg_site *site_of(const ms_store *st, uint32_t stack)
{
	return site_at(st, stack < MS_SEG_STACKS ? stack : MS_STACK_NONE);
}

static struct ms_seg_life *life_of(const ms_store *st, uint32_t stack)
{
	return (struct ms_seg_life *)((char *)st->base + header(st)->lives_off) +
	       (stack < MS_SEG_STACKS ? stack : MS_STACK_NONE);
}

/* A freed block's lifetime into its call site's: a power-of-two bucket,
 * and the extremes by CAS (rarely more than a load once they settle). */
static void count_lifetime(const ms_store *st, uint32_t stack, uint64_t lifetime)
{
	struct ms_seg_life *l = life_of(st, stack);
	unsigned b = 63 - (unsigned)__builtin_clzll(lifetime | 1);
	uint64_t v = lifetime + 1, seen;

	shared_add(st, &l->hist[b < MS_LIFE_BUCKETS ? b : MS_LIFE_BUCKETS - 1], 1);
	seen = ms_atomic_load_relaxed(&l->min_plus1);
	while ((seen == 0 || v < seen) &&
	       !__atomic_compare_exchange_n(&l->min_plus1, &seen, v, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
	seen = ms_atomic_load_relaxed(&l->max_plus1);
	while (v > seen && !__atomic_compare_exchange_n(&l->max_plus1, &seen, v, 1,
							 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void raise_site_peak(const ms_store *st, struct ms_seg_site *site, uint64_t live)
{
	uint64_t peak = ms_atomic_load_relaxed(&site->peak_bytes);

	if (plain_writes(st)) {
		ms_atomic_store_relaxed(&site->peak_bytes, live);
		return;
	}
	while (live > peak &&
	       !__atomic_compare_exchange_n(&site->peak_bytes, &peak, live, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

static struct ms_seg_births *births_of(const ms_store *st, uint32_t stack)
{
	return (struct ms_seg_births *)((char *)st->base + header(st)->births_off) +
	       (stack < MS_SEG_STACKS ? stack : MS_STACK_NONE);
}

/* A block's word in the births rings: its bytes above, one block below. */
static uint64_t birth_word(uint64_t size)
{
	return (size << MS_BIRTH_COUNT_BITS) + 1;
}

/* The windows of the two rings, in the header's range of birth times
 * (memscope/block.h): a window number may wrap, and only differences of
 * window numbers are ever used. */
#define FINE_WINDOWS (1ull << (MS_BLOCK_BORN_BITS - MS_BIRTH_FINE_SHIFT))
#define COARSE_WINDOWS (1ull << (MS_BLOCK_BORN_BITS - MS_BIRTH_COARSE_SHIFT))

static uint64_t fine_window(uint64_t t)
{
	return (t & MS_BLOCK_BORN_MASK) >> MS_BIRTH_FINE_SHIFT;
}

static uint64_t coarse_window(uint64_t t)
{
	return (t & MS_BLOCK_BORN_MASK) >> MS_BIRTH_COARSE_SHIFT;
}

static void count_birth(const ms_store *st, uint32_t stack, uint64_t size, uint64_t born)
{
	struct ms_seg_births *b = births_of(st, stack);
	uint64_t w = birth_word(size);

	shared_add(st, &b->fine[fine_window(born) % MS_BIRTH_FINE], w);
	shared_add(st, &b->coarse[coarse_window(born) % MS_BIRTH_COARSE], w);
}

/* A block's end, out of its birth windows that are still in the rings. */
static void count_death(const ms_store *st, uint32_t stack, uint64_t size, uint64_t born,
			uint64_t now)
{
	struct ms_seg_births *b = births_of(st, stack);
	uint64_t w = birth_word(size);
	uint64_t fine = (fine_window(now) - fine_window(born)) % FINE_WINDOWS;
	uint64_t coarse = (coarse_window(now) - coarse_window(born)) % COARSE_WINDOWS;

	if (fine <= MS_BIRTH_FINE - 3)
		shared_add(st, &b->fine[fine_window(born) % MS_BIRTH_FINE], -w);
	if (coarse <= MS_BIRTH_COARSE - 3)
		shared_add(st, &b->coarse[coarse_window(born) % MS_BIRTH_COARSE], -w);
}

void ms_store_count_alloc(ms_store *st, unsigned cell, uint32_t thread, uint32_t stack,
			  uint64_t size, int is_realloc, uint64_t born)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_cell *c = cell_at(st, cell % MS_SEG_CELLS);
	uint32_t slot = thread % MS_SEG_THREADS;
	struct ms_seg_thread *t = thread_at(st, slot);
	struct ms_seg_site *site = site_of(st, stack);
	uint64_t live;

	cell_begin(st, c);
	cell_add(st, &c->allocs, 1);
	cell_add(st, &c->alloc_bytes, size);
	if (is_realloc)
		cell_add(st, &c->reallocs, 1);
	cell_end(st, c);

	thread_add(slot, &t->allocs, 1);
	thread_add(slot, &t->alloc_bytes, size);

	shared_add(st, &site->allocs, 1);
	shared_add(st, &site->alloc_bytes, size);
	live = shared_add(st, &site->live_bytes, size);
	if (live > ms_atomic_load_relaxed(&site->peak_bytes))
		raise_site_peak(st, site, live);
	count_birth(st, stack, size, born);

	live = shared_add(st, &g->live_bytes, size);
	if (live > ms_atomic_load_relaxed(&g->peak_bytes))
		raise_peak(st, g, live, born);
}

void ms_store_count_free(ms_store *st, unsigned cell, uint32_t thread, uint32_t owner,
			 uint32_t stack, uint64_t size, uint64_t born, uint64_t now)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_cell *c = cell_at(st, cell % MS_SEG_CELLS);
	uint32_t slot = thread % MS_SEG_THREADS, owner_slot = owner % MS_SEG_THREADS;
	struct ms_seg_thread *t = thread_at(st, slot);
	struct ms_seg_site *site = site_of(st, stack);

	cell_begin(st, c);
	cell_add(st, &c->frees, 1);
	cell_add(st, &c->free_bytes, size);
	cell_end(st, c);

	thread_add(slot, &t->frees, 1);
	thread_add(slot, &t->free_bytes, size);
	if (owner_slot == slot) {
		thread_add(slot, &t->self_freed, 1);
		thread_add(slot, &t->self_freed_bytes, size);
	} else {
		struct ms_seg_thread *o = thread_at(st, owner_slot);

		shared_add(st, &o->remote_freed, 1);
		shared_add(st, &o->remote_freed_bytes, size);
	}

	shared_add(st, &site->frees, 1);
	shared_add(st, &site->free_bytes, size);
	shared_add(st, &site->live_bytes, -size);
	count_lifetime(st, stack, ms_block_age(now, born));
	count_death(st, stack, size, born, now);

	shared_add(st, &g->live_bytes, -size);
}

void ms_store_count_event(ms_store *st, const ms_event *ev)
{
	switch (ev->op) {
	case MS_OP_ALLOC:
		ms_store_count_alloc(st, ms_store_cell_of(ev->ptr), ev->thread, ev->stack, ev->size,
				     0, ev->born);
		break;
	case MS_OP_FREE:
		ms_store_count_free(st, ms_store_cell_of(ev->ptr), ev->thread, ev->owner, ev->stack,
				    ev->size, ev->born, ms_store_time());
		break;
	case MS_OP_REALLOC: /* the old block ends as the new one is born */
		ms_store_count_free(st, ms_store_cell_of(ev->old_ptr), ev->thread, ev->old_thread,
				    ev->old_stack, ev->old_size, ev->old_born, ev->born);
		ms_store_count_alloc(st, ms_store_cell_of(ev->ptr), ev->thread, ev->stack, ev->size,
				     1, ev->born);
		break;
	default: /* annotations: counted, the blocks left as they are */
		ms_store_count_annotation(st, ev->op);
		break;
	}
}

uint32_t ms_store_stack_add(ms_store *st, const uint64_t *frames, uint32_t depth,
			    uint32_t module_epoch)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_stack *e;
	uint64_t at;
	uint32_t id;
	uint64_t *words = frame_words(st);

	if (depth == 0)
		return MS_STACK_NONE;
	/* Reserve the frames first: an id is only taken when its frames fit. */
	at = __atomic_fetch_add(&g->frame_words_used, depth, __ATOMIC_RELAXED);
	if (at + depth > MS_SEG_STACK_WORDS)
		return MS_STACK_NONE;
	id = __atomic_fetch_add(&g->stacks_used, 1, __ATOMIC_RELAXED);
	if (id >= MS_SEG_STACKS || reserve_stacks(st, (uint64_t)id + 1) != 0 ||
	    reserve_lives(st, (uint64_t)id + 1) != 0 ||
	    reserve_words(st, at + depth) != 0)
		return MS_STACK_NONE;
	for (uint32_t i = 0; i < depth; i++)
		ms_atomic_store_relaxed(&words[at + i], frames[i]);
	e = stack_at(st, id);
	e->frames_off = at;
	e->module_epoch = module_epoch;
	ms_atomic_store_release_u32(&e->depth, depth);
	return id;
}

const uint64_t *ms_store_stack_frames(const ms_store *st, uint32_t id, uint32_t *depth)
{
	const struct ms_seg_stack *e;

	if (id == MS_STACK_NONE || id >= MS_SEG_STACKS)
		return NULL;
	e = stack_at(st, id);
	*depth = ms_atomic_load_acquire_u32(&e->depth);
	return *depth ? frame_words(st) + e->frames_off : NULL;
}

uint32_t ms_store_stack_count(const ms_store *st)
{
	uint32_t used = ms_atomic_load_relaxed_u32(&globals(st)->stacks_used);

	return used < MS_SEG_STACKS ? used : MS_SEG_STACKS;
}

/* The sampler, every tick: clears the births rings' words two windows
 * ahead of now in every call site, before any block is born in them. */
static void clear_births_ahead(ms_store *st)
{
	uint64_t now = ms_store_time();
	unsigned fine = (unsigned)((fine_window(now) + 2) % MS_BIRTH_FINE);
	unsigned coarse = (unsigned)((coarse_window(now) + 2) % MS_BIRTH_COARSE);
	uint32_t n = ms_store_stack_count(st);

	for (uint32_t i = 0; i < n; i++) {
		struct ms_seg_births *b = births_of(st, i);

		ms_atomic_store_relaxed(&b->fine[fine], 0);
		ms_atomic_store_relaxed(&b->coarse[coarse], 0);
	}
}

/* Of a call site's live blocks, the bytes and blocks born from the window
 * that holds now - age up to now: those younger than age, and the rest of
 * that first window (at most one window older). */
static void young_sums(const uint64_t *ring, unsigned n, unsigned shift, uint64_t now,
		       uint64_t age, uint64_t *bytes, uint64_t *blocks)
{
	uint64_t last = (now & MS_BLOCK_BORN_MASK) >> shift;
	uint64_t first = ((now - age) & MS_BLOCK_BORN_MASK) >> shift;
	uint64_t span = (last - first) & (MS_BLOCK_BORN_MASK >> shift);
	uint64_t sum = 0;

	if (span > n - 3)
		span = n - 3;
	for (uint64_t k = 0; k <= span; k++)
		sum += ms_atomic_load_relaxed(&ring[(last - k) % n]);
	*bytes = sum >> MS_BIRTH_COUNT_BITS;
	*blocks = sum & ((1ull << MS_BIRTH_COUNT_BITS) - 1);
}

void ms_store_scan_ages(ms_store *st)
{
	static const uint32_t age_ticks[MS_STORE_AGES] = MS_STORE_AGE_TICKS;
	struct ms_seg_globals *g = globals(st);
	uint64_t per_s = ms_store_time_per_s(st), now = ms_store_time();
	uint32_t n = ms_store_stack_count(st), t;

	if (per_s == 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct ms_seg_births *b = births_of(st, i);
		struct ms_seg_site *site = site_of(st, i);
		uint64_t frees = ms_atomic_load_relaxed(&site->frees);
		uint64_t live = ms_atomic_load_relaxed(&site->live_bytes);
		uint64_t allocs = ms_atomic_load_relaxed(&site->allocs);
		uint64_t blocks = allocs > frees ? allocs - frees : 0;

		if ((int64_t)live < 0)
			live = 0;
		for (unsigned a = 0; a < MS_STORE_AGES; a++) {
			uint64_t age = (uint64_t)((unsigned __int128)per_s * age_ticks[a] *
						  MS_STORE_TICK_NS / 1000000000u);
			uint64_t young_bytes, young_blocks;

			/* The fine ring for the ages it spans, the coarse one
			 * beyond. */
			if ((age >> MS_BIRTH_FINE_SHIFT) + 3 <= MS_BIRTH_FINE)
				young_sums(b->fine, MS_BIRTH_FINE, MS_BIRTH_FINE_SHIFT, now, age,
					   &young_bytes, &young_blocks);
			else
				young_sums(b->coarse, MS_BIRTH_COARSE, MS_BIRTH_COARSE_SHIFT, now,
					   age, &young_bytes, &young_blocks);
			ms_atomic_store_relaxed(&site->old_bytes[a],
						live > young_bytes ? live - young_bytes : 0);
			ms_atomic_store_relaxed(&site->old_allocs[a],
						blocks > young_blocks ? blocks - young_blocks : 0);
		}
	}
	/* 0 means "never": a scan in the first tick says 1. */
	t = ms_atomic_load_relaxed_u32(&g->ticks);
	ms_atomic_store_release_u32(&g->scan_ticks, t ? t : 1);
}

uint32_t ms_store_module_epoch(const ms_store *st)
{
	return ms_atomic_load_acquire_u32(&globals(st)->module_epoch);
}

void ms_store_module_set_epoch(ms_store *st, uint32_t epoch)
{
	ms_atomic_store_release_u32(&globals(st)->module_epoch, epoch);
}

int ms_store_module_add(ms_store *st, uint32_t epoch, uint64_t base, uint64_t lo, uint64_t hi,
			const char *path)
{
	struct ms_seg_globals *g = globals(st);
	uint32_t i = g->modules_used;
	struct ms_seg_module *m;
	size_t n = 0;

	if (i >= MS_SEG_MODULES || reserve_modules(st, (uint64_t)i + 1) != 0)
		return -ENOSPC;
	m = module_at(st, i);
	m->base = base;
	m->lo = lo;
	m->hi = hi;
	m->load_epoch = epoch;
	m->unload_epoch = 0;
	for (; path != NULL && path[n] != '\0' && n + 1 < MS_MODULE_PATH_MAX; n++)
		m->path[n] = path[n];
	m->path[n] = '\0';
	ms_atomic_store_release_u32(&g->modules_used, i + 1);
	return (int)i;
}

uint64_t ms_store_time_per_s(const ms_store *st)
{
	return ms_atomic_load_relaxed(&globals(st)->time_per_s);
}

uint32_t ms_store_name_add(ms_store *st, const char *text)
{
	struct ms_seg_globals *g = globals(st);
	uint32_t i = g->names_used;
	struct ms_seg_name *e;
	size_t n = 0;

	if (i >= MS_SEG_NAMES || reserve_names(st, (uint64_t)i + 1) != 0)
		return 0;
	e = (struct ms_seg_name *)((char *)st->base + header(st)->names_off) + i;
	for (; text != NULL && text[n] != '\0' && n + 1 < MS_NAME_MAX; n++)
		e->text[n] = text[n];
	e->text[n] = '\0';
	ms_atomic_store_release_u32(&g->names_used, i + 1);
	return i + 1;
}

int ms_store_note_put(ms_store *st, uint32_t i, const ms_note *n)
{
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_note *e;

	if (i >= MS_SEG_NOTES || reserve_notes(st, (uint64_t)i + 1) != 0)
		return -ENOSPC;
	e = (struct ms_seg_note *)((char *)st->base + header(st)->notes_off) + i;
	ms_atomic_store_relaxed_u32(&e->seq, e->seq + 1);
	ms_atomic_fence_release();
	ms_atomic_store_relaxed_u32(&e->state, n->ended_mono_ns != 0 ? MS_NOTE_ENDED : MS_NOTE_LIVE);
	ms_atomic_store_relaxed(&e->ptr, n->ptr);
	ms_atomic_store_relaxed(&e->size, n->size);
	ms_atomic_store_relaxed(&e->tracked_mono_ns, n->tracked_mono_ns);
	ms_atomic_store_relaxed(&e->ended_mono_ns, n->ended_mono_ns);
	ms_atomic_store_relaxed_u32(&e->var, n->var);
	ms_atomic_store_relaxed_u32(&e->type, n->type);
	ms_atomic_store_relaxed_u32(&e->scope, n->scope);
	ms_atomic_store_relaxed_u32(&e->stack, n->stack);
	ms_atomic_store_relaxed_u32(&e->borrows, n->borrows);
	ms_atomic_store_relaxed_u32(&e->lent, n->lent);
	ms_atomic_store_release_u32(&e->seq, e->seq + 1);
	if (i >= g->notes_used)
		ms_atomic_store_release_u32(&g->notes_used, i + 1);
	return 0;
}

uint32_t ms_store_module_count(const ms_store *st)
{
	return ms_atomic_load_acquire_u32(&globals(st)->modules_used);
}

int ms_store_module_get(const ms_store *st, uint32_t i, uint64_t *base, const char **path,
			int *loaded)
{
	const struct ms_seg_module *m;

	if (i >= ms_store_module_count(st))
		return -ENOENT;
	m = module_at(st, i);
	*base = m->base;
	*path = m->path;
	*loaded = ms_atomic_load_relaxed_u32(&m->unload_epoch) == 0;
	return 0;
}

void ms_store_module_unload(ms_store *st, uint32_t i, uint32_t epoch)
{
	if (i < ms_store_module_count(st))
		ms_atomic_store_release_u32(&module_at(st, i)->unload_epoch, epoch);
}

void ms_store_count_dropped(ms_store *st)
{
	ms_atomic_add_relaxed(&globals(st)->dropped_events, 1);
}

void ms_store_count_untracked_free(ms_store *st)
{
	ms_atomic_add_relaxed(&globals(st)->untracked_frees, 1);
}

void ms_store_count_annotation(ms_store *st, int op)
{
	struct ms_seg_globals *g = globals(st);

	if (op == MS_OP_MOVE)
		ms_atomic_add_relaxed(&g->moves, 1);
	else if (op == MS_OP_BORROW)
		ms_atomic_add_relaxed(&g->borrows, 1);
	else if (op == MS_OP_RETURN)
		ms_atomic_add_relaxed(&g->returns, 1);
}

/* Readers copy samples concurrently (and retry on a seqcount change), so
 * each word is stored atomically. */
static void put_sample(struct ms_seg_sample *dst, const struct ms_seg_sample *src)
{
	const uint64_t *from = (const uint64_t *)src;
	uint64_t *to = (uint64_t *)dst;

	for (size_t k = 0; k < sizeof(*src) / sizeof(uint64_t); k++)
		ms_atomic_store_relaxed(&to[k], from[k]);
}

/* Drops every other sample and doubles the interval. Inside the seqcount. */
static void timeline_compact(struct ms_seg_timeline *tl, struct ms_seg_sample *s)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < tl->count; i += 2) {
		struct ms_seg_sample keep = s[i];

		put_sample(&s[kept++], &keep);
	}
	ms_atomic_store_relaxed_u32(&tl->count, kept);
	tl->interval_ns *= 2;
}

/* Store time units a second, measured against the monotonic clock since
 * the start. Past a millisecond the two clocks' reading jitter (tens of ns)
 * weighs less than 1e-4; a program that ends sooner gets a rougher figure
 * rather than none. From 2 s on the figure stays as it is (exact to a few
 * ppm): readers and recordings then see lifetimes that do not wobble with
 * the clock's slewing. */
static void calibrate(ms_store *st, uint64_t mono_ns)
{
	uint64_t units = ms_store_time() - st->start_time, ns = mono_ns - st->start_time_mono_ns;

	if (st->calibrated)
		return;
	st->calibrated = ns >= 2000000000u;
	if (units == 0)
		return;
	if (ns >= 1000000u || (ns >= 10000u && globals(st)->time_per_s == 0)) {
		ms_atomic_store_relaxed(&globals(st)->time_per_s,
					(uint64_t)((unsigned __int128)units * 1000000000u / ns));
		__atomic_store_n(&st->ns_per_unit_q32,
				 (uint64_t)(((unsigned __int128)ns << 32) / units), __ATOMIC_RELAXED);
	}
}

/* The clocks first, together, so CPU% is not skewed by our own work
 * below; our threads' time right after, microseconds later, which is all
 * the program's and our share can be off by in an interval. */
static void read_clocks(struct ms_seg_sample *now)
{
	ms_clock_process_cpu_fresh(&now->cpu_ns, &now->mono_ns);
	now->own_cpu_ns = ms_own_threads_cpu_ns();
}

/* Thread names are read from /proc every this many samples (each is a
 * file read a thread): names change rarely. */
#define NAMES_EVERY 5

void ms_store_sample(ms_store *st)
{
	struct ms_seg_header *h = header(st);
	struct ms_seg_globals *g = globals(st);
	struct ms_seg_timeline *tl = timeline(st);
	struct ms_seg_sample *s = samples(st), now = { 0 };
	static unsigned calls; /* one sampler thread */
	struct ms_seg_totals tot;

	read_clocks(&now);
	calibrate(st, now.mono_ns);
	ms_seg_sum_cells(cell_at(st, 0), MS_SEG_CELLS, &tot);
	now.live_bytes = tot.alloc_bytes - tot.free_bytes;
	now.live_allocs = tot.allocs - tot.frees;
	now.total_allocs = tot.allocs;
	now.total_frees = tot.frees;
	now.total_bytes = tot.alloc_bytes;
	ms_proc_rss(0, &now.rss_bytes);
	if (ms_proc_thread_count(0, &now.threads) == 0) {
		uint32_t own = ms_own_thread_count();

		now.threads = now.threads > own ? now.threads - own : 0;
	}

	/* Samples are one interval apart, except the last, which always holds
	 * the latest figures: it is overwritten until it lies an interval (less
	 * a tenth for timer jitter) after the one before it. */
	ms_atomic_store_relaxed_u32(&tl->seq, tl->seq + 1);
	ms_atomic_fence_release();
	if (tl->count >= 2 &&
	    s[tl->count - 1].mono_ns - s[tl->count - 2].mono_ns < tl->interval_ns / 10 * 9) {
		put_sample(&s[tl->count - 1], &now);
	} else {
		if (tl->count == MS_SEG_SAMPLES)
			timeline_compact(tl, s);
		put_sample(&s[tl->count], &now);
		ms_atomic_store_relaxed_u32(&tl->count, tl->count + 1);
	}
	ms_atomic_store_release_u32(&tl->seq, tl->seq + 1);

	clear_births_ahead(st);
	ms_atomic_store_release(&h->heartbeat_mono_ns, now.mono_ns);
	ms_atomic_store_relaxed_u32(&g->ticks,
				    (uint32_t)((now.mono_ns - h->start_mono_ns) / MS_STORE_TICK_NS));

	if (calls++ % NAMES_EVERY == 0) {
		uint32_t used = ms_atomic_load_relaxed_u32(&g->threads_used);

		for (uint32_t i = 0; i < used && i < MS_SEG_THREADS - 1; i++) {
			struct ms_seg_thread *t = thread_at(st, i);
			char name[MS_THREAD_NAME_MAX];

			if (ms_atomic_load_acquire_u32(&t->state) != MS_THREAD_RUNNING)
				continue;
			if (ms_thread_name(0, t->tid, name, sizeof(name)) == 0)
				copy_name(t->name, name);
		}
	}
}
