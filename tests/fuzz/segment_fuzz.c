/*
 * libFuzzer target for the segment reader: a real segment, written by the
 * store's own functions (threads, call sites with stacks, modules,
 * annotations, samples), is patched by the input in the places a reader
 * looks at (header, globals, cells, threads, timeline, stacks, sites,
 * lifetimes, frames, modules, notes, names), then opened and read as
 * memscope-top reads it. Every outcome must be an error or a snapshot:
 * never a crash, undefined behaviour, a leak or a hang. The patches are
 * undone after each input.
 *
 * An input is a list of 12-byte patches: region (1 byte), offset in the
 * region (2, little-endian), width (1: 1, 2, 4 or 8 bytes), value (8).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memscope/platform.h>
#include <memscope/snapshot.h>
#include <memscope/store.h>

#include "core/shared/store_layout.h"

struct region {
	uint64_t off, len;
};

static ms_store store;
static char *image;   /* the segment, mapped for writing */
static size_t image_size;
static struct region regions[12];
static unsigned nregions;

static char dir[] = "/tmp/memscope-fuzz-XXXXXX";

static void remove_segment(void)
{
	unlink(store.path);
	rmdir(dir);
}

static void add_region(uint64_t off, uint64_t len)
{
	if (off < image_size && len > 0) {
		if (len > image_size - off)
			len = image_size - off;
		regions[nregions++] = (struct region){ off, len };
	}
}

/* A segment with something in every section a reader copies. */
static void build(void)
{
	const struct ms_seg_header *h;
	uint64_t frames[3] = { 0x401000, 0x402000, 0x403000 };
	void *map;

	if (mkdtemp(dir) == NULL || ms_store_create(&store, dir, 0) != 0)
		abort();
	atexit(remove_segment);
	for (uint32_t t = 0; t < 3; t++) {
		uint32_t slot = ms_store_thread_claim(&store, 100 + (pid_t)t, "worker");
		uint32_t stack = ms_store_stack_add(&store, frames, 1 + t, 0);

		for (int i = 0; i < 10; i++)
			ms_store_count_alloc(&store, (unsigned)i, slot, stack, 32, i == 3, 0);
		ms_store_count_free(&store, 1, slot, slot, stack, 32, 0, 1000, 0);
	}
	ms_store_module_add(&store, 0, 0x400000, 0x400000, 0x500000, "/bin/app");
	ms_store_module_set_epoch(&store, 0);
	for (uint32_t i = 0; i < 4; i++) {
		ms_note n = { .ptr = 0x1000 + i * 16, .size = 64, .tracked_mono_ns = 1,
			      .var = ms_store_name_add(&store, "var"),
			      .type = ms_store_name_add(&store, "type"), .scope = 0, .stack = 1,
			      .borrows = i, .lent = i / 2, .ended_mono_ns = i % 2 ? 5 : 0 };

		ms_store_note_put(&store, i, &n);
	}
	ms_store_sample(&store);
	ms_store_sample(&store);
	if (ms_shm_map_readwrite(store.path, &map, &image_size) != 0)
		abort();
	image = map;
	h = map;
	add_region(0, sizeof(*h));
	add_region(h->globals_off, sizeof(struct ms_seg_globals));
	add_region(h->cells_off, 8 * sizeof(struct ms_seg_cell));
	add_region(h->threads_off, 4 * sizeof(struct ms_seg_thread));
	add_region(h->timeline_off, sizeof(struct ms_seg_timeline) + 4 * sizeof(struct ms_seg_sample));
	add_region(h->stacks_off, 8 * sizeof(struct ms_seg_stack));
	add_region(h->sites_off, 8 * sizeof(struct ms_seg_site));
	add_region(h->lives_off, 8 * sizeof(struct ms_seg_life));
	add_region(h->frames_off, 64 * sizeof(uint64_t));
	add_region(h->modules_off, 2 * sizeof(struct ms_seg_module));
	add_region(h->notes_off, 8 * sizeof(struct ms_seg_note));
	add_region(h->names_off, 4 * sizeof(struct ms_seg_name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum { PATCH = 12, MAX_PATCHES = 64 };
	struct saved {
		uint64_t at;
		unsigned width;
		uint8_t bytes[8];
	} saved[MAX_PATCHES];
	unsigned nsaved = 0;
	ms_reader r;

	if (image == NULL)
		build();
	for (size_t p = 0; p + PATCH <= size && nsaved < MAX_PATCHES; p += PATCH) {
		const struct region *g = &regions[data[p] % nregions];
		unsigned width = 1u << (data[p + 3] % 4);
		uint64_t at = g->off + (uint64_t)(data[p + 1] | data[p + 2] << 8) % g->len;

		if (at + width > image_size)
			continue;
		saved[nsaved] = (struct saved){ .at = at, .width = width };
		memcpy(saved[nsaved].bytes, image + at, width);
		memcpy(image + at, data + p + 4, width);
		nsaved++;
	}
	if (ms_reader_open(&r, store.path) == 0) {
		ms_snapshot s;
		ms_module_entry *mods;
		uint64_t frames[8];
		uint32_t epoch;

		if (ms_snapshot_take(&r, &s) == 0) {
			for (int by = MS_NOTE_BY_VAR; by <= MS_NOTE_BY_SCOPE; by++) {
				ms_note_group *g;

				if (ms_note_groups(&s, (ms_note_key)by, &g) >= 0)
					free(g);
			}
			ms_snapshot_release(&s);
		}
		for (uint32_t id = 0; id < 6; id++)
			ms_reader_stack(&r, id, frames, 8, &epoch);
		if (ms_reader_modules(&r, &mods) >= 0)
			free(mods);
		ms_reader_close(&r);
	}
	while (nsaved-- > 0)
		memcpy(image + saved[nsaved].at, saved[nsaved].bytes, saved[nsaved].width);
	return 0;
}
