#include <memscope/grow.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *ms_grow(void *array, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t n = *cap != 0 ? *cap : (first != 0 ? first : 1);
	char *more;

	if (need <= *cap)
		return array;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return NULL;
		n *= 2;
	}
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	more = realloc(array, n * size);
	if (more == NULL)
		return NULL;
	memset(more + *cap * size, 0, (n - *cap) * size);
	*cap = n;
	return more;
}
