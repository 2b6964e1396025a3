/*
 * Growing an array by doubling, the one way the readers do it.
 *
 * Runs: readers only (it reallocs).
 */
#ifndef MEMSCOPE_GROW_H
#define MEMSCOPE_GROW_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Room for need elements of size bytes in array, whose capacity is *cap:
 * the capacity doubles (from first, if it was 0) until it holds them, the
 * array is realloc'ed and its new elements zeroed. Returns the array,
 * moved or not, with *cap updated; or NULL when memory, or size_t, runs
 * out, the array and *cap then left as they were.
 *
 *   if (n == cap) {
 *           struct row *more = ms_grow(rows, &cap, n + 1, sizeof(*more), 256);
 *           if (more == NULL)
 *                   return -ENOMEM;
 *           rows = more;
 *   }
 */
void *ms_grow(void *array, size_t *cap, size_t need, size_t size, size_t first);

#ifdef __cplusplus
}
#endif

#endif
