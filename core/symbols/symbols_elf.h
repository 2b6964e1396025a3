/*
 * The modules' files as the symbol resolver reads them (libdw), private to
 * symbols.c. One thread only: everything here belongs to the resolver
 * thread, which alone touches libdw.
 *
 * Runs: readers only.
 */
#ifndef MEMSCOPE_SYMBOLS_ELF_H
#define MEMSCOPE_SYMBOLS_ELF_H

#include <stdint.h>

#include <memscope/snapshot.h>

typedef struct ms_elf_modules ms_elf_modules;

ms_elf_modules *ms_elf_modules_new(void);
void ms_elf_modules_free(ms_elf_modules *em);

/* One function of an address's inline chain: each string malloc'ed, or
 * NULL when unknown; line 0 when unknown. */
typedef struct ms_elf_frame {
	char *function, *file;
	int line;
} ms_elf_frame;

/* Functions an address's chain holds at most. 256 frames a stack (what the
 * store keeps, and more) times this stays within what a recording reader
 * takes for one stack (4096 frames). */
#define MS_ELF_MAX_CHAIN 16

/* Looks up at (an address inside the call instruction: a return address
 * less one) in module number index of the session, described by e. On the
 * first lookup in a module its files are opened and its function symbols
 * sorted once. Fills out[0, n) innermost first: the functions inlined at
 * `at` (from DWARF), then the function the code belongs to, named from
 * the symbol table (demangled, without a symbol version). The innermost's
 * file:line is the line table's for `at`; each outer one's is where the
 * function inside it was inlined. Returns n, at least 1 (one frame, maybe
 * all unknown, where the module has no DWARF). */
int ms_elf_lookup(ms_elf_modules *em, uint32_t index, const ms_module_entry *e, uint64_t at,
		  ms_elf_frame out[MS_ELF_MAX_CHAIN]);

#endif
