/*
 * The interactive screen of memscope-top (ncursesw), in the manner of htop:
 * header meters and a heap graph on top, a switchable table (call sites,
 * threads) below, a key bar at the bottom, and a help screen.
 *
 * Only the main thread touches ncurses. It reads models from the feed
 * (feed.h) under urcu_bp_read_lock and never waits for one.
 */
#ifndef MEMSCOPE_TUI_UI_H
#define MEMSCOPE_TUI_UI_H

#include <stdint.h>

#include "feed.h"
#include "options.h"
#include "model.h"

enum ms_view_id { MS_VIEW_SITES, MS_VIEW_THREADS, MS_VIEW_LEAKS, MS_VIEW_NOTES, MS_VIEW_COUNT };

/* Which call sites the tables show: all, the heap's, or mappings'. */
enum ms_ui_kind { MS_KIND_ALL, MS_KIND_HEAP, MS_KIND_MMAP, MS_KIND_COUNT };

enum ms_group { MS_GROUP_STACK, MS_GROUP_FUNCTION, MS_GROUP_MODULE, MS_GROUP_THREAD, MS_GROUP_COUNT };

/* Color pairs. */
enum {
	MS_COLOR_LABEL = 1,
	MS_COLOR_LIVE,
	MS_COLOR_RSS,
	MS_COLOR_PEAK,
	MS_COLOR_TABLE_HEAD,
	MS_COLOR_SELECTED,
	MS_COLOR_ALERT,
	MS_COLOR_KEY,
	MS_COLOR_DIM,
	MS_COLOR_MMAP,
};

/* Columns a table may have, and the room its last one (the call site, the
 * thread's name) keeps before others make way. */
#define MS_UI_MAX_COLUMNS 16
#define MS_UI_LAST_COLUMN_MIN 40

struct ms_ui {
	ms_feed *feed;
	const char *output_path; /* where a launched target's output goes */
	int rows, cols;
	int unicode, colors;
	int view;
	int help;
	int paused;
	int hide_rss;                 /* the graph without its RSS line (r) */
	int kind;                     /* call sites shown: an ms_ui_kind (m) */
	int setup, setup_sel;         /* the column chooser open (F2), its row */
	unsigned hidden[MS_VIEW_COUNT]; /* columns the user hid, a bit each */
	int group;
	int sort[MS_VIEW_COUNT];      /* column index */
	int ascending[MS_VIEW_COUNT];
	char filter[64];
	int filtering;                /* typing into the filter */
	int selected[MS_VIEW_COUNT];
	int scroll[MS_VIEW_COUNT];
	uint64_t expanded_key;        /* the row whose stack is open; 0: none */
	int age;                      /* leaks view: index into MS_STORE_AGE_TICKS */
	int note_group;               /* annotated view: an ms_note_key */
	char expanded_note[48];       /* annotated view: the group opened */
	int expanded_note_open;
	int replay;                   /* showing a recording (feed.h) */
	char goto_text[16];           /* replay: typing a time to go to */
	int going;
	int table_top;                /* screen row of the table's header */
	int table_rows;               /* rows below it */
	/* The current view's columns as drawn this frame (ms_ui_fit_columns):
	 * a width, 0 for the last (the rest of the line), -1 for one dropped
	 * to leave the last its room. */
	int col_width[MS_UI_MAX_COLUMNS];
};

/* A view: a table in the lower part of the screen (STYLE: a const vtable
 * dispatched through small inline functions). */
typedef struct ms_view_ops {
	const char *title;
	int ncolumns;
	const char *const *columns; /* sortable column names */
	const int *widths;          /* their widths on screen; 0: the rest (the last) */
	int default_sort;           /* the column sorted by at the start */
	/* Draws the table at ui->table_top; returns the number of rows. */
	int (*draw)(struct ms_ui *ui, const ms_model *m);
	/* Enter on the selected row. */
	void (*activate)(struct ms_ui *ui, const ms_model *m);
} ms_view_ops;

extern const ms_view_ops ms_view_sites;
extern const ms_view_ops ms_view_threads;
/* Live blocks older than an age (1 s, 10 s, 60 s), by call site. */
extern const ms_view_ops ms_view_leaks;
/* Annotated blocks (memscope.h) by variable, type or scope. */
extern const ms_view_ops ms_view_notes;

static inline int ms_view_draw(const ms_view_ops *v, struct ms_ui *ui, const ms_model *m)
{
	return v->draw(ui, m);
}

static inline void ms_view_activate(const ms_view_ops *v, struct ms_ui *ui, const ms_model *m)
{
	if (v->activate != NULL)
		v->activate(ui, m);
}

/* Runs the screen until q, as opt says (-d, -w, --skip). launched: pid is
 * our child; is_demo: it is the bundled demo, which q ends too (any other
 * program runs on). Returns the exit status for memscope-top. */
int ms_ui_run(const struct ms_top_options *opt, pid_t pid, int launched, const char *output_path,
	      int is_demo, struct ms_event_tap *events);

/* Replays a recording on the screen (-r). Returns the exit status. */
int ms_ui_replay(const char *path);

/* Drawing helpers shared by the views (ui_draw.c). */
void ms_ui_text(struct ms_ui *ui, int row, int col, int width, int color, int attrs,
		const char *text);
void ms_ui_textf(struct ms_ui *ui, int row, int col, int width, int color, int attrs,
		 const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void ms_ui_header(struct ms_ui *ui, const ms_model *m, int *row);
void ms_ui_graph(struct ms_ui *ui, const ms_model *m, int row, int height);
void ms_ui_help(struct ms_ui *ui);
/* Fills screen row y with a color (reverse video without colors): a
 * table's title row, the selected row. */
/* Fills ui->col_width from a view's widths for this screen: while the last
 * column would get fewer than last_min characters (MS_UI_LAST_COLUMN_MIN
 * for a call site), the columns of drop (least useful first) are dropped,
 * the sorted one never. */
void ms_ui_fit_columns(struct ms_ui *ui, const int *widths, int n, const int *drop, int ndrop,
		       int last_min);

/* A table's title row at ui->table_top, laid out by ui->col_width: each
 * title right-aligned in its width, the last one's after a space (last:
 * its text, NULL for names[n - 1]); the sorted one stands out. */
void ms_ui_table_head(struct ms_ui *ui, const char *const *names, int n, const char *last);
/* A row's text laid out as ms_ui_table_head lays out the titles: cells[i]
 * for the columns before the last, then last. */
void ms_ui_table_line(const struct ms_ui *ui, const char (*cells)[32], int n, const char *last,
		      char *line, size_t len);

void ms_ui_bar(struct ms_ui *ui, int y, int color);
/* Keeps the selection inside [0, nrows) and in sight. */
void ms_ui_clamp_selection(struct ms_ui *ui, int nrows);
/* Compact numbers: "12.3k", "4.5M". */
const char *ms_ui_count(char *buf, size_t len, double v);

#endif
