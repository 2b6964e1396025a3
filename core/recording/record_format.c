#include "record_format.h"

#include <stdlib.h>
#include <string.h>

#include <memscope/grow.h>
#include <memscope/recording.h>

/* How a head field holds its snapshot figure. */
enum head_unit {
	COUNT,  /* a uint64_t as it is */
	MICROS, /* seconds (double) as µs */
	TENTHS, /* a percentage (double) in tenths */
	FLAG,   /* an int, 0 or 1 */
	STATE,  /* an ms_session_state */
	EXIT,   /* the exit status (not in the snapshot), + 1 */
};

#define FIELD(field, member, unit) { field, offsetof(ms_snapshot, member), unit }
#define NOT_IN_SNAPSHOT 0

static const struct {
	enum ms_rec_head_field field;
	size_t offset;
	enum head_unit unit;
} head_fields[] = {
	FIELD(MS_REC_HEAD_TIME, time_s, MICROS),
	FIELD(MS_REC_HEAD_STATE, state, STATE),
	{ MS_REC_HEAD_EXIT, NOT_IN_SNAPSHOT, EXIT },
	FIELD(MS_REC_HEAD_LIVE_BYTES, live_bytes, COUNT),
	FIELD(MS_REC_HEAD_LIVE_ALLOCS, live_allocs, COUNT),
	FIELD(MS_REC_HEAD_PEAK_BYTES, peak_bytes, COUNT),
	FIELD(MS_REC_HEAD_PEAK_TIME, peak_time_s, MICROS),
	FIELD(MS_REC_HEAD_ALLOCS, total_allocs, COUNT),
	FIELD(MS_REC_HEAD_FREES, total_frees, COUNT),
	FIELD(MS_REC_HEAD_REALLOCS, total_reallocs, COUNT),
	FIELD(MS_REC_HEAD_BYTES, total_bytes, COUNT),
	FIELD(MS_REC_HEAD_RSS, rss_bytes, COUNT),
	FIELD(MS_REC_HEAD_CPU, cpu_percent, TENTHS),
	FIELD(MS_REC_HEAD_DROPPED, dropped_events, COUNT),
	FIELD(MS_REC_HEAD_UNTRACKED, untracked_frees, COUNT),
	FIELD(MS_REC_HEAD_OVERFLOWED, threads_overflowed, COUNT),
	FIELD(MS_REC_HEAD_AGES_SCANNED, ages_scanned, FLAG),
	FIELD(MS_REC_HEAD_THREADS, thread_count, COUNT),
	FIELD(MS_REC_HEAD_OWN_CPU, memscope_cpu_percent, TENTHS),
	FIELD(MS_REC_HEAD_TEMPORARY, temporary_allocs, COUNT),
	FIELD(MS_REC_HEAD_MMAP_LIVE, mmap_live_bytes, COUNT),
	FIELD(MS_REC_HEAD_MMAP_PEAK, mmap_peak_bytes, COUNT),
	FIELD(MS_REC_HEAD_MMAP_MAPS, mmap_total_maps, COUNT),
};

_Static_assert(sizeof(head_fields) / sizeof(head_fields[0]) == MS_REC_HEAD_FIELDS - 2,
	       "every head field but key and session has its entry");

uint64_t ms_rec_us(double seconds)
{
	return seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0;
}

uint64_t ms_rec_life(double seconds)
{
	double ns = seconds * 1e9 + 0.5;

	if (!(seconds >= 0))
		return 0;
	return (ns < (double)(MS_REC_MAX_LIFE_NS - 1) ? (uint64_t)ns : MS_REC_MAX_LIFE_NS - 1) + 1;
}

double ms_rec_life_s(uint64_t v)
{
	return v == 0 ? -1 : (double)(v - 1) / 1e9;
}

/* A rate or a percentage in the file's units: rounded, 0 for none. */
static uint64_t scaled(double x, double unit)
{
	return x > 0 ? (uint64_t)(x * unit + 0.5) : 0;
}

void ms_rec_thread_put(uint64_t v[MS_REC_THREAD_FIELDS], const ms_thread_info *t,
		       const ms_thread_view *view)
{
	static const ms_thread_view unknown = { .state = '-' };

	if (view == NULL)
		view = &unknown;
	v[MS_REC_THREAD_EXITED] = t->exited ? 1 : 0;
	v[MS_REC_THREAD_ALLOCS] = t->allocs;
	v[MS_REC_THREAD_FREES] = t->frees;
	v[MS_REC_THREAD_ALLOC_BYTES] = t->alloc_bytes;
	v[MS_REC_THREAD_FREE_BYTES] = t->free_bytes;
	v[MS_REC_THREAD_LIVE_BYTES] = t->live_bytes;
	v[MS_REC_THREAD_LIVE_ALLOCS] = t->live_allocs;
	v[MS_REC_THREAD_STATE] = (unsigned char)view->state;
	v[MS_REC_THREAD_CPU] = scaled(view->cpu_percent, 1000);
	v[MS_REC_THREAD_ALLOC_RATE] = scaled(view->allocs_per_s, 1);
	v[MS_REC_THREAD_FREE_RATE] = scaled(view->frees_per_s, 1);
}

void ms_rec_thread_get(const uint64_t v[MS_REC_THREAD_FIELDS], ms_thread_info *t,
		       ms_thread_view *view)
{
	uint64_t state = v[MS_REC_THREAD_STATE];

	t->exited = v[MS_REC_THREAD_EXITED] != 0;
	t->allocs = v[MS_REC_THREAD_ALLOCS];
	t->frees = v[MS_REC_THREAD_FREES];
	t->alloc_bytes = v[MS_REC_THREAD_ALLOC_BYTES];
	t->free_bytes = v[MS_REC_THREAD_FREE_BYTES];
	t->live_bytes = v[MS_REC_THREAD_LIVE_BYTES];
	t->live_allocs = v[MS_REC_THREAD_LIVE_ALLOCS];
	view->state = state >= 0x21 && state < 0x7f ? (char)state : '?';
	view->cpu_percent = (double)v[MS_REC_THREAD_CPU] / 1000.0;
	view->allocs_per_s = (double)v[MS_REC_THREAD_ALLOC_RATE];
	view->frees_per_s = (double)v[MS_REC_THREAD_FREE_RATE];
}

void ms_rec_site_put(uint64_t v[MS_REC_SITE_FIELDS], const ms_site_info *s)
{
	v[MS_REC_SITE_ALLOCS] = s->allocs;
	v[MS_REC_SITE_FREES] = s->frees;
	v[MS_REC_SITE_ALLOC_BYTES] = s->alloc_bytes;
	v[MS_REC_SITE_FREE_BYTES] = s->free_bytes;
	v[MS_REC_SITE_PEAK] = s->peak_bytes;
	for (unsigned a = 0; a < MS_STORE_AGES; a++) {
		v[MS_REC_SITE_OLD + 2 * a] = s->old_bytes[a];
		v[MS_REC_SITE_OLD + 2 * a + 1] = s->old_allocs[a];
	}
	v[MS_REC_SITE_LIFE] = ms_rec_life(s->life_min_s);
	v[MS_REC_SITE_LIFE + 1] = ms_rec_life(s->life_median_s);
	v[MS_REC_SITE_LIFE + 2] = ms_rec_life(s->life_max_s);
	v[MS_REC_SITE_TEMPORARY] = s->temporary_allocs;
	v[MS_REC_SITE_KIND] = (uint64_t)s->kind;
}

void ms_rec_note_put(uint64_t v[MS_REC_NOTE_FIELDS], const ms_note_info *n)
{
	v[MS_REC_NOTE_PTR] = n->ptr;
	v[MS_REC_NOTE_SIZE] = n->size;
	v[MS_REC_NOTE_LIVE] = n->live ? 1 : 0;
	v[MS_REC_NOTE_BORROWS] = n->borrows;
	v[MS_REC_NOTE_LENT] = n->lent;
	v[MS_REC_NOTE_TRACKED] = ms_rec_us(n->tracked_s);
	v[MS_REC_NOTE_LIFETIME] = ms_rec_life(n->lifetime_s);
}

void ms_rec_note_get(const uint64_t v[MS_REC_NOTE_FIELDS], ms_note_info *n)
{
	n->ptr = v[MS_REC_NOTE_PTR];
	n->size = v[MS_REC_NOTE_SIZE];
	n->live = v[MS_REC_NOTE_LIVE] != 0;
	n->borrows = (uint32_t)v[MS_REC_NOTE_BORROWS];
	n->lent = (uint32_t)v[MS_REC_NOTE_LENT];
	n->tracked_s = (double)v[MS_REC_NOTE_TRACKED] / 1e6;
	n->lifetime_s = ms_rec_life_s(v[MS_REC_NOTE_LIFETIME] & (MS_REC_MAX_LIFE_NS - 1));
	if (n->lifetime_s < 0)
		n->lifetime_s = 0;
}

int ms_rec_site_get(const uint64_t v[MS_REC_SITE_FIELDS], ms_site_info *s)
{
	for (int k = 0; k < 3; k++)
		if (v[MS_REC_SITE_LIFE + k] > MS_REC_MAX_LIFE_NS)
			return -1;
	if (v[MS_REC_SITE_KIND] > MS_SITE_MMAP)
		return -1;
	s->allocs = v[MS_REC_SITE_ALLOCS];
	s->frees = v[MS_REC_SITE_FREES];
	s->alloc_bytes = v[MS_REC_SITE_ALLOC_BYTES];
	s->free_bytes = v[MS_REC_SITE_FREE_BYTES];
	s->peak_bytes = v[MS_REC_SITE_PEAK];
	for (unsigned a = 0; a < MS_STORE_AGES; a++) {
		s->old_bytes[a] = v[MS_REC_SITE_OLD + 2 * a];
		s->old_allocs[a] = v[MS_REC_SITE_OLD + 2 * a + 1];
	}
	s->life_min_s = ms_rec_life_s(v[MS_REC_SITE_LIFE]);
	s->life_median_s = ms_rec_life_s(v[MS_REC_SITE_LIFE + 1]);
	s->life_max_s = ms_rec_life_s(v[MS_REC_SITE_LIFE + 2]);
	s->temporary_allocs = v[MS_REC_SITE_TEMPORARY];
	s->kind = (ms_site_kind)v[MS_REC_SITE_KIND];
	s->live_allocs = s->allocs > s->frees ? s->allocs - s->frees : 0;
	s->live_bytes = s->alloc_bytes > s->free_bytes ? s->alloc_bytes - s->free_bytes : 0;
	return 0;
}

void ms_rec_head_put(uint64_t v[MS_REC_HEAD_FIELDS], const ms_snapshot *s, int exit_status)
{
	for (size_t i = 0; i < sizeof(head_fields) / sizeof(head_fields[0]); i++) {
		const char *at = (const char *)s + head_fields[i].offset;
		uint64_t *out = &v[head_fields[i].field];
		double d;

		switch (head_fields[i].unit) {
		case COUNT:
			memcpy(out, at, sizeof(*out));
			break;
		case MICROS:
			memcpy(&d, at, sizeof(d));
			*out = ms_rec_us(d);
			break;
		case TENTHS:
			memcpy(&d, at, sizeof(d));
			*out = d > 0 ? (uint64_t)(d * 10 + 0.5) : 0;
			break;
		case FLAG:
			*out = *(const int *)at != 0;
			break;
		case STATE:
			*out = (uint64_t)*(const ms_session_state *)at;
			break;
		case EXIT:
			*out = exit_status >= 0 ? (uint64_t)exit_status + 1 : 0;
			break;
		}
	}
}

/* The file's values are untrusted: every one decodes to something valid. */
void ms_rec_head_get(const uint64_t v[MS_REC_HEAD_FIELDS], ms_snapshot *s, int *exit_status)
{
	for (size_t i = 0; i < sizeof(head_fields) / sizeof(head_fields[0]); i++) {
		char *at = (char *)s + head_fields[i].offset;
		uint64_t in = v[head_fields[i].field];
		double d;

		switch (head_fields[i].unit) {
		case COUNT:
			memcpy(at, &in, sizeof(in));
			break;
		case MICROS:
			d = (double)in / 1e6;
			memcpy(at, &d, sizeof(d));
			break;
		case TENTHS:
			d = (double)in / 10.0;
			memcpy(at, &d, sizeof(d));
			break;
		case FLAG:
			*(int *)at = in != 0;
			break;
		case STATE:
			*(ms_session_state *)at =
				in <= MS_SESSION_GONE ? (ms_session_state)in : MS_SESSION_GONE;
			break;
		case EXIT:
			*exit_status = in ? (int)(in - 1 < 256 ? in - 1 : 255) : -1;
			break;
		}
	}
}

uint32_t ms_crc32c(uint32_t crc, const void *data, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const unsigned char *p = data;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1; /* Castagnoli */
			table[i] = c;
		}
		ready = 1;
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void reserve(struct ms_buf *b, size_t more)
{
	unsigned char *d;

	if (b->failed || b->len + more <= b->cap)
		return;
	d = more <= SIZE_MAX - b->len ? ms_grow(b->data, &b->cap, b->len + more, 1, 4096) : NULL;
	if (d == NULL) {
		b->failed = 1;
		return;
	}
	b->data = d;
}

void ms_buf_put_varint(struct ms_buf *b, uint64_t v)
{
	reserve(b, 10);
	if (b->failed)
		return;
	while (v >= 0x80) {
		b->data[b->len++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	b->data[b->len++] = (unsigned char)v;
}

void ms_buf_put_bytes(struct ms_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void ms_buf_put_string(struct ms_buf *b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > MS_REC_MAX_STRING)
		n = MS_REC_MAX_STRING;
	ms_buf_put_varint(b, n);
	ms_buf_put_bytes(b, s, n);
}

void ms_buf_free(struct ms_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

uint64_t ms_cur_varint(struct ms_cursor *c)
{
	uint64_t v = 0;

	for (int shift = 0; !c->bad; shift += 7) {
		unsigned char byte;

		if (c->p >= c->end || shift > 63) {
			c->bad = 1;
			break;
		}
		byte = *c->p++;
		if (shift == 63 && byte > 1) {
			c->bad = 1;
			break;
		}
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	return 0;
}

void ms_cur_string(struct ms_cursor *c, char *buf, size_t len)
{
	uint64_t n = ms_cur_varint(c);
	size_t copy;

	if (len > 0)
		buf[0] = '\0';
	if (c->bad)
		return;
	if (n > MS_REC_MAX_STRING || n > (uint64_t)(c->end - c->p)) {
		c->bad = 1;
		return;
	}
	copy = n < len ? (size_t)n : len - 1;
	memcpy(buf, c->p, copy);
	buf[copy] = '\0';
	c->p += n;
}

uint64_t ms_cur_count(struct ms_cursor *c, size_t min_bytes)
{
	uint64_t n = ms_cur_varint(c);

	if (!c->bad && n > (uint64_t)(c->end - c->p) / (min_bytes ? min_bytes : 1))
		c->bad = 1;
	return c->bad ? 0 : n;
}
