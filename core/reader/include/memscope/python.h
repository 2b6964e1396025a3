/*
 * CPython's own allocator. CPython serves objects of up to 512 bytes from
 * arenas of its own (pymalloc; mimalloc when asked for), which it maps
 * itself: the hook sees neither the arenas nor the objects in them, so
 * most of a Python program's heap is out of sight. PYTHONMALLOC=malloc
 * makes it call malloc for every object.
 * This module tells, from outside the process, whether that is the case.
 *
 * Runs: readers only (reads /proc and allocates).
 */
#ifndef MEMSCOPE_PYTHON_H
#define MEMSCOPE_PYTHON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memscope/snapshot.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether path names CPython: an executable python, python3, python3.11,
 * python3.13t and the like, or a libpython shared library (an interpreter
 * embedded in another program). Only the file name counts. */
int ms_python_path(const char *path);

/* Whether CPython given this environment (NAME=value entries separated by
 * NULs, len bytes) keeps its own allocator: PYTHONMALLOC unset or empty,
 * or pymalloc, pymalloc_debug, debug, mimalloc or mimalloc_debug. malloc
 * and malloc_debug (and values CPython refuses) give 0. */
int ms_python_env_own_allocator(const char *env, size_t len);

/* Whether python's arguments (argv separated by NULs, len bytes, argv[0]
 * first) make it ignore PYTHON* variables: -E or -I, alone or among other
 * one-letter options, before the script, -c or -m. */
int ms_python_args_ignore_env(const char *args, size_t len);

/* Whether process pid (which started at start_ticks, see
 * ms_proc_start_ticks) is CPython with its own allocator: its executable
 * (/proc/PID/exe) or one of its modules (as its session lists them) is
 * CPython, and its environment (/proc/PID/environ) and arguments leave the
 * allocator on. 0 when not, or when the process is gone and its
 * environment with it. */
int ms_python_own_allocator(pid_t pid, uint64_t start_ticks, const ms_module_entry *mods,
			    size_t nmods);

#ifdef __cplusplus
}
#endif

#endif
