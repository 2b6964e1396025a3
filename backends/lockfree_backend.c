/*
 * The "lockfree" backend: synchronous like core, with no lock on the hook
 * path. The live-pointer table is open addressing whose slots change only
 * by compare-and-swap, the store's counter cells take atomic adds
 * (ms_store.shared_cells), and RCU (urcu-bp, as the stack index uses) lets
 * the sampler replace a table that threads are using.
 *
 * One operation per address at a time. A block's free reaches us before the
 * real free, its allocation after the real malloc, and the allocator hands
 * an address to one thread at a time: the program itself orders every
 * operation on one address after the one before. So a thread inserting X
 * never races another insert of X, and a take of X never races another take
 * of X (except in a program that frees a block twice at once; the CAS then
 * lets one of them have it).
 *
 * Slots. A key is EMPTY, TOMB (a block was here: probes go on), BUSY (a
 * thread fills the slot), a block's address, or an address tagged MOVING
 * or FWD while the sampler moves the block to a newer table (below). An
 * insert takes an EMPTY or TOMB slot by CAS to BUSY, writes the value and
 * publishes the key with a release store. No slot ever becomes EMPTY
 * again, so a probe that meets EMPTY has passed every slot its key can be
 * in.
 *
 * Tables. Tombstones only pile up, and a table cannot grow in place while
 * threads probe it. So tables come in generations: new blocks go to the
 * newest (the top), lookups search newest first. A thread that finds the
 * top nearly full publishes a table twice its size (a CAS on the next
 * generation's place); the sampler (maintain) does so before that happens,
 * sized for the live blocks, then moves the live blocks of older tables up
 * and, after a grace period, unmaps them. A table is twice its live blocks
 * when made and replaced at three quarters full (tombstones included).
 *
 * Moving block X from table L (slot s) to the top T, by the sampler only:
 *   1. CAS L[s]: X -> X|MOVING. A take of X may still take it there.
 *   2. Insert X|MOVING with X's value into T (slot t): a draft.
 *   3. Note t in L's forwarding array, CAS L[s]: X|MOVING -> X|FWD. If a
 *      take got there first, drop the draft (T[t] = TOMB).
 *   4. CAS T[t]: X|MOVING -> X, unless a take has ended it meanwhile.
 * A take that meets X|FWD follows it to T[t]; one that meets X|MOVING
 * takes it unless it finds X itself further on (a draft dropped in step 3
 * may linger for an instant after its block was freed and allocated
 * again). Either way exactly one copy is ended, and its value is the
 * block's.
 */
#define _GNU_SOURCE
#include <memscope/backends.h>

#include <errno.h>
#include <string.h>
#include <urcu/urcu-bp.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>
#include <memscope/ptr_map.h>

enum { EMPTY = 0, TOMB = 1, BUSY = 2, MIN_KEY = 16 };
#define MOVING (1ull << 63)
#define FWD (1ull << 62)
#define TAGS (MOVING | FWD)

#define GENERATIONS 32u      /* tables alive at once, at most: room for the hook path
                              * to double a table many times between two passes of
                              * the sampler */
#define MIN_SLOTS 4096u
#define PROBE_LIMIT 64u      /* an insert that probes more finds the table full */

struct slot {
	uint64_t key;
	uint64_t size_owner; /* size | owner << 48 */
	uint64_t stack_born; /* stack | born << 18 */
};

/* Where a moved block went: written before its slot is tagged FWD. */
struct fwd {
	uint64_t gen;
	uint64_t slot;
};

struct table {
	uint64_t gen;
	uint64_t mask;
	uint64_t used;  /* slots no longer EMPTY; atomic */
	struct fwd *fwd; /* the sampler's, while it moves blocks out */
	size_t bytes;
	uint64_t pad[3];
	struct slot slots[];
};

struct lf_state {
	struct table *tables[GENERATIONS]; /* by generation; RCU */
	uint64_t top;                      /* the newest generation */
	uint64_t retires;                  /* raised before tables are unlinked */
};

static struct lf_state *state_of(ms_backend *be)
{
	return be->state;
}

/* A block's allocation and its free are accounted in one cell, chosen by
 * address, so that no cell ever shows more freed than allocated. */
static unsigned cell_of(uint64_t ptr)
{
	return (unsigned)(ms_ptr_hash(ptr) % MS_STORE_CELLS);
}

static inline uint64_t load_acquire(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline int cas(uint64_t *p, uint64_t expected, uint64_t desired)
{
	return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

static int is_block(uint64_t key)
{
	return key >= MIN_KEY && (key & TAGS) == 0;
}

static ms_ptr_entry entry_of(uint64_t ptr, const struct slot *s)
{
	uint64_t so = ms_atomic_load_relaxed(&s->size_owner);
	uint64_t sb = ms_atomic_load_relaxed(&s->stack_born);
	ms_ptr_entry e = {
		.ptr = ptr,
		.size = so & ((1ull << 48) - 1),
		.owner = so >> 48,
		.stack = sb & ((1u << 18) - 1),
		.born = sb >> 18,
	};

	return e;
}

static struct table *table_new(uint64_t gen, uint64_t slots)
{
	size_t bytes = sizeof(struct table) + slots * sizeof(struct slot);
	struct table *t = ms_pages_alloc(bytes);

	if (t == NULL)
		return NULL;
	t->gen = gen;
	t->mask = slots - 1;
	t->bytes = bytes;
	return t;
}

static void table_free(struct table *t)
{
	if (t->fwd != NULL)
		ms_pages_free(t->fwd, (t->mask + 1) * sizeof(struct fwd));
	ms_pages_free(t, t->bytes);
}

/* The table of generation gen, if it is still there. Under rcu_read_lock
 * (or in the sampler, which alone retires tables). */
static struct table *table_at(struct lf_state *ls, uint64_t gen)
{
	struct table *t = __atomic_load_n(&ls->tables[gen % GENERATIONS], __ATOMIC_ACQUIRE);

	return t != NULL && t->gen == gen ? t : NULL;
}

static struct table *top_table(struct lf_state *ls)
{
	return table_at(ls, load_acquire(&ls->top));
}

/* Publishes a table of generation top + 1 with the given number of slots,
 * unless someone has (then helps make it the top). Returns 0, or -ENOSPC
 * while GENERATIONS tables are alive, -ENOMEM. The hook path (spare 1)
 * leaves the last free place to the sampler, which can then always make a
 * table for every live block and empty the others into it. */
static int publish_next(struct lf_state *ls, uint64_t top, uint64_t slots, int spare)
{
	uint64_t gen = top + 1;
	struct table **place = &ls->tables[gen % GENERATIONS];
	struct table *t = __atomic_load_n(place, __ATOMIC_ACQUIRE), *fresh;

	if (t == NULL && spare &&
	    __atomic_load_n(&ls->tables[(gen + 1) % GENERATIONS], __ATOMIC_ACQUIRE) != NULL)
		return -ENOSPC;
	if (t == NULL) {
		fresh = table_new(gen, slots);
		if (fresh == NULL)
			return -ENOMEM;
		if (__atomic_compare_exchange_n(place, &t, fresh, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			t = fresh;
		else
			table_free(fresh); /* another thread was first */
	}
	if (t->gen != gen)
		return -ENOSPC; /* the place still holds a table being retired */
	cas(&ls->top, top, gen);
	return 0;
}

/*
 * Inserts key with its value into t. An existing block of the same address
 * (whose free went by unseen) is replaced in place and its entry copied to
 * *stale. Returns the slot, or -1 when limit probes found no free slot.
 * Returns -2 for a draft (key tagged MOVING) when t holds the block itself.
 */
static int64_t put(struct table *t, uint64_t key, uint64_t size_owner, uint64_t stack_born,
		   uint64_t limit, ms_ptr_entry *stale, int *replaced)
{
	uint64_t block = key & ~TAGS;

	*replaced = 0;
	for (;;) {
		uint64_t i = ms_ptr_hash(block) & t->mask, free_at = UINT64_MAX, k = EMPTY;
		uint64_t n;

		for (n = 0; n < limit && n <= t->mask; n++, i = (i + 1) & t->mask) {
			k = load_acquire(&t->slots[i].key);
			if (k == EMPTY) {
				if (free_at == UINT64_MAX)
					free_at = i;
				break;
			}
			if (k == TOMB && free_at == UINT64_MAX)
				free_at = i;
			if (k == block) {
				if (key != block)
					return -2;
				/* Stale: take it over in place. */
				if (!cas(&t->slots[i].key, block, BUSY))
					break; /* changed under us: look again */
				*stale = entry_of(block, &t->slots[i]);
				*replaced = 1;
				free_at = i;
				k = BUSY;
				goto fill;
			}
		}
		if (free_at == UINT64_MAX) {
			if (n == limit || n > t->mask)
				return -1;
			continue;
		}
		k = load_acquire(&t->slots[free_at].key);
		if ((k != EMPTY && k != TOMB) || !cas(&t->slots[free_at].key, k, BUSY))
			continue; /* another thread took it: start over */
		if (k == EMPTY)
			ms_atomic_add_relaxed(&t->used, 1);
fill:
		ms_atomic_store_relaxed(&t->slots[free_at].size_owner, size_owner);
		ms_atomic_store_relaxed(&t->slots[free_at].stack_born, stack_born);
		__atomic_store_n(&t->slots[free_at].key, key, __ATOMIC_RELEASE);
		return (int64_t)free_at;
	}
}

static int nearly_full(const struct table *t)
{
	return ms_atomic_load_relaxed(&t->used) >= (t->mask + 1) - (t->mask + 1) / 8;
}

/* Past this, inserts stop: a table keeps a sixteenth of its slots EMPTY. */
static int full(const struct table *t)
{
	return ms_atomic_load_relaxed(&t->used) >= (t->mask + 1) - (t->mask + 1) / 16;
}

/* A block still in the table whose address is allocated again: its free
 * went by a path we do not see. Accounted now, as nobody's, and counted as
 * an anomaly (as the core backend does). */
static void unseen_free(ms_backend *be, const ms_ptr_entry *e)
{
	ms_store_count_unseen_free(be->store, cell_of(e->ptr), e->owner, e->stack, e->size);
	ms_store_count_dropped(be->store);
}

/* Inserts a block into the top table, making a larger one if the top is
 * full. Under rcu_read_lock. Returns 0, or -ENOMEM when no table takes it
 * (the operation is then dropped). */
static int insert(ms_backend *be, const ms_ptr_entry *e)
{
	struct lf_state *ls = state_of(be);
	uint64_t so = e->size | (uint64_t)e->owner << 48;
	uint64_t sb = e->stack | (uint64_t)e->born << 18;

	for (int tries = 0; tries < 8; tries++) {
		uint64_t top = load_acquire(&ls->top);
		struct table *t = table_at(ls, top);
		ms_ptr_entry stale;
		int replaced;

		if (t == NULL)
			return -ENOMEM;
		if (!nearly_full(t) && put(t, e->ptr, so, sb, PROBE_LIMIT, &stale, &replaced) >= 0)
			goto done;
		if (publish_next(ls, top, (t->mask + 1) * 2, 1) == 0)
			continue;
		/* No other table can be made now: this one, probed a little
		 * further, never to the last slot (lookups need EMPTY ones);
		 * else the operation is dropped, and counted. */
		if (!full(t) && put(t, e->ptr, so, sb, 4 * PROBE_LIMIT, &stale, &replaced) >= 0)
			goto done;
		return -ENOMEM;
done:
		if (replaced)
			unseen_free(be, &stale);
		return 0;
	}
	return -ENOMEM;
}

/* Reaches the copy of block at t->slots[i] (the block, a draft, or
 * forwarded on to where it went) and reads it, ending it too when end is
 * set. Returns 1 with *out, 0 if it is not there. */
static int reach(struct lf_state *ls, struct table *t, uint64_t i, uint64_t block, int end,
		 ms_ptr_entry *out)
{
	for (int hops = 0; hops <= (int)GENERATIONS; hops++) {
		uint64_t k = load_acquire(&t->slots[i].key);

		if (k == block || k == (block | MOVING)) {
			ms_ptr_entry e = entry_of(block, &t->slots[i]);

			if (!end || cas(&t->slots[i].key, k, TOMB)) {
				*out = e;
				return 1;
			}
			hops--; /* the sampler moved it on: look again */
			continue;
		}
		if (k != (block | FWD))
			return 0;
		/* Moved: follow to the slot it went to. */
		{
			const struct fwd *f = &t->fwd[i];

			i = ms_atomic_load_relaxed(&f->slot);
			t = table_at(ls, ms_atomic_load_relaxed(&f->gen));
		}
		if (t == NULL || i > t->mask)
			return 0;
	}
	return 0;
}

/* Takes block's entry out of the tables from generation top down. */
static int take_from(struct lf_state *ls, uint64_t top, uint64_t block, ms_ptr_entry *out)
{
	for (uint64_t gen = top + 1; gen-- > 0 && top - gen < GENERATIONS;) {
		struct table *t = table_at(ls, gen);
		uint64_t i, draft = UINT64_MAX;

		if (t == NULL)
			continue;
		i = ms_ptr_hash(block) & t->mask;
		for (uint64_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
			uint64_t k = load_acquire(&t->slots[i].key);

			if (k == EMPTY)
				break;
			if (k == block || k == (block | FWD)) {
				if (reach(ls, t, i, block, 1, out))
					return 0;
				if (k == block)
					n--, i = (i - 1) & t->mask; /* moved while we looked: again */
			} else if (k == (block | MOVING) && draft == UINT64_MAX) {
				draft = i;
			}
		}
		if (draft != UINT64_MAX && reach(ls, t, draft, block, 1, out))
			return 0;
	}
	return -ENOENT;
}

/* Takes block's entry out of whichever table holds it. Under
 * rcu_read_lock. Returns 0, or -ENOENT for a block never tracked. While we
 * search, the sampler may move the block into a table we have searched
 * already and unlink the one it was in, or into a table newer than the top
 * we read: then retires or the top has changed, and we look again. */
static int take(struct lf_state *ls, uint64_t block, ms_ptr_entry *out)
{
	if (!is_block(block))
		return -ENOENT;
	for (;;) {
		uint64_t retires = load_acquire(&ls->retires), top = load_acquire(&ls->top);

		if (take_from(ls, top, block, out) == 0)
			return 0;
		if (load_acquire(&ls->retires) == retires && load_acquire(&ls->top) == top)
			return -ENOENT;
	}
}

static void account_free(ms_backend *be, uint32_t thread, uint64_t now, const ms_ptr_entry *e)
{
	ms_store_count_free(be->store, cell_of(e->ptr), thread, e->owner, e->stack, e->size,
			    ms_born_age(now, e->born));
}

static void lf_record(ms_backend *be, const ms_event *ev)
{
	struct lf_state *ls = state_of(be);
	uint64_t now = ms_store_time(); /* a new block's birth, an old one's end */
	ms_ptr_entry e = { .ptr = ev->ptr, .size = ev->size, .owner = ev->thread,
			   .stack = ev->stack, .born = now };
	ms_ptr_entry old;

	urcu_bp_read_lock();
	switch (ev->op) {
	case MS_OP_ALLOC:
	case MS_OP_REALLOC:
		if (ev->op == MS_OP_REALLOC) {
			/* The old block was claimed (taken out) before the real
			 * realloc; now its free is accounted. */
			old = (ms_ptr_entry){ .ptr = ev->old_ptr, .owner = ev->old_thread,
					      .stack = ev->old_stack, .size = ev->old_size,
					      .born = ev->old_born };
			account_free(be, ev->thread, now, &old);
			if (ev->ptr == 0)
				break;
		}
		if (!is_block(ev->ptr) || insert(be, &e) != 0)
			ms_store_count_dropped(be->store);
		else
			ms_store_count_alloc(be->store, cell_of(ev->ptr), ev->thread,
					     ev->stack, ev->size, ev->op == MS_OP_REALLOC);
		break;
	case MS_OP_FREE:
		if (take(ls, ev->ptr, &old) == 0)
			account_free(be, ev->thread, now, &old);
		else
			ms_store_count_untracked_free(be->store);
		break;
	default:
		ms_store_count_annotation(be->store, ev->op);
		break;
	}
	urcu_bp_read_unlock();
}

static void lf_claim(ms_backend *be, uint64_t ptr, ms_claim *out)
{
	ms_ptr_entry e;

	out->ptr = ptr;
	urcu_bp_read_lock();
	out->found = take(state_of(be), ptr, &e) == 0;
	urcu_bp_read_unlock();
	if (out->found) {
		out->size = e.size;
		out->owner = e.owner;
		out->stack = e.stack;
		out->born = e.born;
	}
}

static void lf_unclaim(ms_backend *be, const ms_claim *claim)
{
	ms_ptr_entry e = { .ptr = claim->ptr, .size = claim->size, .owner = claim->owner,
			   .stack = claim->stack, .born = claim->born };

	urcu_bp_read_lock();
	if (insert(be, &e) != 0)
		ms_store_count_dropped(be->store);
	urcu_bp_read_unlock();
}

/* --- the sampler ---------------------------------------------------------- */

static uint64_t live_in(const struct table *t)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i <= t->mask; i++)
		n += is_block(load_acquire(&t->slots[i].key));
	return n;
}

/* Moves the block at L[s] to the top table (steps at the top of the file).
 * Returns 0, or -1 when the top had no room (the block stays in L). */
static int move_up(ms_backend *be, struct table *L, uint64_t s, uint64_t block)
{
	struct lf_state *ls = state_of(be);
	struct slot *from = &L->slots[s];
	struct table *T = top_table(ls);
	ms_ptr_entry stale, e;
	int64_t t;
	int replaced;

	if (T == NULL)
		return -1;
	if (!cas(&from->key, block, block | MOVING))
		return 0; /* freed meanwhile */
	e = entry_of(block, from);
	t = put(T, block | MOVING, ms_atomic_load_relaxed(&from->size_owner),
		ms_atomic_load_relaxed(&from->stack_born), T->mask + 1, &stale, &replaced);
	if (t == -2) {
		/* T holds a newer block at this address: ours is stale, its free
		 * went by unseen. */
		if (cas(&from->key, block | MOVING, TOMB))
			unseen_free(be, &e);
		return 0;
	}
	if (t < 0) {
		if (!cas(&from->key, block | MOVING, block))
			return 0; /* taken meanwhile: nothing left to move */
		return -1;
	}
	ms_atomic_store_relaxed(&L->fwd[s].gen, T->gen);
	ms_atomic_store_relaxed(&L->fwd[s].slot, (uint64_t)t);
	if (!cas(&from->key, block | MOVING, block | FWD)) {
		/* A take ended the block in L first: drop the draft. */
		cas(&T->slots[t].key, block | MOVING, TOMB);
		return 0;
	}
	cas(&T->slots[t].key, block | MOVING, block); /* fails if taken since */
	return 0;
}

/* Makes a fresh top when the current one is three quarters used, then
 * moves every block of older tables up and unmaps those. */
static void lf_maintain(ms_backend *be)
{
	struct lf_state *ls = state_of(be);
	uint64_t top = load_acquire(&ls->top), live = 0, slots = MIN_SLOTS;
	struct table *T = table_at(ls, top), *old[GENERATIONS];
	unsigned nold = 0, retired = 0;
	int stuck = 0;

	if (T == NULL)
		return;
	if (ms_atomic_load_relaxed(&T->used) >= (T->mask + 1) / 4 * 3) {
		for (uint64_t gen = top + 1; gen-- > 0 && top - gen < GENERATIONS;)
			if (table_at(ls, gen) != NULL)
				live += live_in(table_at(ls, gen));
		while (slots < 2 * live)
			slots *= 2;
		publish_next(ls, top, slots, 0);
		top = load_acquire(&ls->top);
	}
	/* Newest first: of two copies of an address (the older one stale, its
	 * free unseen), the newer reaches the top first, and the older is then
	 * found stale there (move_up's -2), not the other way round. */
	for (uint64_t gen = top; gen-- > 0 && top - gen < GENERATIONS;)
		if (table_at(ls, gen) != NULL)
			old[nold++] = table_at(ls, gen);
	if (nold == 0)
		return;
	/* After a grace period no insert into an old table is in flight: the
	 * ones that read an older top have finished. */
	urcu_bp_synchronize_rcu();
	for (unsigned o = 0; o < nold && !stuck; o++) {
		struct table *L = old[o];

		if (L->fwd == NULL)
			L->fwd = ms_pages_alloc((L->mask + 1) * sizeof(struct fwd));
		if (L->fwd == NULL)
			break;
		for (uint64_t s = 0; s <= L->mask && !stuck; s++) {
			uint64_t k = load_acquire(&L->slots[s].key);

			if (is_block(k))
				stuck = move_up(be, L, s, k) != 0;
		}
		if (stuck)
			break; /* the top filled up: the rest waits for a larger one */
		/* A take that finds L gone sees retires raised (see take). */
		__atomic_add_fetch(&ls->retires, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&ls->tables[L->gen % GENERATIONS], NULL, __ATOMIC_RELEASE);
		retired++;
	}
	if (retired == 0)
		return;
	urcu_bp_synchronize_rcu();
	for (unsigned o = 0; o < retired; o++)
		table_free(old[o]);
}

static void lf_scan(ms_backend *be, void (*visit)(void *ctx, const ms_block *b), void *ctx)
{
	struct lf_state *ls = state_of(be);
	uint64_t top = load_acquire(&ls->top);

	urcu_bp_read_lock();
	for (uint64_t gen = top + 1; gen-- > 0 && top - gen < GENERATIONS;) {
		struct table *t = table_at(ls, gen);

		for (uint64_t i = 0; t != NULL && i <= t->mask; i++) {
			uint64_t k = load_acquire(&t->slots[i].key);
			ms_ptr_entry e;
			ms_block b;

			if (!is_block(k))
				continue;
			e = entry_of(k, &t->slots[i]);
			b = (ms_block){ .size = e.size, .stack = e.stack, .born = e.born };
			visit(ctx, &b);
		}
	}
	urcu_bp_read_unlock();
}

/* Finds block without taking it, looking again (as take does) when a move
 * may have carried it past the search. */
static int lf_lookup(ms_backend *be, uint64_t block, ms_block *out)
{
	struct lf_state *ls = state_of(be);
	ms_ptr_entry e;
	int found = 0;

	if (!is_block(block))
		return -ENOENT;
	urcu_bp_read_lock();
	for (;;) {
		uint64_t retires = load_acquire(&ls->retires), top = load_acquire(&ls->top);

		for (uint64_t gen = top + 1; !found && gen-- > 0 && top - gen < GENERATIONS;) {
			struct table *t = table_at(ls, gen);
			uint64_t i = t != NULL ? ms_ptr_hash(block) & t->mask : 0;

			for (uint64_t n = 0; t != NULL && !found && n <= t->mask;
			     n++, i = (i + 1) & t->mask) {
				uint64_t k = load_acquire(&t->slots[i].key);

				if (k == EMPTY)
					break;
				if ((k & ~TAGS) == block)
					found = reach(ls, t, i, block, 0, &e);
			}
		}
		if (found || (load_acquire(&ls->retires) == retires && load_acquire(&ls->top) == top))
			break;
	}
	urcu_bp_read_unlock();
	if (!found)
		return -ENOENT;
	*out = (ms_block){ .size = e.size, .stack = e.stack, .born = e.born };
	return 0;
}

/* --- life cycle ----------------------------------------------------------- */

static void tables_free(struct lf_state *ls)
{
	for (unsigned i = 0; i < GENERATIONS; i++)
		if (ls->tables[i] != NULL)
			table_free(ls->tables[i]);
	memset(ls->tables, 0, sizeof(ls->tables));
}

static int tables_init(struct lf_state *ls)
{
	ls->top = 0;
	ls->tables[0] = table_new(0, MIN_SLOTS);
	return ls->tables[0] != NULL ? 0 : -ENOMEM;
}

static int lf_open(ms_backend *be)
{
	struct lf_state *ls = ms_pages_alloc(sizeof(*ls));

	if (ls == NULL)
		return -ENOMEM;
	if (tables_init(ls) != 0) {
		ms_pages_free(ls, sizeof(*ls));
		return -ENOMEM;
	}
	be->state = ls;
	be->store->shared_cells = 1;
	return 0;
}

static void lf_close(ms_backend *be)
{
	struct lf_state *ls = state_of(be);

	if (ls == NULL)
		return;
	tables_free(ls);
	ms_pages_free(ls, sizeof(*ls));
	be->state = NULL;
}

/* Nothing to hold across fork: the child forgets every block anyway. */
static void lf_fork_nothing(ms_backend *be)
{
	(void)be;
}

static void lf_fork_child(ms_backend *be)
{
	struct lf_state *ls = state_of(be);

	/* The child is alone: no reader of the parent's tables is left. */
	tables_free(ls);
	tables_init(ls); /* on failure every insert is dropped, and counted */
}

const ms_backend_ops ms_backend_lockfree = {
	.name = "lockfree",
	.open = lf_open,
	.close = lf_close,
	.record = lf_record,
	.claim = lf_claim,
	.unclaim = lf_unclaim,
	.scan = lf_scan,
	.lookup = lf_lookup,
	.maintain = lf_maintain,
	.fork_prepare = lf_fork_nothing,
	.fork_parent = lf_fork_nothing,
	.fork_child = lf_fork_child,
};
