/*
 * pprof heap profiles: a frame's call sites in the format of pprof's
 * profile.proto (gzip-compressed protobuf), for go tool pprof and the
 * other tools that read that format.
 *
 * Runs: readers only (memscope-top -b --pprof, memscope-report --pprof).
 */
#ifndef MEMSCOPE_TUI_PPROF_H
#define MEMSCOPE_TUI_PPROF_H

#include <stddef.h>
#include <stdio.h>

#include <memscope/snapshot.h>
#include <memscope/symbols.h>

/* Writes a heap profile of s to out: one sample per heap call site of
 * sites[0, n) (mapped memory left out, as from the heap's figures), with
 * the values of Go's heap profiles (alloc_objects, alloc_space,
 * inuse_objects, inuse_space) and its stack from the call site's frame
 * out. The sites' frames are taken as they are: fill them whole first.
 * Returns 0, or a negative errno (out of memory, or out's write error). */
int ms_pprof_write(FILE *out, const ms_snapshot *s, const ms_callsite *sites, size_t n);

#endif
