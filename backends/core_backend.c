/*
 * The "core" backend: synchronous, sharded locks, and none at all while the
 * program has one thread. The store's counter cells are split by address
 * hash; each has a mutex, held while a thread accounts a block of its
 * shard, so that a cell has one writer at a time (its seqcount is a plain
 * one) and a block's allocation and free land in one cell. The thread that
 * calls malloc or free does its own accounting.
 *
 * Until the program's second thread first allocates, the store is in solo
 * mode (memscope/store.h): the one thread accounts with plain stores and
 * no lock, which is what most of the cost was in single-threaded programs
 * (python, sqlite3: some ten locked instructions an operation). The second
 * thread's first claim ends the mode for good, after the first thread's
 * operation in progress, if any, has ended.
 */
#define _GNU_SOURCE
#include <memscope/backends.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <memscope/platform.h>

#define SHARDS MS_STORE_CELLS

struct shard {
	pthread_mutex_t lock;
} __attribute__((aligned(64)));

struct core_state {
	struct shard shards[SHARDS];
};

static struct core_state *state_of(ms_backend *be)
{
	return be->state;
}

static void shards_init(struct core_state *cs)
{
	for (unsigned i = 0; i < SHARDS; i++)
		pthread_mutex_init(&cs->shards[i].lock, NULL);
}

static int core_open(ms_backend *be)
{
	struct core_state *cs = ms_pages_alloc(sizeof(*cs));

	if (cs == NULL)
		return -ENOMEM;
	be->state = cs;
	shards_init(cs);
	ms_store_solo_start(be->store); /* where it cannot, locks as below */
	return 0;
}

static void core_close(ms_backend *be)
{
	if (be->state != NULL)
		ms_pages_free(be->state, sizeof(struct core_state));
	be->state = NULL;
}

static void alloc_in(ms_backend *be, uint64_t ptr, uint32_t thread, uint32_t stack,
		     uint64_t size, int is_realloc, uint64_t born)
{
	unsigned cell = ms_store_cell_of(ptr); /* a shard's cell is its own */
	struct shard *sh = &state_of(be)->shards[cell];

	pthread_mutex_lock(&sh->lock);
	ms_store_count_alloc(be->store, cell, thread, stack, size, is_realloc, born);
	pthread_mutex_unlock(&sh->lock);
}

static void free_in(ms_backend *be, uint64_t ptr, uint32_t thread, uint32_t owner,
		    uint32_t stack, uint64_t size, uint64_t born, uint64_t now, int temporary)
{
	unsigned cell = ms_store_cell_of(ptr);
	struct shard *sh = &state_of(be)->shards[cell];

	pthread_mutex_lock(&sh->lock);
	ms_store_count_free(be->store, cell, thread, owner, stack, size, born, now, temporary);
	pthread_mutex_unlock(&sh->lock);
}

static void core_record(ms_backend *be, const ms_event *ev)
{
	if (ms_store_solo_enter(be->store)) {
		/* The program's only thread: no lock. */
		ms_store_count_event(be->store, ev);
		ms_store_solo_leave(be->store, 1);
		return;
	}
	switch (ev->op) {
	case MS_OP_ALLOC:
		alloc_in(be, ev->ptr, ev->thread, ev->stack, ev->size, 0, ev->born);
		break;
	case MS_OP_FREE:
		free_in(be, ev->ptr, ev->thread, ev->owner, ev->stack, ev->size, ev->born,
			ms_store_time(), ev->flags & MS_EVENT_TEMPORARY);
		break;
	case MS_OP_REALLOC:
		free_in(be, ev->old_ptr, ev->thread, ev->old_thread, ev->old_stack, ev->old_size,
			ev->old_born, ev->born, ev->flags & MS_EVENT_TEMPORARY);
		alloc_in(be, ev->ptr, ev->thread, ev->stack, ev->size, 1, ev->born);
		break;
	case MS_OP_MOVE: /* annotations: counted, the blocks left as they are */
	case MS_OP_BORROW:
	case MS_OP_RETURN:
		ms_store_count_annotation(be->store, ev->op);
		break;
	}
}

static void core_fork_prepare(ms_backend *be)
{
	for (unsigned i = 0; i < SHARDS; i++)
		pthread_mutex_lock(&state_of(be)->shards[i].lock);
}

static void core_fork_parent(ms_backend *be)
{
	for (unsigned i = SHARDS; i-- > 0;)
		pthread_mutex_unlock(&state_of(be)->shards[i].lock);
}

static void core_fork_child(ms_backend *be)
{
	shards_init(state_of(be)); /* every lock was taken in prepare */
}

const ms_backend_ops ms_backend_core = {
	.name = "core",
	.open = core_open,
	.close = core_close,
	.record = core_record,
	.fork_prepare = core_fork_prepare,
	.fork_parent = core_fork_parent,
	.fork_child = core_fork_child,
};
