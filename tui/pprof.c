/*
 * A frame as a pprof heap profile (pprof.h). The profile's tables, as
 * profile.proto lays them out:
 *
 * - a sample per heap call site, its values those of Go's heap profiles
 *   (so that pprof's -sample_index names and its defaults apply): blocks
 *   and bytes allocated in all, blocks and bytes live. Counts are exact:
 *   the period is 1 byte, no reader scales them.
 * - its stack: from the call site's frame (ms_callsite.top) out to the
 *   outermost; the allocator's and its wrappers' frames inside it are left
 *   out, so that pprof's flat figures go to the function that asked.
 * - a location per return address, its lines the address's inline chain
 *   as memscope's frames have it (innermost first, the function the code
 *   is in last, which is pprof's order too). A stack whose call site is an
 *   inlined function starts inside a chain: its first location then has
 *   the chain's lines from there out, a location of its own.
 * - a function per name and source file; a frame without a name is
 *   named as memscope shows it (ms_frame_name: module+0xOFFSET).
 * - a mapping per module (its path), covering the addresses its frames
 *   have, marked as symbolized already: pprof reads no binary.
 *
 * Runs: readers only.
 */
#define _GNU_SOURCE
#include "pprof.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "frame.h"
#include "tui/profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

/* The sample types, in the order Go's heap profiles have them. */
enum { ALLOC_OBJECTS, ALLOC_SPACE, INUSE_OBJECTS, INUSE_SPACE, NVALUES };

/* Keys (bytes) to ids: the profile's tables are deduplicated through it. */
struct key_slot {
	char *key; /* a copy, NUL-terminated; NULL: the slot is free */
	size_t len;
	uint64_t hash, id;
};

struct key_table {
	struct key_slot *slots;
	size_t cap, n; /* cap: 0 or a power of two, at most half full */
};

/* What a mapping covers, from its frames' addresses. */
struct range {
	uint64_t lo, hi; /* lowest and highest address seen */
	uint64_t bias;   /* an address less its offset in the module */
};

struct builder {
	int err;
	struct key_table string_ids, function_ids, location_ids, mapping_ids;
	const char **strings; /* the table's own copies */
	size_t nstrings, cap_strings;
	pb_function *functions;
	size_t nfunctions, cap_functions;
	pb_location *locations; /* each with its lines, malloc'ed */
	size_t nlocations, cap_locations;
	pb_mapping *mappings;
	struct range *ranges; /* one per mapping */
	size_t nmappings, cap_mappings;
};

static uint64_t hash_bytes(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int key_table_grow(struct key_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	struct key_slot *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (t->slots[i].key == NULL)
			continue;
		for (j = t->slots[i].hash & (cap - 1); slots[j].key != NULL; j = (j + 1) & (cap - 1))
			;
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* The id of key; when absent, adds it with id `id` and sets *added. NULL
 * when out of memory, else the slot (its key, a copy, lives as long as t). */
static const struct key_slot *key_table_get(struct key_table *t, const void *key, size_t len,
					    uint64_t id, int *added)
{
	uint64_t h = hash_bytes(key, len);
	struct key_slot *s;
	size_t i;

	*added = 0;
	if ((t->n + 1) * 2 > t->cap && key_table_grow(t) != 0)
		return NULL;
	for (i = h & (t->cap - 1); t->slots[i].key != NULL; i = (i + 1) & (t->cap - 1)) {
		s = &t->slots[i];
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
			return s;
	}
	s = &t->slots[i];
	s->key = malloc(len + 1);
	if (s->key == NULL)
		return NULL;
	memcpy(s->key, key, len);
	s->key[len] = '\0';
	s->len = len;
	s->hash = h;
	s->id = id;
	t->n++;
	*added = 1;
	return s;
}

static void key_table_free(struct key_table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i].key);
	free(t->slots);
}

/* Room for one more of *v's elements (of size `size`). */
static int grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*(void **)v, c * size);
	if (p == NULL)
		return -ENOMEM;
	*(void **)v = p;
	*cap = c;
	return 0;
}

/* The string's index in the string table ("" is 0). On failure, sets
 * b->err and returns 0. */
static int64_t string_id(struct builder *b, const char *str)
{
	const struct key_slot *s;
	int added;

	if (str == NULL || str[0] == '\0')
		return 0;
	s = key_table_get(&b->string_ids, str, strlen(str), b->nstrings, &added);
	if (s == NULL || (added && grow(&b->strings, &b->cap_strings, b->nstrings,
					sizeof(*b->strings)) != 0)) {
		b->err = -ENOMEM;
		return 0;
	}
	if (added)
		b->strings[b->nstrings++] = s->key;
	return (int64_t)s->id;
}

/* The function of frame f (NULL: the stackless call site's), by name and
 * file. On failure, sets b->err and returns 0. */
static uint64_t function_id(struct builder *b, const ms_frame *f)
{
	char name[512], key[1024];
	const char *file = f != NULL && f->file != NULL ? f->file : "";
	const struct key_slot *s;
	pb_function *fn;
	int added, len;

	if (f != NULL)
		ms_frame_name(f, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "(no stack)");
	/* name, NUL, file: neither holds a NUL. */
	len = snprintf(key, sizeof(key), "%s%c%s", name, '\0', file);
	if (len < 0 || (size_t)len >= sizeof(key))
		len = sizeof(key) - 1;
	s = key_table_get(&b->function_ids, key, (size_t)len, b->nfunctions + 1, &added);
	if (s == NULL || (added && grow(&b->functions, &b->cap_functions, b->nfunctions,
					sizeof(*b->functions)) != 0)) {
		b->err = -ENOMEM;
		return 0;
	}
	if (!added)
		return s->id;
	fn = &b->functions[b->nfunctions++];
	perftools__profiles__function__init(fn);
	fn->id = s->id;
	fn->name = string_id(b, name);
	/* Our names are demangled already; the symbol's own is not kept. */
	fn->system_name = fn->name;
	fn->filename = string_id(b, file);
	return s->id;
}

/* The mapping of frame f's module (0 for none). On failure, sets b->err
 * and returns 0. */
static uint64_t mapping_id(struct builder *b, const ms_frame *f)
{
	const struct key_slot *s;
	struct range *r;
	pb_mapping *m;
	int added;

	if (f->module == NULL)
		return 0;
	s = key_table_get(&b->mapping_ids, f->module, strlen(f->module), b->nmappings + 1,
			  &added);
	if (s == NULL)
		goto fail;
	if (!added) {
		r = &b->ranges[s->id - 1];
		r->lo = f->address < r->lo ? f->address : r->lo;
		r->hi = f->address > r->hi ? f->address : r->hi;
		return s->id;
	}
	if (grow(&b->mappings, &b->cap_mappings, b->nmappings, sizeof(*b->mappings)) != 0)
		goto fail;
	/* ranges grows with mappings: the same capacity. */
	r = realloc(b->ranges, b->cap_mappings * sizeof(*b->ranges));
	if (r == NULL)
		goto fail;
	b->ranges = r;
	m = &b->mappings[b->nmappings];
	perftools__profiles__mapping__init(m);
	m->id = s->id;
	m->filename = string_id(b, f->module);
	m->has_functions = m->has_filenames = m->has_line_numbers = m->has_inline_frames = 1;
	b->ranges[b->nmappings] = (struct range){ f->address, f->address, f->address - f->offset };
	b->nmappings++;
	return s->id;
fail:
	b->err = -ENOMEM;
	return 0;
}

/* The location of frames[0, n): one return address's inline chain, or
 * its tail (n == 0: the stackless call site's). On failure, sets b->err
 * and returns 0. */
static uint64_t location_id(struct builder *b, const ms_frame *const *frames, size_t n)
{
	uint64_t key[2] = { n ? frames[0]->address : 0, n };
	const struct key_slot *s;
	pb_location *loc;
	pb_line *lines;
	int added;

	s = key_table_get(&b->location_ids, key, sizeof(key), b->nlocations + 1, &added);
	if (s == NULL || (added && grow(&b->locations, &b->cap_locations, b->nlocations,
					sizeof(*b->locations)) != 0)) {
		b->err = -ENOMEM;
		return 0;
	}
	if (!added)
		return s->id;
	loc = &b->locations[b->nlocations];
	perftools__profiles__location__init(loc);
	/* The lines and the pointers to them, in one block. */
	lines = malloc((n ? n : 1) * (sizeof(*lines) + sizeof(*loc->line)));
	if (lines == NULL) {
		b->err = -ENOMEM;
		return 0;
	}
	b->nlocations++;
	loc->id = s->id;
	loc->n_line = n ? n : 1;
	loc->line = (pb_line **)(lines + loc->n_line);
	for (size_t i = 0; i < loc->n_line; i++) {
		perftools__profiles__line__init(&lines[i]);
		lines[i].function_id = function_id(b, n ? frames[i] : NULL);
		lines[i].line = n ? frames[i]->line : 0;
		loc->line[i] = &lines[i];
	}
	if (n > 0) {
		loc->address = frames[0]->address;
		loc->mapping_id = mapping_id(b, frames[0]);
	}
	return s->id;
}

/* A call site's stack as location ids, into ids (room for c->depth, at
 * least 1). Returns how many. */
static size_t stack_ids(struct builder *b, const ms_callsite *c, uint64_t *ids)
{
	size_t start = 0, n = 0;

	/* Without a call-site frame (its names unknown, or every frame the
	 * allocator's), the whole stack. */
	for (size_t k = 0; c->top != NULL && k < c->depth; k++)
		if (c->frames[k] == c->top)
			start = k;
	if (start >= c->depth) {
		ids[n++] = location_id(b, NULL, 0);
		return n;
	}
	for (size_t k = start, end; k < c->depth; k = end) {
		/* A chain: frames of one address, inlined but for its last. */
		for (end = k + 1; end < c->depth && c->frames[end - 1]->inlined &&
				  c->frames[end]->address == c->frames[k]->address;
		     end++)
			;
		ids[n++] = location_id(b, &c->frames[k], end - k);
	}
	return n;
}

static int gzip_write(FILE *out, const uint8_t *data, size_t len)
{
	uint8_t buf[64 * 1024];
	z_stream z;
	int zr, err = 0;

	memset(&z, 0, sizeof(z));
	/* 16 + 15: a gzip header and trailer around deflate's largest window. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + 15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)data;
	do {
		/* avail_in is 32 bits: feed a larger profile in pieces. */
		if (z.avail_in == 0 && len > 0) {
			z.avail_in = len > (1u << 30) ? 1u << 30 : (uInt)len;
			len -= z.avail_in;
		}
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		zr = deflate(&z, len == 0 ? Z_FINISH : Z_NO_FLUSH);
		if (zr == Z_STREAM_ERROR) {
			err = -EINVAL;
			break;
		}
		if (fwrite(buf, 1, sizeof(buf) - z.avail_out, out) != sizeof(buf) - z.avail_out) {
			err = errno ? -errno : -EIO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	if (err == 0 && fflush(out) != 0)
		err = errno ? -errno : -EIO;
	return err;
}

static void builder_free(struct builder *b)
{
	for (size_t i = 0; i < b->nlocations; i++)
		free(b->locations[i].line[0]); /* the block of its lines */
	key_table_free(&b->string_ids);
	key_table_free(&b->function_ids);
	key_table_free(&b->location_ids);
	key_table_free(&b->mapping_ids);
	free(b->strings);
	free(b->functions);
	free(b->locations);
	free(b->mappings);
	free(b->ranges);
}

/* The module of the first frame of main found in sites, or NULL. */
static const char *main_module(const ms_callsite *sites, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = sites[i].depth; k-- > 0;)
			if (sites[i].frames[k]->function != NULL &&
			    strcmp(sites[i].frames[k]->function, "main") == 0)
				return sites[i].frames[k]->module;
	return NULL;
}

/* Pointers to each of n elements of v (of size `size`), for the
 * generated code's repeated fields. */
static void **pointers(void *v, size_t n, size_t size)
{
	void **p = malloc((n ? n : 1) * sizeof(*p));

	for (size_t i = 0; p != NULL && i < n; i++)
		p[i] = (char *)v + i * size;
	return p;
}

int ms_pprof_write(FILE *out, const ms_snapshot *s, const ms_callsite *sites, size_t n)
{
	static const char *const types[NVALUES][2] = {
		[ALLOC_OBJECTS] = { "alloc_objects", "count" },
		[ALLOC_SPACE] = { "alloc_space", "bytes" },
		[INUSE_OBJECTS] = { "inuse_objects", "count" },
		[INUSE_SPACE] = { "inuse_space", "bytes" },
	};
	char command[MS_COMMAND_MAX * 4], comment[MS_COMMAND_MAX * 4 + 64];
	const char *program;
	struct builder b = { 0 };
	pb_profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	pb_value_type vt[NVALUES], *vtp[NVALUES], period = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	pb_sample *samples = calloc(n ? n : 1, sizeof(*samples));
	int64_t *values = calloc(n ? n * NVALUES : 1, sizeof(*values));
	uint64_t *ids = NULL;
	size_t nsamples = 0, nids = 0, max_depth = 1;
	int64_t comment_id;
	uint8_t *packed = NULL;
	size_t len;
	int err;

	for (size_t i = 0; i < n; i++)
		max_depth += sites[i].depth ? sites[i].depth : 1;
	/* Every sample's location ids, one array. */
	ids = malloc(max_depth * sizeof(*ids));
	if (samples == NULL || values == NULL || ids == NULL || grow(&b.strings, &b.cap_strings,
								     0, sizeof(*b.strings)) != 0) {
		err = -ENOMEM;
		goto done;
	}
	b.strings[b.nstrings++] = "";
	for (size_t i = 0; i < NVALUES; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vt[i].type = string_id(&b, types[i][0]);
		vt[i].unit = string_id(&b, types[i][1]);
		vtp[i] = &vt[i];
	}
	period.type = string_id(&b, "space");
	period.unit = string_id(&b, "bytes");

	for (size_t i = 0; i < n; i++) {
		const ms_callsite *c = &sites[i];
		pb_sample *sm = &samples[nsamples];
		int64_t *v = &values[nsamples * NVALUES];

		/* A heap profile: mappings are not the heap's, as the frame's
		 * heap figures leave them out too. */
		if (c->site.kind != MS_SITE_HEAP)
			continue;
		perftools__profiles__sample__init(sm);
		sm->location_id = &ids[nids];
		sm->n_location_id = stack_ids(&b, c, sm->location_id);
		nids += sm->n_location_id;
		v[ALLOC_OBJECTS] = (int64_t)c->site.allocs;
		v[ALLOC_SPACE] = (int64_t)c->site.alloc_bytes;
		v[INUSE_OBJECTS] = (int64_t)c->site.live_allocs;
		v[INUSE_SPACE] = (int64_t)c->site.live_bytes;
		sm->value = v;
		sm->n_value = NVALUES;
		nsamples++;
	}
	for (size_t i = 0; i < b.nmappings; i++) {
		pb_mapping *m = &b.mappings[i];
		const struct range *r = &b.ranges[i];

		/* Whole pages about the addresses seen; file_offset as the
		 * module's own addresses read there (its offset in the file
		 * where, as usual for code, the two agree). */
		m->memory_start = r->lo & ~0xfffULL;
		if (m->memory_start < r->bias)
			m->memory_start = r->bias;
		m->memory_limit = (r->hi | 0xfffULL) + 1;
		m->file_offset = m->memory_start - r->bias;
	}
	snprintf(comment, sizeof(comment), "memscope: %s (pid %d)",
		 ms_format_command(command, sizeof(command), s->command), (int)s->pid);
	comment_id = string_id(&b, comment);
	if (b.err != 0) {
		err = b.err;
		goto done;
	}

	p.n_sample_type = NVALUES;
	p.sample_type = vtp;
	p.n_sample = nsamples;
	p.sample = (pb_sample **)pointers(samples, nsamples, sizeof(*samples));
	p.n_mapping = b.nmappings;
	p.mapping = (pb_mapping **)pointers(b.mappings, b.nmappings, sizeof(*b.mappings));
	/* pprof takes the first mapping for the program's ("File:"): the
	 * executable's, that of main, rather than that of the first frame
	 * written. */
	program = main_module(sites, n);
	for (size_t i = 1; p.mapping != NULL && program != NULL && i < b.nmappings; i++) {
		if (strcmp(b.strings[b.mappings[i].filename], program) == 0) {
			p.mapping[i] = p.mapping[0];
			p.mapping[0] = &b.mappings[i];
		}
	}
	p.n_location = b.nlocations;
	p.location = (pb_location **)pointers(b.locations, b.nlocations, sizeof(*b.locations));
	p.n_function = b.nfunctions;
	p.function = (pb_function **)pointers(b.functions, b.nfunctions, sizeof(*b.functions));
	p.n_string_table = b.nstrings;
	p.string_table = (char **)b.strings;
	p.time_nanos = (int64_t)s->start_real_ns;
	p.duration_nanos = (int64_t)(s->time_s * 1e9);
	p.period_type = &period;
	p.period = 1;
	p.n_comment = 1;
	p.comment = &comment_id;
	p.default_sample_type = vt[INUSE_SPACE].type; /* a string, not an index */
	if (p.sample == NULL || p.mapping == NULL || p.location == NULL || p.function == NULL) {
		err = -ENOMEM;
		goto done;
	}
	len = perftools__profiles__profile__get_packed_size(&p);
	packed = malloc(len ? len : 1);
	if (packed == NULL) {
		err = -ENOMEM;
		goto done;
	}
	perftools__profiles__profile__pack(&p, packed);
	err = gzip_write(out, packed, len);
done:
	free(packed);
	free(p.sample);
	free(p.mapping);
	free(p.location);
	free(p.function);
	free(ids);
	free(values);
	free(samples);
	builder_free(&b);
	return err;
}
