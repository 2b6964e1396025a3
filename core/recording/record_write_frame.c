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
	ms_buf_put_varint(b, rec_string_id(rec, t->name));
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

		ms_buf_put_varint(&b, rec_string_id(rec, n->var));
		ms_buf_put_varint(&b, rec_string_id(rec, n->type));
		ms_buf_put_varint(&b, rec_string_id(rec, n->scope));
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
		memcpy(rec->threads[i].view, coded[i], sizeof(coded[i]));
	}
	free(coded);
	rec->nthreads = s->nthreads;
	rec->since_key = key ? 1 : rec->since_key + 1;
	rec->keys += (uint64_t)key;
	return 0;
}
