/*
 * The recorder's event stream (RECORDING.md, "The event stream"): every
 * heap operation, in columns, each column one zstd stream across chunks.
 *
 * Runs: readers only (memscope-top records what the hook sends).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record_write.h"

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
			err = rec_write_chunk_noted(rec, MS_REC_EVENTS, &b, &note, 0);
			ms_buf_free(&note);
		}
		ms_buf_free(&b);
		if (err != 0)
			return err;
	}
	return 0;
}
