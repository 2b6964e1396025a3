/*
 * Symbolization: return addresses recorded by the hook become function,
 * file:line and module, read from the modules' files with elfutils' libdw.
 * libdw is the library perf and systemtap use: it reads DWARF 5, split and
 * separate debug info
 * (.gnu_debuglink, /usr/lib/debug, build ids) and ELF symbol tables, and
 * Debian keeps it current. Where a module has no symbols, a frame reads
 * module+offset.
 *
 * Nothing here waits for symbols unless asked to (ms_symbols_settle): an
 * address seen for the first time gets a frame at once, with its module and
 * offset only, and a thread of its own reads the module's files meanwhile;
 * the name is there from the next call on, in a new frame (frames never
 * change once made). A caller shows module+offset for a moment rather than
 * hold a frame back: on a big binary, reading its symbols takes seconds.
 *
 * Call sites: the snapshot's per-stack figures, each with its frames, the
 * frames of the allocator and of its wrappers marked (memscope/skip.h), and
 * the innermost frame that is none of those named as the call site, an
 * inlined function's or not. An address resolved (once) to its inline chain
 * adds all of its frames to a stack; until then, one frame.
 *
 * Threads: one owner thread calls everything here (for memscope-top, its
 * feed or its batch loop); frames and call-site arrays it hands out may be
 * read from any thread while sym lives.
 *
 * Runs: readers only (libdw), never in the program.
 */
#ifndef MEMSCOPE_SYMBOLS_H
#define MEMSCOPE_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include <memscope/snapshot.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A function of a stack. Where the compiler inlined functions into one
 * another, one return address stands for several: a frame for each
 * function inlined there, innermost first, then one for the function the
 * code belongs to, all with the same address, module and offset. The
 * innermost's file:line is the address's own; each outer one's is where the
 * function inside it was inlined, as a caller's is where it called. */
typedef struct ms_frame {
	uint64_t address;     /* the return address as recorded */
	const char *function; /* demangled; NULL when no symbol covers it (yet) */
	const char *file;     /* source file; NULL without debug info */
	int line;             /* 0 when unknown */
	const char *module;   /* the object's path; NULL when none covers it */
	uint64_t offset;      /* address less the object's load bias: as its
				 ELF file has it (what addr2line takes) */
	int allocator;        /* the allocator's or a wrapper's: not a call site */
	int inlined;          /* inlined into the next frame's function */
} ms_frame;

typedef struct ms_callsite {
	ms_site_info site;
	uint32_t depth;                /* frames, inlined ones included */
	const ms_frame *const *frames; /* innermost first */
	const ms_frame *top;           /* the call site's frame, or NULL */
} ms_callsite;

typedef struct ms_symbols ms_symbols;

/* skip: the user's frames to skip (memscope/skip.h), NULL for none. NULL
 * when out of memory or the list is not one (see ms_skip_new). */
ms_symbols *ms_symbols_new(const char *skip);
void ms_symbols_free(ms_symbols *sym);

/* Called on the resolver's thread after it answered what was asked and
 * has nothing more to do (at most four times a second): the owner may
 * then want to show the names sooner than its next refresh. */
void ms_symbols_on_progress(ms_symbols *sym, void (*cb)(void *ctx), void *ctx);

/* The call sites of snapshot s (read through r), in stack id order, with
 * what is known of their frames now; asks first for the frames that name
 * each call site. *out is malloc'ed (free it); its frames live as long as
 * sym. Returns the count or a negative error. */
int ms_symbols_callsites(ms_symbols *sym, const ms_reader *r, const ms_snapshot *s,
			 ms_callsite **out);

/* Asks for every frame of the stacks of sites[0, n) (after what names call
 * sites), and brings their frames and call-site frame up to date: for the
 * call sites a caller shows or writes whole. */
void ms_symbols_fill(ms_symbols *sym, const ms_reader *r, ms_callsite *sites, size_t n);

/* Waits until everything asked so far is answered, at most timeout_ns,
 * and takes the answers in. Returns how many addresses got their frames'
 * names (then call sites asked for again are more complete: ask until 0),
 * or -ETIMEDOUT. */
int ms_symbols_settle(ms_symbols *sym, uint64_t timeout_ns);

/* The call sites of s sorted (ms_callsites_sort), the first `whole` of
 * them filled (ms_symbols_fill; SIZE_MAX for all). With timeout_ns, waits
 * until every name they need is in, asking again as names come (the
 * allocator's frames known make the next ones wanted), at most that long:
 * for a last frame. Returns the count or a negative error; *out as with
 * ms_symbols_callsites. */
int ms_symbols_sorted_callsites(ms_symbols *sym, const ms_reader *r, const ms_snapshot *s,
				size_t whole, uint64_t timeout_ns, ms_callsite **out);

/* Sorts call sites by live bytes, then total bytes, then stack id (the
 * order of the frame contract). */
void ms_callsites_sort(ms_callsite *sites, size_t n);

#ifdef __cplusplus
}
#endif

#endif
