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

#include "record_write.h"

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
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

uint64_t rec_string_id(ms_recorder *rec, const char *s)
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
	fn = rec_string_id(rec, f->function);
	file = rec_string_id(rec, f->file);
	module = rec_string_id(rec, f->module);
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
	ms_buf_put_varint(&rec->frames_out, f->inlined ? 1 : 0);
	rec->frames_new++;
	return slot->id;
}

uint32_t rec_stack_id(ms_recorder *rec, const ms_callsite *c)
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

int rec_write_chunk_noted(ms_recorder *rec, int type, const struct ms_buf *payload,
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

int rec_write_chunk(ms_recorder *rec, int type, const struct ms_buf *payload)
{
	return rec_write_chunk_noted(rec, type, payload, NULL, 1);
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

int rec_start_session(ms_recorder *rec, const ms_snapshot *s)
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
	err = rec_write_chunk(rec, MS_REC_SESSION, &b);
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

/* The index, then the end chunk, whose payload is the index's offset. */
static int write_index(ms_recorder *rec)
{
	struct ms_buf b = { 0 }, end = { 0 };
	uint64_t at = rec->offset;
	int err;

	ms_buf_put_varint(&b, rec->nindex);
	ms_buf_put_bytes(&b, rec->index.data, rec->index.len);
	err = rec_write_chunk(rec, MS_REC_INDEX, &b);
	ms_buf_free(&b);
	if (err != 0)
		return err;
	ms_buf_put_bytes(&end, &at, sizeof(at));
	err = rec_write_chunk(rec, MS_REC_END, &end);
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
