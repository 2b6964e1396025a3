/* The threads table: who allocates, how fast, and what each still holds. */
#define _GNU_SOURCE
#include "ui.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

enum { COL_TID, COL_NAME, COL_STATE, COL_CPU, COL_ALLOC_RATE, COL_FREE_RATE, COL_LIVE_BYTES,
       COL_TOTAL_BYTES, NCOLS };

static const char *const columns[NCOLS] = {
	"TID", "NAME", "S", "CPU%", "ALLOC/s", "FREE/s", "LIVE_BYTES", "TOTAL_BYTES",
};
static const int widths[NCOLS] = { 8, 17, 2, 7, 9, 9, 12, 13 };

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
	int y = ui->table_top + 1, last = ui->table_top + ui->table_rows, col = 0;
	char a[32], b[32], line[512];

	ms_ui_fit_columns(ui, widths, NCOLS, NULL, 0);
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

	ms_ui_bar(ui, ui->table_top, MS_COLOR_TABLE_HEAD);
	for (int i = 0; i < NCOLS; i++) {
		int sorted = i == sort_column;

		snprintf(line, sizeof(line), i == COL_NAME ? "%-*s" : "%*s ",
			 i == COL_NAME ? widths[i] : widths[i] - 1, columns[i]);
		ms_ui_text(ui, ui->table_top, col, widths[i],
			   sorted ? MS_COLOR_SELECTED : MS_COLOR_TABLE_HEAD,
			   sorted ? A_BOLD | (ui->colors ? 0 : A_UNDERLINE) : 0, line);
		col += widths[i];
	}
	for (size_t i = (size_t)ui->scroll[MS_VIEW_THREADS]; i < norder && y <= last; i++, y++) {
		const ms_thread_row *t = order[i];
		int selected = (int)i == ui->selected[MS_VIEW_THREADS];

		snprintf(line, sizeof(line), "%7d %-16.16s %c %6.1f %8.0f %8.0f %11s %12s",
			 (int)t->info->tid, t->info->name, t->v.state, t->v.cpu_percent, t->v.allocs_per_s,
			 t->v.frees_per_s, ms_format_bytes(a, sizeof(a), t->info->live_bytes),
			 ms_format_bytes(b, sizeof(b), t->info->alloc_bytes));
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
	.draw = threads_draw,
	.activate = NULL,
};
