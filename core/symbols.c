/*
 * Symbolization with libdw: see memscope/symbols.h.
 *
 * Each recorded module gets its own libdwfl session, opened on first use
 * and reported at the module's load bias, so a runtime address is looked up
 * as it is. One session per module (not one for the process) because
 * modules of different epochs may have occupied the same addresses.
 * Resolved frames are cached by (address, epoch) and stacks by id: stacks
 * never change, so each is resolved once for the life of the reader.
 */
#define _GNU_SOURCE
#include <memscope/symbols.h>

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256

/* From the C++ runtime (libstdc++), to show C++ names as people write them. */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

struct module {
	ms_module_entry e;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	int opened;
};

struct cached_frame {
	uint64_t address;
	uint32_t epoch;
	ms_frame *frame; /* NULL: empty slot */
};

struct cached_stack {
	int done;
	uint32_t depth;
	const ms_frame **frames;
	const ms_frame *top; /* the call site's frame, found once */
};

struct ms_symbols {
	struct module *mods;
	size_t nmods;
	struct cached_frame *slots;
	size_t cap, count;
	struct cached_stack *stacks;
	size_t nstacks;
	char *debuginfo_path;
	Dwfl_Callbacks callbacks;
};

ms_symbols *ms_symbols_new(void)
{
	ms_symbols *sym = calloc(1, sizeof(*sym));

	if (sym == NULL)
		return NULL;
	sym->callbacks.find_elf = dwfl_build_id_find_elf;
	sym->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	sym->callbacks.section_address = dwfl_offline_section_address;
	sym->callbacks.debuginfo_path = &sym->debuginfo_path;
	return sym;
}

static void free_frame(ms_frame *f)
{
	free((char *)f->function);
	free((char *)f->file);
	free(f);
}

void ms_symbols_free(ms_symbols *sym)
{
	if (sym == NULL)
		return;
	for (size_t i = 0; i < sym->nmods; i++)
		if (sym->mods[i].dwfl != NULL)
			dwfl_end(sym->mods[i].dwfl);
	for (size_t i = 0; i < sym->cap; i++)
		if (sym->slots[i].frame != NULL)
			free_frame(sym->slots[i].frame);
	for (size_t i = 0; i < sym->nstacks; i++)
		free(sym->stacks[i].frames);
	free(sym->mods);
	free(sym->slots);
	free(sym->stacks);
	free(sym);
}

/* Modules are only ever appended (and marked unloaded): keep what we have,
 * take the newcomers and the new unload epochs. */
static void update_modules(ms_symbols *sym, const ms_reader *r)
{
	ms_module_entry *list;
	int n = ms_reader_modules(r, &list);
	struct module *mods;

	if (n < 0)
		return;
	if ((size_t)n > sym->nmods) {
		mods = realloc(sym->mods, (size_t)n * sizeof(*mods));
		if (mods == NULL) {
			free(list);
			return;
		}
		memset(mods + sym->nmods, 0, ((size_t)n - sym->nmods) * sizeof(*mods));
		for (size_t i = sym->nmods; i < (size_t)n; i++)
			mods[i].e = list[i];
		sym->mods = mods;
		sym->nmods = (size_t)n;
	}
	for (size_t i = 0; i < (size_t)n && i < sym->nmods; i++)
		sym->mods[i].e.unload_epoch = list[i].unload_epoch;
	free(list);
}

static struct module *module_of(ms_symbols *sym, uint64_t address, uint32_t epoch)
{
	for (size_t i = sym->nmods; i-- > 0;) {
		const ms_module_entry *e = &sym->mods[i].e;

		if (address >= e->lo && address < e->hi && e->load_epoch <= epoch &&
		    (e->unload_epoch == 0 || e->unload_epoch > epoch))
			return &sym->mods[i];
	}
	return NULL;
}

static void open_module(ms_symbols *sym, struct module *m)
{
	const char *base = strrchr(m->e.path, '/');

	m->opened = 1;
	if (m->e.path[0] != '/')
		return; /* the vDSO and the like: no file to read */
	m->dwfl = dwfl_begin(&sym->callbacks);
	if (m->dwfl == NULL)
		return;
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, base + 1, m->e.path, -1, m->e.base, false);
	dwfl_report_end(m->dwfl, NULL, NULL);
}

static char *demangle(const char *name)
{
	char *nice;
	int status = -1;

	if (name == NULL)
		return NULL;
	if (strncmp(name, "_Z", 2) == 0) {
		nice = __cxa_demangle(name, NULL, NULL, &status);
		if (nice != NULL && status == 0)
			return nice;
		free(nice);
	}
	return strdup(name);
}

static int is_allocator(const char *function, const char *module)
{
	static const char *const names[] = {
		"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
		"aligned_alloc", "memalign", "valloc", "pvalloc", "__libc_malloc", "__libc_free",
		"__libc_calloc", "__libc_realloc", "__libc_memalign", NULL,
	};
	const char *base = module != NULL ? strrchr(module, '/') : NULL;

	if (base != NULL && strcmp(base, "/libmemscope.so") == 0)
		return 1;
	if (function == NULL)
		return 0;
	if (strncmp(function, "operator new", 12) == 0 ||
	    strncmp(function, "operator delete", 15) == 0)
		return 1;
	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(function, names[i]) == 0)
			return 1;
	return 0;
}

static ms_frame *resolve(ms_symbols *sym, uint64_t address, uint32_t epoch)
{
	ms_frame *f = calloc(1, sizeof(*f));
	struct module *m;
	/* A return address points after the call: look up the call itself. */
	uint64_t at = address > 0 ? address - 1 : 0;

	if (f == NULL)
		return NULL;
	f->address = address;
	m = module_of(sym, address, epoch);
	if (m == NULL)
		return f;
	f->module = m->e.path;
	f->offset = address - m->e.base;
	if (!m->opened)
		open_module(sym, m);
	if (m->mod != NULL) {
		Dwfl_Line *line = dwfl_module_getsrc(m->mod, at);

		f->function = demangle(dwfl_module_addrname(m->mod, at));
		if (line != NULL) {
			const char *file = dwfl_lineinfo(line, NULL, &f->line, NULL, NULL, NULL);

			f->file = file != NULL ? strdup(file) : NULL;
		}
	}
	f->allocator = is_allocator(f->function, f->module);
	return f;
}

static uint64_t slot_hash(uint64_t address, uint32_t epoch)
{
	uint64_t h = address ^ ((uint64_t)epoch << 48);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static int grow_slots(ms_symbols *sym)
{
	size_t cap = sym->cap ? sym->cap * 2 : 1024;
	struct cached_frame *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sym->cap; i++) {
		struct cached_frame *c = &sym->slots[i];
		size_t j;

		if (c->frame == NULL)
			continue;
		for (j = slot_hash(c->address, c->epoch) & (cap - 1); slots[j].frame != NULL;
		     j = (j + 1) & (cap - 1))
			;
		slots[j] = *c;
	}
	free(sym->slots);
	sym->slots = slots;
	sym->cap = cap;
	return 0;
}

const ms_frame *ms_symbols_resolve(ms_symbols *sym, const ms_reader *r, uint64_t address,
				   uint32_t epoch)
{
	size_t j;

	if ((sym->count + 1) * 2 > sym->cap && grow_slots(sym) != 0)
		return NULL;
	for (j = slot_hash(address, epoch) & (sym->cap - 1); sym->slots[j].frame != NULL;
	     j = (j + 1) & (sym->cap - 1)) {
		if (sym->slots[j].address == address && sym->slots[j].epoch == epoch)
			return sym->slots[j].frame;
	}
	if (module_of(sym, address, epoch) == NULL)
		update_modules(sym, r);
	sym->slots[j].frame = resolve(sym, address, epoch);
	if (sym->slots[j].frame == NULL)
		return NULL;
	sym->slots[j].address = address;
	sym->slots[j].epoch = epoch;
	sym->count++;
	return sym->slots[j].frame;
}

/* The resolved frames of stack id, cached. */
static const struct cached_stack *stack_of(ms_symbols *sym, const ms_reader *r, uint32_t id)
{
	uint64_t raw[MAX_DEPTH];
	struct cached_stack *st;
	uint32_t epoch = 0;
	int depth;

	if (id >= sym->nstacks) {
		size_t n = id + 1 > sym->nstacks * 2 ? id + 1 : sym->nstacks * 2;
		struct cached_stack *more = realloc(sym->stacks, n * sizeof(*more));

		if (more == NULL)
			return NULL;
		memset(more + sym->nstacks, 0, (n - sym->nstacks) * sizeof(*more));
		sym->stacks = more;
		sym->nstacks = n;
	}
	st = &sym->stacks[id];
	if (st->done)
		return st;
	depth = ms_reader_stack(r, id, raw, MAX_DEPTH, &epoch);
	if (depth < 0)
		return NULL;
	if (depth == 0 && id != 0)
		return st; /* not published yet: try again next time */
	st->frames = calloc(depth ? (size_t)depth : 1, sizeof(*st->frames));
	if (st->frames == NULL)
		return NULL;
	for (int i = 0; i < depth; i++) {
		st->frames[i] = ms_symbols_resolve(sym, r, raw[i], epoch);
		if (st->frames[i] == NULL) {
			free(st->frames);
			st->frames = NULL;
			return NULL;
		}
	}
	st->depth = (uint32_t)depth;
	for (int i = 0; i < depth && st->top == NULL; i++)
		if (!st->frames[i]->allocator)
			st->top = st->frames[i];
	st->done = 1;
	return st;
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

int ms_symbols_callsites(ms_symbols *sym, const ms_reader *r, const ms_snapshot *s,
			 ms_callsite **out)
{
	ms_callsite *list = calloc(s->nsites ? s->nsites : 1, sizeof(*list));

	*out = NULL;
	if (list == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->nsites; i++) {
		const struct cached_stack *st = stack_of(sym, r, s->sites[i].stack);
		ms_callsite *c = &list[i];

		c->site = s->sites[i];
		if (st == NULL || !st->done)
			continue;
		c->depth = st->depth;
		c->frames = st->frames;
		c->top = st->top;
	}
	*out = list;
	return (int)s->nsites;
}

void ms_callsites_sort(ms_callsite *sites, size_t n)
{
	qsort(sites, n, sizeof(*sites), by_live_then_total);
}
