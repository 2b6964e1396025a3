/*
 * Reading the modules' symbols and lines with libdw: see symbols_elf.h.
 *
 * Each module gets its own libdwfl session, reported at the module's load
 * bias, so a runtime address is looked up as it is (one session per module,
 * not one per process, because modules of different epochs may have used
 * the same addresses).
 *
 * Function names come from an index of the module's function symbols,
 * sorted by address once, then searched in O(log n). libdwfl's own
 * dwfl_module_addrinfo walks the whole symbol table on each call (global
 * symbols first, elfutils' dwfl_module_addrsym.c): on a big binary, node's
 * or a JVM's, a screenful of stacks took seconds. Lines still come from
 * libdw (dwfl_module_getsrc), which indexes them itself.
 *
 * Inlined functions come from the DWARF scopes around the address: the
 * inlined_subroutine entries that contain it, innermost first, up to the
 * subprogram they are all inlined into (what addr2line -i shows).
 */
#define _GNU_SOURCE
#include "symbols_elf.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/grow.h>

/* From the C++ runtime (libstdc++), to show C++ names as people write them. */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

struct symbol {
	uint64_t addr, size;
	const char *name; /* in the module's ELF data: lives as long as its Dwfl */
	int rank;         /* among symbols at one address, the lowest is shown */
};

struct module {
	int opened;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	struct symbol *syms;
	size_t nsyms;
};

struct ms_elf_modules {
	struct module *mods; /* by the session's module index */
	size_t nmods;
	char *debuginfo_path;
	Dwfl_Callbacks callbacks;
};

ms_elf_modules *ms_elf_modules_new(void)
{
	ms_elf_modules *em = calloc(1, sizeof(*em));

	if (em == NULL)
		return NULL;
	em->callbacks.find_elf = dwfl_build_id_find_elf;
	em->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	em->callbacks.section_address = dwfl_offline_section_address;
	em->callbacks.debuginfo_path = &em->debuginfo_path;
	return em;
}

void ms_elf_modules_free(ms_elf_modules *em)
{
	if (em == NULL)
		return;
	for (size_t i = 0; i < em->nmods; i++) {
		if (em->mods[i].dwfl != NULL)
			dwfl_end(em->mods[i].dwfl);
		free(em->mods[i].syms);
	}
	free(em->mods);
	free(em);
}

/* A global symbol before a weak one before a local one; a sized one before
 * one without a size. */
static int rank_of(const GElf_Sym *s)
{
	int bind = GELF_ST_BIND(s->st_info);

	return (bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2) * 2 + (s->st_size == 0);
}

static int by_address(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->rank - y->rank;
}

/* The module's function symbols (of every table libdwfl found for it: the
 * symbol table, a separate debug file's, MiniDebugInfo's), by address. */
static void build_index(struct module *m)
{
	int n = dwfl_module_getsymtab(m->mod);
	size_t cap = 0;

	for (int i = 1; i < n; i++) {
		GElf_Sym s;
		GElf_Addr addr;
		GElf_Word shndx;
		Elf *elf;
		Dwarf_Addr bias;
		const char *name = dwfl_module_getsym_info(m->mod, i, &s, &addr, &shndx, &elf, &bias);
		int type = GELF_ST_TYPE(s.st_info);

		if (name == NULL || name[0] == '\0' || shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		if (m->nsyms == cap) {
			struct symbol *syms = ms_grow(m->syms, &cap, cap + 1, sizeof(*syms), 1024);

			if (syms == NULL)
				break; /* what we have still names most frames */
			m->syms = syms;
		}
		m->syms[m->nsyms++] = (struct symbol){ addr, s.st_size, name, rank_of(&s) };
	}
	if (m->nsyms > 1) /* none at all: syms is NULL */
		qsort(m->syms, m->nsyms, sizeof(*m->syms), by_address);
}

static void open_module(ms_elf_modules *em, struct module *m, const ms_module_entry *e)
{
	const char *base = strrchr(e->path, '/');

	m->opened = 1;
	if (e->path[0] != '/')
		return; /* the vDSO and the like: no file to read */
	m->dwfl = dwfl_begin(&em->callbacks);
	if (m->dwfl == NULL)
		return;
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, base + 1, e->path, -1, e->base, false);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (m->mod != NULL)
		build_index(m);
}

/* The symbol covering at: the last one starting at or before it that
 * contains it (a symbol without a size contains what follows it, up to
 * the next symbol), preferred by rank among those at one address. */
static const char *symbol_at(const struct module *m, uint64_t at)
{
	size_t lo = 0, hi = m->nsyms;

	while (lo < hi) { /* the first symbol after at */
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].addr <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* The nearest address's symbols, best ranked first; failing those, an
	 * earlier symbol around at (a function holding a nested one). */
	for (size_t i = lo, tries = 0; i > 0 && tries < 64; tries++) {
		size_t run = i - 1;

		while (run > 0 && m->syms[run - 1].addr == m->syms[i - 1].addr)
			run--;
		for (size_t k = run; k < i; k++) {
			const struct symbol *s = &m->syms[k];

			if (s->size == 0 ? tries == 0 : at < s->addr + s->size)
				return s->name;
		}
		i = run;
	}
	return NULL;
}

/* The name as people read it: no symbol version ("@@GLIBC_2.2.5"), C++
 * demangled. */
static char *clean_name(const char *name)
{
	size_t len = strcspn(name, "@");
	char *plain = strndup(name, len), *nice;
	int status = -1;

	if (plain == NULL || strncmp(plain, "_Z", 2) != 0)
		return plain;
	nice = __cxa_demangle(plain, NULL, NULL, &status);
	if (nice != NULL && status == 0) {
		free(plain);
		return nice;
	}
	free(nice);
	return plain;
}

/* A DWARF function's name: its linkage name demangled (an inlined
 * instance's comes from its abstract origin, a member's from its
 * declaration in the class), else its plain name. */
static char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));

	if (name == NULL)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	if (name != NULL)
		return clean_name(name);
	name = dwarf_diename(die);
	return name != NULL ? strdup(name) : NULL;
}

/* Where the inlined_subroutine die was inlined: the file (an index into its
 * unit's file table) and line of the call, into f. */
static void call_site(Dwarf_Die *die, ms_elf_frame *f)
{
	Dwarf_Attribute attr;
	Dwarf_Word file, line;
	Dwarf_Files *files;
	Dwarf_Die cu;
	const char *src;

	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &file) != 0 ||
	    dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &line) != 0 || line == 0 ||
	    line > INT_MAX || dwarf_diecu(die, &cu, NULL, NULL) == NULL ||
	    dwarf_getsrcfiles(&cu, &files, NULL) != 0)
		return;
	src = dwarf_filesrc(files, file, NULL, NULL);
	if (src != NULL && (f->file = strdup(src)) != NULL)
		f->line = (int)line;
}

/* The functions inlined at `at` into out[0, n), innermost first, each with
 * its name and, but for the innermost, file:line; then, in out[n], the
 * subprogram's name when DWARF has one and the file:line of the call the
 * last inlined function came from (none inlined: nothing). Returns n. */
static int inline_chain(struct module *m, uint64_t at, ms_elf_frame *out)
{
	Dwarf_Die *scopes = NULL, *path = NULL, *inner = NULL;
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(m->mod, at, &bias);
	int n = 0, depth;

	if (cu == NULL || dwarf_getscopes(cu, at - bias, &scopes) <= 0) {
		free(scopes);
		return 0;
	}
	/* dwarf_getscopes goes on from the innermost inlined instance to its
	 * abstract definition's scopes, not to the functions it was inlined
	 * into: those are the innermost scope's parents. */
	depth = dwarf_getscopes_die(&scopes[0], &path);
	free(scopes);
	for (int i = 0; i < depth; i++) {
		int tag = dwarf_tag(&path[i]);

		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		if (inner != NULL)
			call_site(inner, &out[n]);
		if (tag == DW_TAG_subprogram) {
			out[n].function = die_name(&path[i]);
			break;
		}
		/* The deepest chains lose their middle, never the function
		 * they are in. */
		if (n < MS_ELF_MAX_CHAIN - 1) {
			out[n].function = die_name(&path[i]);
			n++;
		} else {
			free(out[n].file);
			out[n].file = NULL;
			out[n].line = 0;
		}
		inner = &path[i];
	}
	free(path);
	return n;
}

int ms_elf_lookup(ms_elf_modules *em, uint32_t index, const ms_module_entry *e, uint64_t at,
		  ms_elf_frame out[MS_ELF_MAX_CHAIN])
{
	struct module *m;
	const char *name, *src;
	ms_elf_frame *real;
	Dwfl_Line *l;
	int n;

	memset(out, 0, MS_ELF_MAX_CHAIN * sizeof(*out));
	if (index >= em->nmods) {
		struct module *more = ms_grow(em->mods, &em->nmods, index + 1, sizeof(*more), 16);

		if (more == NULL)
			return 1;
		em->mods = more;
	}
	m = &em->mods[index];
	if (!m->opened)
		open_module(em, m, e);
	if (m->mod == NULL)
		return 1;
	n = inline_chain(m, at, out);
	/* The function the code is in: the symbol table's name, as for a
	 * frame without inlining (DWARF's where no symbol covers it). */
	real = &out[n];
	name = symbol_at(m, at);
	if (name != NULL) {
		free(real->function);
		real->function = clean_name(name);
	}
	l = dwfl_module_getsrc(m->mod, at);
	src = l != NULL ? dwfl_lineinfo(l, NULL, &out[0].line, NULL, NULL, NULL) : NULL;
	free(out[0].file);
	out[0].file = src != NULL ? strdup(src) : NULL;
	if (out[0].file == NULL)
		out[0].line = 0;
	return n + 1;
}
