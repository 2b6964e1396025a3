/*
 * A recording's frame as a snapshot again: rebuilt from the key frame
 * before it and the deltas in between (RECORDING.md). The file is
 * untrusted: every id and count is checked.
 *
 * Runs: readers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_read.h"

/* A replayed frame's graph: at most about this many samples, the image's
 * frames so far thinned out evenly. */
#define MAX_SAMPLES 2048

/* The state rebuilt frame by frame. */
struct state {
	ms_thread_info *threads;
	ms_thread_view *views;
	size_t nthreads, cap_threads, cap_views;
	ms_site_info *sites; /* by stack id */
	unsigned char *present;
	size_t cap_sites;
	/* The sites' figures as the file has them, which the next frame's
	 * changes apply to: integers, so no change is lost to a double. */
	uint64_t (*figures)[MS_REC_SITE_FIELDS];
	size_t cap_figures;
	ms_note_info *notes; /* the last frame's, whole */
	size_t nnotes;
};

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
	uint64_t n = ms_cur_count(c, 3 + MS_REC_NOTE_FIELDS); /* names, fields */

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
		uint64_t fields[MS_REC_NOTE_FIELDS];

		note_name(d->var, sizeof(d->var), rec_string_ref(r, c));
		note_name(d->type, sizeof(d->type), rec_string_ref(r, c));
		note_name(d->scope, sizeof(d->scope), rec_string_ref(r, c));
		for (int k = 0; k < MS_REC_NOTE_FIELDS; k++)
			fields[k] = ms_cur_varint(c);
		ms_rec_note_get(fields, d);
	}
	return 0;
}

/* A frame's threads: each in place, or the next one. */
static int read_threads(ms_recording *r, struct ms_cursor *c, struct state *st)
{
	uint64_t n = ms_cur_count(c, 3 + MS_REC_THREAD_FIELDS); /* index, tid, name, fields */

	for (uint64_t i = 0; i < n && !c->bad; i++) {
		uint64_t index = ms_cur_varint(c), fields[MS_REC_THREAD_FIELDS];
		ms_thread_info t = { 0 };
		ms_thread_view view = { 0 };
		const char *name;

		if (index > st->nthreads || index >= (1u << 20)) {
			c->bad = 1;
			break;
		}
		t.tid = (pid_t)ms_cur_varint(c);
		name = rec_string_ref(r, c);
		snprintf(t.name, sizeof(t.name), "%s", name != NULL ? name : "");
		for (int k = 0; k < MS_REC_THREAD_FIELDS; k++)
			fields[k] = ms_cur_varint(c);
		ms_rec_thread_get(fields, &t, &view);
		if (rec_grow((void **)&st->threads, &st->cap_threads, index + 1,
			     sizeof(*st->threads)) != 0 ||
		    rec_grow((void **)&st->views, &st->cap_views, index + 1,
			     sizeof(*st->views)) != 0)
			return -ENOMEM;
		st->threads[index] = t;
		st->views[index] = view;
		if (index == st->nthreads)
			st->nthreads++;
	}
	return 0;
}

/* A frame's call sites: each figure a change from the site as known since
 * the key frame (none yet: from 0). */
static int read_sites(ms_recording *r, struct ms_cursor *c, struct state *st)
{
	int nfields = ms_rec_site_fields(r->version);
	uint64_t n = ms_cur_count(c, 1 + (size_t)nfields); /* stack id, fields */

	for (uint64_t i = 0; i < n && !c->bad; i++) {
		uint64_t id = ms_cur_varint(c), fields[MS_REC_SITE_FIELDS] = { 0 };
		ms_site_info si = { 0 };
		size_t old_cap = st->cap_sites;

		if (c->bad || id >= r->nstacks) {
			c->bad = 1;
			break;
		}
		if (id < st->cap_sites && st->present[id])
			memcpy(fields, st->figures[id], sizeof(fields));
		for (int k = 0; k < nfields; k++)
			fields[k] += rec_unzigzag(ms_cur_varint(c));
		if (ms_rec_site_get(fields, &si) != 0)
			c->bad = 1;
		si.stack = (uint32_t)id;
		if (rec_grow((void **)&st->sites, &st->cap_sites, id + 1,
			     sizeof(*st->sites)) != 0 ||
		    rec_grow((void **)&st->figures, &st->cap_figures, id + 1,
			     sizeof(*st->figures)) != 0)
			return -ENOMEM;
		if (st->cap_sites != old_cap) {
			unsigned char *more = realloc(st->present, st->cap_sites);

			if (more == NULL)
				return -ENOMEM;
			memset(more + old_cap, 0, st->cap_sites - old_cap);
			st->present = more;
		}
		st->sites[id] = si;
		memcpy(st->figures[id], fields, sizeof(fields));
		st->present[id] = 1;
	}
	return 0;
}

static int apply(ms_recording *r, const struct frame_ref *f, struct state *st, ms_snapshot *s,
		 int *exit_status)
{
	unsigned char *p;
	uint32_t len;
	struct ms_cursor c;
	uint64_t v[MS_REC_HEAD_FIELDS] = { 0 };
	int err = rec_load_payload(r, f->offset, f->length, f->packed, &p, &len);

	if (err != 0)
		return err;
	c = (struct ms_cursor){ p, p + len, 0 };
	for (int i = 0; i < ms_rec_head_fields(r->version); i++)
		v[i] = ms_cur_varint(&c);
	if (v[MS_REC_HEAD_KEY]) {
		st->nthreads = 0;
		if (st->present != NULL)
			memset(st->present, 0, st->cap_sites);
	}
	ms_rec_head_get(v, s, exit_status);
	err = read_threads(r, &c, st);
	if (err == 0 && !c.bad)
		err = read_sites(r, &c, st);
	if (err == 0 && !c.bad)
		err = read_notes(r, &c, st);
	free(p);
	if (err != 0)
		return err;
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
		d->mmap_bytes = g->mmap_bytes;
	}
	s->nsamples = count;
done:
	free(st.threads);
	free(st.views);
	free(st.notes);
	free(st.sites);
	free(st.figures);
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
