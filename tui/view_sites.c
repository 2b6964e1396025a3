/* The call-site table: one row per stack, function, module or thread, with
 * the selected row's full stack opened under it on Enter. The leak view is
 * the same table over the live blocks older than an age. */
#define _GNU_SOURCE
#include "rank.h"
#include "ui.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/grow.h>

#include "frame.h"

/* TEMP: blocks freed before their thread allocated again (heaptrack's
 * temporaries, memscope/event.h). */
enum { COL_LIVE_BYTES, COL_LIVE, COL_ALLOCS, COL_TEMP, COL_TOTAL_BYTES, COL_PEAK, COL_LIFE,
       COL_PERCENT, COL_NAME, NCOLS };

static const char *const columns[NCOLS] = {
	"LIVE_BYTES", "LIVE", "ALLOCS", "TEMP", "TOTAL_BYTES", "PEAK", "MED_LIFE", "%LIVE", "CALL SITE",
};
/* The leak view's columns, in the same places. */
static const char *const leak_columns[NCOLS] = {
	"OLD_BYTES", "OLD", "ALLOCS", "TEMP", "TOTAL_BYTES", "LIVE_BYTES", "MED_LIFE", "%OLD", "CALL SITE",
};
static const int widths[NCOLS] = { 11, 8, 9, 8, 12, 11, 9, 6, 0 };
/* Below MS_UI_LAST_COLUMN_MIN characters for the call site, these columns
 * make way, first to last (80 columns keep live bytes and blocks, calls and
 * the peak). */
static const int drop_order[] = { COL_LIFE, COL_PERCENT, COL_TEMP, COL_TOTAL_BYTES, COL_PEAK,
				  COL_ALLOCS, COL_LIVE };

/* A row points into the model (names, files) instead of copying them: a
 * table of 20,000 call sites is rebuilt at every refresh, and only the
 * rows on screen are ever formatted. */
struct row {
	const char *name;   /* function, module or thread name; NULL: see frame */
	const ms_frame *frame; /* for a name made from module+offset */
	const char *file;
	int line;
	const char *module;
	uint64_t key;
	uint64_t live_bytes, live_allocs, allocs, temporary, total_bytes, peak;
	const ms_callsite *example; /* the heaviest member, for its stack */
	pid_t tid;          /* thread rows */
	int mmap;           /* mappings' (a group: any member's) */
	uint64_t old_bytes, old_allocs; /* older than the leak view's age */
	/* Median lifetime of freed blocks (-1: none); a group shows its
	 * member with the most frees. */
	double life;
	uint64_t life_frees;
};

/* Which table the current draw is for: the leak view's, or the sites'. */
static int leaks;

/* Rows of the last draw and their order on screen (the main thread only).
 * The order is sorted, not the rows (rank.h). */
static struct row *rows;
static struct rank *order;
static size_t nrows, cap, order_cap;
static int sort_ascending;

static uint64_t hash_text(uint64_t h, const char *a)
{
	for (; a != NULL && *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ull;
	return (h ^ 0xff) * 1099511628211ull;
}

static struct row *add_row(void)
{
	if (nrows == cap) {
		struct row *more = ms_grow(rows, &cap, nrows + 1, sizeof(*more), 256);

		if (more == NULL)
			return NULL;
		rows = more;
	}
	memset(&rows[nrows], 0, sizeof(rows[nrows]));
	return &rows[nrows++];
}

static const char *base_name(const char *path)
{
	const char *slash = path != NULL ? strrchr(path, '/') : NULL;

	return slash != NULL ? slash + 1 : path != NULL ? path : "?";
}

/* The row's name as shown (formatted only for rows on screen). */
static const char *row_name(const struct row *r, char *buf, size_t len)
{
	if (r->name != NULL)
		return r->name;
	if (r->frame != NULL)
		return ms_frame_name(r->frame, buf, len);
	return "?";
}

static int contains(const char *text, const char *needle)
{
	return text != NULL && strcasestr(text, needle) != NULL;
}

static int row_matches(const struct ms_ui *ui, const struct row *r)
{
	char buf[512];

	if (ui->filter[0] == '\0')
		return 1;
	return contains(row_name(r, buf, sizeof(buf)), ui->filter) ||
	       contains(r->file, ui->filter) || contains(r->module, ui->filter);
}

static void describe(struct row *r, const ms_callsite *c, int group)
{
	const ms_frame *f = c->top;

	if (f == NULL) {
		r->name = c->site.stack == 0 ? "(no stack)" : "(allocator)";
		r->key = (uint64_t)c->site.stack + 1;
		return;
	}
	r->module = f->module;
	if (group == MS_GROUP_MODULE) {
		r->name = base_name(f->module);
		r->key = hash_text(1469598103934665603ull, f->module);
		return;
	}
	r->name = f->function;
	r->frame = f;
	r->file = f->file;
	if (group == MS_GROUP_STACK) {
		r->line = f->line;
		r->key = (uint64_t)c->site.stack + 1;
	} else {
		/* By function: its name, in its file or module. */
		uint64_t h = hash_text(1469598103934665603ull, f->function);

		if (f->function == NULL)
			h ^= f->offset * 0x9e3779b97f4a7c15ull;
		r->key = hash_text(h, f->file != NULL ? f->file : f->module);
	}
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
			g->temporary += rows[i].temporary;
			g->mmap |= rows[i].mmap;
			g->total_bytes += rows[i].total_bytes;
			g->peak += rows[i].peak;
			g->old_bytes += rows[i].old_bytes;
			g->old_allocs += rows[i].old_allocs;
			if (rows[i].life >= 0 && rows[i].life_frees > g->life_frees) {
				g->life = rows[i].life;
				g->life_frees = rows[i].life_frees;
			}
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

/* The leak view keeps only rows with old blocks. */
static void drop_young(void)
{
	size_t out = 0;

	for (size_t i = 0; i < nrows; i++)
		if (rows[i].old_allocs > 0)
			rows[out++] = rows[i];
	nrows = out;
}

static void build_rows(const struct ms_ui *ui, const ms_model *m)
{
	/* Threads have no ages: the leak view groups by call site only. */
	int group = leaks && ui->group == MS_GROUP_THREAD ? MS_GROUP_STACK : ui->group;

	nrows = 0;
	if (group == MS_GROUP_THREAD) {
		for (size_t i = 0; i < m->snap.nthreads; i++) {
			const ms_thread_info *t = &m->snap.threads[i];
			struct row *r = add_row();

			if (r == NULL)
				return;
			r->name = t->name;
			r->tid = t->tid;
			r->key = (uint64_t)t->tid + 1;
			r->live_bytes = t->live_bytes;
			r->live_allocs = t->live_allocs;
			r->allocs = t->allocs;
			r->total_bytes = t->alloc_bytes;
			r->life = -1;
			if (!row_matches(ui, r))
				nrows--;
		}
		return;
	}
	for (size_t i = 0; i < m->nsites; i++) {
		const ms_callsite *c = &m->sites[i];
		struct row *r;

		if ((ui->kind == MS_KIND_HEAP && c->site.kind != MS_SITE_HEAP) ||
		    (ui->kind == MS_KIND_MMAP && c->site.kind != MS_SITE_MMAP))
			continue;
		r = add_row();
		if (r == NULL)
			return;
		describe(r, c, group);
		r->live_bytes = c->site.live_bytes;
		r->live_allocs = c->site.live_allocs;
		r->allocs = c->site.allocs;
		r->temporary = c->site.temporary_allocs;
		r->mmap = c->site.kind == MS_SITE_MMAP;
		r->total_bytes = c->site.alloc_bytes;
		r->peak = c->site.peak_bytes;
		r->old_bytes = c->site.old_bytes[ui->age];
		r->old_allocs = c->site.old_allocs[ui->age];
		r->life = c->site.life_median_s;
		r->life_frees = r->life >= 0 ? c->site.frees : 0;
		r->example = c;
		if (!row_matches(ui, r))
			nrows--;
	}
	if (group != MS_GROUP_STACK)
		merge_groups();
	if (leaks)
		drop_young();
}

static uint64_t column_value(const struct row *r, int col)
{
	if (leaks) {
		switch (col) {
		case COL_LIVE_BYTES:
		case COL_PERCENT:
			return r->old_bytes;
		case COL_LIVE:
			return r->old_allocs;
		case COL_PEAK:
			return r->live_bytes;
		}
	}
	switch (col) {
	case COL_LIVE_BYTES:
	case COL_PERCENT:
		return r->live_bytes;
	case COL_LIVE:
		return r->live_allocs;
	case COL_ALLOCS:
		return r->allocs;
	case COL_TEMP:
		return r->temporary;
	case COL_TOTAL_BYTES:
		return r->total_bytes;
	case COL_PEAK:
		return r->peak;
	case COL_LIFE:
		return r->life < 0 ? 0 : (uint64_t)(r->life * 1e9) + 1;
	}
	return 0;
}

/* A lifetime in its column: "-" for none. */
static const char *life_text(char *buf, size_t len, double s)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 1e-3)
		snprintf(buf, len, "%.0fus", s * 1e6);
	else if (s < 1)
		snprintf(buf, len, "%.1fms", s * 1e3);
	else
		snprintf(buf, len, "%.1fs", s);
	return buf;
}

/* Large values first (the order is flipped for ascending); ties by key, so
 * the order is stable from one refresh to the next. */
static int by_value(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;
	int cmp = x->value < y->value ? 1 : x->value > y->value ? -1 : 0;

	if (cmp == 0)
		cmp = x->key < y->key ? -1 : x->key > y->key;
	return sort_ascending ? -cmp : cmp;
}

static int by_name(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;
	char bx[512], by[512];
	int cmp = strcmp(row_name(&rows[x->row], bx, sizeof(bx)), row_name(&rows[y->row], by, sizeof(by)));

	if (cmp == 0)
		cmp = x->key < y->key ? -1 : x->key > y->key;
	return sort_ascending ? -cmp : cmp;
}

/* Orders the rows; only the first `needed` have to be in order (the
 * screen shows no further), which spares sorting a large table in full at
 * every refresh. */
static int sort_rows(int column, int ascending, size_t needed)
{
	int (*cmp)(const void *, const void *) = column == COL_NAME ? by_name : by_value;

	if (nrows > order_cap) {
		struct rank *more = realloc(order, nrows * sizeof(*more));

		if (more == NULL)
			return -1;
		order = more;
		order_cap = nrows;
	}
	for (size_t i = 0; i < nrows; i++)
		order[i] = (struct rank){ column_value(&rows[i], column), rows[i].key, (uint32_t)i };
	sort_ascending = ascending;
	ms_rank_first(order, nrows, needed, cmp);
	return 0;
}

/* totals: the percentages' whole, the heap's and the mappings'. */
static void draw_row(struct ms_ui *ui, int y, const struct row *r, const uint64_t totals[2],
		     int selected)
{
	char cell[NCOLS][32], name[512], where[512], last[1100], line[1400];
	uint64_t first = leaks ? r->old_bytes : r->live_bytes;
	uint64_t second = leaks ? r->old_allocs : r->live_allocs;
	uint64_t fifth = leaks ? r->live_bytes : r->peak;
	uint64_t total = totals[r->mmap];
	double pct = total ? 100.0 * (double)first / (double)total : 0;
	int color = selected ? MS_COLOR_SELECTED : 0;

	if (r->tid > 0)
		snprintf(where, sizeof(where), "tid %d", (int)r->tid);
	else if (r->file != NULL && r->line > 0)
		snprintf(where, sizeof(where), "%s:%d", r->file, r->line);
	else if (r->file != NULL)
		snprintf(where, sizeof(where), "%s", r->file);
	else if (r->module != NULL && r->name != NULL && r->name != base_name(r->module))
		snprintf(where, sizeof(where), "%s", base_name(r->module));
	else
		where[0] = '\0';
	ms_format_bytes(cell[COL_LIVE_BYTES], sizeof(cell[0]), first);
	snprintf(cell[COL_LIVE], sizeof(cell[0]), "%" PRIu64, second);
	snprintf(cell[COL_ALLOCS], sizeof(cell[0]), "%" PRIu64, r->allocs);
	snprintf(cell[COL_TEMP], sizeof(cell[0]), "%" PRIu64, r->temporary);
	ms_format_bytes(cell[COL_TOTAL_BYTES], sizeof(cell[0]), r->total_bytes);
	ms_format_bytes(cell[COL_PEAK], sizeof(cell[0]), fifth);
	life_text(cell[COL_LIFE], sizeof(cell[0]), r->life);
	snprintf(cell[COL_PERCENT], sizeof(cell[0]), "%.1f", pct);
	snprintf(last, sizeof(last), "%s%s  %s", row_name(r, name, sizeof(name)),
		 r->mmap ? " [mmap]" : "", where);
	ms_ui_table_line(ui, (const char(*)[32])cell, NCOLS, last, line, sizeof(line));
	if (selected) {
		ms_ui_bar(ui, y, MS_COLOR_SELECTED);
	}
	ms_ui_text(ui, y, 0, ui->cols, color, selected && !ui->colors ? A_REVERSE : 0, line);
}

/* The full stack of an opened row, one frame a line; a function inlined
 * into the next one says so after its name, where 80 columns still show
 * it. */
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
			    "%s %s%s%s  [%s]", f == c->top ? ">" : " ",
			    ms_frame_name(f, name, sizeof(name)), f->inlined ? " [inlined]" : "", where,
			    base_name(f->module));
		drawn++;
	}
	return drawn;
}

static int table_draw(struct ms_ui *ui, const ms_model *m)
{
	int y = ui->table_top + 1, last = ui->table_top + ui->table_rows, view = ui->view;
	uint64_t totals[2] = { m->snap.live_bytes, m->snap.mmap_live_bytes };

	ms_ui_fit_columns(ui, widths, NCOLS, drop_order,
			  (int)(sizeof(drop_order) / sizeof(drop_order[0])), MS_UI_LAST_COLUMN_MIN);

	build_rows(ui, m);
	if (leaks) {
		totals[0] = 0; /* the leak view has no mappings */
		for (size_t i = 0; i < nrows; i++)
			totals[0] += rows[i].old_bytes;
	}
	/* Enough for the selection to move a page past the screen. */
	ms_ui_clamp_selection(ui, (int)nrows);
	if (sort_rows(ui->sort[view], ui->ascending[view],
		      (size_t)ui->scroll[view] + 2 * (size_t)ui->table_rows + 2) != 0)
		nrows = 0;
	ms_ui_table_head(ui, leaks ? leak_columns : columns, NCOLS, NULL);
	for (size_t i = (size_t)ui->scroll[view]; i < nrows && y <= last; i++) {
		const struct row *r = &rows[order[i].row];

		draw_row(ui, y++, r, totals, (int)i == ui->selected[view]);
		if (r->key == ui->expanded_key && r->tid == 0)
			y += draw_stack(ui, y, last, r->example);
	}
	if (nrows == 0)
		ms_ui_text(ui, y, 2, ui->cols - 2, MS_COLOR_DIM, 0,
			   ui->filter[0] ? "(no call site matches the filter)" :
			   leaks && !m->snap.ages_scanned ? "(no leak scan yet: one runs every second)" :
			   leaks ? "(no live block is that old)" : "(no allocations yet)");
	return (int)nrows;
}

static int sites_draw(struct ms_ui *ui, const ms_model *m)
{
	leaks = 0;
	return table_draw(ui, m);
}

static int leaks_draw(struct ms_ui *ui, const ms_model *m)
{
	leaks = 1;
	return table_draw(ui, m);
}

static void table_activate(struct ms_ui *ui, const ms_model *m)
{
	int sel = ui->selected[ui->view];

	(void)m;
	if (sel < 0 || (size_t)sel >= nrows)
		return;
	ui->expanded_key = ui->expanded_key == rows[order[sel].row].key ? 0 : rows[order[sel].row].key;
}

const ms_view_ops ms_view_sites = {
	.title = "Call sites",
	.ncolumns = NCOLS,
	.columns = columns,
	.widths = widths,
	.draw = sites_draw,
	.activate = table_activate,
};

const ms_view_ops ms_view_leaks = {
	.title = "Leaks",
	.ncolumns = NCOLS,
	.columns = leak_columns,
	.widths = widths,
	.draw = leaks_draw,
	.activate = table_activate,
};
