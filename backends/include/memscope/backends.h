/*
 * The capture backends memscope ships, and how to pick one by name.
 *
 * Runs: in the program: a backend's record on the hook path, its drain (if
 * any) on a thread of memscope's own there.
 */
#ifndef MEMSCOPE_BACKENDS_H
#define MEMSCOPE_BACKENDS_H

#include <memscope/capture.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Synchronous: the calling thread accounts under the mutex of one of 64
 * address-hashed store cells, with none while the program has one thread
 * (core_backend.c). */
extern const ms_backend_ops ms_backend_core;

/* Synchronous with no lock: the calling thread accounts by atomic adds
 * (lockfree_backend.c). */
extern const ms_backend_ops ms_backend_lockfree;

/* Threads append events to rings of their own; a drain thread applies
 * them (async_backend.c). */
extern const ms_backend_ops ms_backend_async;

/* The async backend's rings and drain, but each thread applies its own
 * events directly until its rate calls for a ring (async_backend.c, the
 * rule at WINDOW). */
extern const ms_backend_ops ms_backend_unified;

/* Makes a backend of one's own available by its name (ops->name), next to
 * the ones above: to ms_backend_find, and so to MEMSCOPE_BACKEND. ops must
 * live for good and give every operation ms_backend_ops requires (flush,
 * finish, thread_exit and maintain may be NULL). Returns 0, -EINVAL, -EEXIST
 * (the name is taken) or -ENOSPC (8 at most). */
int ms_backend_register(const ms_backend_ops *ops);

/* The backend named name (MEMSCOPE_BACKEND), NULL if there is none; NULL or
 * an empty name gives the default (unified). */
const ms_backend_ops *ms_backend_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif
