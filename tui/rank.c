#include "rank.h"

#include <stdlib.h>

static void swap(struct rank *a, struct rank *b)
{
	struct rank t = *a;

	*a = *b;
	*b = t;
}

/* Moves the k first of v[0, n) to its front, in no order: quickselect with
 * Hoare's partition. */
static void select_first(struct rank *v, size_t n, size_t k, int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		struct rank pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (cmp(&v[i], &pivot) < 0)
				i++;
			while (cmp(&v[j], &pivot) > 0)
				j--;
			if (i <= j) {
				swap(&v[i], &v[j]);
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
}

void ms_rank_first(struct rank *v, size_t n, size_t needed,
		   int (*cmp)(const void *, const void *))
{
	if (n == 0)
		return; /* v may be NULL then, which qsort must not be given */
	if (needed < n / 4) {
		select_first(v, n, needed, cmp);
		qsort(v, needed, sizeof(*v), cmp);
	} else {
		qsort(v, n, sizeof(*v), cmp);
	}
}
