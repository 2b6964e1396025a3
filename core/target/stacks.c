/*
 * Stack interning: see memscope/stacks.h.
 *
 * The index maps a stack's hash to a node holding its id and a pointer to
 * its frames in the store (the writer's own mapping, immutable once
 * published). Nodes are never removed, so no reclamation (no call_rcu) is
 * ever needed; the only grace periods are those of resizes, which the
 * sampler thread performs (ms_stacks_maintain), never the hook path.
 * Automatic resizing is off: liburcu would run it in a worker thread of its
 * own inside the target.
 *
 * Two threads may intern the same new stack at once: both append it to the
 * store, cds_lfht_add_unique lets one node in, and the loser uses the
 * winner's id. Its own store entry stays, unused: a call site with no
 * allocations, which readers skip.
 */
#define _GNU_SOURCE
#include <memscope/stacks.h>

#include <errno.h>
#include <string.h>

#include <urcu/urcu-bp.h>
#include <urcu/rculfhash.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>
#include <memscope/ptr_map.h>

#define MS_TLS __thread __attribute__((tls_model("initial-exec")))

#define INITIAL_BUCKETS 1024ul
/* liburcu splits a resize among helper threads from 8192 buckets up; those
 * threads would run in the target as if they were its own, so the index
 * stops growing there (the per-thread cache keeps hot stacks off its
 * longer chains). */
#define MAX_BUCKETS 8192ul
#define ARENA_CHUNK (1u << 20)
#define CACHE_SIZE 64u

struct node {
	struct cds_lfht_node lfht;
	uint64_t hash;
	const uint64_t *frames;
	uint32_t depth;
	uint32_t id;
};

struct key {
	const uint64_t *frames;
	uint32_t depth;
};

/* The last stacks this thread interned, by hash; verified against the
 * store's frames before use. */
struct cached {
	uint64_t hash;
	uint32_t id;
	uint32_t generation;
};
static MS_TLS struct cached cache[CACHE_SIZE];

/* The stack this thread interned last, its frames as the store keeps them:
 * a loop allocating from one place finds it again with one comparison,
 * before any hashing. */
static MS_TLS struct {
	const uint64_t *frames;
	uint32_t depth, id, generation;
} last;

static uint32_t generations;

/* Every frame is multiplied on its own and the products summed, so the
 * multiplications run side by side rather than one after the other (this
 * runs at every allocation); each position has its own odd multiplier, so
 * that a swap of two frames does not hash alike. The sum is mixed as an
 * address is (murmur3's finaliser). Equal hashes are always checked frame
 * by frame. */
static uint64_t hash_frames(const uint64_t *frames, uint32_t depth)
{
	uint64_t h = depth;

	for (uint32_t i = 0; i < depth; i++)
		h += frames[i] * (0xff51afd7ed558ccdull + 2 * i * 0x9e3779b97f4a7c15ull);
	return ms_ptr_hash(h);
}

static int same(const uint64_t *a, uint32_t adepth, const uint64_t *b, uint32_t bdepth)
{
	return adepth == bdepth && memcmp(a, b, adepth * sizeof(*a)) == 0;
}

static int match(struct cds_lfht_node *ln, const void *k)
{
	const struct node *n = caa_container_of(ln, struct node, lfht);
	const struct key *key = k;

	return same(n->frames, n->depth, key->frames, key->depth);
}

/* Arena chunks are chained through their first word, for destroy. */
static struct node *node_alloc(ms_stacks *s)
{
	struct node *n = NULL;

	pthread_mutex_lock(&s->arena_lock);
	if (s->arena_left < sizeof(*n)) {
		char *chunk = ms_pages_alloc(ARENA_CHUNK);

		if (chunk != NULL) {
			*(void **)chunk = s->chunks;
			s->chunks = chunk;
			s->arena = chunk + 64;
			s->arena_left = ARENA_CHUNK - 64;
		}
	}
	if (s->arena_left >= sizeof(*n)) {
		n = (struct node *)s->arena;
		s->arena += sizeof(*n);
		s->arena_left -= sizeof(*n);
	}
	pthread_mutex_unlock(&s->arena_lock);
	return n;
}

static int index_new(ms_stacks *s)
{
	s->index = cds_lfht_new_flavor(INITIAL_BUCKETS, INITIAL_BUCKETS, MAX_BUCKETS, 0,
				       &urcu_bp_flavor, NULL);
	s->buckets = INITIAL_BUCKETS;
	s->count = 0;
	s->generation = ms_atomic_add_relaxed_u32(&generations, 1);
	return s->index != NULL ? 0 : -ENOMEM;
}

int ms_stacks_init(ms_stacks *s, ms_store *store)
{
	memset(s, 0, sizeof(*s));
	s->store = store;
	pthread_mutex_init(&s->modules, NULL);
	pthread_mutex_init(&s->arena_lock, NULL);
	return index_new(s);
}

/* --- the module map -------------------------------------------------- */

struct refresh {
	ms_store *store;
	uint32_t epoch;
	uint32_t known;        /* store entries before this refresh */
	unsigned char *seen;   /* which of them are still loaded */
};

static int note_module(void *ctx, const ms_module_info *m)
{
	struct refresh *r = ctx;

	for (uint32_t i = 0; i < r->known; i++) {
		uint64_t base;
		const char *path;
		int loaded;

		if (ms_store_module_get(r->store, i, &base, &path, &loaded) == 0 && loaded &&
		    base == m->base && strcmp(path, m->path) == 0) {
			r->seen[i] = 1;
			return 0;
		}
	}
	ms_store_module_add(r->store, r->epoch, m->base, m->lo, m->hi, m->path);
	return 0;
}

/* Brings the store's module map up to date if the loader's set of objects
 * changed since the last look. */
static void refresh_modules(ms_stacks *s)
{
	unsigned char seen[1024];
	struct refresh r = { .store = s->store, .seen = seen };
	uint64_t adds, subs;

	ms_modules_counts(&adds, &subs);
	if (adds == __atomic_load_n(&s->adds, __ATOMIC_ACQUIRE) &&
	    subs == __atomic_load_n(&s->subs, __ATOMIC_RELAXED))
		return;
	/* Never wait here: the thread updating the map may itself be waiting
	 * for the loader's lock, which this thread may hold (a malloc inside a
	 * dl_iterate_phdr callback). The other thread's update covers us but
	 * for the objects loaded since, which the next new stack records. */
	if (pthread_mutex_trylock(&s->modules) != 0)
		return;
	if (adds != s->adds || subs != s->subs) {
		r.epoch = ms_store_module_epoch(s->store) + 1;
		r.known = ms_store_module_count(s->store);
		if (r.known > sizeof(seen))
			r.known = sizeof(seen);
		memset(seen, 0, r.known);
		ms_modules_scan(note_module, &r);
		for (uint32_t i = 0; i < r.known; i++) {
			uint64_t base;
			const char *path;
			int loaded;

			if (!seen[i] && ms_store_module_get(s->store, i, &base, &path, &loaded) == 0 &&
			    loaded)
				ms_store_module_unload(s->store, i, r.epoch);
		}
		ms_store_module_set_epoch(s->store, r.epoch);
		s->subs = subs;
		__atomic_store_n(&s->adds, adds, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&s->modules);
}

/* --- interning --------------------------------------------------------- */

static uint32_t lookup(ms_stacks *s, uint64_t hash, const struct key *key)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *ln;
	uint32_t id = MS_STACK_NONE;

	urcu_bp_read_lock();
	cds_lfht_lookup(s->index, hash, match, key, &iter);
	ln = cds_lfht_iter_get_node(&iter);
	if (ln != NULL)
		id = caa_container_of(ln, struct node, lfht)->id;
	urcu_bp_read_unlock();
	return id;
}

static uint32_t insert(ms_stacks *s, uint64_t hash, const struct key *key)
{
	struct cds_lfht_node *winner;
	struct node *n;
	uint32_t id, depth;

	refresh_modules(s);
	id = ms_store_stack_add(s->store, key->frames, key->depth,
				ms_store_module_epoch(s->store));
	if (id == MS_STACK_NONE) {
		/* The table is full: stop trying (and paying for it). */
		__atomic_store_n(&s->full, 1, __ATOMIC_RELAXED);
		return id;
	}
	n = node_alloc(s);
	if (n == NULL)
		return id; /* counted, just not indexed: a later hit appends again */
	n->hash = hash;
	n->frames = ms_store_stack_frames(s->store, id, &depth);
	n->depth = depth;
	n->id = id;
	cds_lfht_node_init(&n->lfht);
	urcu_bp_read_lock();
	winner = cds_lfht_add_unique(s->index, hash, match, key, &n->lfht);
	urcu_bp_read_unlock();
	if (winner != &n->lfht)
		return caa_container_of(winner, struct node, lfht)->id;
	ms_atomic_add_relaxed_u32(&s->count, 1);
	return id;
}

static void remember(const ms_stacks *s, uint32_t id, const uint64_t *frames, uint32_t depth)
{
	last.frames = frames;
	last.depth = depth;
	last.id = id;
	last.generation = s->generation;
}

uint32_t ms_stacks_intern(ms_stacks *s, const uint64_t *frames, uint32_t depth)
{
	struct key key = { frames, depth };
	uint64_t hash;
	struct cached *c;
	uint32_t id, have;
	const uint64_t *known;

	if (depth == 0 || s->index == NULL)
		return MS_STACK_NONE;
	if (last.generation == s->generation && last.frames != NULL &&
	    same(last.frames, last.depth, frames, depth))
		return last.id;
	hash = hash_frames(frames, depth);
	c = &cache[hash % CACHE_SIZE];
	if (c->hash == hash && c->generation == s->generation) {
		known = ms_store_stack_frames(s->store, c->id, &have);
		if (known != NULL && same(known, have, frames, depth)) {
			remember(s, c->id, known, have);
			return c->id;
		}
	}
	id = lookup(s, hash, &key);
	if (id == MS_STACK_NONE && !__atomic_load_n(&s->full, __ATOMIC_RELAXED))
		id = insert(s, hash, &key);
	if (id != MS_STACK_NONE) {
		c->hash = hash;
		c->id = id;
		c->generation = s->generation;
		known = ms_store_stack_frames(s->store, id, &have);
		if (known != NULL)
			remember(s, id, known, have);
	}
	return id;
}

void ms_stacks_destroy(ms_stacks *s)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *ln;

	if (s->index != NULL) {
		/* cds_lfht_destroy wants an empty table. */
		urcu_bp_read_lock();
		cds_lfht_first(s->index, &iter);
		while ((ln = cds_lfht_iter_get_node(&iter)) != NULL) {
			cds_lfht_del(s->index, ln);
			cds_lfht_next(s->index, &iter);
		}
		urcu_bp_read_unlock();
		cds_lfht_destroy(s->index, NULL);
		s->index = NULL;
	}
	/* No reader can hold a node any more: the index is gone. */
	while (s->chunks != NULL) {
		void *next = *(void **)s->chunks;

		ms_pages_free(s->chunks, ARENA_CHUNK);
		s->chunks = next;
	}
	s->arena = NULL;
	s->arena_left = 0;
}

void ms_stacks_maintain(ms_stacks *s)
{
	uint32_t count = ms_atomic_load_relaxed_u32(&s->count);
	unsigned long want = s->buckets;

	while (want < MAX_BUCKETS && count > want * 2)
		want *= 2;
	if (want != s->buckets) {
		cds_lfht_resize(s->index, want);
		s->buckets = want;
	}
}

void ms_stacks_fork_prepare(ms_stacks *s)
{
	pthread_mutex_lock(&s->modules);
	pthread_mutex_lock(&s->arena_lock);
	urcu_bp_before_fork();
}

void ms_stacks_fork_parent(ms_stacks *s)
{
	urcu_bp_after_fork_parent();
	pthread_mutex_unlock(&s->arena_lock);
	pthread_mutex_unlock(&s->modules);
}

int ms_stacks_fork_child(ms_stacks *s, ms_store *store)
{
	urcu_bp_after_fork_child();
	pthread_mutex_init(&s->modules, NULL);
	pthread_mutex_init(&s->arena_lock, NULL);
	/* The old index and its nodes stay allocated (copy-on-write pages of
	 * the parent's): freeing them would mean walking them for nothing. */
	s->store = store;
	s->adds = s->subs = 0;
	s->full = 0;
	return index_new(s);
}
