/*
 * Reading recordings (RECORDING.md). The file is untrusted: every length,
 * count, id and reference is checked before use, every chunk's checksum
 * before its payload is decoded; the readable part ends at the first chunk
 * that fails any of that, and ms_recording_problem says so.
 */
#define _GNU_SOURCE
#include <memscope/recording.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <memscope/grow.h>

#include "record_read.h"

const char *ms_recording_strerror(int err)
{
	switch (err) {
	case MS_REC_ERR_NOT_RECORDING:
		return "not a memscope recording";
	case MS_REC_ERR_VERSION:
		return "a recording of another format version: use the memscope that made it";
	case MS_REC_ERR_EMPTY:
		return "the recording holds no frame (cut short before its first one?)";
	case MS_REC_ERR_DAMAGED:
		return "the recording is damaged";
	}
	return err < 0 ? strerror(-err) : "unknown error";
}

int rec_grow(void **array, size_t *cap, size_t need, size_t elem)
{
	void *more = ms_grow(*array, cap, need, elem, 64);

	if (more == NULL)
		return -ENOMEM;
	*array = more;
	return 0;
}

const char *rec_string_ref(ms_recording *r, struct ms_cursor *c)
{
	uint64_t id = ms_cur_varint(c);

	if (id == 0 || c->bad)
		return NULL;
	if (id > r->nstrings) {
		c->bad = 1;
		return NULL;
	}
	return r->strings[id - 1];
}

static int read_strings(ms_recording *r, struct caps *cap, struct ms_cursor *c)
{
	uint64_t n = ms_cur_count(c, 2);
	char text[MS_REC_MAX_STRING + 1];

	for (uint64_t i = 0; i < n && !c->bad; i++) {
		if (ms_cur_varint(c) != r->nstrings) /* ids are dense and in order */
			return -1;
		ms_cur_string(c, text, sizeof(text));
		if (c->bad || rec_grow((void **)&r->strings, &cap->strings, r->nstrings + 1,
		    sizeof(*r->strings)) != 0)
			return -1;
		r->strings[r->nstrings] = strdup(text);
		if (r->strings[r->nstrings] == NULL)
			return -1;
		r->nstrings++;
	}
	return c->bad ? -1 : 0;
}

/* Frames are arrays re-allocated as they grow; stacks hold indexes until
 * the whole file is read (see fix_stacks). */
static int read_frames(ms_recording *r, struct caps *cap, struct ms_cursor *c)
{
	int inlined = r->version >= MS_REC_SINCE_INLINED;
	uint64_t n = ms_cur_count(c, inlined ? 9 : 8);

	for (uint64_t i = 0; i < n && !c->bad; i++) {
		ms_frame f = { 0 };
		uint64_t line, id = ms_cur_varint(c);

		/* A new frame, or one known better now (RECORDING.md). */
		if (id > r->nframes)
			return -1;
		f.address = ms_cur_varint(c);
		f.function = rec_string_ref(r, c);
		f.file = rec_string_ref(r, c);
		line = ms_cur_varint(c);
		f.line = line < 0x7fffffff ? (int)line : 0;
		f.module = rec_string_ref(r, c);
		f.offset = ms_cur_varint(c);
		f.allocator = ms_cur_varint(c) != 0;
		f.inlined = inlined && ms_cur_varint(c) != 0;
		if (c->bad)
			return -1;
		if (id < r->nframes) {
			r->frames[id] = f;
			continue;
		}
		if (rec_grow((void **)&r->frames, &cap->frames, r->nframes + 1,
			     sizeof(*r->frames)) != 0)
			return -1;
		r->frames[r->nframes++] = f;
	}
	return c->bad ? -1 : 0;
}

static int read_stacks(ms_recording *r, struct caps *cap, struct ms_cursor *c)
{
	uint64_t n = ms_cur_count(c, 3);

	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct stack st = { 0 };
		uint64_t depth, top, id = ms_cur_varint(c);

		/* A new stack, or one whose frames are known better now. */
		if (id > r->nstacks)
			return -1;
		depth = ms_cur_count(c, 1);
		if (c->bad || depth > 4096)
			return -1;
		st.depth = (uint32_t)depth;
		st.frames = calloc(depth ? depth : 1, sizeof(*st.frames));
		if (st.frames == NULL)
			return -1;
		for (uint64_t k = 0; k < depth; k++) {
			uint64_t id = ms_cur_varint(c);

			if (c->bad || id >= r->nframes) {
				free(st.frames);
				return -1;
			}
			/* An index for now: frames may still move (fix_stacks). */
			st.frames[k] = (const ms_frame *)(uintptr_t)(id + 1);
		}
		top = ms_cur_varint(c);
		if (c->bad || top > depth) {
			free(st.frames);
			return -1;
		}
		st.top = (const ms_frame *)(uintptr_t)top; /* index+1 for now */
		if (id < r->nstacks) {
			free(r->stacks[id].frames);
			r->stacks[id] = st;
			continue;
		}
		if (rec_grow((void **)&r->stacks, &cap->stacks, r->nstacks + 1,
			     sizeof(*r->stacks)) != 0) {
			free(st.frames);
			return -1;
		}
		r->stacks[r->nstacks++] = st;
	}
	return c->bad ? -1 : 0;
}

/* Once every frame is read, stacks point at them. */
static void fix_stacks(ms_recording *r)
{
	for (size_t i = 0; i < r->nstacks; i++) {
		struct stack *st = &r->stacks[i];
		uintptr_t top = (uintptr_t)st->top;

		for (uint32_t k = 0; k < st->depth; k++)
			st->frames[k] = &r->frames[(uintptr_t)st->frames[k] - 1];
		st->top = top ? st->frames[top - 1] : NULL;
	}
}

static int read_session(ms_recording *r, struct caps *cap, struct ms_cursor *c)
{
	struct session s = { 0 };
	uint64_t pid = ms_cur_varint(c), gen = ms_cur_varint(c);

	s.start_real_ns = ms_cur_varint(c);
	ms_cur_string(c, s.command, sizeof(s.command));
	if (c->p < c->end) /* not in files written before the flags were */
		s.flags = ms_cur_varint(c);
	if (c->bad || pid > 0x7fffffff || gen > 0xffffffffu)
		return -1;
	s.pid = (pid_t)pid;
	s.generation = (unsigned)gen;
	if (rec_grow((void **)&r->sessions, &cap->sessions, r->nsessions + 1,
		     sizeof(*r->sessions)) != 0)
		return -1;
	r->sessions[r->nsessions++] = s;
	return 0;
}

/* What the index says of a frame (in this order), or what is read from
 * the frame itself. */
enum { NOTE_KEY, NOTE_SESSION, NOTE_TIME, NOTE_LIVE_BYTES, NOTE_LIVE_ALLOCS, NOTE_ALLOCS,
       NOTE_FREES, NOTE_BYTES, NOTE_RSS, NOTE_MMAP, FRAME_NOTES };

/* Notes a frame: its place, kind and the figures the graph needs. */
static int note_frame(ms_recording *r, struct caps *cap, const uint64_t v[FRAME_NOTES],
		      uint64_t offset, uint32_t length, int packed)
{
	struct frame_ref f = { .offset = offset, .length = length, .packed = packed };

	if (v[NOTE_SESSION] >= r->nsessions)
		return -1;
	f.key = v[NOTE_KEY] != 0;
	f.session = v[NOTE_SESSION];
	f.time_us = v[NOTE_TIME];
	f.live_bytes = v[NOTE_LIVE_BYTES];
	f.live_allocs = v[NOTE_LIVE_ALLOCS];
	f.total_allocs = v[NOTE_ALLOCS];
	f.total_frees = v[NOTE_FREES];
	f.total_bytes = v[NOTE_BYTES];
	f.rss_bytes = v[NOTE_RSS];
	f.mmap_bytes = v[NOTE_MMAP];
	if (f.key) {
		f.key_index = r->nrefs;
	} else {
		/* A delta follows a frame of its own image. */
		if (r->nrefs == 0 || r->refs[r->nrefs - 1].session != f.session)
			return -1;
		f.key_index = r->refs[r->nrefs - 1].key_index;
	}
	if (rec_grow((void **)&r->refs, &cap->refs, r->nrefs + 1, sizeof(*r->refs)) != 0)
		return -1;
	r->refs[r->nrefs++] = f;
	return 0;
}

/* The frame's figures from its payload. */
static int read_frame_notes(const ms_recording *r, struct ms_cursor *c, uint64_t v[FRAME_NOTES])
{
	uint64_t head[MS_REC_HEAD_FIELDS] = { 0 };

	for (int i = 0; i < ms_rec_head_fields(r->version); i++)
		head[i] = ms_cur_varint(c);
	v[NOTE_KEY] = head[MS_REC_HEAD_KEY];
	v[NOTE_SESSION] = head[MS_REC_HEAD_SESSION];
	v[NOTE_TIME] = head[MS_REC_HEAD_TIME];
	v[NOTE_LIVE_BYTES] = head[MS_REC_HEAD_LIVE_BYTES];
	v[NOTE_LIVE_ALLOCS] = head[MS_REC_HEAD_LIVE_ALLOCS];
	v[NOTE_ALLOCS] = head[MS_REC_HEAD_ALLOCS];
	v[NOTE_FREES] = head[MS_REC_HEAD_FREES];
	v[NOTE_BYTES] = head[MS_REC_HEAD_BYTES];
	v[NOTE_RSS] = head[MS_REC_HEAD_RSS];
	v[NOTE_MMAP] = head[MS_REC_HEAD_MMAP_LIVE];
	return c->bad ? -1 : 0;
}

static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Decompresses a zstd payload in place of the stored one; its size,
 * declared by the payload itself, must be known and bounded. */
static int unpack(ZSTD_DCtx *z, unsigned char **p, uint32_t *len)
{
	unsigned long long raw = ZSTD_getFrameContentSize(*p, *len);
	unsigned char *out;
	size_t n;

	if (raw == ZSTD_CONTENTSIZE_UNKNOWN || raw == ZSTD_CONTENTSIZE_ERROR ||
	    raw > MS_REC_MAX_CHUNK)
		return -1;
	out = malloc(raw ? raw : 1);
	if (out == NULL)
		return -1;
	/* One context for the whole file: making one per chunk costs more
	 * than decompressing a small chunk. */
	n = ZSTD_decompressDCtx(z, out, raw, *p, *len);
	if (ZSTD_isError(n) || n != raw) {
		free(out);
		return -1;
	}
	free(*p);
	*p = out;
	*len = (uint32_t)raw;
	return 0;
}

/* Reads and checks the chunk at *off; returns its type and payload (the
 * caller frees; decompressed), 0 at a clean end of file, or -1 with
 * r->problem set. *stored is the payload's size in the file. */
static int next_chunk(ms_recording *r, uint64_t *off, uint64_t size, unsigned char **payload,
		      uint32_t *length, uint32_t *stored, int *packed, int expand)
{
	unsigned char head[MS_REC_CHUNK_HEADER];
	uint32_t len, crc, want;
	unsigned char *p;

	*payload = NULL;
	if (*off == size)
		return 0;
	if (size - *off < sizeof(head) || read_exact(r->fd, head, sizeof(head), *off) != 0) {
		snprintf(r->problem, sizeof(r->problem), "cut short inside a chunk's header");
		return -1;
	}
	memcpy(&len, head + 4, 4);
	memcpy(&want, head + 8, 4);
	if (head[1] > MS_REC_ZSTD || head[2] != 0 || head[3] != 0 || head[0] < MS_REC_SESSION ||
	    head[0] > MS_REC_INDEX || len > MS_REC_MAX_CHUNK) {
		snprintf(r->problem, sizeof(r->problem),
			 "damaged: a chunk header that makes no sense at byte %llu",
			 (unsigned long long)*off);
		return -1;
	}
	if (len > size - *off - sizeof(head)) {
		snprintf(r->problem, sizeof(r->problem), "cut short inside a chunk");
		return -1;
	}
	p = malloc(len ? len : 1);
	if (p == NULL || (len > 0 && read_exact(r->fd, p, len, *off + sizeof(head)) != 0)) {
		free(p);
		snprintf(r->problem, sizeof(r->problem), "cannot read the chunk at byte %llu",
			 (unsigned long long)*off);
		return -1;
	}
	crc = ms_crc32c(0, head, 8);
	crc = ms_crc32c(crc, p, len);
	if (crc != want) {
		free(p);
		snprintf(r->problem, sizeof(r->problem),
			 "damaged: a chunk's checksum does not match at byte %llu",
			 (unsigned long long)*off);
		return -1;
	}
	*off += sizeof(head);
	*stored = len;
	*packed = head[1] == MS_REC_ZSTD;
	if (expand && *packed && unpack(r->zstd, &p, &len) != 0) {
		free(p);
		snprintf(r->problem, sizeof(r->problem),
			 "damaged: a compressed chunk does not decompress at byte %llu",
			 (unsigned long long)(*off - sizeof(head)));
		return -1;
	}
	*payload = p;
	*length = len;
	return head[0];
}

/* A frame or events chunk as the index lists it. */
struct index_entry {
	uint64_t offset; /* of the chunk's header */
	uint32_t length; /* of its payload as stored */
	int type;
	uint64_t note[FRAME_NOTES]; /* events: session, count */
};

/* The index of a recording its recorder closed: the end chunk (the last 20
 * bytes) gives the index chunk's offset. Any doubt, and there is no index:
 * the file is read chunk by chunk instead. Returns the count (0: none). */
static size_t load_index(ms_recording *r, uint64_t size, struct index_entry **out)
{
	unsigned char tail[MS_REC_CHUNK_HEADER + 8], *payload = NULL;
	uint32_t len, crc, length, stored;
	uint64_t at, off, prev = MS_REC_HEADER, n;
	struct index_entry *idx = NULL;
	struct ms_cursor c;
	int packed;

	*out = NULL;
	if (size < MS_REC_HEADER + 2 * sizeof(tail) ||
	    read_exact(r->fd, tail, sizeof(tail), size - sizeof(tail)) != 0)
		return 0;
	memcpy(&len, tail + 4, 4);
	memcpy(&crc, tail + 8, 4);
	if (tail[0] != MS_REC_END || tail[1] != MS_REC_RAW || tail[2] || tail[3] || len != 8 ||
	    crc != ms_crc32c(ms_crc32c(0, tail, 8), tail + MS_REC_CHUNK_HEADER, 8))
		return 0;
	memcpy(&at, tail + MS_REC_CHUNK_HEADER, 8);
	if (at < MS_REC_HEADER || at > size - sizeof(tail))
		return 0;
	off = at;
	if (next_chunk(r, &off, size - sizeof(tail), &payload, &length, &stored, &packed, 1) !=
		    MS_REC_INDEX ||
	    off + stored != size - sizeof(tail)) {
		free(payload);
		r->problem[0] = '\0';
		return 0;
	}
	c = (struct ms_cursor){ payload, payload + length, 0 };
	n = ms_cur_count(&c, 3);
	idx = calloc(n ? n : 1, sizeof(*idx));
	for (uint64_t i = 0; idx != NULL && i < n && !c.bad; i++) {
		struct index_entry *e = &idx[i];
		uint64_t type = ms_cur_varint(&c), delta = ms_cur_varint(&c), l = ms_cur_varint(&c);
		/* Version 4's frames have no mapped bytes: 0. */
		int notes = type != MS_REC_FRAME ? 2 :
			    r->version >= MS_REC_SINCE_MMAP ? FRAME_NOTES : NOTE_MMAP;

		for (int k = 0; k < notes; k++)
			e->note[k] = ms_cur_varint(&c);
		/* In file order, each whole before the index. */
		if ((type != MS_REC_FRAME && type != MS_REC_EVENTS) || (i > 0 && delta == 0) ||
		    delta > at - prev || l > MS_REC_MAX_CHUNK ||
		    prev + delta + MS_REC_CHUNK_HEADER + l > at)
			c.bad = 1;
		e->type = (int)type;
		e->offset = prev += delta;
		e->length = (uint32_t)l;
	}
	free(payload);
	if (idx == NULL || c.bad || c.p != c.end) {
		free(idx);
		return 0;
	}
	*out = idx;
	return (size_t)n;
}

int ms_recording_open(const char *path, ms_recording **out)
{
	ms_recording *r;
	unsigned char header[MS_REC_HEADER];
	struct caps cap = { 0 };
	struct stat st;
	uint64_t off = MS_REC_HEADER, size;
	struct index_entry *index = NULL;
	size_t nindex, next = 0;
	uint32_t version;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->zstd = ZSTD_createDCtx();
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || r->zstd == NULL) {
		int err = r->fd < 0 ? -errno : -ENOMEM;

		r->fd = r->fd < 0 ? -1 : r->fd;
		ms_recording_close(r);
		return err;
	}
	if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ms_recording_close(r);
		return MS_REC_ERR_NOT_RECORDING;
	}
	size = (uint64_t)st.st_size;
	if (size < sizeof(header) || read_exact(r->fd, header, sizeof(header), 0) != 0 ||
	    memcmp(header, MS_REC_MAGIC, 8) != 0) {
		ms_recording_close(r);
		return MS_REC_ERR_NOT_RECORDING;
	}
	memcpy(&version, header + 8, 4);
	if (version < MS_REC_VERSION_OLDEST || version > MS_REC_VERSION) {
		ms_recording_close(r);
		return MS_REC_ERR_VERSION;
	}
	r->version = version;
	/* With an index, frames and events are only checked (their checksums)
	 * here, not decompressed: the index has what opening needs of them. */
	nindex = load_index(r, size, &index);
	if (rec_rewind_columns(r) != 0) {
		free(index);
		ms_recording_close(r);
		return -ENOMEM;
	}
	for (;;) {
		unsigned char *payload;
		uint32_t length = 0, stored = 0;
		int packed = 0, indexed = next < nindex && index[next].offset == off;
		uint64_t at = off;
		int type = next_chunk(r, &off, size, &payload, &length, &stored, &packed, !indexed);
		uint64_t notes[FRAME_NOTES];
		struct ms_cursor c;
		int bad = 0;

		if (type <= 0)
			break;
		if (indexed && type == index[next].type && stored == index[next].length) {
			const uint64_t *v = index[next++].note;

			bad = type == MS_REC_FRAME ? note_frame(r, &cap, v, off, stored, packed) :
						     rec_note_events(r, &cap, v[0], v[1], off, stored, packed);
			free(payload);
			if (bad) {
				snprintf(r->problem, sizeof(r->problem),
					 "damaged: the index does not fit the chunk at byte %llu",
					 (unsigned long long)at);
				break;
			}
			off += stored;
			continue;
		}
		if (indexed) {
			/* The index does not match the file: read on without it. */
			nindex = 0;
			if (packed && unpack(r->zstd, &payload, &length) != 0) {
				free(payload);
				snprintf(r->problem, sizeof(r->problem),
					 "damaged: a compressed chunk does not decompress at byte %llu",
					 (unsigned long long)at);
				break;
			}
		}
		c = (struct ms_cursor){ payload, payload + length, 0 };
		switch (type) {
		case MS_REC_SESSION:
			bad = read_session(r, &cap, &c);
			break;
		case MS_REC_STRINGS:
			bad = read_strings(r, &cap, &c);
			break;
		case MS_REC_FRAMES:
			bad = read_frames(r, &cap, &c);
			break;
		case MS_REC_STACKS:
			bad = read_stacks(r, &cap, &c);
			break;
		case MS_REC_FRAME:
			bad = read_frame_notes(r, &c, notes) != 0 ||
			      note_frame(r, &cap, notes, off, stored, packed) != 0;
			break;
		case MS_REC_EVENTS:
			bad = rec_read_events(r, &cap, &c, off, stored, packed);
			break;
		case MS_REC_END:
			r->clean_end = 1;
			break;
		}
		free(payload);
		if (bad) {
			snprintf(r->problem, sizeof(r->problem),
				 "damaged: a chunk that does not decode at byte %llu",
				 (unsigned long long)(off - MS_REC_CHUNK_HEADER));
			break;
		}
		off += stored;
		if (r->clean_end)
			break;
	}
	free(index);
	fix_stacks(r);
	if (!r->clean_end && r->problem[0] == '\0')
		snprintf(r->problem, sizeof(r->problem),
			 "cut short: the recorder did not close it (killed?)");
	if (r->nrefs == 0) {
		ms_recording_close(r);
		return MS_REC_ERR_EMPTY;
	}
	*out = r;
	return 0;
}

void ms_recording_close(ms_recording *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	ZSTD_freeDCtx(r->zstd);
	for (int k = 0; k < MS_REC_EVENT_COLUMNS; k++)
		ZSTD_freeDCtx(r->columns[k]);
	for (size_t i = 0; i < r->nstrings; i++)
		free(r->strings[i]);
	for (size_t i = 0; i < r->nstacks; i++)
		free(r->stacks[i].frames);
	free(r->strings);
	free(r->frames);
	free(r->stacks);
	free(r->sessions);
	free(r->refs);
	free(r->events);
	free(r);
}

const char *ms_recording_problem(const ms_recording *r)
{
	return r->clean_end && r->problem[0] == '\0' ? NULL : r->problem;
}

size_t ms_recording_count(const ms_recording *r)
{
	return r->nrefs;
}

double ms_recording_time(const ms_recording *r, size_t i)
{
	const struct frame_ref *first = &r->refs[0], *f;
	double t;

	if (i >= r->nrefs)
		return 0;
	f = &r->refs[i];
	/* Image times restart at an exec: across images, go by their start
	 * times on the wall clock. */
	t = (double)f->time_us / 1e6 - (double)first->time_us / 1e6;
	if (f->session != first->session) {
		uint64_t a = r->sessions[first->session].start_real_ns;
		uint64_t b = r->sessions[f->session].start_real_ns;

		t += b > a ? (double)(b - a) / 1e9 : 0;
	}
	return t > 0 ? t : 0;
}

size_t ms_recording_frame_at(const ms_recording *r, double seconds)
{
	size_t lo = 0, hi = r->nrefs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ms_recording_time(r, mid) <= seconds)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int ms_recording_frame_info(const ms_recording *r, size_t i, ms_rec_frame_info *out)
{
	const struct frame_ref *f;

	if (i >= r->nrefs)
		return -EINVAL;
	f = &r->refs[i];
	out->image = (size_t)f->session;
	out->generation = r->sessions[f->session].generation;
	out->time_s = (double)f->time_us / 1e6;
	out->live_bytes = f->live_bytes;
	return 0;
}

size_t ms_recording_peak_frame(const ms_recording *r)
{
	size_t best = 0;

	for (size_t i = 1; i < r->nrefs; i++)
		if (r->refs[i].live_bytes > r->refs[best].live_bytes)
			best = i;
	return best;
}

int rec_load_payload(ms_recording *r, uint64_t offset, uint32_t length, int packed,
		     unsigned char **out, uint32_t *len)
{
	unsigned char *p = malloc(length ? length : 1);

	*out = NULL;
	*len = length;
	if (p == NULL)
		return -ENOMEM;
	if ((length > 0 && read_exact(r->fd, p, length, offset) != 0) ||
	    (packed && unpack(r->zstd, &p, len) != 0)) {
		free(p);
		return MS_REC_ERR_DAMAGED;
	}
	*out = p;
	return 0;
}

size_t ms_recording_event_count(const ms_recording *r)
{
	return r->nevents;
}

int ms_recording_stack(const ms_recording *r, uint32_t id, ms_callsite *out)
{
	memset(out, 0, sizeof(*out));
	if (id >= r->nstacks)
		return -EINVAL;
	out->site.stack = id;
	out->depth = r->stacks[id].depth;
	out->frames = r->stacks[id].frames;
	out->top = r->stacks[id].top;
	return 0;
}
