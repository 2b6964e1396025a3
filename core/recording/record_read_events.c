/*
 * A recording's event stream, decoded (RECORDING.md, "The event stream"):
 * column by column, each from its own zstd stream, in file order. The
 * file is untrusted: every reference and count is checked.
 *
 * Runs: readers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "record_read.h"

uint64_t rec_unzigzag(uint64_t v)
{
	return (v >> 1) ^ (uint64_t)-(int64_t)(v & 1);
}

/* Decodes an events chunk into out (NULL: only checks it), which has room
 * for max. nstacks: the stacks the dictionary had before the chunk.
 * Returns the count or -1. */
int rec_rewind_columns(ms_recording *r)
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

long rec_decode_events(ms_recording *r, struct ms_cursor *c, size_t nstacks,
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

		seq += rec_unzigzag(ms_cur_varint(&col[MS_REC_COL_SEQ]));
		time += rec_unzigzag(ms_cur_varint(&col[MS_REC_COL_TIME]));
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
			ptr += rec_unzigzag(ms_cur_varint(&col[MS_REC_COL_ADDRESS]));
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

int rec_note_events(ms_recording *r, struct caps *cap, uint64_t session, uint64_t count,
		    uint64_t offset, uint32_t length, int packed)
{
	if (session >= r->nsessions || count == 0 || count > SIZE_MAX - r->nevents ||
	    rec_grow((void **)&r->events, &cap->events, r->nevents_refs + 1,
		     sizeof(*r->events)) != 0)
		return -1;
	r->events[r->nevents_refs++] = (struct events_ref){ offset, length, packed, (size_t)count };
	r->nevents += (size_t)count;
	return 0;
}

int rec_read_events(ms_recording *r, struct caps *cap, struct ms_cursor *c, uint64_t offset,
		    uint32_t length, int packed)
{
	struct ms_cursor head = *c;
	uint64_t session = ms_cur_varint(&head), count = ms_cur_varint(&head);
	long n;

	if (head.bad || count > MS_REC_CHUNK_EVENTS)
		return -1;
	n = r->streams_at == r->nevents_refs ? rec_decode_events(r, c, r->nstacks, NULL, SIZE_MAX) :
					       (long)count;
	return n < 0 ? -1 : rec_note_events(r, cap, session, (uint64_t)n, offset, length, packed);
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
	err = rec_rewind_columns(r);
	for (size_t i = 0; i < r->nevents_refs && err == 0; i++) {
		const struct events_ref *e = &r->events[i];
		unsigned char *p;
		uint32_t len;
		struct ms_cursor c, head;

		err = rec_load_payload(r, e->offset, e->length, e->packed, &p, &len);
		if (err != 0)
			break;
		/* The array grows by what the payload really holds (the index's
		 * count must agree), never by a count taken on trust. */
		c = (struct ms_cursor){ p, p + len, 0 };
		head = c;
		ms_cur_varint(&head);
		if (ms_cur_varint(&head) != e->count || head.bad)
			err = MS_REC_ERR_DAMAGED;
		else if (rec_grow((void **)&ev, &cap, at + e->count, sizeof(*ev)) != 0)
			err = -ENOMEM;
		else if (rec_decode_events(r, &c, r->nstacks, ev + at, e->count) != (long)e->count)
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
