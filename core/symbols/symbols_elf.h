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

/* Looks up at (an address inside the call instruction: a return address
 * less one) in module number index of the session, described by e. On the
 * first lookup in a module its files are opened and its function symbols
 * sorted once. Sets *function (demangled, without a symbol version) and
 * *file, each malloc'ed or NULL when unknown, and *line (0 when unknown). */
void ms_elf_lookup(ms_elf_modules *em, uint32_t index, const ms_module_entry *e, uint64_t at,
		   char **function, char **file, int *line);

#endif
