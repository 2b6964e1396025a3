#define _GNU_SOURCE
#include <memscope/capture.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <memscope/atomic.h>
#include <memscope/maps.h>
#include <memscope/platform.h>

#include "notes.h"
#include "core/shared/store_layout.h"
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

/* Generations of block headers: each session takes the next, 1 to 15
 * (memscope/block.h). */
static uint32_t last_gen;

static uint32_t next_gen(void)
{
	uint32_t g = ms_atomic_add_relaxed_u32(&last_gen, 1);

	return g % (MS_BLOCK_GENS - 1) + 1;
}

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
	ms_block_init();
	c->gen = next_gen();
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
	c->maps = ms_maps_new(); /* NULL: mappings go uncounted */
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
	ms_maps_free(c->maps);
	c->maps = NULL;
	ms_stacks_destroy(&c->stacks);
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

/* The block each thread slot allocated last, for temporaries (a block freed
 * before its thread's next allocation; memscope/event.h). A cache line a
 * slot: written by its thread at each allocation, read by whichever thread
 * frees. A slot's word is right whatever session or fork wrote it before:
 * it equals a block's address only if the slot's latest allocation is that
 * block. The overflow slot's threads share one word: their temporaries
 * are those freed before any of them allocates again. 256 KiB of zeroes,
 * a page touched per 64 slots in use. */
static struct {
	uint64_t ptr;
} __attribute__((aligned(64))) last_alloc[MS_SEG_THREADS];

static void note_allocation(uint32_t slot, uint64_t ptr)
{
	ms_atomic_store_relaxed(&last_alloc[slot % MS_SEG_THREADS].ptr, ptr);
}

static uint32_t temporary_flag(uint32_t owner, uint64_t ptr)
{
	return ms_atomic_load_relaxed(&last_alloc[owner % MS_SEG_THREADS].ptr) == ptr
		       ? MS_EVENT_TEMPORARY
		       : 0;
}

void ms_capture_alloc(ms_capture *c, void *user, size_t size, uint64_t offset,
		      const uint64_t *frames, uint32_t depth)
{
	ms_event ev = {
		.op = MS_OP_ALLOC,
		.thread = ms_capture_thread(c),
		.ptr = (uintptr_t)user,
		.size = size,
		.stack = ms_stacks_intern(&c->stacks, frames, depth),
		.born = ms_store_time(), /* whole: it also stamps a new peak */
	};

	note_allocation(ev.thread, ev.ptr);
	if (size > MS_BLOCK_SIZE_MAX) {
		/* Beyond what a header holds (32 TiB): a block not counted. */
		ms_block_put(user, size, 0, 0, 0, 0, offset);
		return;
	}
	ms_block_put(user, size, ev.stack, ev.thread, c->gen, ev.born, offset);
	ms_backend_record(&c->backend, &ev);
	if (c->stream != NULL)
		ms_stream_put(c->stream, MS_STREAM_ALLOC, 0, ev.thread, ev.ptr, size, ev.stack);
}

/* Whether a block's header says this session counted it. */
static int counted(const ms_capture *c, const ms_block_info *b)
{
	return b->gen != 0 && b->gen == c->gen;
}

void ms_capture_untracked_free(ms_capture *c)
{
	ms_store_count_untracked_free(&c->store);
}

void ms_capture_free(ms_capture *c, void *user, const ms_block_info *b)
{
	ms_event ev = {
		.op = MS_OP_FREE,
		.thread = ms_capture_thread(c),
		.ptr = (uintptr_t)user,
		.size = b->size,
		.stack = b->stack,
		.born = b->born,
		.owner = b->owner,
	};

	if (!counted(c, b)) {
		ms_capture_untracked_free(c);
		return;
	}
	ev.flags = temporary_flag(b->owner, ev.ptr);
	ms_backend_record(&c->backend, &ev);
	ms_notes_end(c, ev.ptr);
	if (c->stream != NULL)
		ms_stream_put(c->stream, MS_STREAM_FREE, 0, ev.thread, ev.ptr, 0, 0);
}

void ms_capture_realloc_begin(ms_capture *c, void *old_user, const ms_block_info *b,
			      ms_claim *claim)
{
	uint32_t thread = ms_capture_thread(c);

	memset(claim, 0, sizeof(*claim));
	claim->ptr = (uintptr_t)old_user;
	if (b != NULL && counted(c, b)) {
		claim->found = 1;
		claim->size = b->size;
		claim->owner = b->owner;
		claim->stack = b->stack;
		claim->born = b->born;
	}
	claim->note = ms_notes_claim(c, claim->ptr);
	/* The stream hears of the old block's end now, before the real realloc
	 * can hand its address to another thread. A block we never tracked is
	 * left out. */
	if (c->stream != NULL && claim->found)
		ms_stream_put(c->stream, MS_STREAM_FREE, MS_STREAM_REALLOC, thread, claim->ptr, 0,
			      0);
}

void ms_capture_realloc_end(ms_capture *c, const ms_claim *claim, void *new_user, size_t size,
			    uint64_t offset, const uint64_t *frames, uint32_t depth)
{
	ms_event ev = {
		.op = MS_OP_REALLOC,
		.thread = ms_capture_thread(c),
		.ptr = (uintptr_t)new_user,
		.size = size,
		.born = ms_store_time(), /* whole: it also stamps a new peak */
		.old_ptr = claim->ptr,
		.old_size = claim->size,
		.old_thread = claim->owner,
		.old_stack = claim->stack,
		.old_born = claim->born,
	};

	if (new_user == NULL) {
		/* Failed: the old block is untouched and still live. */
		ms_notes_settle(c, claim->note, claim->ptr, 0, size != 0 ? size : 1);
		if (c->stream != NULL && claim->found)
			ms_stream_put(c->stream, MS_STREAM_ALLOC, MS_STREAM_RESTORE, ev.thread,
				      claim->ptr, claim->size, claim->stack);
		return;
	}
	ev.stack = ms_stacks_intern(&c->stacks, frames, depth);
	/* The old block ends before the new one is born: a temporary if it
	 * was its thread's latest, as heaptrack counts a realloc. */
	if (claim->found)
		ev.flags = temporary_flag(claim->owner, claim->ptr);
	note_allocation(ev.thread, ev.ptr);
	if (size > MS_BLOCK_SIZE_MAX)
		ms_block_put(new_user, size, 0, 0, 0, 0, offset);
	else
		ms_block_put(new_user, size, ev.stack, ev.thread, c->gen, ev.born, offset);
	/* An annotated block's note follows it. */
	ms_notes_settle(c, claim->note, claim->ptr, ev.ptr, size);
	if (c->stream != NULL)
		ms_stream_put(c->stream, MS_STREAM_ALLOC, claim->found ? MS_STREAM_REALLOC : 0,
			      ev.thread, ev.ptr, size, ev.stack);
	if (!claim->found) {
		/* realloc(NULL, n) is malloc(n); an untracked old block counts
		 * as an untracked free and the result as a new block. */
		if (claim->ptr != 0)
			ms_capture_untracked_free(c);
		ev.op = MS_OP_ALLOC;
		ev.old_ptr = 0;
	}
	if (size <= MS_BLOCK_SIZE_MAX)
		ms_backend_record(&c->backend, &ev);
	else if (claim->found) {
		/* The old block ends; the new one is beyond counting. */
		ms_event end = { .op = MS_OP_FREE, .thread = ev.thread, .ptr = claim->ptr,
				 .size = claim->size, .stack = claim->stack,
				 .born = claim->born, .owner = claim->owner,
				 .flags = ev.flags };

		ms_backend_record(&c->backend, &end);
	}
}

void *ms_capture_mmap(ms_capture *c, uint64_t len, int counted, const uint64_t *frames,
		      uint32_t depth, void *(*real)(void *ctx), void *ctx)
{
	if (c->maps == NULL)
		return real(ctx);
	return ms_maps_map(c->maps, &c->store, len, counted,
			   counted ? ms_stacks_intern(&c->stacks, frames, depth) : 0, real, ctx);
}

int ms_capture_munmap(ms_capture *c, uint64_t addr, uint64_t len, int (*real)(void *ctx),
		      void *ctx)
{
	if (c->maps == NULL)
		return real(ctx);
	return ms_maps_unmap(c->maps, &c->store, addr, len, real, ctx);
}

void *ms_capture_mremap(ms_capture *c, uint64_t old, uint64_t old_len, uint64_t new_len,
			void *(*real)(void *ctx), void *ctx)
{
	if (c->maps == NULL)
		return real(ctx);
	return ms_maps_remap(c->maps, &c->store, old, old_len, new_len, real, ctx);
}

int ms_capture_lookup(ms_capture *c, const void *ptr, ms_block *out)
{
	uint64_t words[3];
	struct iovec local = { words, sizeof(words) };
	struct iovec remote = { (char *)ptr - sizeof(words), sizeof(words) };
	ms_block_info b;

	/* The program names any pointer it likes: read the header with a call
	 * that fails instead of faulting. */
	if (ptr == NULL || (uintptr_t)ptr < sizeof(words) ||
	    process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(words))
		return -ENOENT;
	if (ms_block_get(ptr, &b) != 0 || !counted(c, &b))
		return -ENOENT;
	*out = (ms_block){ .size = b.size, .stack = b.stack, .born = b.born };
	return 0;
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

void ms_capture_scan_ages(ms_capture *c)
{
	ms_store_scan_ages(&c->store);
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
	int err, single_writer, shared_cells, solo;

	/* First what cannot fail: every lock released, signals unblocked
	 * (urcu-bp's child handler), even if no new session can be made. The
	 * index is emptied for the child's store, which is filled in below at
	 * the same address. */
	err = ms_stacks_fork_child(&c->stacks, &c->store);
	c->backend.ops->fork_child(&c->backend);
	ms_notes_destroy(c); /* the parent's annotations (and maybe its lock) */
	/* The parent's mappings stay in the child, but its session starts
	 * empty: they are not counted (nor is the table's lock to be trusted). */
	ms_maps_free(c->maps);
	c->maps = ms_maps_new();
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
	solo = (int)c->store.solo_allowed;
	c->gen = next_gen(); /* the parent's blocks are not the child's */
	err = ms_store_create(&c->store, c->dir, c->keeper_pid);
	c->store.single_writer = single_writer;
	c->store.shared_cells = shared_cells;
	/* The child has one thread: the one that forked. */
	if (err == 0 && solo)
		ms_store_solo_start(&c->store);
	return err;
}
