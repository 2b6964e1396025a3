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
 * backend splits its work into lock domains (the core backend: 64 shards,
 * chosen by address) and maps each domain to a cell; a cell therefore has
 * one writer at a time. Because a block's allocation and
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
 * The files
 * ---------
 * store.c: the segment's life (layout, creation, retention, the end),
 * threads and solo mode. store_count.c: the accounting, on the hook path.
 * store_tables.c: stacks, modules, names and notes. store_sample.c: the
 * sampler's work (timeline, leak scan). store_reserve.c: real memory for
 * the regions that grow. store_private.h: what they share.
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

#include "store_private.h"

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
	err = store_reserve_start(st);
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

void store_copy_name(char *dst, const char *src)
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
	if (slot < last && store_reserve_threads(st, (uint64_t)slot + 1) != 0) {
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
			store_copy_name(t->name, "(more threads)");
			t->start_mono_ns = ms_clock_mono_ns();
			ms_atomic_store_release_u32(&t->state, MS_THREAD_RUNNING);
		}
		return last;
	}
	t = thread_at(st, slot);
	t->tid = tid;
	store_copy_name(t->name, name);
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
