/* Drawing for the screen: text cells, the header meters, the heap graph,
 * the help screen. */
#define _GNU_SOURCE
#include "ui.h"

#include <curses.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "frame.h"

void ms_ui_text(struct ms_ui *ui, int row, int col, int width, int color, int attrs,
		const char *text)
{
	int len;

	if (row < 0 || row >= ui->rows || col >= ui->cols || width <= 0)
		return;
	if (col + width > ui->cols)
		width = ui->cols - col;
	len = (int)strlen(text);
	if (ui->colors && color != 0)
		attron(COLOR_PAIR(color));
	attron(attrs);
	mvaddnstr(row, col, text, len < width ? len : width);
	attroff(attrs);
	if (ui->colors && color != 0)
		attroff(COLOR_PAIR(color));
}

void ms_ui_textf(struct ms_ui *ui, int row, int col, int width, int color, int attrs,
		 const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ms_ui_text(ui, row, col, width, color, attrs, buf);
}

const char *ms_ui_count(char *buf, size_t len, double v)
{
	if (v < 1000)
		snprintf(buf, len, "%.0f", v);
	else if (v < 1e6)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else if (v < 1e9)
		snprintf(buf, len, "%.1fM", v / 1e6);
	else
		snprintf(buf, len, "%.1fG", v / 1e9);
	return buf;
}

/* htop's meter: "Label [|||||     value]". */
static void meter(struct ms_ui *ui, int row, int col, int width, const char *label, double ratio,
		  const char *value)
{
	int inner = width - (int)strlen(label) - 3, fill;

	if (inner < 4)
		return;
	ms_ui_text(ui, row, col, width, MS_COLOR_LABEL, A_BOLD, label);
	col += (int)strlen(label);
	ms_ui_text(ui, row, col, 1, 0, A_BOLD, "[");
	fill = ratio <= 0 ? 0 : ratio >= 1 ? inner : (int)(ratio * inner + 0.5);
	for (int i = 0; i < fill; i++)
		ms_ui_text(ui, row, col + 1 + i, 1, MS_COLOR_LIVE, 0, "|");
	ms_ui_text(ui, row, col + 1 + inner - (int)strlen(value), (int)strlen(value), 0, A_BOLD,
		   value);
	ms_ui_text(ui, row, col + 1 + inner, 1, 0, A_BOLD, "]");
}

/* Figures side by side from column col, two spaces apart; one that does
 * not fit the rest of the line goes on to the next, from the left edge,
 * instead of being cut. Ends on the row after the last figure. */
static void flow(struct ms_ui *ui, int *row, int col, const char *const *fields, int n)
{
	for (int i = 0; i < n; i++) {
		int len = (int)strlen(fields[i]);

		if (col > 0 && col + len > ui->cols) {
			(*row)++;
			col = 0;
		}
		ms_ui_text(ui, *row, col, ui->cols - col, 0, 0, fields[i]);
		col += len + 2;
	}
	(*row)++;
}

void ms_ui_header(struct ms_ui *ui, const ms_model *m, int *row)
{
	const ms_snapshot *s = &m->snap;
	char a[32], b[32], c[32], line[512], command[MS_COMMAND_MAX * 4];
	char f[6][96];
	int half = ui->cols / 2;

	/* Title: what runs (the program's name without its directory, control
	 * characters made visible), and whether it still does. */
	const char *shown = ms_format_command(command, sizeof(command), s->command);
	const char *args = strchr(shown, ' ');
	const char *start = shown;

	for (const char *p = shown; *p != '\0' && (args == NULL || p < args); p++)
		if (*p == '/')
			start = p + 1;
	ms_ui_textf(ui, *row, 0, ui->cols, MS_COLOR_LABEL, A_BOLD, "memscope-top");
	ms_ui_textf(ui, *row, 13, ui->cols - 13, 0, A_BOLD, "%s", start);
	if (s->state == MS_SESSION_RUNNING) {
		snprintf(line, sizeof(line), " pid %d  up %.1fs%s", (int)s->pid, s->time_s,
			 ui->paused ? "  PAUSED" : "");
		ms_ui_text(ui, *row, ui->cols - (int)strlen(line), (int)strlen(line),
			   ui->paused ? MS_COLOR_ALERT : 0, 0, line);
	} else {
		if (m->exit_status >= 0)
			snprintf(line, sizeof(line), " pid %d %s after %.1fs, status %d", (int)s->pid,
				 ms_session_state_name(s->state), s->time_s, m->exit_status);
		else
			snprintf(line, sizeof(line), " pid %d %s after %.1fs", (int)s->pid,
				 ms_session_state_name(s->state), s->time_s);
		ms_ui_text(ui, *row, ui->cols - (int)strlen(line), (int)strlen(line), MS_COLOR_ALERT,
			   A_BOLD, line);
	}
	(*row)++;

	/* Heap against its peak; RSS and threads beside it. */
	snprintf(line, sizeof(line), "%s/%s",
		 ms_format_bytes(a, sizeof(a), s->live_bytes),
		 ms_format_bytes(b, sizeof(b), s->peak_bytes));
	meter(ui, *row, 0, half - 1, "Heap", s->peak_bytes ? (double)s->live_bytes / s->peak_bytes : 0,
	      line);
	snprintf(f[0], sizeof(f[0]), "peak at %.1fs", s->peak_time_s);
	snprintf(f[1], sizeof(f[1]), "RSS %s", ms_format_bytes(c, sizeof(c), s->rss_bytes));
	snprintf(f[2], sizeof(f[2]), "Threads %" PRIu64, s->thread_count);
	/* Mapped memory, once the program mapped any (its own mmap calls). */
	snprintf(f[3], sizeof(f[3]), "Mapped %s (peak %s)",
		 ms_format_bytes(a, sizeof(a), s->mmap_live_bytes),
		 ms_format_bytes(b, sizeof(b), s->mmap_peak_bytes));
	flow(ui, row, half, (const char *const[]){ f[0], f[1], f[2], f[3] },
	     s->mmap_total_maps > 0 ? 4 : 3);

	/* The program's CPU and, beside it, what watching it costs: memscope's
	 * own threads in it. Each against one core, as in top: a program of
	 * several threads may go past the end of its bar. */
	snprintf(a, sizeof(a), "%.1f%%", s->cpu_percent);
	meter(ui, *row, 0, half - 1, "CPU", s->cpu_percent / 100.0, a);
	snprintf(b, sizeof(b), "%.1f%%", s->memscope_cpu_percent);
	meter(ui, *row, half, ui->cols - half, "memscope", s->memscope_cpu_percent / 100.0, b);
	(*row)++;

	snprintf(f[0], sizeof(f[0]), "Allocs %s (%s/s)",
		 ms_ui_count(a, sizeof(a), (double)s->total_allocs),
		 ms_ui_count(b, sizeof(b), m->alloc_rate));
	snprintf(f[1], sizeof(f[1]), "Frees %s (%s/s)",
		 ms_ui_count(a, sizeof(a), (double)s->total_frees),
		 ms_ui_count(b, sizeof(b), m->free_rate));
	snprintf(f[2], sizeof(f[2]), "Temporary %s",
		 ms_ui_count(a, sizeof(a), (double)s->temporary_allocs));
	snprintf(f[3], sizeof(f[3]), "Blocks %" PRIu64, s->live_allocs);
	snprintf(f[4], sizeof(f[4]), "Allocating threads %zu", s->nthreads);
	snprintf(f[5], sizeof(f[5]), "Dropped %" PRIu64, s->dropped_events);
	flow(ui, row, 0, (const char *const[]){ f[0], f[1], f[2], f[3], f[4], f[5] }, 6);
	if (s->python_pymalloc) {
		ms_ui_text(ui, *row, 0, ui->cols, MS_COLOR_ALERT, A_BOLD, MS_PYTHON_HINT);
		(*row)++;
	}
	if (ui->output_path != NULL && ui->rows >= 20) {
		ms_ui_textf(ui, *row, 0, ui->cols, MS_COLOR_DIM, 0, "Program output: %s",
			    ui->output_path);
		(*row)++;
	}
}

/* The heap over time: live bytes as bars, RSS as a line of dots, each on
 * a scale of its own (a 100 KiB heap beside a 4 MiB RSS is still a graph),
 * their tops in the margin; the peak marked under it on the time axis. */
/* One cell of the graph: the wide glyph in a UTF-8 terminal, else the
 * ASCII one, in color where there are colors. */
static void plot(struct ms_ui *ui, int y, int x, int color, const wchar_t *wide, const char *ascii)
{
	if (ui->colors)
		attron(COLOR_PAIR(color));
	if (ui->unicode)
		mvaddwstr(y, x, wide);
	else
		mvaddstr(y, x, ascii);
	if (ui->colors)
		attroff(COLOR_PAIR(color));
}

void ms_ui_graph(struct ms_ui *ui, const ms_model *m, int row, int height)
{
	static const wchar_t *const blocks[] = { L" ", L"▁", L"▂", L"▃", L"▄", L"▅", L"▆", L"▇", L"█" };
	static const char *const ascii[] = { " ", ".", ".", ":", ":", ":", "#", "#", "#" };
	const ms_snapshot *s = &m->snap;
	int left = 11, width = ui->cols - left - 1; /* "1023.9 KiB" and a space */
	uint64_t live[512] = { 0 }, rss[512] = { 0 }, mm[512] = { 0 }, top = 0, rss_top = 0;
	int show_mmap = s->mmap_total_maps > 0;
	double span = s->time_s > 0 ? s->time_s : 1;
	int peak_col, margin = 0;
	char label[32], rss_label[32];

	if (height < 2 || width < 8)
		return;
	if (width > 512)
		width = 512;
	for (size_t i = 0; i < s->nsamples; i++) {
		int c = (int)(s->samples[i].time_s / span * (width - 1));

		if (c < 0 || c >= width)
			continue;
		if (s->samples[i].live_bytes > live[c])
			live[c] = s->samples[i].live_bytes;
		if (s->samples[i].rss_bytes > rss[c])
			rss[c] = s->samples[i].rss_bytes;
		if (s->samples[i].mmap_bytes > mm[c])
			mm[c] = s->samples[i].mmap_bytes;
	}
	/* Columns without a sample carry the one before; the last is now. */
	for (int c = 1; c < width; c++) {
		if (live[c] == 0 && rss[c] == 0 && mm[c] == 0) {
			live[c] = live[c - 1];
			rss[c] = rss[c - 1];
			mm[c] = mm[c - 1];
		}
	}
	live[width - 1] = s->live_bytes;
	mm[width - 1] = s->mmap_live_bytes;
	/* Two scales: the heap's own, and one the RSS and mapped memory share
	 * (both are of pages; mapped memory is part of the RSS once touched). */
	for (int c = 0; c < width; c++) {
		top = live[c] > top ? live[c] : top;
		if (!ui->hide_rss)
			rss_top = rss[c] > rss_top ? rss[c] : rss_top;
		if (show_mmap)
			rss_top = mm[c] > rss_top ? mm[c] : rss_top;
	}
	if (top == 0)
		top = 1;
	/* The margin, top down: the heap's top and name, the RSS's name and
	 * top, then 0 where a row is left. */
	ms_ui_text(ui, row + margin++, 0, left, MS_COLOR_LIVE, 0,
		   ms_format_bytes(label, sizeof(label), top));
	ms_ui_text(ui, row + margin++, 0, left, MS_COLOR_LIVE, 0, "heap");
	if (rss_top > 0 && !ui->hide_rss && margin + 2 <= height)
		ms_ui_text(ui, row + margin++, 0, left, MS_COLOR_RSS, 0, "rss");
	if (rss_top > 0 && show_mmap && margin + 2 <= height)
		ms_ui_text(ui, row + margin++, 0, left, MS_COLOR_MMAP, 0, "mmap");
	if (rss_top > 0 && margin > 2 && margin + 1 <= height)
		ms_ui_text(ui, row + margin++, 0, left, ui->hide_rss ? MS_COLOR_MMAP : MS_COLOR_RSS, 0,
			   ms_format_bytes(rss_label, sizeof(rss_label), rss_top));
	if (margin < height)
		ms_ui_text(ui, row + height - 1, 0, left, MS_COLOR_DIM, 0, "0");
	for (int c = 0; c < width; c++) {
		int eighths = (int)((double)live[c] / (double)top * height * 8 + 0.5);
		int rss_row = rss_top > 0 ? (int)((double)rss[c] / (double)rss_top * height) : 0;
		int mm_row = rss_top > 0 ? (int)((double)mm[c] / (double)rss_top * height) : 0;

		rss_row = rss_row >= height ? height - 1 : rss_row;
		mm_row = mm_row >= height ? height - 1 : mm_row;
		for (int r = 0; r < height; r++) {
			int fill = eighths - r * 8, y = row + height - 1 - r;

			fill = fill < 0 ? 0 : fill > 8 ? 8 : fill;
			/* RSS, then mapped memory, over the bars: on scales of
			 * their own, any may be the higher. */
			if (!ui->hide_rss && rss_top > 0 && rss[c] > 0 && r == rss_row)
				plot(ui, y, left + c, MS_COLOR_RSS, fill > 0 ? L"•" : L"·", "-");
			else if (show_mmap && mm[c] > 0 && r == mm_row)
				plot(ui, y, left + c, MS_COLOR_MMAP, fill > 0 ? L"◆" : L"◇", "+");
			else if (fill > 0)
				plot(ui, y, left + c, MS_COLOR_LIVE, blocks[fill], ascii[fill]);
		}
	}
	/* The time axis, with the peak. */
	peak_col = (int)(s->peak_time_s / span * (width - 1));
	ms_ui_text(ui, row + height, left, 2, MS_COLOR_DIM, 0, "0s");
	ms_ui_textf(ui, row + height, ui->cols - 10, 10, MS_COLOR_DIM, 0, "%9.1fs", s->time_s);
	if (peak_col >= 0 && peak_col < width)
		ms_ui_textf(ui, row + height, left + peak_col, ui->cols - left - peak_col - 11,
			    MS_COLOR_PEAK, A_BOLD, "^peak %s", ms_format_bytes(label, sizeof(label),
									      s->peak_bytes));
}

void ms_ui_fit_columns(struct ms_ui *ui, const int *widths, int n, const int *drop, int ndrop,
		       int last_min)
{
	int used = 0;

	for (int i = 0; i < n && i < MS_UI_MAX_COLUMNS; i++) {
		/* The user's choice first (F2); the last column always shows. */
		int hidden = i < n - 1 && (ui->hidden[ui->view] & (1u << i));

		ui->col_width[i] = hidden ? -1 : widths[i];
		used += hidden ? 0 : widths[i];
	}
	for (int k = 0; k < ndrop && ui->cols - used < last_min; k++) {
		int i = drop[k];

		if (i == ui->sort[ui->view] || ui->col_width[i] <= 0)
			continue;
		used -= ui->col_width[i];
		ui->col_width[i] = -1;
	}
}

void ms_ui_table_head(struct ms_ui *ui, const char *const *names, int n, const char *last)
{
	char line[512];
	int col = 0;

	ms_ui_bar(ui, ui->table_top, MS_COLOR_TABLE_HEAD);
	for (int i = 0; i < n && i < MS_UI_MAX_COLUMNS; i++) {
		int sorted = i == ui->sort[ui->view], w = ui->col_width[i];

		if (w < 0)
			continue;
		if (w > 0)
			snprintf(line, sizeof(line), "%*s ", w - 1, names[i]);
		else
			snprintf(line, sizeof(line), " %s", last != NULL ? last : names[i]);
		ms_ui_text(ui, ui->table_top, col, (int)strlen(line),
			   sorted ? MS_COLOR_SELECTED : MS_COLOR_TABLE_HEAD, sorted ? A_BOLD : 0,
			   line);
		if (!ui->colors && sorted)
			ms_ui_text(ui, ui->table_top, col, (int)strlen(line), 0, A_BOLD | A_UNDERLINE,
				   line);
		col += w;
	}
}

void ms_ui_table_line(const struct ms_ui *ui, const char (*cells)[32], int n, const char *last,
		      char *line, size_t len)
{
	size_t at = 0;

	line[0] = '\0';
	for (int i = 0; i < n - 1 && i < MS_UI_MAX_COLUMNS; i++) {
		if (ui->col_width[i] <= 0)
			continue;
		at += (size_t)snprintf(line + at, len - at, "%*s ", ui->col_width[i] - 1, cells[i]);
		if (at >= len)
			return;
	}
	snprintf(line + at, len - at, " %s", last);
}

void ms_ui_bar(struct ms_ui *ui, int y, int color)
{
	attron(ui->colors ? COLOR_PAIR(color) : A_REVERSE);
	mvhline(y, 0, ' ', ui->cols);
	attroff(ui->colors ? COLOR_PAIR(color) : A_REVERSE);
}

void ms_ui_clamp_selection(struct ms_ui *ui, int nrows)
{
	int *sel = &ui->selected[ui->view], *top = &ui->scroll[ui->view];
	int visible = ui->table_rows > 0 ? ui->table_rows : 1;

	if (*sel >= nrows)
		*sel = nrows - 1;
	if (*sel < 0)
		*sel = 0;
	if (*sel < *top)
		*top = *sel;
	if (*sel >= *top + visible)
		*top = *sel - visible + 1;
	if (*top < 0)
		*top = 0;
}

void ms_ui_help(struct ms_ui *ui)
{
	static const char *const lines[] = {
		"memscope-top: the heap of a running program, live",
		"",
		"Views",
		"  Tab          next view (call sites, threads, leaks, annotated)",
		"  s  t  l  a   call sites, threads, leaks, annotated blocks (memscope.h)",
		"  g            annotated view: group by variable, type or scope",
		"  + -          leaks view: count blocks older than 1 s, 10 s or 60 s",
		"  F1 h ?       this help (any key closes it)",
		"",
		"Call sites and threads tables",
		"  Up Down PgUp PgDn Home End   move the selection (the mouse too)",
		"  Enter        open or close the selected call site's full stack",
		"  F6 >  <      sort by the next / previous column (or click its title)",
		"  I            invert the sort order",
		"  F5 g         group call sites: by stack, function, module, thread",
		"  F4 / \\       filter rows by text (Enter keeps it, Esc clears it)",
		"  F2           choose the columns (remembered in ~/.config/memscope)",
		"  (a narrow screen drops the least useful columns, the sorted one never,",
		"   so that the call site keeps 40 characters)",
		"",
		"Program",
		"  Space p      pause / resume updates",
		"  r            graph: show / hide the RSS line",
		"  m            call sites: all, heap only, mmap only (mapped memory)",
		"  q F10        quit (a program started with -p, or launched, runs on)",
		"",
		"Replay (-r FILE)",
		"  Space p      play / pause     ( )   slower / faster (x0.25 to x16)",
		"  Left Right   back / on 1 s    [ ]   back / on 10 s",
		"  n N          next / previous frame   P  the peak   :  go to a program second",
		"",
		"Meters: heap against its peak, RSS, rates; CPU of the program (the hook's",
		"work in its threads included) and of memscope's threads (sampler, drain).",
		"Graph: live heap (bars) and RSS (dots), each on its own scale (the tops in",
		"the margin), the peak marked on the time axis.",
		"Leaks: live blocks older than the age, by call site (counted every second).",
	};
	int n = (int)(sizeof(lines) / sizeof(lines[0]));

	erase();
	for (int i = 0; i < n && i < ui->rows - 1; i++)
		ms_ui_text(ui, i, 1, ui->cols - 2, i == 0 ? MS_COLOR_LABEL : 0,
			   i == 0 || (lines[i][0] != ' ' && lines[i][0] != '\0') ? A_BOLD : 0,
			   lines[i]);
	ms_ui_text(ui, ui->rows - 1, 1, ui->cols - 2, MS_COLOR_DIM, 0,
		   "Press any key to return.");
}
