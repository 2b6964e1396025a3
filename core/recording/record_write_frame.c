/*
 * The recorder's frames (RECORDING.md, "A frame"): the head, then the
 * threads and call sites that changed since the frame before (all of them
 * in a key frame), then the annotated blocks.
 *
 * Runs: readers only (memscope-top records what it reads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record_write.h"

static int thread_changed(const struct thread_mark *m, const ms_thread_info *t,
			  const uint64_t v[MS_REC_THREAD_FIELDS])
{
	return m->info.tid != t->tid || strcmp(m->info.name, t->name) != 0 ||
	       memcmp(m->v, v, sizeof(m->v)) != 0;
}

static void put_thread(ms_recorder *rec, struct ms_buf *b, size_t index, const ms_thread_info *t,
		       const uint64_t v[MS_REC_THREAD_FIELDS])
{
	ms_buf_put_varint(b, index);
	ms_buf_put_varint(b, (uint64_t)t->tid);
	ms_buf_put_varint(b, rec_string_id(rec, t->name));
	for (int k = 0; k < MS_REC_THREAD_FIELDS; k++)
		ms_buf_put_varint(b, v[k]);
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

/* Dictionaries first: every stack (and so frame and string) this frame
 * refers to, and the thread and note names, written as chunks of what is
 * new. ids: each site's stack id in the recording. */
static int write_dictionaries(ms_recorder *rec, const ms_snapshot *s, const ms_callsite *sites,
			      size_t nsites, uint32_t *ids)
{
	struct {
		int type;
		struct ms_buf *buf;
		uint32_t *count;
	} dicts[] = {
		{ MS_REC_STRINGS, &rec->strings_out, &rec->strings_new },
		{ MS_REC_FRAMES, &rec->frames_out, &rec->frames_new },
		{ MS_REC_STACKS, &rec->stacks_out, &rec->stacks_new },
	};
	int err = 0;

	for (size_t i = 0; i < nsites; i++)
		ids[i] = rec_stack_id(rec, &sites[i]);
	for (size_t i = 0; i < s->nthreads; i++)
		rec_string_id(rec, s->threads[i].name);
	for (size_t i = 0; i < s->nnotes; i++) {
		rec_string_id(rec, s->notes[i].var);
		rec_string_id(rec, s->notes[i].type);
		rec_string_id(rec, s->notes[i].scope);
	}
	if (rec->failed)
		return -ENOMEM;
	for (size_t d = 0; d < sizeof(dicts) / sizeof(dicts[0]) && err == 0; d++) {
		struct ms_buf chunk = { 0 };

		if (*dicts[d].count == 0)
			continue;
		ms_buf_put_varint(&chunk, *dicts[d].count);
		ms_buf_put_bytes(&chunk, dicts[d].buf->data, dicts[d].buf->len);
		err = rec_write_chunk(rec, dicts[d].type, &chunk);
		ms_buf_free(&chunk);
		ms_buf_free(dicts[d].buf);
		*dicts[d].count = 0;
	}
	return err;
}

/* A key frame now and then, and whenever the thread list changed in a way
 * a delta cannot say (it only grows or changes in place). */
static int is_key(const ms_recorder *rec, const ms_snapshot *s)
{
	if (rec->since_key >= MS_REC_KEY_EVERY || s->nthreads < rec->nthreads)
		return 1;
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].info.tid != s->threads[i].tid)
			return 1;
	return 0;
}

/* The threads that changed since the frame before (all in a key frame);
 * coded: each thread's fields, kept for the next frame. */
static void put_threads(ms_recorder *rec, struct ms_buf *b, const ms_snapshot *s,
			const ms_thread_view *views, int key,
			uint64_t (*coded)[MS_REC_THREAD_FIELDS])
{
	size_t nchanged = 0;

	for (size_t i = 0; i < s->nthreads; i++) {
		ms_rec_thread_put(coded[i], &s->threads[i], views != NULL ? &views[i] : NULL);
		nchanged += key || i >= rec->nthreads ||
			    thread_changed(&rec->threads[i], &s->threads[i], coded[i]);
	}
	ms_buf_put_varint(b, nchanged);
	for (size_t i = 0; i < s->nthreads; i++)
		if (key || i >= rec->nthreads ||
		    thread_changed(&rec->threads[i], &s->threads[i], coded[i]))
			put_thread(rec, b, i, &s->threads[i], coded[i]);
}

/* The call sites that changed since the frame before (all in a key frame),
 * each figure as a change from what the reader has. */
static void put_sites(ms_recorder *rec, struct ms_buf *b, const ms_callsite *sites,
		      size_t nsites, const uint32_t *ids, int key)
{
	uint64_t(*figures)[MS_REC_SITE_FIELDS] = malloc((nsites ? nsites : 1) * sizeof(*figures));
	size_t nchanged = 0;

	if (figures == NULL)
		b->failed = 1;
	for (size_t i = 0; i < nsites && !b->failed; i++) {
		struct site_mark *m = mark_of(rec, ids[i]);

		if (m == NULL) {
			b->failed = 1;
			break;
		}
		ms_rec_site_put(figures[i], &sites[i].site);
		nchanged += key || !m->present || memcmp(m->v, figures[i], sizeof(m->v)) != 0;
	}
	ms_buf_put_varint(b, nchanged);
	for (size_t i = 0; i < nsites && !b->failed; i++) {
		struct site_mark *m = &rec->marks[ids[i]];
		/* What the reader has: the site as written since the last key
		 * frame, or nothing. */
		int known = !key && m->present && m->key == rec->keys;

		if (!key && m->present && memcmp(m->v, figures[i], sizeof(m->v)) == 0)
			continue;
		ms_buf_put_varint(b, ids[i]);
		for (int k = 0; k < MS_REC_SITE_FIELDS; k++)
			ms_buf_put_varint(b, zigzag(known ? m->v[k] : 0, figures[i][k]));
		m->present = 1;
		m->key = rec->keys + (uint64_t)key;
		memcpy(m->v, figures[i], sizeof(m->v));
	}
	free(figures);
}

/* Annotated blocks: all of them, every frame (they are few). */
static void put_notes(ms_recorder *rec, struct ms_buf *b, const ms_snapshot *s)
{
	ms_buf_put_varint(b, s->nnotes);
	for (size_t i = 0; i < s->nnotes; i++) {
		const ms_note_info *n = &s->notes[i];
		uint64_t fields[MS_REC_NOTE_FIELDS];

		ms_buf_put_varint(b, rec_string_id(rec, n->var));
		ms_buf_put_varint(b, rec_string_id(rec, n->type));
		ms_buf_put_varint(b, rec_string_id(rec, n->scope));
		ms_rec_note_put(fields, n);
		for (int k = 0; k < MS_REC_NOTE_FIELDS; k++)
			ms_buf_put_varint(b, fields[k]);
	}
}

/* The frame chunk, with what the index keeps of it: what seeking and the
 * graph need without reading it. */
static int write_frame(ms_recorder *rec, const struct ms_buf *b,
		       const uint64_t head[MS_REC_HEAD_FIELDS])
{
	static const enum ms_rec_head_field indexed[] = {
		MS_REC_HEAD_KEY, MS_REC_HEAD_SESSION, MS_REC_HEAD_TIME,
		MS_REC_HEAD_LIVE_BYTES, MS_REC_HEAD_LIVE_ALLOCS, MS_REC_HEAD_ALLOCS,
		MS_REC_HEAD_FREES, MS_REC_HEAD_BYTES, MS_REC_HEAD_RSS, MS_REC_HEAD_MMAP_LIVE,
	};
	struct ms_buf note = { 0 };
	int err;

	for (size_t i = 0; i < sizeof(indexed) / sizeof(indexed[0]); i++)
		ms_buf_put_varint(&note, head[indexed[i]]);
	err = rec_write_chunk_noted(rec, MS_REC_FRAME, b, &note, 1);
	ms_buf_free(&note);
	return err;
}

/* This frame's threads are the next one's reference. */
static int remember_threads(ms_recorder *rec, const ms_snapshot *s,
			    uint64_t (*coded)[MS_REC_THREAD_FIELDS])
{
	if (s->nthreads > rec->nthreads) {
		struct thread_mark *more = realloc(rec->threads, s->nthreads * sizeof(*more));

		if (more == NULL)
			return -ENOMEM;
		rec->threads = more;
	}
	for (size_t i = 0; i < s->nthreads; i++) {
		rec->threads[i].info = s->threads[i];
		memcpy(rec->threads[i].v, coded[i], sizeof(coded[i]));
	}
	rec->nthreads = s->nthreads;
	return 0;
}

int ms_recorder_frame(ms_recorder *rec, const ms_snapshot *s, const ms_thread_view *views,
		      const ms_callsite *sites, size_t nsites, int exit_status)
{
	struct ms_buf b = { 0 };
	uint64_t head[MS_REC_HEAD_FIELDS];
	uint64_t(*coded)[MS_REC_THREAD_FIELDS] = NULL;
	uint32_t *ids = NULL;
	int key = 0, err = 0;

	if (rec->failed)
		return -ENOMEM;
	if (!rec->in_session || s->pid != rec->pid || s->generation != rec->generation) {
		err = rec_start_session(rec, s);
		if (err != 0)
			return err;
	}
	ids = malloc((nsites ? nsites : 1) * sizeof(*ids));
	coded = malloc((s->nthreads ? s->nthreads : 1) * sizeof(*coded));
	err = ids == NULL || coded == NULL ? -ENOMEM :
					     write_dictionaries(rec, s, sites, nsites, ids);
	if (err == 0) {
		key = is_key(rec, s);
		ms_rec_head_put(head, s, exit_status);
		head[MS_REC_HEAD_KEY] = (uint64_t)key;
		head[MS_REC_HEAD_SESSION] = rec->sessions - 1;
		for (int i = 0; i < MS_REC_HEAD_FIELDS; i++)
			ms_buf_put_varint(&b, head[i]);
		put_threads(rec, &b, s, views, key, coded);
		put_sites(rec, &b, sites, nsites, ids, key);
		put_notes(rec, &b, s);
		err = write_frame(rec, &b, head);
	}
	if (err == 0 && remember_threads(rec, s, coded) != 0) {
		rec->failed = 1;
		err = -ENOMEM;
	}
	if (err == 0) {
		rec->since_key = key ? 1 : rec->since_key + 1;
		rec->keys += (uint64_t)key;
	}
	ms_buf_free(&b);
	free(coded);
	free(ids);
	return err;
}
