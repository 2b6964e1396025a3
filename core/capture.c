#define _GNU_SOURCE
#include <memscope/capture.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>
#include <memscope/ptr_map.h>

#include "notes.h"
#include "store_layout.h"
#include "stream_writer.h"

/* Static TLS: a preloaded library may use it, and unlike the default
 * dynamic model its first touch never calls malloc. */
#define MS_TLS __thread __attribute__((tls_model("initial-exec")))

/* Bumped whenever thread slots become invalid (a new engine, a fork); a
 * thread whose cached epoch differs claims a new slot. */
static uint32_t epoch = 1;
static MS_TLS uint32_t tls_epoch;
static MS_TLS uint32_t tls_slot;

static ms_capture *active;

void (*ms_capture_internal_thread)(void);

/* The leak scan's sums, one per stack id a store can hand out. */
#define AGE_STACKS (1u << 18)

struct age_sums {
	uint64_t bytes[MS_STORE_AGES];
	uint64_t allocs[MS_STORE_AGES];
};

struct age_scan {
	struct age_sums *sums;
	uint32_t nstacks;
	uint64_t now;                      /* store time units */
	uint64_t threshold[MS_STORE_AGES]; /* the ages, in those units */
};

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* Runs at thread exit for threads that have a slot. */
static void thread_exited(void *value)
{
	uint32_t slot = (uint32_t)(uintptr_t)value - 1;
	ms_capture *c = active;

	if (c != NULL && c->store.base != NULL && tls_epoch == ms_atomic_load_relaxed_u32(&epoch)) {
		if (c->stream != NULL)
			ms_stream_thread_exit(c->stream);
		if (c->backend.ops->thread_exit != NULL)
			c->backend.ops->thread_exit(&c->backend);
		ms_store_thread_exit(&c->store, slot);
	}
}

static void make_exit_key(void)
{
	pthread_key_create(&exit_key, thread_exited);
}

int ms_capture_open(ms_capture *c, const ms_backend_ops *ops, const char *dir, pid_t keeper_pid)
{
	int err;

	memset(c, 0, sizeof(*c));
	if (strlen(dir) >= sizeof(c->dir))
		return -ENAMETOOLONG;
	strcpy(c->dir, dir);
	c->keeper_pid = keeper_pid;
	pthread_once(&exit_key_once, make_exit_key);
	err = ms_store_create(&c->store, dir, keeper_pid);
	if (err != 0)
		return err;
	c->backend.ops = ops;
	c->backend.store = &c->store;
	err = ms_stacks_init(&c->stacks, &c->store);
	if (err == 0)
		err = ops->open(&c->backend);
	if (err != 0) {
		ms_stacks_destroy(&c->stacks);
		ms_store_finish(&c->store);
		ms_shm_unmap(c->store.base, c->store.size);
		ms_store_detach(&c->store);
		return err;
	}
	ms_atomic_add_relaxed_u32(&epoch, 1);
	active = c;
	return 0;
}

void ms_capture_flush(ms_capture *c)
{
	if (c->backend.ops->flush != NULL)
		c->backend.ops->flush(&c->backend);
}

void ms_capture_finish(ms_capture *c)
{
	if (c->backend.ops->finish != NULL)
		c->backend.ops->finish(&c->backend);
	if (c->stream != NULL)
		ms_stream_flush_all(c->stream);
	ms_store_finish(&c->store);
}

int ms_capture_stream(ms_capture *c, int fd, pid_t peer)
{
	const struct ms_seg_header *h = c->store.base;

	return ms_stream_open(&c->stream, fd, peer, (uint32_t)h->pid, h->generation,
			      h->start_mono_ns);
}

void ms_capture_close(ms_capture *c)
{
	if (active == c)
		active = NULL;
	ms_stream_close(c->stream);
	c->stream = NULL;
	ms_atomic_add_relaxed_u32(&epoch, 1);
	c->backend.ops->close(&c->backend);
	ms_notes_destroy(c);
	ms_stacks_destroy(&c->stacks);
	if (c->ages != NULL)
		ms_pages_free(c->ages, AGE_STACKS * sizeof(struct age_sums));
	c->ages = NULL;
	ms_shm_unmap(c->store.base, c->store.size);
	ms_store_detach(&c->store);
}

uint32_t ms_capture_thread(ms_capture *c)
{
	uint32_t now = ms_atomic_load_relaxed_u32(&epoch);
	char name[16];

	if (tls_epoch == now)
		return tls_slot;
	ms_thread_name_self(name, sizeof(name));
	tls_slot = ms_store_thread_claim(&c->store, ms_thread_id(), name);
	tls_epoch = now;
	/* May allocate (second-level key storage); the hook's reentrancy guard
	 * is set, so that allocation is not tracked. */
	pthread_setspecific(exit_key, (void *)(uintptr_t)(tls_slot + 1));
	return tls_slot;
}

void ms_capture_alloc(ms_capture *c, void *ptr, size_t size, const uint64_t *frames,
		      uint32_t depth)
{
	ms_event ev = {
		.op = MS_OP_ALLOC,
		.thread = ms_capture_thread(c),
		.ptr = (uintptr_t)ptr,
		.size = size,
		.stack = ms_stacks_intern(&c->stacks, frames, depth),
	};

	ms_backend_record(&c->backend, &ev);
	if (c->stream != NULL)
		ms_stream_put(c->stream, MS_STREAM_ALLOC, 0, ev.thread, ev.ptr, size, ev.stack);
}

void ms_capture_free(ms_capture *c, void *ptr)
{
	ms_event ev = {
		.op = MS_OP_FREE,
		.thread = ms_capture_thread(c),
		.ptr = (uintptr_t)ptr,
	};

	ms_backend_record(&c->backend, &ev);
	ms_notes_end(c, ev.ptr);
	if (c->stream != NULL)
		ms_stream_put(c->stream, MS_STREAM_FREE, 0, ev.thread, ev.ptr, 0, 0);
}

void ms_capture_realloc_begin(ms_capture *c, void *old_ptr, ms_claim *claim)
{
	uint32_t thread;

	memset(claim, 0, sizeof(*claim));
	if (old_ptr == NULL)
		return;
	thread = ms_capture_thread(c);
	claim->owner = thread; /* the caller, for backends that settle later */
	c->backend.ops->claim(&c->backend, (uintptr_t)old_ptr, claim);
	claim->note = ms_notes_claim(c, (uintptr_t)old_ptr);
	/* The stream hears of the old block's end now, before the real realloc
	 * can hand its address to another thread. A block we never tracked is
	 * left out: its address may be reused before we could say so. */
	if (c->stream != NULL && claim->found)
		ms_stream_put(c->stream, MS_STREAM_FREE, MS_STREAM_REALLOC, thread, claim->ptr, 0,
			      0);
}

void ms_capture_realloc_end(ms_capture *c, const ms_claim *claim, void *new_ptr, size_t size,
			    const uint64_t *frames, uint32_t depth)
{
	ms_event ev = {
		.thread = ms_capture_thread(c),
		.ptr = (uintptr_t)new_ptr,
		.size = size,
	};

	if (new_ptr != NULL)
		ev.stack = ms_stacks_intern(&c->stacks, frames, depth);
	/* An annotated block's note follows it, stays, or ends with
	 * realloc(p, 0). */
	ms_notes_settle(c, claim->note, claim->ptr, ev.ptr, size);
	if (new_ptr == NULL && size != 0) {
		/* Failed: the old block is untouched and still live. */
		if (claim->found)
			c->backend.ops->unclaim(&c->backend, claim);
		if (c->stream != NULL && claim->found)
			ms_stream_put(c->stream, MS_STREAM_ALLOC, MS_STREAM_RESTORE, ev.thread,
				      claim->ptr, claim->size, claim->stack);
		return;
	}
	if (c->stream != NULL && new_ptr != NULL)
		ms_stream_put(c->stream, MS_STREAM_ALLOC, claim->found ? MS_STREAM_REALLOC : 0,
			      ev.thread, ev.ptr, size, ev.stack);
	if (claim->ptr == 0 || !claim->found) {
		/* realloc(NULL, n) is malloc(n); an untracked old block counts as
		 * an untracked free and the result as a new block. */
		if (claim->ptr != 0)
			ms_store_count_untracked_free(&c->store);
		if (new_ptr != NULL) {
			ev.op = MS_OP_ALLOC;
			ms_backend_record(&c->backend, &ev);
		}
		return;
	}
	/* new_ptr NULL here: realloc(p, 0) freed p; the backend accounts only
	 * the old block's free. */
	ev.op = MS_OP_REALLOC;
	ev.old_ptr = claim->ptr;
	ev.old_size = claim->size;
	ev.old_thread = claim->owner;
	ev.old_stack = claim->stack;
	ev.old_born = claim->born;
	ms_backend_record(&c->backend, &ev);
}

void ms_capture_annotate(ms_capture *c, ms_op op, void *ptr, void *old_ptr)
{
	ms_event ev = {
		.op = op,
		.thread = ms_capture_thread(c),
		.ptr = (uintptr_t)ptr,
		.old_ptr = (uintptr_t)old_ptr,
	};

	ms_backend_record(&c->backend, &ev);
	if (op == MS_OP_MOVE)
		ms_notes_move(c, ev.old_ptr, ev.ptr);
	else if (op == MS_OP_BORROW || op == MS_OP_RETURN)
		ms_notes_borrow(c, ev.ptr, op == MS_OP_BORROW);
}

void ms_capture_maintain(ms_capture *c)
{
	ms_stacks_maintain(&c->stacks);
	if (c->backend.ops->maintain != NULL)
		c->backend.ops->maintain(&c->backend);
}

static const uint32_t age_ticks[MS_STORE_AGES] = MS_STORE_AGE_TICKS;

static void count_age(void *ctx, const ms_block *b)
{
	struct age_scan *scan = ctx;
	uint64_t age = ms_born_age(scan->now, b->born);

	if (b->stack >= scan->nstacks)
		return;
	for (unsigned a = 0; a < MS_STORE_AGES && age >= scan->threshold[a]; a++) {
		scan->sums[b->stack].bytes[a] += b->size;
		scan->sums[b->stack].allocs[a]++;
	}
}

void ms_capture_scan_ages(ms_capture *c)
{
	struct age_scan scan = { .now = ms_store_time() };
	uint64_t per_s = ms_store_time_per_s(&c->store);

	if (c->backend.ops->scan == NULL || per_s == 0)
		return;
	for (unsigned a = 0; a < MS_STORE_AGES; a++)
		scan.threshold[a] = (uint64_t)((unsigned __int128)per_s * age_ticks[a] *
					       MS_STORE_TICK_NS / 1000000000u);
	if (c->ages == NULL)
		c->ages = ms_pages_alloc(AGE_STACKS * sizeof(struct age_sums));
	if (c->ages == NULL)
		return;
	scan.sums = c->ages;
	scan.nstacks = ms_store_stack_count(&c->store);
	if (scan.nstacks > AGE_STACKS)
		scan.nstacks = AGE_STACKS;
	memset(scan.sums, 0, scan.nstacks * sizeof(*scan.sums));
	c->backend.ops->scan(&c->backend, count_age, &scan);
	for (uint32_t i = 0; i < scan.nstacks; i++)
		ms_store_set_ages(&c->store, i, scan.sums[i].bytes, scan.sums[i].allocs);
	ms_store_ages_done(&c->store);
}

void ms_capture_fork_prepare(ms_capture *c)
{
	c->backend.ops->fork_prepare(&c->backend);
	ms_stacks_fork_prepare(&c->stacks);
}

void ms_capture_fork_parent(ms_capture *c)
{
	ms_stacks_fork_parent(&c->stacks);
	c->backend.ops->fork_parent(&c->backend);
}

int ms_capture_fork_child(ms_capture *c)
{
	int err, single_writer, shared_cells;

	/* First what cannot fail: every lock released, signals unblocked
	 * (urcu-bp's child handler), even if no new session can be made. The
	 * index is emptied for the child's store, which is filled in below at
	 * the same address. */
	err = ms_stacks_fork_child(&c->stacks, &c->store);
	c->backend.ops->fork_child(&c->backend);
	ms_notes_destroy(c); /* the parent's annotations (and maybe its lock) */
	/* The event stream is the parent's (its buffers' memory stays). */
	if (c->stream != NULL)
		ms_stream_fork_child(c->stream);
	c->stream = NULL;
	/* The parent's segment stays mapped in the child but is the parent's:
	 * never write it again. */
	ms_shm_unmap(c->store.base, c->store.size);
	ms_store_detach(&c->store);
	ms_atomic_add_relaxed_u32(&epoch, 1);
	if (err != 0)
		return err;
	single_writer = c->store.single_writer;
	shared_cells = c->store.shared_cells;
	err = ms_store_create(&c->store, c->dir, c->keeper_pid);
	c->store.single_writer = single_writer;
	c->store.shared_cells = shared_cells;
	return err;
}
