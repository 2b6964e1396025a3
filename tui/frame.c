#include "frame.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

size_t ms_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A JSON string: escapes what must be, replaces invalid UTF-8 with U+FFFD. */
static void json_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	fputc('"', out);
	while (n > 0) {
		size_t len = ms_utf8_len(s, n);

		if (len == 0) {
			fputs("\\ufffd", out);
			s++, n--;
			continue;
		}
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\u%04x", *s);
		else
			fwrite(s, 1, len, out);
		s += len;
		n -= len;
	}
	fputc('"', out);
}

const char *ms_frame_name(const ms_frame *f, char *buf, size_t len)
{
	const char *base;

	if (f->function != NULL) {
		snprintf(buf, len, "%s", f->function);
	} else if (f->module != NULL) {
		base = strrchr(f->module, '/');
		snprintf(buf, len, "%s+0x%" PRIx64, base != NULL ? base + 1 : f->module, f->offset);
	} else {
		snprintf(buf, len, "0x%" PRIx64, f->address);
	}
	return buf;
}

/* A string or null. */
static void json_string_or_null(FILE *out, const char *str)
{
	if (str != NULL)
		json_string(out, str);
	else
		fputs("null", out);
}

static void json_frame_fields(FILE *out, const ms_frame *f)
{
	char name[512];

	fputs("\"function\":", out);
	json_string(out, ms_frame_name(f, name, sizeof(name)));
	fputs(",\"file\":", out);
	json_string_or_null(out, f->file);
	fprintf(out, ",\"line\":%d,\"module\":", f->line);
	json_string_or_null(out, f->module);
}

/* ages: the snapshot's leak-scan ages, or NULL when no scan has run. */
/* A lifetime figure: seconds, or null when no block has ended. */
static void json_life(FILE *out, const char *key, double v)
{
	if (v < 0)
		fprintf(out, ",\"%s\":null", key);
	else
		fprintf(out, ",\"%s\":%.6f", key, v);
}

static void json_callsite(FILE *out, const ms_callsite *c, const double *ages)
{
	fputc('{', out);
	if (c->top != NULL) {
		json_frame_fields(out, c->top);
	} else {
		fputs("\"function\":", out);
		json_string(out, c->site.stack == 0 ? "(no stack)" : "(allocator)");
		fputs(",\"file\":null,\"line\":0,\"module\":null", out);
	}
	fputs(",\"stack\":[", out);
	for (uint32_t i = 0; i < c->depth; i++) {
		const ms_frame *f = c->frames[i];

		fputs(i ? ",{" : "{", out);
		json_frame_fields(out, f);
		/* offset: the address in the module's file, for addr2line and
		 * the like (null without a module). "inlined" only where true:
		 * most frames are not, and a reader that knows nothing of it
		 * takes every frame for a real call, as before. */
		fprintf(out, ",\"address\":\"0x%" PRIx64 "\"", f->address);
		if (f->module != NULL)
			fprintf(out, ",\"offset\":\"0x%" PRIx64 "\"", f->offset);
		else
			fputs(",\"offset\":null", out);
		fputs(f->inlined ? ",\"inlined\":true}" : "}", out);
	}
	fprintf(out,
		"],\"live_bytes\":%" PRIu64 ",\"live_allocs\":%" PRIu64
		",\"total_allocs\":%" PRIu64 ",\"total_frees\":%" PRIu64
		",\"total_bytes\":%" PRIu64 ",\"peak_bytes\":%" PRIu64
		",\"temporary_allocs\":%" PRIu64 ",\"kind\":\"%s\"",
		c->site.live_bytes, c->site.live_allocs, c->site.allocs, c->site.frees,
		c->site.alloc_bytes, c->site.peak_bytes, c->site.temporary_allocs,
		c->site.kind == MS_SITE_MMAP ? "mmap" : "heap");
	json_life(out, "lifetime_min_s", c->site.life_min_s);
	json_life(out, "lifetime_median_s", c->site.life_median_s);
	json_life(out, "lifetime_max_s", c->site.life_max_s);
	if (ages != NULL) {
		fputs(",\"aged\":[", out);
		for (unsigned a = 0; a < MS_STORE_AGES; a++)
			fprintf(out, "%s{\"age_s\":%g,\"live_bytes\":%" PRIu64 ",\"live_allocs\":%" PRIu64 "}",
				a ? "," : "", ages[a], c->site.old_bytes[a], c->site.old_allocs[a]);
		fputc(']', out);
	}
	fputc('}', out);
}

static size_t sites_shown(const ms_frame_extra *x)
{
	if (x == NULL || x->sites == NULL)
		return 0;
	return x->max_sites != 0 && x->max_sites < x->nsites ? x->max_sites : x->nsites;
}

/* "annotations": every annotated block, then the groups by each name. */
static void json_annotations(FILE *out, const ms_snapshot *s)
{
	fputs(",\"annotations\":{\"blocks\":[", out);
	for (size_t i = 0; i < s->nnotes; i++) {
		const ms_note_info *n = &s->notes[i];

		fputs(i ? ",{\"var\":" : "{\"var\":", out);
		json_string(out, n->var);
		fputs(",\"type\":", out);
		json_string(out, n->type);
		fputs(",\"scope\":", out);
		json_string(out, n->scope);
		fprintf(out,
			",\"address\":\"0x%" PRIx64 "\",\"size\":%" PRIu64 ",\"live\":%s"
			",\"borrows\":%u,\"lent\":%u,\"tracked_s\":%.3f,\"lifetime_s\":%.6f}",
			n->ptr, n->size, n->live ? "true" : "false", n->borrows, n->lent,
			n->tracked_s, n->lifetime_s);
	}
	fputc(']', out);
	for (ms_note_key by = MS_NOTE_BY_VAR; by <= MS_NOTE_BY_SCOPE; by++) {
		ms_note_group *g = NULL;
		int n = ms_note_groups(s, by, &g);

		fprintf(out, ",\"by_%s\":[", ms_note_key_name(by));
		for (int i = 0; i < n; i++) {
			fputs(i ? ",{\"name\":" : "{\"name\":", out);
			json_string(out, g[i].name);
			fprintf(out,
				",\"live_bytes\":%" PRIu64 ",\"live_allocs\":%" PRIu64
				",\"ended\":%" PRIu64 ",\"borrows\":%" PRIu64 ",\"lent\":%" PRIu64,
				g[i].live_bytes, g[i].live_allocs, g[i].ended, g[i].borrows, g[i].lent);
			json_life(out, "lifetime_min_s", g[i].life_min_s);
			json_life(out, "lifetime_median_s", g[i].life_median_s);
			json_life(out, "lifetime_max_s", g[i].life_max_s);
			fputc('}', out);
		}
		fputc(']', out);
		free(g);
	}
	fputc('}', out);
}

void ms_frame_print_json(FILE *out, const ms_snapshot *s, const ms_frame_extra *x)
{
	int exit_status = x != NULL ? x->exit_status : -1;

	fprintf(out, "{\"pid\":%d,\"command\":", (int)s->pid);
	json_string(out, s->command);
	fprintf(out,
		",\"generation\":%u,\"state\":\"%s\",\"time_s\":%.3f,\"exited\":%s",
		s->generation, ms_session_state_name(s->state), s->time_s,
		s->state == MS_SESSION_RUNNING ? "false" : "true");
	if (exit_status >= 0)
		fprintf(out, ",\"exit_status\":%d", exit_status);
	fprintf(out,
		",\"live_bytes\":%" PRIu64 ",\"live_allocs\":%" PRIu64
		",\"peak_bytes\":%" PRIu64 ",\"peak_time_s\":%.3f"
		",\"total_allocs\":%" PRIu64 ",\"total_frees\":%" PRIu64
		",\"total_reallocs\":%" PRIu64 ",\"total_bytes\":%" PRIu64
		",\"rss_bytes\":%" PRIu64 ",\"cpu_percent\":%.1f,\"memscope_cpu_percent\":%.1f"
		",\"thread_count\":%" PRIu64
		",\"dropped_events\":%" PRIu64 ",\"untracked_frees\":%" PRIu64
		",\"temporary_allocs\":%" PRIu64 ",\"mmap_live_bytes\":%" PRIu64
		",\"mmap_peak_bytes\":%" PRIu64 ",\"mmap_total_maps\":%" PRIu64,
		s->live_bytes, s->live_allocs, s->peak_bytes, s->peak_time_s, s->total_allocs,
		s->total_frees, s->total_reallocs, s->total_bytes, s->rss_bytes, s->cpu_percent,
		s->memscope_cpu_percent, s->thread_count, s->dropped_events, s->untracked_frees,
		s->temporary_allocs, s->mmap_live_bytes, s->mmap_peak_bytes, s->mmap_total_maps);
	fprintf(out, ",\"python_pymalloc\":%s", s->python_pymalloc ? "true" : "false");
	fputs(",\"threads\":[", out);
	for (size_t i = 0; i < s->nthreads; i++) {
		const ms_thread_info *t = &s->threads[i];

		fprintf(out, "%s{\"tid\":%d,\"name\":", i ? "," : "", (int)t->tid);
		json_string(out, t->name);
		fprintf(out,
			",\"state\":\"%s\",\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64
			",\"alloc_bytes\":%" PRIu64 ",\"live_bytes\":%" PRIu64
			",\"live_allocs\":%" PRIu64 "}",
			t->exited ? "exited" : "running", t->allocs, t->frees, t->alloc_bytes,
			t->live_bytes, t->live_allocs);
	}
	fputs("],\"callsites\":[", out);
	for (size_t i = 0; i < sites_shown(x); i++) {
		if (i)
			fputc(',', out);
		json_callsite(out, &x->sites[i], s->ages_scanned ? s->age_s : NULL);
	}
	fputc(']', out);
	json_annotations(out, s);
	fputs("}\n", out);
}

const char *ms_format_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *ms_format_command(char *buf, size_t len, const char *command)
{
	const unsigned char *s = (const unsigned char *)command;
	size_t n = strlen(command), at = 0;

	if (len == 0)
		return buf;
	while (n > 0) {
		size_t take = ms_utf8_len(s, n);
		char esc[8];
		const char *piece = esc;
		size_t plen;

		if (take == 0) {
			take = 1;
			snprintf(esc, sizeof(esc), "\\x%02x", s[0]);
		} else if (s[0] == '\n' || s[0] == '\t' || s[0] == '\r') {
			snprintf(esc, sizeof(esc), "\\%c", s[0] == '\n' ? 'n' : s[0] == '\t' ? 't' : 'r');
		} else if (s[0] < 0x20 || s[0] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", s[0]);
		} else if (take == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
			snprintf(esc, sizeof(esc), "\\u%04x", s[1]); /* C1: U+0080..U+009F */
		} else {
			piece = (const char *)s;
		}
		plen = piece == esc ? strlen(esc) : take;
		if (at + plen >= len)
			break;
		memcpy(buf + at, piece, plen);
		at += plen;
		s += take;
		n -= take;
	}
	buf[at] = '\0';
	return buf;
}

static int by_live_bytes(const void *a, const void *b)
{
	const ms_thread_info *x = *(const ms_thread_info *const *)a;
	const ms_thread_info *y = *(const ms_thread_info *const *)b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

#define TEXT_THREADS 20
#define TEXT_SITES 10

void ms_frame_print_site_head(FILE *out)
{
	fprintf(out, "%12s %10s %12s  %s\n", "LIVE_BYTES", "LIVE", "TOTAL_BYTES", "CALL SITE");
}

void ms_frame_print_site_row(FILE *out, const ms_callsite *c)
{
	char b1[32], b2[32];

	fprintf(out, "%12s %10" PRIu64 " %12s  ", ms_format_bytes(b1, sizeof(b1), c->site.live_bytes),
		c->site.live_allocs, ms_format_bytes(b2, sizeof(b2), c->site.alloc_bytes));
	ms_frame_print_site_name(out, c);
	fputc('\n', out);
}

void ms_frame_print_site_name(FILE *out, const ms_callsite *c)
{
	char name[512];

	if (c->top == NULL)
		fputs(c->site.stack == 0 ? "(no stack)" : "(allocator)", out);
	else
		fputs(ms_frame_name(c->top, name, sizeof(name)), out);
	if (c->top != NULL && c->top->file != NULL)
		fprintf(out, " (%s:%d)", c->top->file, c->top->line);
}

static void text_sites(FILE *out, const ms_frame_extra *x)
{
	size_t n = sites_shown(x);

	if (n == 0)
		return;
	if (n > TEXT_SITES)
		n = TEXT_SITES;
	ms_frame_print_site_head(out);
	for (size_t i = 0; i < n; i++)
		ms_frame_print_site_row(out, &x->sites[i]);
}

/* Annotated blocks by variable, when the program annotates any. */
static void text_annotations(FILE *out, const ms_snapshot *s)
{
	ms_note_group *g = NULL;
	int n = s->nnotes > 0 ? ms_note_groups(s, MS_NOTE_BY_VAR, &g) : 0;
	char b[32];

	if (n <= 0) {
		free(g);
		return;
	}
	fprintf(out, "%12s %10s %8s %8s %12s  %s\n", "LIVE_BYTES", "LIVE", "ENDED", "BORROWS",
		"MEDIAN_LIFE", "VARIABLE");
	for (int i = 0; i < n && i < TEXT_SITES; i++) {
		fprintf(out, "%12s %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " ",
			ms_format_bytes(b, sizeof(b), g[i].live_bytes), g[i].live_allocs, g[i].ended,
			g[i].borrows);
		if (g[i].life_median_s < 0)
			fprintf(out, "%12s", "-");
		else if (g[i].life_median_s < 1)
			fprintf(out, "%10.3fms", g[i].life_median_s * 1e3);
		else
			fprintf(out, "%11.3fs", g[i].life_median_s);
		fprintf(out, "  %s\n", g[i].name[0] ? g[i].name : "(unnamed)");
	}
	free(g);
}

void ms_frame_print_text(FILE *out, const ms_snapshot *s, const ms_frame_extra *x)
{
	char live[32], peak[32], rss[32], total[32], b1[32], b2[32];
	char command[MS_COMMAND_MAX * 4]; /* room for every byte escaped */
	const ms_thread_info **order;
	int exit_status = x != NULL ? x->exit_status : -1;

	fprintf(out, "memscope - pid %d - %s - %s %.1fs", (int)s->pid,
		ms_format_command(command, sizeof(command), s->command),
		ms_session_state_name(s->state), s->time_s);
	if (exit_status >= 0)
		fprintf(out, " (exit status %d)", exit_status);
	fprintf(out, "\nHeap: %s live in %" PRIu64 " blocks, peak %s at %.1fs | RSS %s | CPU %.1f%%"
		" (memscope %.1f%%) | %" PRIu64 " threads\n",
		ms_format_bytes(live, sizeof(live), s->live_bytes), s->live_allocs,
		ms_format_bytes(peak, sizeof(peak), s->peak_bytes), s->peak_time_s,
		ms_format_bytes(rss, sizeof(rss), s->rss_bytes), s->cpu_percent,
		s->memscope_cpu_percent, s->thread_count);
	fprintf(out,
		"Ops: %" PRIu64 " allocs, %" PRIu64 " frees (%" PRIu64 " temporary), %" PRIu64
		" reallocs, %s allocated | dropped %" PRIu64 "\n",
		s->total_allocs, s->total_frees, s->temporary_allocs, s->total_reallocs,
		ms_format_bytes(total, sizeof(total), s->total_bytes), s->dropped_events);
	if (s->mmap_total_maps > 0)
		fprintf(out, "Mapped: %s live, peak %s, %" PRIu64 " mappings made\n",
			ms_format_bytes(b1, sizeof(b1), s->mmap_live_bytes),
			ms_format_bytes(b2, sizeof(b2), s->mmap_peak_bytes), s->mmap_total_maps);
	if (s->python_pymalloc)
		fprintf(out, "%s\n", MS_PYTHON_HINT);
	fprintf(out, "%8s %-16s %-8s %10s %10s %12s %12s\n", "TID", "NAME", "STATE", "ALLOCS",
		"FREES", "ALLOC_BYTES", "LIVE_BYTES");
	order = malloc(s->nthreads * sizeof(*order) + 1);
	if (order != NULL) {
		for (size_t i = 0; i < s->nthreads; i++)
			order[i] = &s->threads[i];
		qsort(order, s->nthreads, sizeof(*order), by_live_bytes);
		for (size_t i = 0; i < s->nthreads && i < TEXT_THREADS; i++) {
			const ms_thread_info *t = order[i];

			fprintf(out, "%8d %-16s %-8s %10" PRIu64 " %10" PRIu64 " %12s %12s\n",
				(int)t->tid, t->name, t->exited ? "exited" : "running", t->allocs,
				t->frees, ms_format_bytes(b1, sizeof(b1), t->alloc_bytes),
				ms_format_bytes(b2, sizeof(b2), t->live_bytes));
		}
		if (s->nthreads > TEXT_THREADS)
			fprintf(out, "%8s (%zu more threads)\n", "", s->nthreads - TEXT_THREADS);
		free(order);
	}
	text_sites(out, x);
	text_annotations(out, s);
	fputc('\n', out);
}
