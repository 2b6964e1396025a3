/* The capture backends memscope ships, and how to pick one by name. */
#ifndef MEMSCOPE_BACKENDS_H
#define MEMSCOPE_BACKENDS_H

#include <memscope/capture.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Synchronous; a live-pointer table in 64 shards, each under its own mutex,
 * each shard accounted in its own store cell. */
extern const ms_backend_ops ms_backend_core;

/* Synchronous with no lock: a compare-and-swap table, replaced under RCU
 * by the sampler as it fills (lockfree_backend.c). */
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
