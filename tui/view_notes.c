/* The annotated blocks (memscope.h), grouped by variable, type or scope, with
 * borrows and lifetimes; Enter opens a group to list its blocks. */
#define _GNU_SOURCE
#include "ui.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

enum { COL_LIVE_BYTES, COL_LIVE, COL_ENDED, COL_BORROWS, COL_LENT, COL_MIN, COL_MEDIAN, COL_MAX,
       COL_NAME, NCOLS };

static const char *const columns[NCOLS] = {
	"LIVE_BYTES", "LIVE", "ENDED", "BORROWS", "LENT", "LIFE_MIN", "LIFE_MED", "LIFE_MAX", "NAME",
};
static const int widths[NCOLS] = { 11, 7, 7, 8, 6, 9, 9, 9, 0 };
static const int drop_order[] = { COL_MIN, COL_MAX, COL_LENT, COL_BORROWS, COL_ENDED, COL_MEDIAN,
				  COL_LIVE };
/* Names are at most 47 bytes (memscope.h). */
#define NAME_MIN 24

/* The groups of the last draw, sorted (the main thread only). */
static ms_note_group *groups;
static int ngroups;
static int sort_column, sort_ascending;

static double column_value(const ms_note_group *g, int col)
{
	switch (col) {
	case COL_LIVE_BYTES:
		return (double)g->live_bytes;
	case COL_LIVE:
		return (double)g->live_allocs;
	case COL_ENDED:
		return (double)g->ended;
	case COL_BORROWS:
		return (double)g->borrows;
	case COL_LENT:
		return (double)g->lent;
	case COL_MIN:
		return g->life_min_s;
	case COL_MEDIAN:
		return g->life_median_s;
	case COL_MAX:
		return g->life_max_s;
	}
	return 0;
}

static int by_column(const void *a, const void *b)
{
	const ms_note_group *x = a, *y = b;
	int cmp;

	if (sort_column == COL_NAME) {
		cmp = strcmp(x->name, y->name);
	} else {
		double vx = column_value(x, sort_column), vy = column_value(y, sort_column);

		cmp = vx < vy ? 1 : vx > vy ? -1 : 0;
	}
	if (cmp == 0)
		cmp = strcmp(x->name, y->name);
	return sort_ascending ? -cmp : cmp;
}

/* A lifetime in a column: "-" when no block has ended. */
static const char *life(char *buf, size_t len, double s)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "%.2fms", s * 1e3);
	else
		snprintf(buf, len, "%.2fs", s);
	return buf;
}

static const char *name_or_none(const char *name)
{
	return name[0] != '\0' ? name : "(none)";
}

static const char *key_of(const ms_note_info *n, ms_note_key by)
{
	return by == MS_NOTE_BY_TYPE ? n->type : by == MS_NOTE_BY_SCOPE ? n->scope : n->var;
}

/* The open group's blocks under its row; returns the next free row. */
static int draw_blocks(struct ms_ui *ui, const ms_model *m, const char *name, int y, int last)
{
	char size[32], lt[32], line[512];

	for (size_t i = 0; i < m->snap.nnotes && y <= last; i++) {
		const ms_note_info *n = &m->snap.notes[i];

		if (strcmp(key_of(n, (ms_note_key)ui->note_group), name) != 0)
			continue;
		snprintf(line, sizeof(line),
			 "    0x%-14" PRIx64 " %10s  %-5s borrowed %u, lent %u  %s %s  %s %s %s",
			 n->ptr, ms_format_bytes(size, sizeof(size), n->size), n->live ? "live" : "freed",
			 n->borrows, n->lent, n->live ? "age" : "lived",
			 life(lt, sizeof(lt), n->lifetime_s), name_or_none(n->var), name_or_none(n->type),
			 name_or_none(n->scope));
		ms_ui_text(ui, y++, 0, ui->cols, MS_COLOR_DIM, 0, line);
	}
	return y;
}

static int notes_draw(struct ms_ui *ui, const ms_model *m)
{
	int y = ui->table_top + 1, last = ui->table_top + ui->table_rows, shown = 0;
	char cell[NCOLS][32], line[512];

	ms_ui_fit_columns(ui, widths, NCOLS, drop_order,
			  (int)(sizeof(drop_order) / sizeof(drop_order[0])), NAME_MIN);
	free(groups);
	groups = NULL;
	ngroups = ms_note_groups(&m->snap, (ms_note_key)ui->note_group, &groups);
	if (ngroups < 0)
		ngroups = 0;
	if (ui->filter[0] != '\0') {
		for (int i = 0; i < ngroups; i++)
			if (strcasestr(groups[i].name, ui->filter) != NULL)
				groups[shown++] = groups[i];
		ngroups = shown;
	}
	sort_column = ui->sort[MS_VIEW_NOTES];
	sort_ascending = ui->ascending[MS_VIEW_NOTES];
	qsort(groups, (size_t)ngroups, sizeof(*groups), by_column);
	ms_ui_clamp_selection(ui, ngroups);

	/* The last title names the grouping: var, type or scope. */
	ms_ui_table_head(ui, columns, NCOLS, ms_note_key_name((ms_note_key)ui->note_group));
	if (ngroups == 0) {
		ms_ui_text(ui, y, 1, ui->cols - 2, MS_COLOR_DIM, 0,
			   m->snap.nnotes == 0 ?
				   "No annotated blocks. A program names its blocks with memscope.h: "
				   "ms_track(ptr, \"var\", \"type\"), MS_SCOPE(\"name\")." :
				   "No group matches the filter.");
		return 0;
	}
	for (int i = ui->scroll[MS_VIEW_NOTES]; i < ngroups && y <= last; i++, y++) {
		const ms_note_group *g = &groups[i];
		int selected = i == ui->selected[MS_VIEW_NOTES];

		ms_format_bytes(cell[COL_LIVE_BYTES], sizeof(cell[0]), g->live_bytes);
		snprintf(cell[COL_LIVE], sizeof(cell[0]), "%" PRIu64, g->live_allocs);
		snprintf(cell[COL_ENDED], sizeof(cell[0]), "%" PRIu64, g->ended);
		snprintf(cell[COL_BORROWS], sizeof(cell[0]), "%" PRIu64, g->borrows);
		snprintf(cell[COL_LENT], sizeof(cell[0]), "%" PRIu64, g->lent);
		life(cell[COL_MIN], sizeof(cell[0]), g->life_min_s);
		life(cell[COL_MEDIAN], sizeof(cell[0]), g->life_median_s);
		life(cell[COL_MAX], sizeof(cell[0]), g->life_max_s);
		ms_ui_table_line(ui, (const char(*)[32])cell, NCOLS, name_or_none(g->name), line,
				 sizeof(line));
		if (selected)
			ms_ui_bar(ui, y, MS_COLOR_SELECTED);
		ms_ui_text(ui, y, 0, ui->cols, selected ? MS_COLOR_SELECTED : 0,
			   selected && !ui->colors ? A_REVERSE : 0, line);
		if (strcmp(ui->expanded_note, g->name) == 0 && ui->expanded_note_open)
			y = draw_blocks(ui, m, g->name, y + 1, last) - 1;
	}
	return ngroups;
}

static void notes_activate(struct ms_ui *ui, const ms_model *m)
{
	int sel = ui->selected[MS_VIEW_NOTES];

	(void)m;
	if (sel < 0 || sel >= ngroups)
		return;
	if (ui->expanded_note_open && strcmp(ui->expanded_note, groups[sel].name) == 0) {
		ui->expanded_note_open = 0;
		return;
	}
	snprintf(ui->expanded_note, sizeof(ui->expanded_note), "%s", groups[sel].name);
	ui->expanded_note_open = 1;
}

const ms_view_ops ms_view_notes = {
	.title = "Annotated",
	.ncolumns = NCOLS,
	.columns = columns,
	.widths = widths,
	.draw = notes_draw,
	.activate = notes_activate,
};
