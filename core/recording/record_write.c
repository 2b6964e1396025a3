/* The recorder: frames of a watched session into a file (RECORDING.md). */
#define _GNU_SOURCE
#include <memscope/recording.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include <memscope/grow.h>

#include "record_format.h"

/* An open-addressing map from a key (a string's hash and text, or a
 * pointer) to the recording's id for it. */
struct slot {
	uint64_t hash;
	const void *key; /* the string's copy, or the frame pointer */
	uint32_t id;
	int used;
};

struct map {
	struct slot *slots;
	size_t cap, count;
};

struct site_mark {
	int present;
	uint64_t key; /* the key frame it was last written after */
	uint64_t allocs, frees, alloc_bytes, free_bytes, peak, old_bytes[MS_STORE_AGES],
		old_allocs[MS_STORE_AGES];
	uint64_t life[3]; /* min, median, max: ns + 1, 0 for none (see life_ns) */
};

/* A lifetime in seconds as the file keeps it: ns + 1, 0 for none. */
static uint64_t life_ns(double s)
{
	const double most = 4.5e6; /* 52 days: the reader's bound (1 << 52 ns) */

	return !(s >= 0) ? 0 : (uint64_t)((s < most ? s : most) * 1e9 + 0.5) + 1;
}

/* A thread as the previous frame recorded it: its figures and its view,
 * encoded (see put_thread). */
struct thread_mark {
	ms_thread_info info;
	uint64_t view[4];
};

struct ms_recorder {
	int fd;
	ZSTD_CCtx *zstd; /* one context for every chunk */
	/* Each events column is one zstd stream through the whole file,
	 * flushed at every chunk: a chunk's column can refer to what earlier
	 * chunks held (a program's patterns repeat). Made on first use. */
	ZSTD_CCtx *columns[MS_REC_EVENT_COLUMNS];
	int failed;
	struct map strings, frames;
	uint32_t nstrings, nframes, nstacks;
	/* This image's stack ids -> the recording's. */
	uint32_t *stack_ids;
	size_t nstack_ids;
	/* By the recording's stack id: the frames array it was last written
	 * with. */
	const void **written;
	size_t cwritten;
	/* The session (image) being recorded. */
	pid_t pid;
	unsigned generation;
	uint64_t sessions;
	int in_session;
	struct session_id {
		pid_t pid;
		unsigned generation;
	} *session_ids; /* every image recorded, in order */
	size_t nsession_ids;
	/* The previous frame, for deltas. */
	unsigned since_key;
	uint64_t keys; /* key frames written */
	struct thread_mark *threads;
	size_t nthreads;
	struct site_mark *marks; /* by the recording's stack id */
	size_t nmarks;
	/* Where the next chunk goes, and the index of frames and events
	 * written so far (RECORDING.md, "Index"). */
	uint64_t offset, indexed_at;
	struct ms_buf index;
	uint64_t nindex;
	/* Pending dictionary entries for the next frame. */
	struct ms_buf strings_out, frames_out, stacks_out;
	uint32_t strings_new, frames_new, stacks_new;
};

/* A change as a varint-friendly number: small either way. */
static uint64_t zigzag(uint64_t from, uint64_t to)
{
	int64_t d = (int64_t)(to - from);

	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint64_t hash_pointer(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static int map_grow(struct map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct slot *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slots[i].used)
			continue;
		for (j = m->slots[i].hash & (cap - 1); slots[j].used; j = (j + 1) & (cap - 1))
			;
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

/* The slot for key (strings compare by text, frames by pointer). */
static struct slot *map_find(struct map *m, uint64_t hash, const void *key, int text)
{
	size_t j;

	if ((m->count + 1) * 2 > m->cap && map_grow(m) != 0)
		return NULL;
	for (j = hash & (m->cap - 1); m->slots[j].used; j = (j + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[j];

		if (s->hash == hash && (text ? strcmp(s->key, key) == 0 : s->key == key))
			return s;
	}
	return &m->slots[j];
}

static void map_free(struct map *m, int owns_keys)
{
	for (size_t i = 0; owns_keys && i < m->cap; i++)
		if (m->slots[i].used)
			free((void *)m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* The recording's id for a string (id + 1; 0 for NULL), queued if new. */
static uint64_t string_id(ms_recorder *rec, const char *s)
{
	struct slot *slot;
	uint64_t h;

	if (s == NULL)
		return 0;
	h = hash_bytes(s);
	slot = map_find(&rec->strings, h, s, 1);
	if (slot == NULL) {
		rec->failed = 1;
		return 0;
	}
	if (!slot->used) {
		slot->key = strdup(s);
		if (slot->key == NULL) {
			rec->failed = 1;
			return 0;
		}
		slot->used = 1;
		slot->hash = h;
		slot->id = rec->nstrings++;
		rec->strings.count++;
		ms_buf_put_varint(&rec->strings_out, slot->id);
		ms_buf_put_string(&rec->strings_out, s);
		rec->strings_new++;
	}
	return (uint64_t)slot->id + 1;
}

static uint32_t frame_id(ms_recorder *rec, const ms_frame *f)
{
	uint64_t h = hash_pointer(f);
	struct slot *slot = map_find(&rec->frames, h, f, 0);
	uint64_t fn, file, module;

	if (slot == NULL) {
		rec->failed = 1;
		return 0;
	}
	if (slot->used)
		return slot->id;
	fn = string_id(rec, f->function);
	file = string_id(rec, f->file);
	module = string_id(rec, f->module);
	slot->used = 1;
	slot->hash = h;
	slot->key = f;
	slot->id = rec->nframes++;
	rec->frames.count++;
	ms_buf_put_varint(&rec->frames_out, slot->id);
	ms_buf_put_varint(&rec->frames_out, f->address);
	ms_buf_put_varint(&rec->frames_out, fn);
	ms_buf_put_varint(&rec->frames_out, file);
	ms_buf_put_varint(&rec->frames_out, f->line > 0 ? (uint64_t)f->line : 0);
	ms_buf_put_varint(&rec->frames_out, module);
	ms_buf_put_varint(&rec->frames_out, f->offset);
	ms_buf_put_varint(&rec->frames_out, f->allocator ? 1 : 0);
	rec->frames_new++;
	return slot->id;
}

/* The recording's id of the image's stack of call site c, queued if new,
 * or again (same id) when its frames changed since: symbols come after a
 * stack is first seen (memscope/symbols.h), and a frames array, once made,
 * never changes, so a new array is what tells. */
static uint32_t stack_id(ms_recorder *rec, const ms_callsite *c)
{
	uint32_t sid = c->site.stack, id, top = 0;

	if (sid >= rec->nstack_ids) {
		uint32_t *more = ms_grow(rec->stack_ids, &rec->nstack_ids, (size_t)sid + 1,
					 sizeof(*more), 1024);

		if (more == NULL) {
			rec->failed = 1;
			return 0;
		}
		rec->stack_ids = more;
	}
	if (rec->stack_ids[sid] != 0) {
		id = rec->stack_ids[sid] - 1;
		if (rec->written[id] == c->frames)
			return id;
	} else {
		if (rec->nstacks == rec->cwritten) {
			const void **more = ms_grow(rec->written, &rec->cwritten, rec->nstacks + 1,
						    sizeof(*more), 1024);

			if (more == NULL) {
				rec->failed = 1;
				return 0;
			}
			rec->written = more;
		}
		id = rec->nstacks++;
		rec->stack_ids[sid] = id + 1;
	}
	rec->written[id] = c->frames;
	for (uint32_t i = 0; i < c->depth; i++)
		frame_id(rec, c->frames[i]);
	ms_buf_put_varint(&rec->stacks_out, id);
	ms_buf_put_varint(&rec->stacks_out, c->depth);
	for (uint32_t i = 0; i < c->depth; i++) {
		ms_buf_put_varint(&rec->stacks_out, frame_id(rec, c->frames[i]));
		if (c->frames[i] == c->top)
			top = i + 1;
	}
	ms_buf_put_varint(&rec->stacks_out, top);
	rec->stacks_new++;
	return id;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Payloads smaller than this are stored as they are: zstd would not pay. */
#define COMPRESS_FROM 256

/* zstd's level for a chunk. Dictionaries are written once and read
 * whole: worth squeezing. Frames come ten times a second. */
static int level_of(int type)
{
	return type == MS_REC_FRAME ? 6 : type == MS_REC_STRINGS || type == MS_REC_FRAMES ||
						  type == MS_REC_STACKS ? 19 : 3;
}

/* One chunk, written with one write: header, checksum, payload (zstd
 * compressed when that makes it smaller). note: for frames and events,
 * what the index says of the chunk; NULL for others. */
static int write_chunk_noted(ms_recorder *rec, int type, const struct ms_buf *payload,
			     const struct ms_buf *note, int compress)
{
	struct ms_buf out = { 0 };
	unsigned char head[8] = { (unsigned char)type, MS_REC_RAW, 0, 0 };
	const unsigned char *data = payload != NULL ? payload->data : NULL;
	uint32_t len = (uint32_t)(payload != NULL ? payload->len : 0), crc;
	void *packed = NULL;
	int err;

	if (payload != NULL && (payload->failed || payload->len > MS_REC_MAX_CHUNK))
		return -ENOMEM;
	if (compress && len >= COMPRESS_FROM) {
		size_t bound = ZSTD_compressBound(len), n;

		packed = malloc(bound);
		if (packed != NULL) {
			n = rec->zstd != NULL ?
				    ZSTD_compressCCtx(rec->zstd, packed, bound, data, len, level_of(type)) :
				    ZSTD_compress(packed, bound, data, len, level_of(type));
			if (!ZSTD_isError(n) && n < len) {
				head[1] = MS_REC_ZSTD;
				data = packed;
				len = (uint32_t)n;
			}
		}
	}
	memcpy(head + 4, &len, 4);
	crc = ms_crc32c(0, head, sizeof(head));
	if (len > 0)
		crc = ms_crc32c(crc, data, len);
	ms_buf_put_bytes(&out, head, sizeof(head));
	ms_buf_put_bytes(&out, &crc, 4);
	if (len > 0)
		ms_buf_put_bytes(&out, data, len);
	err = out.failed ? -ENOMEM : write_all(rec->fd, out.data, out.len);
	if (err == 0 && note != NULL) {
		ms_buf_put_varint(&rec->index, (uint64_t)type);
		ms_buf_put_varint(&rec->index, rec->offset - rec->indexed_at);
		ms_buf_put_varint(&rec->index, len);
		ms_buf_put_bytes(&rec->index, note->data, note->len);
		rec->indexed_at = rec->offset;
		rec->nindex++;
	}
	if (err == 0)
		rec->offset += out.len;
	ms_buf_free(&out);
	free(packed);
	return err;
}

static int write_chunk(ms_recorder *rec, int type, const struct ms_buf *payload)
{
	return write_chunk_noted(rec, type, payload, NULL, 1);
}

int ms_recorder_create(const char *path, ms_recorder **out)
{
	ms_recorder *rec = calloc(1, sizeof(*rec));
	unsigned char header[MS_REC_HEADER];
	uint32_t version = MS_REC_VERSION, flags = 0;
	int err;

	*out = NULL;
	if (rec == NULL)
		return -ENOMEM;
	rec->zstd = ZSTD_createCCtx();
	rec->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (rec->fd < 0) {
		err = -errno;
		ZSTD_freeCCtx(rec->zstd);
		free(rec);
		return err;
	}
	memcpy(header, MS_REC_MAGIC, 8);
	memcpy(header + 8, &version, 4);
	memcpy(header + 12, &flags, 4);
	err = write_all(rec->fd, header, sizeof(header));
	if (err != 0) {
		close(rec->fd);
		ZSTD_freeCCtx(rec->zstd);
		free(rec);
		return err;
	}
	rec->offset = rec->indexed_at = MS_REC_HEADER;
	*out = rec;
	return 0;
}

static int start_session(ms_recorder *rec, const ms_snapshot *s)
{
	struct session_id *more = realloc(rec->session_ids, (rec->nsession_ids + 1) * sizeof(*more));
	struct ms_buf b = { 0 };
	int err;

	if (more == NULL)
		return -ENOMEM;
	rec->session_ids = more;

	ms_buf_put_varint(&b, (uint64_t)s->pid);
	ms_buf_put_varint(&b, s->generation);
	ms_buf_put_varint(&b, s->start_real_ns);
	ms_buf_put_string(&b, s->command);
	ms_buf_put_varint(&b, s->python_pymalloc ? MS_REC_SESSION_PYMALLOC : 0);
	err = write_chunk(rec, MS_REC_SESSION, &b);
	ms_buf_free(&b);
	if (err != 0)
		return err;
	rec->pid = s->pid;
	rec->generation = s->generation;
	rec->in_session = 1;
	rec->sessions++;
	rec->session_ids[rec->nsession_ids++] = (struct session_id){ s->pid, s->generation };
	/* A new image: its stack ids are new, its frames another symbolizer's
	 * (whose memory may reuse the old one's addresses), and the next
	 * frame is a key. */
	map_free(&rec->frames, 0);
	free(rec->stack_ids);
	rec->stack_ids = NULL;
	rec->nstack_ids = 0;
	rec->since_key = MS_REC_KEY_EVERY;
	return 0;
}

/* A view as the file holds it: state, CPU in thousandths of a percent,
 * allocations and frees per second. */
static void encode_view(const ms_thread_view *v, uint64_t out[4])
{
	static const ms_thread_view unknown = { .state = '-' };

	if (v == NULL)
		v = &unknown;
	out[0] = (unsigned char)v->state;
	out[1] = v->cpu_percent > 0 ? (uint64_t)(v->cpu_percent * 1000 + 0.5) : 0;
	out[2] = v->allocs_per_s > 0 ? (uint64_t)(v->allocs_per_s + 0.5) : 0;
	out[3] = v->frees_per_s > 0 ? (uint64_t)(v->frees_per_s + 0.5) : 0;
}

static int thread_changed(const struct thread_mark *m, const ms_thread_info *b,
			  const uint64_t view[4])
{
	const ms_thread_info *a = &m->info;

	return memcmp(m->view, view, sizeof(m->view)) != 0 || a->tid != b->tid || a->exited != b->exited || a->allocs != b->allocs ||
	       a->frees != b->frees || a->alloc_bytes != b->alloc_bytes ||
	       a->free_bytes != b->free_bytes || a->live_bytes != b->live_bytes ||
	       a->live_allocs != b->live_allocs || strcmp(a->name, b->name) != 0;
}

static void put_thread(ms_recorder *rec, struct ms_buf *b, size_t index, const ms_thread_info *t,
		       const uint64_t view[4])
{
	ms_buf_put_varint(b, index);
	ms_buf_put_varint(b, (uint64_t)t->tid);
	ms_buf_put_varint(b, string_id(rec, t->name));
	ms_buf_put_varint(b, t->exited ? 1 : 0);
	ms_buf_put_varint(b, t->allocs);
	ms_buf_put_varint(b, t->frees);
	ms_buf_put_varint(b, t->alloc_bytes);
	ms_buf_put_varint(b, t->free_bytes);
	ms_buf_put_varint(b, t->live_bytes);
	ms_buf_put_varint(b, t->live_allocs);
	for (int k = 0; k < 4; k++)
		ms_buf_put_varint(b, view[k]);
}

/* The site's mark, grown to hold id. */
static struct site_mark *mark_of(ms_recorder *rec, uint32_t id)
{
	if (id >= rec->nmarks) {
		struct site_mark *more = ms_grow(rec->marks, &rec->nmarks, (size_t)id + 1,
						 sizeof(*more), 1024);

		if (more == NULL)
			return NULL;
		rec->marks = more;
	}
	return &rec->marks[id];
}

static int site_changed(const struct site_mark *m, const ms_site_info *s)
{
	if (!m->present || m->allocs != s->allocs || m->frees != s->frees ||
	    m->alloc_bytes != s->alloc_bytes || m->free_bytes != s->free_bytes ||
	    m->peak != s->peak_bytes)
		return 1;
	for (unsigned a = 0; a < MS_STORE_AGES; a++)
		if (m->old_bytes[a] != s->old_bytes[a] || m->old_allocs[a] != s->old_allocs[a])
			return 1;
	return m->life[0] != life_ns(s->life_min_s) || m->life[1] != life_ns(s->life_median_s) ||
	       m->life[2] != life_ns(s->life_max_s);
}

int ms_recorder_frame(ms_recorder *rec, const ms_snapshot *s, const ms_thread_view *views,
		      const ms_callsite *sites, size_t nsites, int exit_status)
{
	struct ms_buf b = { 0 };
	uint64_t head[MS_REC_HEAD_FIELDS];
	uint64_t(*coded)[4] = NULL;
	uint32_t *ids = NULL;
	size_t nchanged = 0;
	int key, err = 0;

	if (rec->failed)
		return -ENOMEM;
	if (!rec->in_session || s->pid != rec->pid || s->generation != rec->generation) {
		err = start_session(rec, s);
		if (err != 0)
			return err;
	}
	/* Dictionaries first: every stack (and so frame and string) this frame
	 * refers to, and the thread names. */
	ids = malloc((nsites ? nsites : 1) * sizeof(*ids));
	if (ids == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nsites; i++)
		ids[i] = stack_id(rec, &sites[i]);
	for (size_t i = 0; i < s->nthreads; i++)
		string_id(rec, s->threads[i].name);
	for (size_t i = 0; i < s->nnotes; i++) {
		string_id(rec, s->notes[i].var);
		string_id(rec, s->notes[i].type);
		string_id(rec, s->notes[i].scope);
	}
	if (rec->failed) {
		free(ids);
		return -ENOMEM;
	}
	struct {
		int type;
		struct ms_buf *buf;
		uint32_t *count;
	} dicts[] = {
		{ MS_REC_STRINGS, &rec->strings_out, &rec->strings_new },
		{ MS_REC_FRAMES, &rec->frames_out, &rec->frames_new },
		{ MS_REC_STACKS, &rec->stacks_out, &rec->stacks_new },
	};
	for (size_t d = 0; d < sizeof(dicts) / sizeof(dicts[0]) && err == 0; d++) {
		struct ms_buf chunk = { 0 };

		if (*dicts[d].count == 0)
			continue;
		ms_buf_put_varint(&chunk, *dicts[d].count);
		ms_buf_put_bytes(&chunk, dicts[d].buf->data, dicts[d].buf->len);
		err = write_chunk(rec, dicts[d].type, &chunk);
		ms_buf_free(&chunk);
		ms_buf_free(dicts[d].buf);
		*dicts[d].count = 0;
	}
	if (err != 0) {
		free(ids);
		return err;
	}

	/* A key frame now and then, and whenever the thread list changed in a
	 * way a delta cannot say (it only grows or changes in place). */
	key = rec->since_key >= MS_REC_KEY_EVERY || s->nthreads < rec->nthreads;
	for (size_t i = 0; !key && i < rec->nthreads; i++)
		key = rec->threads[i].info.tid != s->threads[i].tid;
	ms_rec_head_put(head, s, exit_status);
	head[MS_REC_HEAD_KEY] = (uint64_t)key;
	head[MS_REC_HEAD_SESSION] = rec->sessions - 1;
	for (int i = 0; i < MS_REC_HEAD_FIELDS; i++)
		ms_buf_put_varint(&b, head[i]);

	/* Threads. */
	coded = malloc((s->nthreads ? s->nthreads : 1) * sizeof(*coded));
	if (coded == NULL) {
		free(ids);
		ms_buf_free(&b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->nthreads; i++) {
		encode_view(views != NULL ? &views[i] : NULL, coded[i]);
		nchanged += key || i >= rec->nthreads ||
			    thread_changed(&rec->threads[i], &s->threads[i], coded[i]);
	}
	ms_buf_put_varint(&b, nchanged);
	for (size_t i = 0; i < s->nthreads; i++)
		if (key || i >= rec->nthreads ||
		    thread_changed(&rec->threads[i], &s->threads[i], coded[i]))
			put_thread(rec, &b, i, &s->threads[i], coded[i]);

	/* Call sites. */
	nchanged = 0;
	for (size_t i = 0; i < nsites; i++) {
		struct site_mark *m = mark_of(rec, ids[i]);

		if (m == NULL) {
			b.failed = 1;
			break;
		}
		nchanged += key || site_changed(m, &sites[i].site);
	}
	ms_buf_put_varint(&b, nchanged);
	for (size_t i = 0; i < nsites && !b.failed; i++) {
		struct site_mark *m = &rec->marks[ids[i]];
		const ms_site_info *si = &sites[i].site;

		if (!key && !site_changed(m, si))
			continue;
		/* Each figure as a change from what the reader has: the site as
		 * written since the last key frame, or nothing. */
		int known = !key && m->present && m->key == rec->keys;

		ms_buf_put_varint(&b, ids[i]);
		ms_buf_put_varint(&b, zigzag(known ? m->allocs : 0, si->allocs));
		ms_buf_put_varint(&b, zigzag(known ? m->frees : 0, si->frees));
		ms_buf_put_varint(&b, zigzag(known ? m->alloc_bytes : 0, si->alloc_bytes));
		ms_buf_put_varint(&b, zigzag(known ? m->free_bytes : 0, si->free_bytes));
		ms_buf_put_varint(&b, zigzag(known ? m->peak : 0, si->peak_bytes));
		for (unsigned a = 0; a < MS_STORE_AGES; a++) {
			ms_buf_put_varint(&b, zigzag(known ? m->old_bytes[a] : 0, si->old_bytes[a]));
			ms_buf_put_varint(&b, zigzag(known ? m->old_allocs[a] : 0, si->old_allocs[a]));
		}
		{
			const uint64_t life[3] = { life_ns(si->life_min_s), life_ns(si->life_median_s),
						   life_ns(si->life_max_s) };

			for (int k = 0; k < 3; k++) {
				ms_buf_put_varint(&b, zigzag(known ? m->life[k] : 0, life[k]));
				m->life[k] = life[k];
			}
		}
		m->present = 1;
		m->key = rec->keys + (uint64_t)key;
		m->allocs = si->allocs;
		m->frees = si->frees;
		m->alloc_bytes = si->alloc_bytes;
		m->free_bytes = si->free_bytes;
		m->peak = si->peak_bytes;
		memcpy(m->old_bytes, si->old_bytes, sizeof(m->old_bytes));
		memcpy(m->old_allocs, si->old_allocs, sizeof(m->old_allocs));
	}
	free(ids);
	/* Annotated blocks: all of them, every frame (they are few). */
	ms_buf_put_varint(&b, s->nnotes);
	for (size_t i = 0; i < s->nnotes; i++) {
		const ms_note_info *n = &s->notes[i];

		ms_buf_put_varint(&b, string_id(rec, n->var));
		ms_buf_put_varint(&b, string_id(rec, n->type));
		ms_buf_put_varint(&b, string_id(rec, n->scope));
		ms_buf_put_varint(&b, n->ptr);
		ms_buf_put_varint(&b, n->size);
		ms_buf_put_varint(&b, n->live ? 1 : 0);
		ms_buf_put_varint(&b, n->borrows);
		ms_buf_put_varint(&b, n->lent);
		ms_buf_put_varint(&b, ms_rec_us(n->tracked_s));
		ms_buf_put_varint(&b, life_ns(n->lifetime_s));
	}
	{
		/* What the index keeps of a frame: what seeking and the graph
		 * need without reading it. */
		struct ms_buf note = { 0 };
		const uint64_t v[] = {
			head[MS_REC_HEAD_KEY],
			head[MS_REC_HEAD_SESSION],
			head[MS_REC_HEAD_TIME],
			head[MS_REC_HEAD_LIVE_BYTES],
			head[MS_REC_HEAD_LIVE_ALLOCS],
			head[MS_REC_HEAD_ALLOCS],
			head[MS_REC_HEAD_FREES],
			head[MS_REC_HEAD_BYTES],
			head[MS_REC_HEAD_RSS],
		};

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
			ms_buf_put_varint(&note, v[i]);
		err = write_chunk_noted(rec, MS_REC_FRAME, &b, &note, 1);
		ms_buf_free(&note);
	}
	ms_buf_free(&b);
	if (err != 0) {
		free(coded);
		return err;
	}

	/* This frame is the next one's reference. */
	if (s->nthreads > rec->nthreads) {
		struct thread_mark *more = realloc(rec->threads, s->nthreads * sizeof(*more));

		if (more == NULL) {
			free(coded);
			rec->failed = 1;
			return -ENOMEM;
		}
		rec->threads = more;
	}
	for (size_t i = 0; i < s->nthreads; i++) {
		rec->threads[i].info = s->threads[i];
		memcpy(rec->threads[i].view, coded[i], sizeof(coded[i]));
	}
	free(coded);
	rec->nthreads = s->nthreads;
	rec->since_key = key ? 1 : rec->since_key + 1;
	rec->keys += (uint64_t)key;
	return 0;
}

static int by_thread(const void *a, const void *b)
{
	const struct ms_stream_event *x = a, *y = b;

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A column of an events chunk: its length, then the bytes its zstd stream
 * gave for it (flushed: everything so far decodes). Columns apart compress
 * far better than the chunk as a whole: zstd's statistics fit one kind of
 * value. */
static void put_column(ms_recorder *rec, int k, struct ms_buf *b, const struct ms_buf *col)
{
	ZSTD_inBuffer in = { col->data, col->len, 0 };
	size_t bound = ZSTD_compressBound(col->len) + 64, left;
	unsigned char *packed;
	ZSTD_outBuffer out;

	if (rec->columns[k] == NULL) {
		rec->columns[k] = ZSTD_createCCtx();
		if (rec->columns[k] != NULL)
			ZSTD_CCtx_setParameter(rec->columns[k], ZSTD_c_compressionLevel, 6);
	}
	packed = malloc(bound);
	if (col->failed || rec->columns[k] == NULL || packed == NULL) {
		free(packed);
		b->failed = 1;
		return;
	}
	out = (ZSTD_outBuffer){ packed, bound, 0 };
	do {
		left = ZSTD_compressStream2(rec->columns[k], &out, &in, ZSTD_e_flush);
	} while (!ZSTD_isError(left) && left > 0 && out.pos < out.size);
	if (ZSTD_isError(left) || left > 0) {
		/* The stream is broken for good: the recording cannot go on. */
		b->failed = 1;
	} else {
		ms_buf_put_varint(b, col->len);
		ms_buf_put_varint(b, out.pos);
		ms_buf_put_bytes(b, packed, out.pos);
	}
	free(packed);
}

/* Threads a counting sort handles; slots beyond (there are none in a
 * store, MS_STORE_THREADS) take the comparison sort. */
#define SORT_THREADS 4096u

/* Thread by thread, each in its own order: a thread's frees then mostly
 * refer to its own recent allocations, a few numbers back, and its
 * allocations to its own recent frees (allocators keep per-thread caches).
 * The reader puts the program's order back by seq. Each thread's events
 * arrive in its order already, so a stable counting sort by thread does. */
static int sort_by_thread(struct ms_stream_event *ev, size_t n)
{
	size_t *start = calloc(SORT_THREADS + 1, sizeof(*start));
	struct ms_stream_event *out;

	for (size_t i = 0; i < n; i++)
		if (ev[i].thread >= SORT_THREADS || (i > 0 && ev[i].thread == ev[i - 1].thread &&
							ev[i].seq < ev[i - 1].seq)) {
			free(start);
			qsort(ev, n, sizeof(*ev), by_thread);
			return 0;
		}
	out = malloc(n * sizeof(*out));
	if (start == NULL || out == NULL) {
		free(start);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		start[ev[i].thread + 1]++;
	for (size_t t = 1; t <= SORT_THREADS; t++)
		start[t] += start[t - 1];
	for (size_t i = 0; i < n; i++)
		out[start[ev[i].thread]++] = ev[i];
	memcpy(ev, out, n * sizeof(*ev));
	free(out);
	free(start);
	return 0;
}

/* What an events chunk's addresses are told by: the blocks made in the
 * chunk and not yet freed (address -> allocation number), and the last
 * addresses freed. A freed address is mostly one made shortly before, and
 * a new block mostly sits where one was freed shortly before (allocators
 * reuse what was freed last): small numbers instead of addresses. */
struct address_coder {
	struct live_slot {
		uint64_t ptr;
		uint32_t ordinal; /* + 1; 0: empty */
	} *live;
	size_t cap;
	uint32_t allocs;
	uint64_t freed[MS_REC_FREED_RING];
	uint32_t nfreed;
};

static size_t slot_of(const struct address_coder *a, uint64_t ptr)
{
	size_t i = (size_t)(hash_pointer((const void *)(uintptr_t)ptr) & (a->cap - 1));

	while (a->live[i].ordinal != 0 && a->live[i].ptr != ptr)
		i = (i + 1) & (a->cap - 1);
	return i;
}

/* Removes slot i, keeping probe chains whole (backward shift). */
static void unslot(struct address_coder *a, size_t i)
{
	size_t j = i;

	a->live[i].ordinal = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & (a->cap - 1);
		if (a->live[j].ordinal == 0)
			return;
		home = (size_t)(hash_pointer((const void *)(uintptr_t)a->live[j].ptr) & (a->cap - 1));
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			a->live[i] = a->live[j];
			a->live[j].ordinal = 0;
			i = j;
		}
	}
}

static void code_address(struct address_coder *a, const struct ms_stream_event *e,
			 struct ms_buf *col, uint64_t *last)
{
	uint64_t ref = 0;
	size_t i = slot_of(a, e->ptr);

	if (e->op == MS_STREAM_FREE) {
		if (a->live[i].ordinal != 0) {
			ref = a->allocs - (a->live[i].ordinal - 1);
			unslot(a, i);
		}
		ms_buf_put_varint(&col[MS_REC_COL_FREE_REF], ref);
		a->freed[a->nfreed++ % MS_REC_FREED_RING] = e->ptr;
	} else {
		for (uint32_t k = 1; k <= MS_REC_FREED_RING && k <= a->nfreed && ref == 0; k++)
			if (a->freed[(a->nfreed - k) % MS_REC_FREED_RING] == e->ptr)
				ref = k;
		ms_buf_put_varint(&col[MS_REC_COL_ALLOC_REF], ref);
		a->live[i] = (struct live_slot){ e->ptr, ++a->allocs };
	}
	if (ref == 0) {
		ms_buf_put_varint(&col[MS_REC_COL_ADDRESS], zigzag(*last, e->ptr));
		*last = e->ptr;
	}
}

int ms_recorder_events(ms_recorder *rec, uint32_t pid, uint32_t generation,
		       struct ms_stream_event *ev, size_t n)
{
	uint64_t session = 0;
	int current;

	if (rec->failed)
		return -ENOMEM;
	if (n == 0)
		return 0;
	/* The image's session chunk is written with its first frame. */
	for (session = 0; session < rec->nsession_ids; session++)
		if ((uint32_t)rec->session_ids[session].pid == pid &&
		    rec->session_ids[session].generation == generation)
			break;
	if (session == rec->nsession_ids)
		return -ESRCH;
	/* The stack ids are known for the current image only. */
	current = session + 1 == rec->sessions;
	if (sort_by_thread(ev, n) != 0)
		return -ENOMEM;
	for (size_t from = 0; from < n; from += MS_REC_CHUNK_EVENTS) {
		size_t count = n - from < MS_REC_CHUNK_EVENTS ? n - from : MS_REC_CHUNK_EVENTS;
		uint64_t seq = 0, time = 0, ptr = 0;
		/* Column by column (RECORDING.md): like values side by side
		 * compress far better than events one after another. */
		struct ms_buf col[MS_REC_EVENT_COLUMNS] = { { 0 } };
		struct address_coder addresses = { .cap = 2 * MS_REC_CHUNK_EVENTS };
		struct ms_buf b = { 0 };
		int err;

		addresses.live = calloc(addresses.cap, sizeof(*addresses.live));
		if (addresses.live == NULL)
			return -ENOMEM;
		for (size_t i = from; i < from + count; i++) {
			const struct ms_stream_event *e = &ev[i];
			uint64_t ms = e->time_ns / 1000000;

			ms_buf_put_varint(&col[MS_REC_COL_TAG],
					  (uint64_t)e->op | (uint64_t)e->flags << 2);
			ms_buf_put_varint(&col[MS_REC_COL_SEQ], zigzag(seq, e->seq));
			ms_buf_put_varint(&col[MS_REC_COL_TIME], zigzag(time, ms));
			ms_buf_put_varint(&col[MS_REC_COL_THREAD], e->thread);
			code_address(&addresses, e, col, &ptr);
			seq = e->seq;
			time = ms;
			if (e->op == MS_STREAM_ALLOC) {
				uint32_t id = current && e->stack < rec->nstack_ids ?
						      rec->stack_ids[e->stack] : 0;

				ms_buf_put_varint(&col[MS_REC_COL_SIZE], e->size);
				ms_buf_put_varint(&col[MS_REC_COL_STACK], id);
			}
		}
		free(addresses.live);
		ms_buf_put_varint(&b, session);
		ms_buf_put_varint(&b, count);
		for (int k = 0; k < MS_REC_EVENT_COLUMNS; k++) {
			put_column(rec, k, &b, &col[k]);
			ms_buf_free(&col[k]);
		}
		{
			struct ms_buf note = { 0 };

			ms_buf_put_varint(&note, session);
			ms_buf_put_varint(&note, count);
			err = write_chunk_noted(rec, MS_REC_EVENTS, &b, &note, 0);
			ms_buf_free(&note);
		}
		ms_buf_free(&b);
		if (err != 0)
			return err;
	}
	return 0;
}

/* The index, then the end chunk, whose payload is the index's offset. */
static int write_index(ms_recorder *rec)
{
	struct ms_buf b = { 0 }, end = { 0 };
	uint64_t at = rec->offset;
	int err;

	ms_buf_put_varint(&b, rec->nindex);
	ms_buf_put_bytes(&b, rec->index.data, rec->index.len);
	err = write_chunk(rec, MS_REC_INDEX, &b);
	ms_buf_free(&b);
	if (err != 0)
		return err;
	ms_buf_put_bytes(&end, &at, sizeof(at));
	err = write_chunk(rec, MS_REC_END, &end);
	ms_buf_free(&end);
	return err;
}

int ms_recorder_close(ms_recorder *rec)
{
	int err;

	if (rec == NULL)
		return 0;
	err = write_index(rec);
	if (close(rec->fd) != 0 && err == 0)
		err = -errno;
	ZSTD_freeCCtx(rec->zstd);
	for (int k = 0; k < MS_REC_EVENT_COLUMNS; k++)
		ZSTD_freeCCtx(rec->columns[k]);
	map_free(&rec->strings, 1);
	map_free(&rec->frames, 0);
	ms_buf_free(&rec->strings_out);
	ms_buf_free(&rec->frames_out);
	ms_buf_free(&rec->stacks_out);
	ms_buf_free(&rec->index);
	free(rec->stack_ids);
	free(rec->written);
	free(rec->session_ids);
	free(rec->threads);
	free(rec->marks);
	free(rec);
	return err;
}
