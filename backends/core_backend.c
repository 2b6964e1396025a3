/*
 * The "core" backend: synchronous, sharded locks. The live-pointer table is
 * split into MS_STORE_CELLS shards by address hash; each shard has a mutex,
 * an open-addressing map (ptr_map.h) and the store cell of the same index,
 * so that accounting a block always happens under the lock of the shard that
 * holds it, and a block's allocation and free land in one cell.
 */
#define _GNU_SOURCE
#include <memscope/backends.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <memscope/platform.h>
#include <memscope/ptr_map.h>

#define SHARDS MS_STORE_CELLS
#define SHARD_CAPACITY 1024

struct shard {
	pthread_mutex_t lock;
	ms_ptr_map map;
} __attribute__((aligned(64)));

struct core_state {
	struct shard shards[SHARDS];
};

static struct core_state *state_of(ms_backend *be)
{
	return be->state;
}

static unsigned shard_of(uint64_t ptr)
{
	return (unsigned)(ms_ptr_hash(ptr) % SHARDS);
}

static int shards_init(struct core_state *cs)
{
	for (unsigned i = 0; i < SHARDS; i++) {
		pthread_mutex_init(&cs->shards[i].lock, NULL);
		if (ms_ptr_map_init(&cs->shards[i].map, SHARD_CAPACITY) != 0)
			return -ENOMEM;
	}
	return 0;
}

static void shards_destroy(struct core_state *cs)
{
	for (unsigned i = 0; i < SHARDS; i++)
		ms_ptr_map_destroy(&cs->shards[i].map);
}

static int core_open(ms_backend *be)
{
	struct core_state *cs = ms_pages_alloc(sizeof(*cs));

	if (cs == NULL)
		return -ENOMEM;
	be->state = cs;
	if (shards_init(cs) != 0) {
		shards_destroy(cs);
		ms_pages_free(cs, sizeof(*cs));
		be->state = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void core_close(ms_backend *be)
{
	struct core_state *cs = state_of(be);

	if (cs == NULL)
		return;
	shards_destroy(cs);
	ms_pages_free(cs, sizeof(*cs));
	be->state = NULL;
}

/* Inserts a block (its birth set) into its shard and accounts it. Call with
 * the shard's lock held. */
static void track(ms_backend *be, unsigned s, ms_ptr_entry *e, uint32_t thread, int is_realloc)
{
	ms_ptr_entry stale;
	int r;

	r = ms_ptr_map_put(&state_of(be)->shards[s].map, e, &stale);

	if (r < 0) {
		ms_store_count_dropped(be->store);
		return;
	}
	if (r == 1) {
		/* The address was live in our table: its free went by a path we
		 * do not see. Account that free now and flag the anomaly. */
		ms_store_count_free(be->store, s, thread, stale.owner, stale.stack, stale.size,
				    MS_LIFE_UNKNOWN);
		ms_store_count_dropped(be->store);
	}
	ms_store_count_alloc(be->store, s, thread, e->stack, e->size, is_realloc);
}

/* Removes a block from its shard and accounts the free at time now. Call
 * with the shard's lock held. Returns 0 or -ENOENT. */
static int untrack(ms_backend *be, unsigned s, uint64_t ptr, uint32_t thread, uint64_t now,
		   ms_ptr_entry *out)
{
	if (ms_ptr_map_take(&state_of(be)->shards[s].map, ptr, out) != 0)
		return -ENOENT;
	ms_store_count_free(be->store, s, thread, out->owner, out->stack, out->size,
			    ms_born_age(now, out->born));
	return 0;
}

static void core_record(ms_backend *be, const ms_event *ev)
{
	struct core_state *cs = state_of(be);
	/* One clock read per operation, outside the locks: a new block's
	 * birth, an old block's end. */
	uint64_t now = ms_store_time();
	ms_ptr_entry e = { .ptr = ev->ptr, .size = ev->size, .owner = ev->thread, .stack = ev->stack,
			   .born = now };
	unsigned s = shard_of(ev->ptr), old;

	switch (ev->op) {
	case MS_OP_ALLOC:
		pthread_mutex_lock(&cs->shards[s].lock);
		track(be, s, &e, ev->thread, 0);
		pthread_mutex_unlock(&cs->shards[s].lock);
		break;
	case MS_OP_FREE:
		pthread_mutex_lock(&cs->shards[s].lock);
		if (untrack(be, s, ev->ptr, ev->thread, now, &e) != 0)
			ms_store_count_untracked_free(be->store);
		pthread_mutex_unlock(&cs->shards[s].lock);
		break;
	case MS_OP_REALLOC:
		/* The old block was claimed (taken off the table) before the real
		 * realloc; account its free in its own shard's cell. */
		old = shard_of(ev->old_ptr);
		pthread_mutex_lock(&cs->shards[old].lock);
		ms_store_count_free(be->store, old, ev->thread, ev->old_thread, ev->old_stack,
				    ev->old_size, ms_born_age(now, ev->old_born));
		pthread_mutex_unlock(&cs->shards[old].lock);
		if (ev->ptr == 0)
			break;
		pthread_mutex_lock(&cs->shards[s].lock);
		track(be, s, &e, ev->thread, 1);
		pthread_mutex_unlock(&cs->shards[s].lock);
		break;
	case MS_OP_MOVE: /* annotations: counted, the blocks left as they are */
	case MS_OP_BORROW:
	case MS_OP_RETURN:
		ms_store_count_annotation(be->store, ev->op);
		break;
	}
}

static void core_claim(ms_backend *be, uint64_t ptr, ms_claim *out)
{
	struct shard *sh = &state_of(be)->shards[shard_of(ptr)];
	ms_ptr_entry e;

	out->ptr = ptr;
	pthread_mutex_lock(&sh->lock);
	out->found = ms_ptr_map_take(&sh->map, ptr, &e) == 0;
	pthread_mutex_unlock(&sh->lock);
	if (out->found) {
		out->size = e.size;
		out->owner = e.owner;
		out->stack = e.stack;
		out->born = e.born;
	}
}

static void core_unclaim(ms_backend *be, const ms_claim *claim)
{
	struct shard *sh = &state_of(be)->shards[shard_of(claim->ptr)];
	ms_ptr_entry e = {
		.ptr = claim->ptr,
		.size = claim->size,
		.owner = claim->owner,
		.stack = claim->stack,
		.born = claim->born,
	};

	pthread_mutex_lock(&sh->lock);
	if (ms_ptr_map_put(&sh->map, &e, NULL) < 0)
		ms_store_count_dropped(be->store);
	pthread_mutex_unlock(&sh->lock);
}

static int core_lookup(ms_backend *be, uint64_t ptr, ms_block *out)
{
	struct shard *sh = &state_of(be)->shards[shard_of(ptr)];
	ms_ptr_entry e;
	int err;

	pthread_mutex_lock(&sh->lock);
	err = ms_ptr_map_find(&sh->map, ptr, &e);
	pthread_mutex_unlock(&sh->lock);
	if (err == 0)
		*out = (ms_block){ .size = e.size, .stack = e.stack, .born = e.born };
	return err;
}

static void core_scan(ms_backend *be, void (*visit)(void *ctx, const ms_block *b), void *ctx)
{
	struct core_state *cs = state_of(be);

	/* A shard at a time: the program waits for one shard's walk at most. */
	for (unsigned i = 0; i < SHARDS; i++) {
		struct shard *sh = &cs->shards[i];

		pthread_mutex_lock(&sh->lock);
		for (size_t k = 0; sh->map.slots != NULL && k <= sh->map.mask; k++) {
			const ms_ptr_entry *e = &sh->map.slots[k];
			ms_block b = { .size = e->size, .stack = e->stack, .born = e->born };

			if (e->ptr != 0)
				visit(ctx, &b);
		}
		pthread_mutex_unlock(&sh->lock);
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
	struct core_state *cs = state_of(be);

	/* Every lock first: they were all taken in prepare. */
	for (unsigned i = 0; i < SHARDS; i++)
		pthread_mutex_init(&cs->shards[i].lock, NULL);
	/* The child's session starts empty. Unmapping the inherited tables is
	 * cheaper than clearing them (no copy-on-write of their pages). */
	shards_destroy(cs);
	if (shards_init(cs) != 0)
		shards_destroy(cs); /* puts then fail with -ENOMEM: dropped */
}

const ms_backend_ops ms_backend_core = {
	.name = "core",
	.open = core_open,
	.close = core_close,
	.record = core_record,
	.claim = core_claim,
	.unclaim = core_unclaim,
	.scan = core_scan,
	.lookup = core_lookup,
	.fork_prepare = core_fork_prepare,
	.fork_parent = core_fork_parent,
	.fork_child = core_fork_child,
};
