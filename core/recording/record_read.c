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

#include "record_format.h"

#define MAX_SAMPLES 2048

struct session {
	pid_t pid;
	unsigned generation;
	uint64_t start_real_ns;
	char command[MS_COMMAND_MAX];
	uint64_t flags; /* MS_REC_SESSION_* */
};

struct frame_ref {
	uint64_t offset; /* of the payload */
	uint32_t length; /* as stored */
	int packed;      /* zstd */
	int key;
	uint64_t session;
	uint64_t time_us;
	size_t key_index; /* the key frame this one is rebuilt from */
	/* For the graph: */
	uint64_t live_bytes, rss_bytes, total_allocs, total_frees, total_bytes, live_allocs;
};

struct events_ref {
	uint64_t offset; /* of the payload */
	uint32_t length; /* as stored */
	int packed;
	size_t count;
};

struct stack {
	uint32_t depth;
	const ms_frame **frames;
	const ms_frame *top;
};

struct ms_recording {
	int fd;
	ZSTD_DCtx *zstd;
	/* The events columns' zstd streams (record_write.c), read from the
	 * first events chunk on; streams_at: the events chunks they have
	 * read. */
	ZSTD_DCtx *columns[MS_REC_EVENT_COLUMNS];
	size_t streams_at;
	char problem[160];
	int clean_end;
	char **strings;
	size_t nstrings;
	ms_frame *frames;
	size_t nframes;
	struct stack *stacks;
	size_t nstacks;
	struct session *sessions;
	size_t nsessions;
	struct frame_ref *refs;
	size_t nrefs;
	struct events_ref *events;
	size_t nevents_refs, nevents;
};

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

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
	void *more = ms_grow(*array, cap, need, elem, 64);

	if (more == NULL)
		return -ENOMEM;
	*array = more;
	return 0;
}

/* A string id+1 from the file: NULL for 0, else the string (or bad). */
static const char *string_ref(ms_recording *r, struct ms_cursor *c)
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

struct caps {
	size_t strings, frames, stacks, sessions, refs, events;
};

static int read_strings(ms_recording *r, struct caps *cap, struct ms_cursor *c)
{
	uint64_t n = ms_cur_count(c, 2);
	char text[MS_REC_MAX_STRING + 1];

	for (uint64_t i = 0; i < n && !c->bad; i++) {
		if (ms_cur_varint(c) != r->nstrings) /* ids are dense and in order */
			return -1;
		ms_cur_string(c, text, sizeof(text));
		if (c->bad || grow((void **)&r->strings, &cap->strings, r->nstrings + 1,
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
	uint64_t n = ms_cur_count(c, 8);

	for (uint64_t i = 0; i < n && !c->bad; i++) {
		ms_frame f = { 0 };
		uint64_t line, id = ms_cur_varint(c);

		/* A new frame, or one known better now (RECORDING.md). */
		if (id > r->nframes)
			return -1;
		f.address = ms_cur_varint(c);
		f.function = string_ref(r, c);
		f.file = string_ref(r, c);
		line = ms_cur_varint(c);
		f.line = line < 0x7fffffff ? (int)line : 0;
		f.module = string_ref(r, c);
		f.offset = ms_cur_varint(c);
		f.allocator = ms_cur_varint(c) != 0;
		if (c->bad)
			return -1;
		if (id < r->nframes) {
			r->frames[id] = f;
			continue;
		}
		if (grow((void **)&r->frames, &cap->frames, r->nframes + 1, sizeof(*r->frames)) != 0)
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
		if (grow((void **)&r->stacks, &cap->stacks, r->nstacks + 1, sizeof(*r->stacks)) != 0) {
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
	if (grow((void **)&r->sessions, &cap->sessions, r->nsessions + 1, sizeof(*r->sessions)) != 0)
		return -1;
	r->sessions[r->nsessions++] = s;
	return 0;
}

/* What the index says of a frame (in this order), or what is read from
 * the frame itself. */
enum { NOTE_KEY, NOTE_SESSION, NOTE_TIME, NOTE_LIVE_BYTES, NOTE_LIVE_ALLOCS, NOTE_ALLOCS,
       NOTE_FREES, NOTE_BYTES, NOTE_RSS, FRAME_NOTES };

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
	if (f.key) {
		f.key_index = r->nrefs;
	} else {
		/* A delta follows a frame of its own image. */
		if (r->nrefs == 0 || r->refs[r->nrefs - 1].session != f.session)
			return -1;
		f.key_index = r->refs[r->nrefs - 1].key_index;
	}
	if (grow((void **)&r->refs, &cap->refs, r->nrefs + 1, sizeof(*r->refs)) != 0)
		return -1;
	r->refs[r->nrefs++] = f;
	return 0;
}

static uint64_t unzigzag(uint64_t v)
{
	return (v >> 1) ^ (uint64_t)-(int64_t)(v & 1);
}

/* Decodes an events chunk into out (NULL: only checks it), which has room
 * for max. nstacks: the stacks the dictionary had before the chunk.
 * Returns the count or -1. */
/* Back to the start of the events columns' streams. */
static int rewind_columns(ms_recording *r)
{
	for (int k = 0; k < MS_REC_EVENT_COLUMNS; k++) {
		if (r->columns[k] == NULL)
			r->columns[k] = ZSTD_createDCtx();
		if (r->columns[k] == NULL)
			return -ENOMEM;
		ZSTD_DCtx_reset(r->columns[k], ZSTD_reset_session_only);
	}
	r->streams_at = 0;
	return 0;
}

/* A column's next len bytes from its stream: exactly what stored holds. */
static int unstream(ZSTD_DCtx *z, const unsigned char *stored, size_t n, unsigned char *out,
		    size_t len)
{
	ZSTD_inBuffer in = { stored, n, 0 };
	ZSTD_outBuffer o = { out, len, 0 };

	while (in.pos < in.size || o.pos < o.size) {
		size_t before = in.pos + o.pos, r = ZSTD_decompressStream(z, &o, &in);

		if (ZSTD_isError(r))
			return -1;
		if (in.pos + o.pos == before)
			break; /* no progress: too little, or too much, input */
	}
	return in.pos == in.size && o.pos == o.size ? 0 : -1;
}

/* Decodes the next events chunk of the file (the columns' streams go in
 * file order) into out (NULL: only checks it), which has room for max.
 * nstacks: the stacks the dictionary had before the chunk. Returns the
 * count or -1. */
static long decode_events(ms_recording *r, struct ms_cursor *c, size_t nstacks,
			  ms_rec_event *out, size_t max)
{
	uint64_t session = ms_cur_varint(c), count = ms_cur_varint(c);
	uint64_t seq = 0, time = 0, ptr = 0, freed[MS_REC_FREED_RING];
	uint64_t *made = NULL, nmade = 0, nfreed = 0;
	struct ms_cursor col[MS_REC_EVENT_COLUMNS];
	unsigned char *unpacked[MS_REC_EVENT_COLUMNS] = { NULL };
	long result = -1;

	if (c->bad || session >= r->nsessions || count == 0 || count > max ||
	    count > MS_REC_CHUNK_EVENTS)
		return -1;
	/* The columns: each its length, then what its stream gave for it. */
	for (int k = 0; k < MS_REC_EVENT_COLUMNS; k++) {
		uint64_t len = ms_cur_varint(c), stored = ms_cur_varint(c);

		if (c->bad || stored > (uint64_t)(c->end - c->p) || len > MS_REC_MAX_CHUNK ||
		    r->columns[k] == NULL)
			goto out;
		unpacked[k] = malloc(len ? len : 1);
		if (unpacked[k] == NULL || unstream(r->columns[k], c->p, stored, unpacked[k], len) != 0)
			goto out;
		col[k] = (struct ms_cursor){ unpacked[k], unpacked[k] + len, 0 };
		c->p += stored;
	}
	r->streams_at++;
	if (c->p != c->end)
		goto out;
	/* The addresses of the blocks made so far in the chunk, by number
	 * (what frees refer to); freed: the last addresses freed (what
	 * allocations refer to). */
	made = malloc(count * sizeof(*made));
	if (made == NULL)
		goto out;
	for (uint64_t i = 0; i < count; i++) {
		ms_rec_event e = { .session = (uint32_t)session, .stack = MS_REC_NO_STACK };
		uint64_t tag = ms_cur_varint(&col[MS_REC_COL_TAG]), thread, ref;

		seq += unzigzag(ms_cur_varint(&col[MS_REC_COL_SEQ]));
		time += unzigzag(ms_cur_varint(&col[MS_REC_COL_TIME]));
		thread = ms_cur_varint(&col[MS_REC_COL_THREAD]);
		e.op = (uint8_t)(tag & 3);
		e.flags = (uint8_t)(tag >> 2);
		if (tag > 15 || (e.op != MS_STREAM_ALLOC && e.op != MS_STREAM_FREE) ||
		    thread > UINT32_MAX)
			goto out;
		if (e.op == MS_STREAM_FREE) {
			ref = ms_cur_varint(&col[MS_REC_COL_FREE_REF]);
			if (ref > nmade)
				goto out;
		} else {
			ref = ms_cur_varint(&col[MS_REC_COL_ALLOC_REF]);
			if (ref > nfreed || ref > MS_REC_FREED_RING)
				goto out;
		}
		if (ref == 0)
			ptr += unzigzag(ms_cur_varint(&col[MS_REC_COL_ADDRESS]));
		if (e.op == MS_STREAM_FREE) {
			e.ptr = ref ? made[nmade - ref] : ptr;
			freed[nfreed++ % MS_REC_FREED_RING] = e.ptr;
		} else {
			uint64_t stack;

			e.ptr = ref ? freed[(nfreed - ref) % MS_REC_FREED_RING] : ptr;
			made[nmade++] = e.ptr;
			e.size = ms_cur_varint(&col[MS_REC_COL_SIZE]);
			stack = ms_cur_varint(&col[MS_REC_COL_STACK]);
			if (stack > nstacks)
				goto out;
			if (stack > 0)
				e.stack = (uint32_t)(stack - 1);
		}
		e.seq = seq;
		e.time_ms = time;
		e.thread = (uint32_t)thread;
		if (out != NULL)
			out[i] = e;
	}
	/* Every column read to its end, and no further. */
	result = (long)count;
	for (int k = 0; k < MS_REC_EVENT_COLUMNS; k++)
		if (col[k].bad || col[k].p != col[k].end)
			result = -1;
out:
	free(made);
	for (int k = 0; k < MS_REC_EVENT_COLUMNS; k++)
		free(unpacked[k]);
	return result;
}

/* The frame's figures from its payload. */
static int read_frame_notes(struct ms_cursor *c, uint64_t v[FRAME_NOTES])
{
	uint64_t head[MS_REC_HEAD_FIELDS];

	for (int i = 0; i < MS_REC_HEAD_FIELDS; i++)
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
	return c->bad ? -1 : 0;
}

static int note_events(ms_recording *r, struct caps *cap, uint64_t session, uint64_t count,
		       uint64_t offset, uint32_t length, int packed)
{
	if (session >= r->nsessions || count == 0 || count > SIZE_MAX - r->nevents ||
	    grow((void **)&r->events, &cap->events, r->nevents_refs + 1, sizeof(*r->events)) != 0)
		return -1;
	r->events[r->nevents_refs++] = (struct events_ref){ offset, length, packed, (size_t)count };
	r->nevents += (size_t)count;
	return 0;
}

/* An events chunk read whole: checked by decoding, when the columns'
 * streams have read every events chunk before it (the index let opening
 * skip some: then only its head is read). */
static int read_events(ms_recording *r, struct caps *cap, struct ms_cursor *c, uint64_t offset,
		       uint32_t length, int packed)
{
	struct ms_cursor head = *c;
	uint64_t session = ms_cur_varint(&head), count = ms_cur_varint(&head);
	long n;

	if (head.bad || count > MS_REC_CHUNK_EVENTS)
		return -1;
	n = r->streams_at == r->nevents_refs ? decode_events(r, c, r->nstacks, NULL, SIZE_MAX) :
					       (long)count;
	return n < 0 ? -1 : note_events(r, cap, session, (uint64_t)n, offset, length, packed);
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
		int notes = type == MS_REC_FRAME ? FRAME_NOTES : 2;

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
	if (version != MS_REC_VERSION) {
		ms_recording_close(r);
		return MS_REC_ERR_VERSION;
	}
	/* With an index, frames and events are only checked (their checksums)
	 * here, not decompressed: the index has what opening needs of them. */
	nindex = load_index(r, size, &index);
	if (rewind_columns(r) != 0) {
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
						     note_events(r, &cap, v[0], v[1], off, stored, packed);
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
			bad = read_frame_notes(&c, notes) != 0 ||
			      note_frame(r, &cap, notes, off, stored, packed) != 0;
			break;
		case MS_REC_EVENTS:
			bad = read_events(r, &cap, &c, off, stored, packed);
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

/* A chunk's payload as stored at offset, decompressed; the caller frees
 * *out. */
static int load_payload(ms_recording *r, uint64_t offset, uint32_t length, int packed,
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

static int by_order(const void *a, const void *b)
{
	const ms_rec_event *x = a, *y = b;

	if (x->session != y->session)
		return x->session < y->session ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ms_recording_events(ms_recording *r, ms_rec_event **out, size_t *n)
{
	ms_rec_event *ev = NULL;
	size_t at = 0, cap = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	err = rewind_columns(r);
	for (size_t i = 0; i < r->nevents_refs && err == 0; i++) {
		const struct events_ref *e = &r->events[i];
		unsigned char *p;
		uint32_t len;
		struct ms_cursor c, head;

		err = load_payload(r, e->offset, e->length, e->packed, &p, &len);
		if (err != 0)
			break;
		/* The array grows by what the payload really holds (the index's
		 * count must agree), never by a count taken on trust. */
		c = (struct ms_cursor){ p, p + len, 0 };
		head = c;
		ms_cur_varint(&head);
		if (ms_cur_varint(&head) != e->count || head.bad)
			err = MS_REC_ERR_DAMAGED;
		else if (grow((void **)&ev, &cap, at + e->count, sizeof(*ev)) != 0)
			err = -ENOMEM;
		else if (decode_events(r, &c, r->nstacks, ev + at, e->count) != (long)e->count)
			err = MS_REC_ERR_DAMAGED;
		free(p);
		at += e->count;
	}
	if (err != 0) {
		free(ev);
		return err;
	}
	/* Threads send their events in batches: back into the program's
	 * order. */
	if (at > 0)
		qsort(ev, at, sizeof(*ev), by_order);
	*out = ev;
	*n = at;
	return 0;
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

/* The state rebuilt frame by frame. */
struct state {
	ms_thread_info *threads;
	ms_thread_view *views;
	size_t nthreads, cap_threads, cap_views;
	ms_site_info *sites; /* by stack id */
	unsigned char *present;
	size_t cap_sites;
	ms_note_info *notes; /* the last frame's, whole */
	size_t nnotes;
};

/* The longest lifetime a file may keep (about 52 days, in ns): what a
 * double holds exactly. */
#define MAX_LIFE_NS (1ull << 52)

/* A lifetime as the file keeps it (ns + 1, 0: none), in seconds or -1. */
static double life_s(uint64_t v)
{
	return v == 0 ? -1 : (double)(v - 1) / 1e9;
}

/* Copies a name of the strings dictionary into a note's field, printable
 * (a file's strings reach the terminal). */
static void note_name(char *dst, size_t cap, const char *text)
{
	size_t n = 0;

	for (; text != NULL && text[n] != '\0' && n + 1 < cap; n++)
		dst[n] = (unsigned char)text[n] >= 0x20 && text[n] != 0x7f ? text[n] : '?';
	dst[n] = '\0';
}

/* A frame's annotated blocks: they replace the last frame's. */
static int read_notes(ms_recording *r, struct ms_cursor *c, struct state *st)
{
	uint64_t n = ms_cur_count(c, 10);

	free(st->notes);
	st->notes = NULL;
	st->nnotes = 0;
	if (n > MS_STORE_NOTES) /* more than a program can have */
		c->bad = 1;
	if (c->bad || n == 0)
		return 0;
	st->notes = calloc(n, sizeof(*st->notes));
	if (st->notes == NULL)
		return -ENOMEM;
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		ms_note_info *d = &st->notes[st->nnotes++];

		note_name(d->var, sizeof(d->var), string_ref(r, c));
		note_name(d->type, sizeof(d->type), string_ref(r, c));
		note_name(d->scope, sizeof(d->scope), string_ref(r, c));
		d->ptr = ms_cur_varint(c);
		d->size = ms_cur_varint(c);
		d->live = ms_cur_varint(c) != 0;
		d->borrows = (uint32_t)ms_cur_varint(c);
		d->lent = (uint32_t)ms_cur_varint(c);
		d->tracked_s = (double)ms_cur_varint(c) / 1e6;
		d->lifetime_s = life_s(ms_cur_varint(c) & (MAX_LIFE_NS - 1));
		if (d->lifetime_s < 0)
			d->lifetime_s = 0;
	}
	return 0;
}

static int apply(ms_recording *r, const struct frame_ref *f, struct state *st, ms_snapshot *s,
		 int *exit_status)
{
	unsigned char *p;
	uint32_t len;
	struct ms_cursor c;
	uint64_t v[MS_REC_HEAD_FIELDS], n;
	int err = load_payload(r, f->offset, f->length, f->packed, &p, &len);

	if (err != 0)
		return err;
	c = (struct ms_cursor){ p, p + len, 0 };
	for (int i = 0; i < MS_REC_HEAD_FIELDS; i++)
		v[i] = ms_cur_varint(&c);
	if (v[MS_REC_HEAD_KEY]) {
		st->nthreads = 0;
		if (st->present != NULL)
			memset(st->present, 0, st->cap_sites);
	}
	ms_rec_head_get(v, s, exit_status);

	n = ms_cur_count(&c, 14);
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		uint64_t index = ms_cur_varint(&c), state, cpu;
		ms_thread_info t = { 0 };
		ms_thread_view view = { 0 };
		const char *name;

		if (index > st->nthreads || index >= (1u << 20)) { /* in place, or the next */
			c.bad = 1;
			break;
		}
		t.tid = (pid_t)ms_cur_varint(&c);
		name = string_ref(r, &c);
		snprintf(t.name, sizeof(t.name), "%s", name != NULL ? name : "");
		t.exited = ms_cur_varint(&c) != 0;
		t.allocs = ms_cur_varint(&c);
		t.frees = ms_cur_varint(&c);
		t.alloc_bytes = ms_cur_varint(&c);
		t.free_bytes = ms_cur_varint(&c);
		t.live_bytes = ms_cur_varint(&c);
		t.live_allocs = ms_cur_varint(&c);
		state = ms_cur_varint(&c);
		cpu = ms_cur_varint(&c);
		view.state = state >= 0x21 && state < 0x7f ? (char)state : '?';
		view.cpu_percent = (double)cpu / 1000.0;
		view.allocs_per_s = (double)ms_cur_varint(&c);
		view.frees_per_s = (double)ms_cur_varint(&c);
		if (grow((void **)&st->threads, &st->cap_threads, index + 1, sizeof(*st->threads)) != 0 ||
		    grow((void **)&st->views, &st->cap_views, index + 1, sizeof(*st->views)) != 0) {
			free(p);
			return -ENOMEM;
		}
		st->threads[index] = t;
		st->views[index] = view;
		if (index == st->nthreads)
			st->nthreads++;
	}
	n = ms_cur_count(&c, 6 + 2 * MS_STORE_AGES);
	for (uint64_t i = 0; i < n && !c.bad; i++) {
		uint64_t id = ms_cur_varint(&c);
		ms_site_info si = { 0 };
		size_t old_cap = st->cap_sites;

		if (c.bad || id >= r->nstacks) {
			c.bad = 1;
			break;
		}
		/* Changes from the site as known since the key frame. */
		if (id < st->cap_sites && st->present[id])
			si = st->sites[id];
		else /* none yet */
			si.life_min_s = si.life_median_s = si.life_max_s = -1;
		si.stack = (uint32_t)id;
		si.allocs += unzigzag(ms_cur_varint(&c));
		si.frees += unzigzag(ms_cur_varint(&c));
		si.alloc_bytes += unzigzag(ms_cur_varint(&c));
		si.free_bytes += unzigzag(ms_cur_varint(&c));
		si.peak_bytes += unzigzag(ms_cur_varint(&c));
		for (unsigned a = 0; a < MS_STORE_AGES; a++) {
			si.old_bytes[a] += unzigzag(ms_cur_varint(&c));
			si.old_allocs[a] += unzigzag(ms_cur_varint(&c));
		}
		{
			/* Kept as file values, ns + 1, changed like the rest. */
			uint64_t life[3] = { si.life_min_s < 0 ? 0 : (uint64_t)(si.life_min_s * 1e9 + 0.5) + 1,
					     si.life_median_s < 0 ? 0 : (uint64_t)(si.life_median_s * 1e9 + 0.5) + 1,
					     si.life_max_s < 0 ? 0 : (uint64_t)(si.life_max_s * 1e9 + 0.5) + 1 };

			for (int k = 0; k < 3; k++) {
				life[k] += unzigzag(ms_cur_varint(&c));
				if (life[k] > MAX_LIFE_NS) /* kept exact as a double */
					c.bad = 1;
			}
			si.life_min_s = life_s(life[0]);
			si.life_median_s = life_s(life[1]);
			si.life_max_s = life_s(life[2]);
		}
		si.live_allocs = si.allocs > si.frees ? si.allocs - si.frees : 0;
		si.live_bytes = si.alloc_bytes > si.free_bytes ? si.alloc_bytes - si.free_bytes : 0;
		if (grow((void **)&st->sites, &st->cap_sites, id + 1, sizeof(*st->sites)) != 0) {
			free(p);
			return -ENOMEM;
		}
		if (st->cap_sites != old_cap) {
			unsigned char *more = realloc(st->present, st->cap_sites);

			if (more == NULL) {
				free(p);
				return -ENOMEM;
			}
			memset(more + old_cap, 0, st->cap_sites - old_cap);
			st->present = more;
		}
		st->sites[id] = si;
		st->present[id] = 1;
	}
	if (!c.bad && read_notes(r, &c, st) != 0) {
		free(p);
		return -ENOMEM;
	}
	free(p);
	return c.bad ? MS_REC_ERR_DAMAGED : 0;
}

int ms_recording_load(ms_recording *r, size_t i, ms_replay *out)
{
	struct state st = { 0 };
	const struct frame_ref *f;
	const struct session *sess;
	ms_snapshot *s = &out->snap;
	size_t from, count = 0, stride;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->exit_status = -1;
	if (i >= r->nrefs)
		return -EINVAL;
	f = &r->refs[i];
	for (size_t k = f->key_index; k <= i && err == 0; k++)
		err = apply(r, &r->refs[k], &st, s, &out->exit_status);
	if (err != 0)
		goto done;
	sess = &r->sessions[f->session];
	s->pid = sess->pid;
	s->generation = sess->generation;
	s->start_real_ns = sess->start_real_ns;
	memcpy(s->command, sess->command, sizeof(s->command));
	s->python_pymalloc = (sess->flags & MS_REC_SESSION_PYMALLOC) != 0;
	for (unsigned a = 0; a < MS_STORE_AGES; a++)
		s->age_s[a] = a == 0 ? 1 : a == 1 ? 10 : 60;

	s->threads = st.threads;
	s->nthreads = st.nthreads;
	out->views = st.views;
	s->notes = st.notes;
	s->nnotes = st.nnotes;
	st.threads = NULL;
	st.views = NULL;
	st.notes = NULL;
	s->sites = calloc(st.cap_sites ? st.cap_sites : 1, sizeof(*s->sites));
	out->sites = calloc(st.cap_sites ? st.cap_sites : 1, sizeof(*out->sites));
	if (s->sites == NULL || out->sites == NULL) {
		err = -ENOMEM;
		goto done;
	}
	for (size_t k = 0; k < st.cap_sites; k++) {
		const struct stack *stack;
		ms_callsite *cs;

		if (!st.present[k] || st.sites[k].allocs == 0)
			continue;
		s->sites[s->nsites++] = st.sites[k];
		stack = &r->stacks[k];
		cs = &out->sites[out->nsites++];
		cs->site = st.sites[k];
		cs->depth = stack->depth;
		cs->frames = stack->frames;
		cs->top = stack->top;
	}

	/* The graph: this image's frames so far, thinned out. */
	for (from = i; from > 0 && r->refs[from - 1].session == f->session; from--)
		;
	stride = (i - from + MAX_SAMPLES) / MAX_SAMPLES;
	s->samples = calloc((i - from) / stride + 2, sizeof(*s->samples));
	if (s->samples == NULL) {
		err = -ENOMEM;
		goto done;
	}
	for (size_t k = from; k <= i; k += stride) {
		const struct frame_ref *g = &r->refs[k];
		ms_sample *d = &s->samples[count++];

		d->time_s = (double)g->time_us / 1e6;
		d->live_bytes = g->live_bytes;
		d->live_allocs = g->live_allocs;
		d->total_allocs = g->total_allocs;
		d->total_frees = g->total_frees;
		d->total_bytes = g->total_bytes;
		d->rss_bytes = g->rss_bytes;
	}
	s->nsamples = count;
done:
	free(st.threads);
	free(st.views);
	free(st.notes);
	free(st.sites);
	free(st.present);
	if (err != 0)
		ms_replay_release(out);
	return err;
}

void ms_replay_release(ms_replay *f)
{
	ms_snapshot_release(&f->snap);
	free(f->views);
	f->views = NULL;
	free(f->sites);
	f->sites = NULL;
	f->nsites = 0;
}
