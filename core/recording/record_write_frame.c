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

int ms_recorder_frame(ms_recorder *rec, const ms_snapshot *s, const ms_thread_view *views,
		      const ms_callsite *sites, size_t nsites, int exit_status)
{
	struct ms_buf b = { 0 };
	uint64_t head[MS_REC_HEAD_FIELDS];
	uint64_t(*coded)[MS_REC_THREAD_FIELDS] = NULL;
	uint64_t(*figures)[MS_REC_SITE_FIELDS] = NULL;
	uint32_t *ids = NULL;
	size_t nchanged = 0;
	int key, err = 0;

	if (rec->failed)
		return -ENOMEM;
	if (!rec->in_session || s->pid != rec->pid || s->generation != rec->generation) {
		err = rec_start_session(rec, s);
		if (err != 0)
			return err;
	}
	/* Dictionaries first: every stack (and so frame and string) this frame
	 * refers to, and the thread names. */
	ids = malloc((nsites ? nsites : 1) * sizeof(*ids));
	if (ids == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nsites; i++)
		ids[i] = rec_stack_id(rec, &sites[i]);
	for (size_t i = 0; i < s->nthreads; i++)
		rec_string_id(rec, s->threads[i].name);
	for (size_t i = 0; i < s->nnotes; i++) {
		rec_string_id(rec, s->notes[i].var);
		rec_string_id(rec, s->notes[i].type);
		rec_string_id(rec, s->notes[i].scope);
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
		err = rec_write_chunk(rec, dicts[d].type, &chunk);
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
		ms_rec_thread_put(coded[i], &s->threads[i], views != NULL ? &views[i] : NULL);
		nchanged += key || i >= rec->nthreads ||
			    thread_changed(&rec->threads[i], &s->threads[i], coded[i]);
	}
	ms_buf_put_varint(&b, nchanged);
	for (size_t i = 0; i < s->nthreads; i++)
		if (key || i >= rec->nthreads ||
		    thread_changed(&rec->threads[i], &s->threads[i], coded[i]))
			put_thread(rec, &b, i, &s->threads[i], coded[i]);

	/* Call sites. */
	figures = malloc((nsites ? nsites : 1) * sizeof(*figures));
	if (figures == NULL)
		b.failed = 1;
	nchanged = 0;
	for (size_t i = 0; i < nsites && !b.failed; i++) {
		struct site_mark *m = mark_of(rec, ids[i]);

		if (m == NULL) {
			b.failed = 1;
			break;
		}
		ms_rec_site_put(figures[i], &sites[i].site);
		nchanged += key || !m->present || memcmp(m->v, figures[i], sizeof(m->v)) != 0;
	}
	ms_buf_put_varint(&b, nchanged);
	for (size_t i = 0; i < nsites && !b.failed; i++) {
		struct site_mark *m = &rec->marks[ids[i]];

		if (!key && m->present && memcmp(m->v, figures[i], sizeof(m->v)) == 0)
			continue;
		/* Each figure as a change from what the reader has: the site as
		 * written since the last key frame, or nothing. */
		int known = !key && m->present && m->key == rec->keys;

		ms_buf_put_varint(&b, ids[i]);
		for (int k = 0; k < MS_REC_SITE_FIELDS; k++)
			ms_buf_put_varint(&b, zigzag(known ? m->v[k] : 0, figures[i][k]));
		m->present = 1;
		m->key = rec->keys + (uint64_t)key;
		memcpy(m->v, figures[i], sizeof(m->v));
	}
	free(figures);
	free(ids);
	/* Annotated blocks: all of them, every frame (they are few). */
	ms_buf_put_varint(&b, s->nnotes);
	for (size_t i = 0; i < s->nnotes; i++) {
		const ms_note_info *n = &s->notes[i];
		uint64_t fields[MS_REC_NOTE_FIELDS];

		ms_buf_put_varint(&b, rec_string_id(rec, n->var));
		ms_buf_put_varint(&b, rec_string_id(rec, n->type));
		ms_buf_put_varint(&b, rec_string_id(rec, n->scope));
		ms_rec_note_put(fields, n);
		for (int k = 0; k < MS_REC_NOTE_FIELDS; k++)
			ms_buf_put_varint(&b, fields[k]);
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
		err = rec_write_chunk_noted(rec, MS_REC_FRAME, &b, &note, 1);
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
		memcpy(rec->threads[i].v, coded[i], sizeof(coded[i]));
	}
	free(coded);
	rec->nthreads = s->nthreads;
	rec->since_key = key ? 1 : rec->since_key + 1;
	rec->keys += (uint64_t)key;
	return 0;
}
