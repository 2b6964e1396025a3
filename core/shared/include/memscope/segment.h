/*
 * What the segment promises its readers, beyond its layout: the units and
 * bounds both its writer (memscope/store.h) and its readers
 * (memscope/snapshot.h, recordings) count in.
 *
 * Runs: anywhere (constants only).
 */
#ifndef MEMSCOPE_SEGMENT_H
#define MEMSCOPE_SEGMENT_H

/* The store's clock ticks every MS_STORE_TICK_NS (the sampler advances it);
 * blocks are stamped with it. The leak scan counts, per call site, the live
 * blocks older than each of MS_STORE_AGE_TICKS (1 s, 10 s, 60 s). */
#define MS_STORE_TICK_NS 100000000ull
#define MS_STORE_AGES 3u
#define MS_STORE_AGE_TICKS { 10u, 100u, 600u }

/* The stack id of blocks without a stack (stacks off, or the table full):
 * their call site reads "(no stack)". Real ids start at 1. */
#define MS_STACK_NONE 0u

/* Bytes of a loaded object's path the segment keeps, its NUL included. */
#define MS_MODULE_PATH_MAX 256u

/* Slots of annotated blocks, live and ended. */
#define MS_STORE_NOTES 16384u

#endif
