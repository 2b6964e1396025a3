/* The call-site table: one row per stack, function, module or thread, with
 * the selected row's full stack opened under it on Enter. */
#define _GNU_SOURCE
#include "ui.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/frame.h>

enum { COL_LIVE_BYTES, COL_LIVE, COL_ALLOCS, COL_TOTAL_BYTES, COL_PEAK, COL_PERCENT, COL_NAME,
       NCOLS };

static const char *const columns[NCOLS] = {
	"LIVE_BYTES", "LIVE", "ALLOCS", "TOTAL_BYTES", "PEAK", "%LIVE", "CALL SITE",
};
static const int widths[NCOLS] = { 11, 8, 9, 12, 11, 6, 0 };

struct row {
	char name[256];
	char where[256];
	uint64_t key;
	uint64_t live_bytes, live_allocs, allocs, total_bytes, peak;
	const ms_callsite *example; /* the heaviest member, for its stack */
};

/* Rows of the last draw (the main thread only). */
static struct row *rows;
static size_t nrows, cap;
static int sort_column, sort_ascending;

static uint64_t hash_text(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ull;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (; b && *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ull;
	return h | 1;
}

static struct row *add_row(void)
{
	if (nrows == cap) {
		size_t n = cap ? cap * 2 : 256;
		struct row *more = realloc(rows, n * sizeof(*more));

		if (more == NULL)
			return NULL;
		rows = more;
		cap = n;
	}
	memset(&rows[nrows], 0, sizeof(rows[nrows]));
	return &rows[nrows++];
}

static const char *base_name(const char *path)
{
	const char *slash = path != NULL ? strrchr(path, '/') : NULL;

	return slash != NULL ? slash + 1 : path != NULL ? path : "?";
}

static void describe(const ms_callsite *c, int group, char *name, size_t nlen, char *where,
		     size_t wlen)
{
	const ms_frame *f = c->top;

	if (f == NULL) {
		snprintf(name, nlen, "%s", c->site.stack == 0 ? "(no stack)" : "(allocator)");
		where[0] = '\0';
		return;
	}
	if (group == MS_GROUP_MODULE) {
		snprintf(name, nlen, "%s", base_name(f->module));
		snprintf(where, wlen, "%s", f->module != NULL ? f->module : "");
		return;
	}
	ms_frame_name(f, name, nlen);
	if (f->file != NULL && group == MS_GROUP_STACK)
		snprintf(where, wlen, "%s:%d", f->file, f->line);
	else if (f->file != NULL)
		snprintf(where, wlen, "%s", f->file);
	else
		snprintf(where, wlen, "%s", base_name(f->module));
}

static int matches(const struct ms_ui *ui, const char *name, const char *where)
{
	return ui->filter[0] == '\0' || strcasestr(name, ui->filter) != NULL ||
	       strcasestr(where, ui->filter) != NULL;
}

static int by_key(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* Merges rows of equal key (after sorting by key). */
static void merge_groups(void)
{
	size_t out = 0;

	qsort(rows, nrows, sizeof(*rows), by_key);
	for (size_t i = 0; i < nrows; i++) {
		if (out > 0 && rows[out - 1].key == rows[i].key) {
			struct row *g = &rows[out - 1];

			g->live_bytes += rows[i].live_bytes;
			g->live_allocs += rows[i].live_allocs;
			g->allocs += rows[i].allocs;
			g->total_bytes += rows[i].total_bytes;
			g->peak += rows[i].peak;
			if (rows[i].example != NULL &&
			    (g->example == NULL ||
			     rows[i].example->site.live_bytes > g->example->site.live_bytes))
				g->example = rows[i].example;
		} else {
			rows[out++] = rows[i];
		}
	}
	nrows = out;
}

static void build_rows(const struct ms_ui *ui, const ms_model *m)
{
	nrows = 0;
	if (ui->group == MS_GROUP_THREAD) {
		for (size_t i = 0; i < m->snap.nthreads; i++) {
			const ms_thread_info *t = &m->snap.threads[i];
			struct row *r;
			char where[32];

			snprintf(where, sizeof(where), "tid %d", (int)t->tid);
			if (!matches(ui, t->name, where) || (r = add_row()) == NULL)
				continue;
			snprintf(r->name, sizeof(r->name), "%s", t->name);
			snprintf(r->where, sizeof(r->where), "%s", where);
			r->key = (uint64_t)t->tid + 1;
			r->live_bytes = t->live_bytes;
			r->live_allocs = t->live_allocs;
			r->allocs = t->allocs;
			r->total_bytes = t->alloc_bytes;
		}
		return;
	}
	for (size_t i = 0; i < m->nsites; i++) {
		const ms_callsite *c = &m->sites[i];
		char name[256], where[256];
		struct row *r;

		describe(c, ui->group, name, sizeof(name), where, sizeof(where));
		if (!matches(ui, name, where) || (r = add_row()) == NULL)
			continue;
		memcpy(r->name, name, sizeof(name));
		memcpy(r->where, where, sizeof(where));
		r->key = ui->group == MS_GROUP_STACK ? (uint64_t)c->site.stack + 1 :
		         ui->group == MS_GROUP_FUNCTION ? hash_text(name, where) :
		                                          hash_text(where, NULL);
		r->live_bytes = c->site.live_bytes;
		r->live_allocs = c->site.live_allocs;
		r->allocs = c->site.allocs;
		r->total_bytes = c->site.alloc_bytes;
		r->peak = c->site.peak_bytes;
		r->example = c;
	}
	if (ui->group != MS_GROUP_STACK)
		merge_groups();
}

static uint64_t column_value(const struct row *r, int col)
{
	switch (col) {
	case COL_LIVE_BYTES:
	case COL_PERCENT:
		return r->live_bytes;
	case COL_LIVE:
		return r->live_allocs;
	case COL_ALLOCS:
		return r->allocs;
	case COL_TOTAL_BYTES:
		return r->total_bytes;
	case COL_PEAK:
		return r->peak;
	}
	return 0;
}

static int by_column(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int cmp;

	if (sort_column == COL_NAME) {
		cmp = strcmp(x->name, y->name);
	} else {
		uint64_t vx = column_value(x, sort_column), vy = column_value(y, sort_column);

		cmp = vx < vy ? 1 : vx > vy ? -1 : 0; /* large first */
	}
	if (cmp == 0)
		cmp = x->key < y->key ? -1 : x->key > y->key;
	return sort_ascending ? -cmp : cmp;
}

static void draw_head(struct ms_ui *ui)
{
	char line[512];
	int col = 0;

	attron(ui->colors ? COLOR_PAIR(MS_COLOR_TABLE_HEAD) : A_REVERSE);
	mvhline(ui->table_top, 0, ' ', ui->cols);
	attroff(ui->colors ? COLOR_PAIR(MS_COLOR_TABLE_HEAD) : A_REVERSE);
	for (int i = 0; i < NCOLS; i++) {
		int sorted = i == ui->sort[MS_VIEW_SITES];

		if (widths[i] > 0)
			snprintf(line, sizeof(line), "%*s ", widths[i] - 1, columns[i]);
		else
			snprintf(line, sizeof(line), " %s", columns[i]);
		ms_ui_text(ui, ui->table_top, col, (int)strlen(line),
			   sorted ? MS_COLOR_SELECTED : MS_COLOR_TABLE_HEAD, sorted ? A_BOLD : 0,
			   line);
		if (!ui->colors && sorted)
			ms_ui_text(ui, ui->table_top, col, (int)strlen(line), 0, A_BOLD | A_UNDERLINE,
				   line);
		col += widths[i];
	}
}

static void draw_row(struct ms_ui *ui, int y, const struct row *r, uint64_t total_live, int selected)
{
	char lb[32], tb[32], pb[32], line[1024];
	double pct = total_live ? 100.0 * (double)r->live_bytes / (double)total_live : 0;
	int color = selected ? MS_COLOR_SELECTED : 0;

	snprintf(line, sizeof(line), "%10s %7" PRIu64 " %8" PRIu64 " %11s %10s %5.1f  %s  %s",
		 ms_format_bytes(lb, sizeof(lb), r->live_bytes), r->live_allocs, r->allocs,
		 ms_format_bytes(tb, sizeof(tb), r->total_bytes),
		 ms_format_bytes(pb, sizeof(pb), r->peak), pct, r->name, r->where);
	if (selected) {
		attron(ui->colors ? COLOR_PAIR(MS_COLOR_SELECTED) : A_REVERSE);
		mvhline(y, 0, ' ', ui->cols);
		attroff(ui->colors ? COLOR_PAIR(MS_COLOR_SELECTED) : A_REVERSE);
	}
	ms_ui_text(ui, y, 0, ui->cols, color, selected && !ui->colors ? A_REVERSE : 0, line);
}

/* The full stack of an opened row, one frame a line. */
static int draw_stack(struct ms_ui *ui, int y, int last, const ms_callsite *c)
{
	char name[512];
	int drawn = 0;

	if (c == NULL || c->depth == 0) {
		ms_ui_text(ui, y, 4, ui->cols - 4, MS_COLOR_DIM, 0, "(no frames recorded)");
		return 1;
	}
	for (uint32_t i = 0; i < c->depth && y + drawn <= last; i++) {
		const ms_frame *f = c->frames[i];

		char where[300] = "";

		if (f->file != NULL)
			snprintf(where, sizeof(where), "  %s:%d", f->file, f->line);
		ms_ui_textf(ui, y + drawn, 4, ui->cols - 4, f->allocator ? MS_COLOR_DIM : MS_COLOR_RSS, 0,
			    "%s %s%s  [%s]", f == c->top ? ">" : " ",
			    ms_frame_name(f, name, sizeof(name)), where, base_name(f->module));
		drawn++;
	}
	return drawn;
}

static int sites_draw(struct ms_ui *ui, const ms_model *m)
{
	int y = ui->table_top + 1, last = ui->table_top + ui->table_rows;

	build_rows(ui, m);
	sort_column = ui->sort[MS_VIEW_SITES];
	sort_ascending = ui->ascending[MS_VIEW_SITES];
	qsort(rows, nrows, sizeof(*rows), by_column);
	ms_ui_clamp_selection(ui, (int)nrows);
	draw_head(ui);
	for (size_t i = (size_t)ui->scroll[MS_VIEW_SITES]; i < nrows && y <= last; i++) {
		draw_row(ui, y++, &rows[i], m->snap.live_bytes, (int)i == ui->selected[MS_VIEW_SITES]);
		if (rows[i].key == ui->expanded_key && ui->group != MS_GROUP_THREAD)
			y += draw_stack(ui, y, last, rows[i].example);
	}
	if (nrows == 0)
		ms_ui_text(ui, y, 2, ui->cols - 2, MS_COLOR_DIM, 0,
			   ui->filter[0] ? "(no call site matches the filter)" : "(no allocations yet)");
	return (int)nrows;
}

static void sites_activate(struct ms_ui *ui, const ms_model *m)
{
	int sel = ui->selected[MS_VIEW_SITES];

	(void)m;
	if (sel < 0 || (size_t)sel >= nrows)
		return;
	ui->expanded_key = ui->expanded_key == rows[sel].key ? 0 : rows[sel].key;
}

const ms_view_ops ms_view_sites = {
	.title = "Call sites",
	.ncolumns = NCOLS,
	.columns = columns,
	.widths = widths,
	.draw = sites_draw,
	.activate = sites_activate,
};
