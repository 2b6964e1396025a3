/* Ordering table rows without moving them: an array of small ranks (the
 * sort value, the tie-breaking key, the row's index) is ordered instead,
 * and only as far as the screen needs. */
#ifndef MEMSCOPE_TUI_RANK_H
#define MEMSCOPE_TUI_RANK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rank {
	uint64_t value;
	uint64_t key;
	uint32_t row;
};

/* Puts the `needed` first ranks of v[0, n) by cmp, in order, at the front
 * of v; the rest follow in no particular order. cmp must be a total order
 * (break ties by key). A full sort when needed is a large part of n. */
void ms_rank_first(struct rank *v, size_t n, size_t needed,
		   int (*cmp)(const void *, const void *));

#ifdef __cplusplus
}
#endif

#endif
