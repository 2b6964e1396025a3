#include <memscope/ptr_map.h>

#include <errno.h>

#include <memscope/platform.h>

/* Grow when more than 5/8 full: linear probing stays short below that. */
#define LOAD_NUM 5
#define LOAD_DEN 8

int ms_ptr_map_init(ms_ptr_map *m, size_t capacity)
{
	if (capacity < 16 || (capacity & (capacity - 1)) != 0)
		return -EINVAL;
	m->slots = ms_pages_alloc(capacity * sizeof(ms_ptr_entry));
	if (m->slots == NULL)
		return -ENOMEM;
	m->mask = capacity - 1;
	m->count = 0;
	return 0;
}

void ms_ptr_map_destroy(ms_ptr_map *m)
{
	if (m->slots != NULL)
		ms_pages_free(m->slots, (m->mask + 1) * sizeof(ms_ptr_entry));
	m->slots = NULL;
	m->mask = 0;
	m->count = 0;
}

/* The slot index uses the hash's high bits; callers pick shards by its low
 * bits. (ms_ptr_map_prefetch computes it too.) */
static size_t home(const ms_ptr_map *m, uint64_t ptr)
{
	return (size_t)(ms_ptr_hash(ptr) >> 16) & m->mask;
}

static void insert_fresh(ms_ptr_map *m, const ms_ptr_entry *e)
{
	size_t i = home(m, e->ptr);

	while (m->slots[i].ptr != 0)
		i = (i + 1) & m->mask;
	m->slots[i] = *e;
	m->count++;
}

static int grow(ms_ptr_map *m)
{
	ms_ptr_map bigger;
	size_t cap = m->mask + 1;

	if (ms_ptr_map_init(&bigger, cap * 2) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		if (m->slots[i].ptr != 0)
			insert_fresh(&bigger, &m->slots[i]);
	ms_ptr_map_destroy(m);
	*m = bigger;
	return 0;
}

int ms_ptr_map_put(ms_ptr_map *m, const ms_ptr_entry *e, ms_ptr_entry *replaced)
{
	size_t i;

	if ((m->count + 1) * LOAD_DEN > (m->mask + 1) * LOAD_NUM && grow(m) != 0) {
		/* Still room below full: only refuse when truly out of slots. */
		if (m->count + 1 > m->mask)
			return -ENOMEM;
	}
	for (i = home(m, e->ptr); m->slots[i].ptr != 0; i = (i + 1) & m->mask) {
		if (m->slots[i].ptr == e->ptr) {
			if (replaced != NULL)
				*replaced = m->slots[i];
			m->slots[i] = *e;
			return 1;
		}
	}
	m->slots[i] = *e;
	m->count++;
	return 0;
}

int ms_ptr_map_add(ms_ptr_map *m, const ms_ptr_entry *e)
{
	size_t i;

	if ((m->count + 1) * LOAD_DEN > (m->mask + 1) * LOAD_NUM && grow(m) != 0) {
		if (m->count + 1 > m->mask)
			return -ENOMEM;
	}
	for (i = home(m, e->ptr); m->slots[i].ptr != 0; i = (i + 1) & m->mask)
		if (m->slots[i].ptr == e->ptr)
			return -EEXIST;
	m->slots[i] = *e;
	m->count++;
	return 0;
}

int ms_ptr_map_find(const ms_ptr_map *m, uint64_t ptr, ms_ptr_entry *out)
{
	if (ptr == 0 || m->slots == NULL)
		return -ENOENT;
	for (size_t i = home(m, ptr); m->slots[i].ptr != 0; i = (i + 1) & m->mask) {
		if (m->slots[i].ptr == ptr) {
			*out = m->slots[i];
			return 0;
		}
	}
	return -ENOENT;
}

int ms_ptr_map_take(ms_ptr_map *m, uint64_t ptr, ms_ptr_entry *out)
{
	size_t i, j;

	if (ptr == 0 || m->slots == NULL)
		return -ENOENT;
	for (i = home(m, ptr); m->slots[i].ptr != ptr; i = (i + 1) & m->mask)
		if (m->slots[i].ptr == 0)
			return -ENOENT;
	*out = m->slots[i];
	/* Backward-shift deletion: pull each following entry of the cluster
	 * into the hole if its home slot does not lie cyclically in (i, j]. */
	for (j = (i + 1) & m->mask; m->slots[j].ptr != 0; j = (j + 1) & m->mask) {
		size_t h = home(m, m->slots[j].ptr);

		if (((j - h) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].ptr = 0;
	m->count--;
	return 0;
}
