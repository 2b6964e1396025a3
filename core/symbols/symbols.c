/*
 * Symbolization: see memscope/symbols.h.
 *
 * Two threads. The owner (the thread that calls ms_symbols_*) never reads
 * a module's files: an address it has not seen gets an entry and a frame at
 * once, its module and offset only, and, when asked for, a job for the
 * resolver thread, which alone uses libdw (symbols_elf.c). The resolver's
 * answers wait in a list until the owner's next call takes them in: each
 * makes new frames for its entry, one per function of the address's inline
 * chain. Frames are never changed once made, nor freed before sym: models
 * on the screen and the recorder hold them.
 *
 * Entries, one per (address, module epoch), are the per-address cache:
 * each address is resolved once for the life of sym. Stacks are cached by
 * id with the frames their entries have now (every frame of each entry's
 * chain); when answers came in since (the version moved), a stack not yet
 * complete gets a new frames array. Old arrays, like old frames, are kept
 * until sym is freed.
 *
 * Two queues, so that what is shown comes first: "urgent" for the frames
 * that name a call site (the innermost ones, up to the first that is not
 * the allocator's or a wrapper's), "later" for the rest of the stacks a
 * caller shows or writes whole.
 */
#define _GNU_SOURCE
#include <memscope/symbols.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <memscope/grow.h>
#include <memscope/platform.h>
#include <memscope/skip.h>

#include "symbols_elf.h"

#define MAX_DEPTH 256
/* Frames asked for at once beyond the last known one, to name a call site:
 * most stacks are named within this many frames, in one round. */
#define NAME_WINDOW 8
/* The resolver takes this many jobs per turn of its lock. */
#define JOBS_PER_TURN 64
/* The resolver's nice value (a thread's own, on Linux). */
#define RESOLVER_NICE 10
/* The owner hears of progress at most this often. */
#define PROGRESS_NS (250 * 1000 * 1000ull)

enum { PLACED, ASKED, DONE };

struct module {
	ms_module_entry e;
	char *path; /* e.path copied: frames point here for good */
};

struct entry {
	uint64_t address;
	uint32_t epoch;
	uint32_t module; /* index + 1; 0: no module covers it */
	uint8_t state;
	uint8_t urgent;  /* asked for urgently (ASKED) */
	uint8_t nframes; /* of its inline chain; 1 until DONE */
	const ms_frame *frames; /* made at once, innermost first */
};

struct stack {
	int loaded;
	uint32_t depth, epoch; /* depth: of raw */
	uint64_t *raw;
	uint32_t nframes;
	const ms_frame **frames; /* as the entries had them at version */
	const ms_frame *top;
	uint64_t version;
	int named; /* its call site's frame is known for good */
	int whole; /* every frame asked for */
	int done;  /* every frame known for good */
};

struct job {
	uint64_t address;
	uint32_t epoch, module;
};

struct result {
	uint64_t address;
	uint32_t epoch;
	int n;               /* 0: out of memory, stays module+offset */
	ms_elf_frame *chain; /* innermost first */
};

struct queue {
	struct job *v;
	size_t head, len, cap;
};

/* A growable array of pointers (frames made, arrays retired). */
struct keep {
	void **v;
	size_t len, cap;
};

struct ms_symbols {
	/* The owner's. */
	ms_skip *skip;
	struct module *mods;
	size_t nmods;
	struct entry *entries;
	size_t nentries, centries;
	uint32_t *slots; /* open addressing over entries: index + 1, 0 empty */
	size_t nslots;
	struct stack *stacks;
	size_t nstacks;
	uint64_t version; /* answers taken in so far */
	struct keep made; /* frames and frame arrays, freed with sym */
	struct queue out_urgent, out_later; /* jobs not handed over yet */

	/* Shared with the resolver, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct queue urgent, later;
	size_t busy; /* jobs taken by the resolver, not answered yet */
	struct result *results;
	size_t nresults, cresults;
	ms_module_entry *shared; /* the modules, as the owner knows them */
	size_t nshared, cshared;
	int stop, running;
	pthread_t thread;
	void (*progress)(void *ctx);
	void *progress_ctx;

	/* The resolver's. */
	ms_elf_modules *elf;
};

/* --- small helpers ------------------------------------------------------ */

static int keep(struct keep *k, void *p)
{
	if (k->len == k->cap) {
		void **v = ms_grow(k->v, &k->cap, k->len + 1, sizeof(*v), 256);

		if (v == NULL)
			return -ENOMEM;
		k->v = v;
	}
	k->v[k->len++] = p;
	return 0;
}

static int queue_push(struct queue *q, const struct job *j)
{
	if (q->head > 0 && q->len == q->cap) {
		memmove(q->v, q->v + q->head, (q->len - q->head) * sizeof(*q->v));
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len == q->cap) {
		struct job *v = ms_grow(q->v, &q->cap, q->len + 1, sizeof(*v), 256);

		if (v == NULL)
			return -ENOMEM;
		q->v = v;
	}
	q->v[q->len++] = *j;
	return 0;
}

static size_t queue_size(const struct queue *q)
{
	return q->len - q->head;
}

static uint64_t slot_hash(uint64_t address, uint32_t epoch)
{
	uint64_t h = address ^ ((uint64_t)epoch << 48);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* --- the resolver thread ------------------------------------------------ */

static void free_chain(ms_elf_frame *chain, int n)
{
	for (int i = 0; i < n; i++) {
		free(chain[i].function);
		free(chain[i].file);
	}
}

static void free_result(struct result *r)
{
	free_chain(r->chain, r->n);
	free(r->chain);
}

static void *resolver_main(void *arg)
{
	ms_symbols *sym = arg;
	uint64_t told = 0;
	int answered = 0;

	/* Background work: reading symbols yields the processor to the
	 * program being watched and to our own frames. */
	setpriority(PRIO_PROCESS, (id_t)ms_thread_id(), RESOLVER_NICE);

	pthread_mutex_lock(&sym->lock);
	for (;;) {
		struct job jobs[JOBS_PER_TURN];
		struct result out[JOBS_PER_TURN];
		size_t n = 0;

		while (!sym->stop && queue_size(&sym->urgent) == 0 && queue_size(&sym->later) == 0) {
			void (*cb)(void *) = sym->progress;
			void *ctx = sym->progress_ctx;
			uint64_t now = ms_clock_mono_ns();

			pthread_cond_broadcast(&sym->idle);
			if (answered && cb != NULL && now - told >= PROGRESS_NS) {
				answered = 0;
				told = now;
				pthread_mutex_unlock(&sym->lock);
				cb(ctx);
				pthread_mutex_lock(&sym->lock);
				continue;
			}
			pthread_cond_wait(&sym->work, &sym->lock);
		}
		if (sym->stop)
			break;
		for (struct queue *q = &sym->urgent; n < JOBS_PER_TURN; q = &sym->later) {
			while (n < JOBS_PER_TURN && queue_size(q) > 0)
				jobs[n++] = q->v[q->head++];
			if (q == &sym->later)
				break;
		}
		sym->busy += n;
		pthread_mutex_unlock(&sym->lock);

		for (size_t i = 0; i < n; i++) {
			ms_elf_frame chain[MS_ELF_MAX_CHAIN];
			ms_module_entry e;
			int k;

			pthread_mutex_lock(&sym->lock); /* the list may grow meanwhile */
			e = sym->shared[jobs[i].module - 1];
			pthread_mutex_unlock(&sym->lock);
			out[i] = (struct result){ .address = jobs[i].address, .epoch = jobs[i].epoch };
			/* A return address points after the call: look up the call. */
			k = ms_elf_lookup(sym->elf, jobs[i].module - 1, &e, jobs[i].address - 1, chain);
			out[i].chain = malloc((size_t)k * sizeof(*chain));
			if (out[i].chain != NULL) {
				memcpy(out[i].chain, chain, (size_t)k * sizeof(*chain));
				out[i].n = k;
			} else {
				free_chain(chain, k);
			}
		}

		pthread_mutex_lock(&sym->lock);
		if (sym->nresults + n > sym->cresults) {
			struct result *more = ms_grow(sym->results, &sym->cresults, sym->nresults + n,
						      sizeof(*more), 256);

			if (more != NULL)
				sym->results = more;
		}
		for (size_t i = 0; i < n; i++) {
			if (sym->nresults < sym->cresults)
				sym->results[sym->nresults++] = out[i];
			else
				free_result(&out[i]); /* out of memory: stays module+offset */
		}
		sym->busy -= n;
		answered = 1;
	}
	pthread_mutex_unlock(&sym->lock);
	return NULL;
}

/* --- the owner ---------------------------------------------------------- */

ms_symbols *ms_symbols_new(const char *skip)
{
	ms_symbols *sym = calloc(1, sizeof(*sym));

	if (sym == NULL)
		return NULL;
	pthread_mutex_init(&sym->lock, NULL);
	pthread_cond_init(&sym->work, NULL);
	pthread_cond_init(&sym->idle, NULL);
	sym->elf = ms_elf_modules_new();
	if (sym->elf == NULL || ms_skip_new(skip, &sym->skip) != 0) {
		ms_symbols_free(sym);
		return NULL;
	}
	return sym;
}

void ms_symbols_on_progress(ms_symbols *sym, void (*cb)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&sym->lock);
	sym->progress = cb;
	sym->progress_ctx = ctx;
	pthread_mutex_unlock(&sym->lock);
}

void ms_symbols_free(ms_symbols *sym)
{
	if (sym == NULL)
		return;
	pthread_mutex_lock(&sym->lock);
	sym->stop = 1;
	pthread_cond_broadcast(&sym->work);
	pthread_mutex_unlock(&sym->lock);
	if (sym->running)
		pthread_join(sym->thread, NULL);
	ms_elf_modules_free(sym->elf);
	for (size_t i = 0; i < sym->nresults; i++)
		free_result(&sym->results[i]);
	for (size_t i = 0; i < sym->made.len; i++)
		free(sym->made.v[i]);
	for (size_t i = 0; i < sym->nstacks; i++)
		free(sym->stacks[i].raw);
	for (size_t i = 0; i < sym->nmods; i++)
		free(sym->mods[i].path);
	free(sym->made.v);
	free(sym->results);
	free(sym->shared);
	free(sym->urgent.v);
	free(sym->later.v);
	free(sym->out_urgent.v);
	free(sym->out_later.v);
	free(sym->mods);
	free(sym->entries);
	free(sym->slots);
	free(sym->stacks);
	ms_skip_free(sym->skip);
	pthread_cond_destroy(&sym->work);
	pthread_cond_destroy(&sym->idle);
	pthread_mutex_destroy(&sym->lock);
	free(sym);
}

/* Modules are only ever appended (and marked unloaded): keep what we have,
 * take the newcomers and the new unload epochs, and tell the resolver. */
static void update_modules(ms_symbols *sym, const ms_reader *r)
{
	ms_module_entry *list;
	int n = ms_reader_modules(r, &list);

	if (n < 0)
		return;
	if ((size_t)n > sym->nmods) {
		struct module *mods = realloc(sym->mods, (size_t)n * sizeof(*mods));

		if (mods == NULL) {
			free(list);
			return;
		}
		sym->mods = mods;
		pthread_mutex_lock(&sym->lock);
		if ((size_t)n > sym->cshared) {
			ms_module_entry *shared = realloc(sym->shared, (size_t)n * sizeof(*shared));

			if (shared != NULL) {
				sym->shared = shared;
				sym->cshared = (size_t)n;
			}
		}
		for (; sym->nmods < (size_t)n && sym->nmods < sym->cshared; sym->nmods++) {
			struct module *m = &mods[sym->nmods];

			m->e = list[sym->nmods];
			m->e.path[sizeof(m->e.path) - 1] = '\0';
			m->path = strdup(m->e.path);
			if (m->path == NULL)
				break;
			sym->shared[sym->nmods] = m->e;
			sym->nshared = sym->nmods + 1;
		}
		pthread_mutex_unlock(&sym->lock);
	}
	for (size_t i = 0; i < (size_t)n && i < sym->nmods; i++)
		sym->mods[i].e.unload_epoch = list[i].unload_epoch;
	free(list);
}

/* Index + 1 of the module that held address in epoch; 0 for none. */
static uint32_t module_of(const ms_symbols *sym, uint64_t address, uint32_t epoch)
{
	for (size_t i = sym->nmods; i-- > 0;) {
		const ms_module_entry *e = &sym->mods[i].e;

		if (address >= e->lo && address < e->hi && e->load_epoch <= epoch &&
		    (e->unload_epoch == 0 || e->unload_epoch > epoch))
			return (uint32_t)i + 1;
	}
	return 0;
}

static int grow_slots(ms_symbols *sym)
{
	size_t n = sym->nslots ? sym->nslots * 2 : 4096;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sym->nentries; i++) {
		size_t j = slot_hash(sym->entries[i].address, sym->entries[i].epoch) & (n - 1);

		while (slots[j] != 0)
			j = (j + 1) & (n - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(sym->slots);
	sym->slots = slots;
	sym->nslots = n;
	return 0;
}

/* The entry of (address, epoch), made if new (with its module+offset
 * frame): its index, or -1 when out of memory. Entries may move when one is
 * made: hold indexes, not pointers. */
static long entry_of(ms_symbols *sym, const ms_reader *r, uint64_t address, uint32_t epoch)
{
	struct entry *e;
	ms_frame *f;
	size_t j;
	uint32_t m;

	if ((sym->nentries + 1) * 2 > sym->nslots && grow_slots(sym) != 0)
		return -1;
	for (j = slot_hash(address, epoch) & (sym->nslots - 1); sym->slots[j] != 0;
	     j = (j + 1) & (sym->nslots - 1)) {
		e = &sym->entries[sym->slots[j] - 1];
		if (e->address == address && e->epoch == epoch)
			return (long)sym->slots[j] - 1;
	}
	if (sym->nentries == sym->centries) {
		struct entry *more = ms_grow(sym->entries, &sym->centries, sym->nentries + 1,
					     sizeof(*more), 1024);

		if (more == NULL)
			return -1;
		sym->entries = more;
	}
	m = module_of(sym, address, epoch);
	if (m == 0 && r != NULL) {
		update_modules(sym, r); /* loaded since we last looked */
		m = module_of(sym, address, epoch);
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || keep(&sym->made, f) != 0) {
		free(f);
		return -1;
	}
	f->address = address;
	if (m != 0) {
		f->module = sym->mods[m - 1].path;
		f->offset = address - sym->mods[m - 1].e.base;
	}
	f->allocator = ms_skip_frame(sym->skip, NULL, f->module);
	e = &sym->entries[sym->nentries];
	*e = (struct entry){ .address = address, .epoch = epoch, .module = m, .nframes = 1,
			     .frames = f };
	/* Nothing to read where no module covers it, or for the vDSO. */
	e->state = m != 0 && address > 0 && f->module[0] == '/' ? PLACED : DONE;
	sym->slots[j] = (uint32_t)++sym->nentries;
	return (long)sym->nentries - 1;
}

static void ask(ms_symbols *sym, long i, int urgent)
{
	struct entry *e = &sym->entries[i];
	struct job j = { e->address, e->epoch, e->module };

	if (e->state == DONE || (e->state == ASKED && (e->urgent || !urgent)))
		return;
	/* A frame asked for later and now wanted urgently goes in the urgent
	 * queue too: the first answer counts. */
	if (queue_push(urgent ? &sym->out_urgent : &sym->out_later, &j) != 0)
		return;
	e->state = ASKED;
	e->urgent = (uint8_t)urgent;
}

/* Hands the jobs asked for to the resolver (starting it the first time). */
static void hand_over(ms_symbols *sym)
{
	struct queue *from[2] = { &sym->out_urgent, &sym->out_later };
	struct queue *to[2] = { &sym->urgent, &sym->later };
	int any = 0;

	if (queue_size(&sym->out_urgent) == 0 && queue_size(&sym->out_later) == 0)
		return;
	pthread_mutex_lock(&sym->lock);
	if (!sym->running) {
		sigset_t all, old;

		/* The resolver takes no signal: they are the main thread's. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		sym->running = pthread_create(&sym->thread, NULL, resolver_main, sym) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	for (int k = 0; k < 2; k++) {
		for (size_t i = from[k]->head; i < from[k]->len; i++)
			any |= queue_push(to[k], &from[k]->v[i]) == 0;
		from[k]->head = from[k]->len = 0;
	}
	if (any)
		pthread_cond_signal(&sym->work);
	pthread_mutex_unlock(&sym->lock);
}

/* A string of an answer kept for good (freed with sym): *s, now sym's, or
 * NULL when out of memory. */
static const char *keep_string(ms_symbols *sym, char **s)
{
	char *str = *s;

	*s = NULL;
	if (str != NULL && keep(&sym->made, str) != 0) {
		free(str);
		return NULL;
	}
	return str;
}

/* Takes in the resolver's answers: new frames for each, the placeholder's
 * address, module and offset with each function of the chain. Returns how
 * many addresses got them. */
static int take_answers(ms_symbols *sym)
{
	struct result *list;
	size_t n;
	int made = 0;

	pthread_mutex_lock(&sym->lock);
	list = sym->results;
	n = sym->nresults;
	sym->results = NULL;
	sym->nresults = sym->cresults = 0;
	pthread_mutex_unlock(&sym->lock);
	for (size_t i = 0; i < n; i++) {
		struct result *res = &list[i];
		long k = entry_of(sym, NULL, res->address, res->epoch);
		struct entry *e = k >= 0 ? &sym->entries[k] : NULL;
		ms_frame *chain;

		if (e == NULL || e->state == DONE || res->n == 0) {
			free_result(res);
			continue;
		}
		chain = calloc((size_t)res->n, sizeof(*chain));
		if (chain == NULL || keep(&sym->made, chain) != 0) {
			free(chain);
			free_result(res);
			continue;
		}
		for (int j = 0; j < res->n; j++) {
			ms_frame *f = &chain[j];

			*f = e->frames[0];
			f->function = keep_string(sym, &res->chain[j].function);
			f->file = keep_string(sym, &res->chain[j].file);
			f->line = f->file != NULL ? res->chain[j].line : 0;
			f->allocator = ms_skip_frame(sym->skip, f->function, f->module);
			f->inlined = j + 1 < res->n;
		}
		free(res->chain);
		e->frames = chain;
		e->nframes = (uint8_t)res->n;
		e->state = DONE;
		made++;
	}
	free(list);
	if (made > 0)
		sym->version++;
	return made;
}

/* The stack of id, its raw addresses read once; NULL when not published
 * yet or on error. */
static struct stack *stack_of(ms_symbols *sym, const ms_reader *r, uint32_t id)
{
	uint64_t raw[MAX_DEPTH];
	struct stack *st;
	int depth;

	if (id >= sym->nstacks) {
		struct stack *more = ms_grow(sym->stacks, &sym->nstacks, (size_t)id + 1,
					     sizeof(*more), 256);

		if (more == NULL)
			return NULL;
		sym->stacks = more;
	}
	st = &sym->stacks[id];
	if (st->loaded)
		return st;
	depth = ms_reader_stack(r, id, raw, MAX_DEPTH, &st->epoch);
	if (depth < 0 || (depth == 0 && id != 0))
		return NULL; /* not published yet: try again next time */
	st->raw = malloc((depth ? (size_t)depth : 1) * sizeof(*st->raw));
	if (st->raw == NULL)
		return NULL;
	memcpy(st->raw, raw, (size_t)depth * sizeof(*raw));
	st->depth = (uint32_t)depth;
	st->version = (uint64_t)-1;
	st->loaded = 1;
	return st;
}

/* Whether every function of an entry's chain is the allocator's or a
 * wrapper's. */
static int chain_allocator(const struct entry *e)
{
	for (uint32_t i = 0; i < e->nframes; i++)
		if (!e->frames[i].allocator)
			return 0;
	return 1;
}

/* Asks for the frames that name the stack's call site: from the innermost,
 * past the allocator's and wrappers' known frames, a window of unknown
 * ones. */
static void ask_names(ms_symbols *sym, const ms_reader *r, struct stack *st)
{
	unsigned asked = 0;

	if (st->named)
		return;
	for (uint32_t i = 0; i < st->depth; i++) {
		long k = entry_of(sym, r, st->raw[i], st->epoch);

		if (k < 0)
			return;
		if (sym->entries[k].state != DONE) {
			ask(sym, k, 1);
			if (++asked == NAME_WINDOW)
				return;
		} else if (!chain_allocator(&sym->entries[k])) {
			/* the call site, unless an unknown frame before it is */
			st->named = asked == 0;
			return;
		}
	}
	st->named = asked == 0; /* all known: the allocator's own, all of it */
}

/* Brings the stack's frames up to what the entries know now: each
 * address's whole chain. */
static void refresh(ms_symbols *sym, const ms_reader *r, struct stack *st)
{
	long index[MAX_DEPTH];
	const ms_frame **now;
	uint32_t n = 0, at = 0;
	int changed, done = 1;

	if (st->done || st->version == sym->version)
		return;
	for (uint32_t i = 0; i < st->depth; i++) {
		index[i] = entry_of(sym, r, st->raw[i], st->epoch);
		if (index[i] < 0)
			return;
		n += sym->entries[index[i]].nframes;
		done &= sym->entries[index[i]].state == DONE;
	}
	now = malloc((n ? n : 1) * sizeof(*now));
	if (now == NULL)
		return;
	changed = st->frames == NULL || n != st->nframes;
	for (uint32_t i = 0; i < st->depth; i++) {
		const struct entry *e = &sym->entries[index[i]];

		for (uint32_t k = 0; k < e->nframes; k++, at++) {
			now[at] = &e->frames[k];
			changed |= !changed && st->frames[at] != now[at];
		}
	}
	if (!changed || keep(&sym->made, now) != 0) {
		free(now);
	} else {
		st->frames = now; /* the old array stays: call sites out there hold it */
		st->nframes = n;
		st->top = NULL;
		for (uint32_t i = 0; i < n && st->top == NULL; i++)
			if (!now[i]->allocator)
				st->top = now[i];
	}
	st->version = sym->version;
	st->done = done;
}

static void fill_site(ms_callsite *c, const struct stack *st)
{
	if (st->frames == NULL)
		return;
	c->depth = st->nframes;
	c->frames = st->frames;
	c->top = st->top;
}

int ms_symbols_callsites(ms_symbols *sym, const ms_reader *r, const ms_snapshot *s,
			 ms_callsite **out)
{
	ms_callsite *list = calloc(s->nsites ? s->nsites : 1, sizeof(*list));

	*out = NULL;
	if (list == NULL)
		return -ENOMEM;
	take_answers(sym);
	for (size_t i = 0; i < s->nsites; i++) {
		struct stack *st = stack_of(sym, r, s->sites[i].stack);

		list[i].site = s->sites[i];
		if (st == NULL)
			continue;
		ask_names(sym, r, st);
		refresh(sym, r, st);
		fill_site(&list[i], st);
	}
	hand_over(sym);
	*out = list;
	return (int)s->nsites;
}

void ms_symbols_fill(ms_symbols *sym, const ms_reader *r, ms_callsite *sites, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct stack *st = stack_of(sym, r, sites[i].site.stack);

		if (st == NULL)
			continue;
		if (!st->whole) {
			st->whole = 1;
			for (uint32_t k = 0; k < st->depth; k++) {
				long e = entry_of(sym, r, st->raw[k], st->epoch);

				if (e >= 0)
					ask(sym, e, 0);
			}
		}
		refresh(sym, r, st);
		fill_site(&sites[i], st);
	}
	hand_over(sym);
}

int ms_symbols_settle(ms_symbols *sym, uint64_t timeout_ns)
{
	uint64_t deadline = ms_clock_mono_ns() + timeout_ns;
	int late = 0;

	hand_over(sym);
	pthread_mutex_lock(&sym->lock);
	while (sym->running && !late &&
	       queue_size(&sym->urgent) + queue_size(&sym->later) + sym->busy > 0) {
		uint64_t now = ms_clock_mono_ns();
		struct timespec until;

		if (now >= deadline) {
			late = 1;
			break;
		}
		/* The condition variable waits on the realtime clock: wait in
		 * short steps against the monotonic deadline. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)((deadline - now < 50000000u ? deadline - now : 50000000u));
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sym->idle, &sym->lock, &until);
	}
	pthread_mutex_unlock(&sym->lock);
	{
		int made = take_answers(sym);

		return late && made == 0 ? -ETIMEDOUT : made;
	}
}

static int by_live_then_total(const void *a, const void *b);

int ms_symbols_sorted_callsites(ms_symbols *sym, const ms_reader *r, const ms_snapshot *s,
				size_t whole, uint64_t timeout_ns, ms_callsite **out)
{
	uint64_t deadline = ms_clock_mono_ns() + timeout_ns;
	int n;

	for (;;) {
		uint64_t now;

		n = ms_symbols_callsites(sym, r, s, out);
		if (n < 0)
			return n;
		ms_callsites_sort(*out, (size_t)n);
		ms_symbols_fill(sym, r, *out, whole < (size_t)n ? whole : (size_t)n);
		now = ms_clock_mono_ns();
		/* Names that came in make more of the call sites known: ask
		 * again, until nothing more comes. */
		if (timeout_ns == 0 || now >= deadline || ms_symbols_settle(sym, deadline - now) <= 0)
			break;
		free(*out);
	}
	return n;
}

static int by_live_then_total(const void *a, const void *b)
{
	const ms_callsite *x = a, *y = b;

	if (x->site.live_bytes != y->site.live_bytes)
		return x->site.live_bytes > y->site.live_bytes ? -1 : 1;
	if (x->site.alloc_bytes != y->site.alloc_bytes)
		return x->site.alloc_bytes > y->site.alloc_bytes ? -1 : 1;
	return x->site.stack < y->site.stack ? -1 : x->site.stack > y->site.stack;
}

void ms_callsites_sort(ms_callsite *sites, size_t n)
{
	if (n > 1)
		qsort(sites, n, sizeof(*sites), by_live_then_total);
}
