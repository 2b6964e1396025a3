/* The threads table: who allocates, how fast, and what each still holds. */
#define _GNU_SOURCE
#include "ui.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* The name last, as htop's command: it takes the rest of the line, and a
 * narrow screen drops the rates first. */
enum { COL_TID, COL_STATE, COL_CPU, COL_ALLOC_RATE, COL_FREE_RATE, COL_LIVE_BYTES,
       COL_TOTAL_BYTES, COL_NAME, NCOLS };

static const char *const columns[NCOLS] = {
	"TID", "S", "CPU%", "ALLOC/s", "FREE/s", "LIVE_BYTES", "TOTAL_BYTES", "NAME",
};
static const int widths[NCOLS] = { 8, 2, 7, 9, 9, 12, 13, 0 };
static const int drop_order[] = { COL_FREE_RATE, COL_ALLOC_RATE, COL_TOTAL_BYTES, COL_CPU,
				  COL_STATE };
/* Thread names are at most 15 bytes: this much room is enough. */
#define NAME_MIN 16

static const ms_thread_row **order;
static size_t norder, cap;
static int sort_column, sort_ascending;

static double column_value(const ms_thread_row *t, int col)
{
	switch (col) {
	case COL_TID:
		return t->info->tid;
	case COL_CPU:
		return t->v.cpu_percent;
	case COL_ALLOC_RATE:
		return t->v.allocs_per_s;
	case COL_FREE_RATE:
		return t->v.frees_per_s;
	case COL_LIVE_BYTES:
		return (double)t->info->live_bytes;
	case COL_TOTAL_BYTES:
		return (double)t->info->alloc_bytes;
	}
	return 0;
}

static int by_column(const void *a, const void *b)
{
	const ms_thread_row *x = *(const ms_thread_row *const *)a;
	const ms_thread_row *y = *(const ms_thread_row *const *)b;
	int cmp;

	if (sort_column == COL_NAME)
		cmp = strcmp(x->info->name, y->info->name);
	else if (sort_column == COL_STATE)
		cmp = (x->v.state > y->v.state) - (x->v.state < y->v.state);
	else if (sort_column == COL_TID)
		cmp = (x->info->tid > y->info->tid) - (x->info->tid < y->info->tid);
	else {
		double vx = column_value(x, sort_column), vy = column_value(y, sort_column);

		cmp = vx < vy ? 1 : vx > vy ? -1 : 0;
	}
	if (cmp == 0)
		cmp = (x->info->tid > y->info->tid) - (x->info->tid < y->info->tid);
	return sort_ascending ? -cmp : cmp;
}

static int threads_draw(struct ms_ui *ui, const ms_model *m)
{
	int y = ui->table_top + 1, last = ui->table_top + ui->table_rows;
	char cell[NCOLS][32], line[512];

	ms_ui_fit_columns(ui, widths, NCOLS, drop_order,
			  (int)(sizeof(drop_order) / sizeof(drop_order[0])), NAME_MIN);
	norder = 0;
	if (m->snap.nthreads > cap) {
		const ms_thread_row **more = realloc(order, m->snap.nthreads * sizeof(*more));

		if (more == NULL)
			return 0;
		order = more;
		cap = m->snap.nthreads;
	}
	for (size_t i = 0; i < m->snap.nthreads; i++) {
		const ms_thread_row *t = &m->threads[i];

		if (ui->filter[0] != '\0' && strcasestr(t->info->name, ui->filter) == NULL)
			continue;
		order[norder++] = t;
	}
	sort_column = ui->sort[MS_VIEW_THREADS];
	sort_ascending = ui->ascending[MS_VIEW_THREADS];
	qsort(order, norder, sizeof(*order), by_column);
	ms_ui_clamp_selection(ui, (int)norder);

	ms_ui_table_head(ui, columns, NCOLS, NULL);
	for (size_t i = (size_t)ui->scroll[MS_VIEW_THREADS]; i < norder && y <= last; i++, y++) {
		const ms_thread_row *t = order[i];
		int selected = (int)i == ui->selected[MS_VIEW_THREADS];

		snprintf(cell[COL_TID], sizeof(cell[0]), "%d", (int)t->info->tid);
		snprintf(cell[COL_STATE], sizeof(cell[0]), "%c", t->v.state);
		snprintf(cell[COL_CPU], sizeof(cell[0]), "%.1f", t->v.cpu_percent);
		snprintf(cell[COL_ALLOC_RATE], sizeof(cell[0]), "%.0f", t->v.allocs_per_s);
		snprintf(cell[COL_FREE_RATE], sizeof(cell[0]), "%.0f", t->v.frees_per_s);
		ms_format_bytes(cell[COL_LIVE_BYTES], sizeof(cell[0]), t->info->live_bytes);
		ms_format_bytes(cell[COL_TOTAL_BYTES], sizeof(cell[0]), t->info->alloc_bytes);
		ms_ui_table_line(ui, (const char(*)[32])cell, NCOLS, t->info->name, line,
				 sizeof(line));
		if (selected) {
			ms_ui_bar(ui, y, MS_COLOR_SELECTED);
		}
		ms_ui_text(ui, y, 0, ui->cols, selected ? MS_COLOR_SELECTED : t->v.state == 'X' ? MS_COLOR_DIM : 0,
			   selected && !ui->colors ? A_REVERSE : 0, line);
	}
	return (int)norder;
}

const ms_view_ops ms_view_threads = {
	.title = "Threads",
	.ncolumns = NCOLS,
	.columns = columns,
	.widths = widths,
	.default_sort = COL_LIVE_BYTES, /* what they hold, like call sites */
	.draw = threads_draw,
	.activate = NULL,
};
