/*
 * Symbolization, reader side only (never in the target): return addresses
 * recorded by the hook become function, file:line and module, read from the
 * modules' files with elfutils' libdw. libdw is the library perf and
 * systemtap use: it reads DWARF 5, split and separate debug info
 * (.gnu_debuglink, /usr/lib/debug, build ids) and ELF symbol tables, and
 * Debian keeps it current. Where a module has no symbols, a frame reads
 * module+offset.
 *
 * Call sites: the snapshot's per-stack figures, each with its frames
 * resolved, the allocator's own frames (malloc family, operator new and
 * delete) marked, and the innermost frame that is not the allocator's named
 * as the call site.
 */
#ifndef MEMSCOPE_SYMBOLS_H
#define MEMSCOPE_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include <memscope/snapshot.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ms_frame {
	uint64_t address;     /* the return address as recorded */
	const char *function; /* demangled; NULL when no symbol covers it */
	const char *file;     /* source file; NULL without debug info */
	int line;             /* 0 when unknown */
	const char *module;   /* the object's path; NULL when none covers it */
	uint64_t offset;      /* address within the object's file */
	int allocator;        /* a frame of the allocator itself */
} ms_frame;

typedef struct ms_callsite {
	ms_site_info site;
	uint32_t depth;
	const ms_frame *const *frames; /* innermost first */
	const ms_frame *top;           /* the call site's frame, or NULL */
} ms_callsite;

typedef struct ms_symbols ms_symbols;

ms_symbols *ms_symbols_new(void);
void ms_symbols_free(ms_symbols *sym);

/* Resolves a return address recorded in module epoch `epoch`, against the
 * modules of reader r. The result lives as long as sym. */
const ms_frame *ms_symbols_resolve(ms_symbols *sym, const ms_reader *r, uint64_t address,
				   uint32_t epoch);

/* The call sites of snapshot s (read through r), in stack id order. *out
 * is malloc'ed (free it); its frames live as long as sym. Returns the count
 * or a negative error. */
int ms_symbols_callsites(ms_symbols *sym, const ms_reader *r, const ms_snapshot *s,
			 ms_callsite **out);

/* Sorts call sites by live bytes, then total bytes, then stack id (the
 * order of the frame contract). */
void ms_callsites_sort(ms_callsite *sites, size_t n);

#ifdef __cplusplus
}
#endif

#endif
