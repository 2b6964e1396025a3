/* The screen's life: set-up, the input loop, layout, and the way out. */
#define _GNU_SOURCE
#include "ui.h"
#include "launch.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "setup.h"

/* How often the loop looks for a new model when no key comes. */
#define INPUT_TIMEOUT_MS 50

static const ms_view_ops *const views[MS_VIEW_COUNT] = {
	[MS_VIEW_SITES] = &ms_view_sites,
	[MS_VIEW_THREADS] = &ms_view_threads,
	[MS_VIEW_LEAKS] = &ms_view_leaks,
	[MS_VIEW_NOTES] = &ms_view_notes,
};

static const char *const group_names[MS_GROUP_COUNT] = { "stack", "function", "module", "thread" };

static volatile sig_atomic_t quit_signal;

static void on_signal(int sig)
{
	quit_signal = sig;
}

static void screen_start(struct ms_ui *ui)
{
	const char *codeset;

	setlocale(LC_ALL, "");
	codeset = nl_langinfo(CODESET);
	ui->unicode = codeset != NULL && strcmp(codeset, "UTF-8") == 0;
	initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(INPUT_TIMEOUT_MS);
	mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED, NULL);
	mouseinterval(0);
	ui->colors = has_colors();
	if (ui->colors) {
		start_color();
		use_default_colors();
		init_pair(MS_COLOR_LABEL, COLOR_CYAN, -1);
		init_pair(MS_COLOR_LIVE, COLOR_GREEN, -1);
		init_pair(MS_COLOR_RSS, COLOR_CYAN, -1);
		init_pair(MS_COLOR_PEAK, COLOR_RED, -1);
		init_pair(MS_COLOR_TABLE_HEAD, COLOR_BLACK, COLOR_GREEN);
		init_pair(MS_COLOR_SELECTED, COLOR_BLACK, COLOR_CYAN);
		init_pair(MS_COLOR_ALERT, COLOR_RED, -1);
		init_pair(MS_COLOR_KEY, COLOR_BLACK, COLOR_CYAN);
		init_pair(MS_COLOR_DIM, COLOR_BLUE, -1);
		init_pair(MS_COLOR_MMAP, COLOR_MAGENTA, -1);
	}
	getmaxyx(stdscr, ui->rows, ui->cols);
}

static void screen_end(void)
{
	if (!isendwin())
		endwin();
}

/* The key bar at the bottom, htop style. */
static void key_bar(struct ms_ui *ui)
{
	static const char *const keys[][2] = {
		{ "F1", "Help" }, { "F2", "Setup" }, { "F4", "Filter" }, { "F5", "Group" }, { "F6", "SortBy" },
		{ "Tab", "View" }, { "Spc", "Pause" }, { "F10", "Quit" },
	};
	int col = 0, y = ui->rows - 1;

	if (ui->going) {
		ms_ui_textf(ui, y, 0, ui->cols, MS_COLOR_KEY, A_BOLD, "Go to second of the program: %s_", ui->goto_text);
		return;
	}
	if (ui->replay && !ui->filtering) {
		static const char *const rkeys[][2] = {
			{ "Spc", "Play" }, { "<-->", "1s" }, { "[]", "10s" }, { "nN", "Frame" },
			{ "P", "Peak" }, { "()", "Speed" }, { ":", "GoTo" }, { "F1", "Help" }, { "q", "Quit" },
		};

		for (size_t i = 0; i < sizeof(rkeys) / sizeof(rkeys[0]) && col < ui->cols; i++) {
			ms_ui_text(ui, y, col, (int)strlen(rkeys[i][0]), 0, A_BOLD, rkeys[i][0]);
			col += (int)strlen(rkeys[i][0]);
			ms_ui_text(ui, y, col, (int)strlen(rkeys[i][1]) + 1, MS_COLOR_KEY, 0, rkeys[i][1]);
			col += (int)strlen(rkeys[i][1]) + 1;
		}
		return;
	}
	if (ui->filtering) {
		ms_ui_textf(ui, y, 0, ui->cols, MS_COLOR_KEY, A_BOLD, "Filter: %s_", ui->filter);
		ms_ui_text(ui, y, (int)strlen(ui->filter) + 10, ui->cols, 0, 0,
			   "  Enter: keep   Esc: clear");
		return;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && col < ui->cols; i++) {
		ms_ui_text(ui, y, col, (int)strlen(keys[i][0]), 0, A_BOLD, keys[i][0]);
		col += (int)strlen(keys[i][0]);
		ms_ui_text(ui, y, col, (int)strlen(keys[i][1]) + 1, MS_COLOR_KEY, 0, keys[i][1]);
		col += (int)strlen(keys[i][1]) + 1;
	}
}

/* The line above the table: views, grouping, sorting, filter. Where the
 * words do not fit (80 columns), the same without their labels. */
static void tab_line(struct ms_ui *ui, const ms_model *m, int y)
{
	const ms_view_ops *v = views[ui->view];
	char group[64] = "", line[256];
	int col = 0;

	for (int i = 0; i < MS_VIEW_COUNT; i++) {
		int current = i == ui->view;

		ms_ui_textf(ui, y, col, ui->cols - col, current ? MS_COLOR_SELECTED : 0,
			    current ? A_BOLD : 0, " %s ", views[i]->title);
		col += (int)strlen(views[i]->title) + 3;
	}
	if (ui->view == MS_VIEW_SITES)
		snprintf(group, sizeof(group), "group: %s  %s", group_names[ui->group],
			 ui->kind == MS_KIND_HEAP ? "heap only  " :
			 ui->kind == MS_KIND_MMAP ? "mmap only  " : "");
	if (ui->view == MS_VIEW_NOTES)
		snprintf(group, sizeof(group), "group: %s  ", ms_note_key_name(ui->note_group));
	if (ui->view == MS_VIEW_LEAKS && m != NULL) {
		if (m->snap.ages_scanned)
			snprintf(group, sizeof(group), "older than %gs  ", m->snap.age_s[ui->age]);
		else
			snprintf(group, sizeof(group), "no scan yet  ");
	}
	snprintf(line, sizeof(line), " %ssort: %s %s%s%s", group, v->columns[ui->sort[ui->view]],
		 ui->ascending[ui->view] ? "(asc)" : "(desc)", ui->filter[0] ? "  filter: " : "",
		 ui->filter);
	if (col + (int)strlen(line) > ui->cols)
		snprintf(line, sizeof(line), " %s%s %s%s%s",
			 strncmp(group, "group: ", 7) == 0 ? group + 7 : group,
			 v->columns[ui->sort[ui->view]], ui->ascending[ui->view] ? "asc" : "desc",
			 ui->filter[0] ? "  /" : "", ui->filter);
	ms_ui_text(ui, y, col, ui->cols - col, MS_COLOR_DIM, 0, line);
}

/* The last frame of frame `near`'s program image at or before `seconds` of
 * the program's time (the frames' time_s, as batch frames and
 * memscope-report give it), or the image's first frame for an earlier
 * time. */
static size_t frame_at_program_time(const ms_recording *r, size_t near, double seconds)
{
	size_t n = ms_recording_count(r), found = n;
	ms_rec_frame_info here, f;

	if (ms_recording_frame_info(r, near, &here) != 0)
		return near;
	for (size_t i = 0; i < n; i++) {
		if (ms_recording_frame_info(r, i, &f) != 0 || f.image != here.image)
			continue;
		/* times print to the millisecond: a printed time names its frame */
		if (found == n || f.time_s <= seconds + 0.0005)
			found = i;
		if (f.time_s > seconds + 0.0005)
			break;
	}
	return found == n ? near : found;
}

/* Replay: where the cursor is, in the program's time (of its image, when
 * the recording holds several), and how it moves. The bar is the whole
 * recording. */
static void time_bar(struct ms_ui *ui, ms_feed *feed, int y)
{
	ms_recording *r = feed->recording;
	size_t n = ms_recording_count(r), cursor;
	double total = ms_recording_time(r, n - 1), at, speed;
	ms_rec_frame_info here = { 0 }, last = { 0 };
	int playing, width, fill, left;
	char head[128], gen[24] = "";

	pthread_mutex_lock(&feed->lock);
	cursor = feed->cursor;
	playing = feed->playing;
	speed = feed->speed;
	pthread_mutex_unlock(&feed->lock);
	at = ms_recording_time(r, cursor);
	ms_recording_frame_info(r, cursor, &here);
	ms_recording_frame_info(r, n - 1, &last);
	if (last.image > 0)
		snprintf(gen, sizeof(gen), "  generation %u", here.generation);
	snprintf(head, sizeof(head), "%s %7.3fs%s  x%g  frame %zu/%zu ", playing ? "PLAY " : "PAUSE",
		 here.time_s, gen, speed, cursor + 1, n);
	left = (int)strlen(head);
	ms_ui_text(ui, y, 0, ui->cols, MS_COLOR_LABEL, A_BOLD, head);
	if (ms_recording_problem(r) != NULL)
		ms_ui_textf(ui, y - 1, 0, ui->cols, MS_COLOR_ALERT, 0, "recording %s",
			    ms_recording_problem(r));
	width = ui->cols - left - 2;
	if (width < 4)
		return;
	fill = total > 0 ? (int)(at / total * width + 0.5) : width;
	ms_ui_text(ui, y, left, 1, 0, A_BOLD, "[");
	for (int i = 0; i < width; i++)
		ms_ui_text(ui, y, left + 1 + i, 1, i < fill ? MS_COLOR_LIVE : MS_COLOR_DIM, 0,
			   i < fill ? "=" : "-");
	ms_ui_text(ui, y, left + 1 + width, 1, 0, A_BOLD, "]");
}

static void draw(struct ms_ui *ui, ms_feed *feed)
{
	ms_model *m;
	int row = 0, graph;

	erase();
	if (ui->help) {
		ms_ui_help(ui);
		refresh();
		return;
	}
	if (ui->setup) {
		ms_setup_draw(ui, views);
		refresh();
		return;
	}
	urcu_bp_read_lock();
	m = ms_feed_model(feed);
	if (m == NULL) {
		char error[256];

		pthread_mutex_lock(&feed->lock);
		snprintf(error, sizeof(error), "%s", feed->error);
		pthread_mutex_unlock(&feed->lock);
		ms_ui_textf(ui, 0, 0, ui->cols, MS_COLOR_LABEL, A_BOLD,
			    "memscope-top: waiting for pid %d's session...", (int)feed->pid);
		if (error[0])
			ms_ui_text(ui, 1, 0, ui->cols, MS_COLOR_ALERT, 0, error);
	} else {
		ms_ui_header(ui, m, &row);
		/* The graph takes a fifth of a tall screen, none of a tiny one. */
		graph = ui->rows >= 20 ? ui->rows / 5 : 0;
		if (graph > 0) {
			ms_ui_graph(ui, m, row, graph);
			row += graph + 1;
		}
		tab_line(ui, m, row++);
		ui->table_top = row;
		ui->table_rows = ui->rows - 1 - row - 1 - (ui->replay ? 2 : 0);
		ms_view_draw(views[ui->view], ui, m);
	}
	urcu_bp_read_unlock();
	if (ui->replay)
		time_bar(ui, feed, ui->rows - 2);
	key_bar(ui);
	refresh();
}

static void next_sort(struct ms_ui *ui, int step)
{
	int n = views[ui->view]->ncolumns;

	ui->sort[ui->view] = (ui->sort[ui->view] + step + n) % n;
}

/* A click: on the table's title row it sorts, on a row it selects. */
static void click(struct ms_ui *ui)
{
	MEVENT ev;
	const ms_view_ops *v = views[ui->view];
	int col = 0;

	if (getmouse(&ev) != OK || ui->help)
		return;
	if (ev.y == ui->table_top) {
		for (int i = 0; i < v->ncolumns && i < MS_UI_MAX_COLUMNS; i++) {
			int w = ui->col_width[i];

			if (w < 0)
				continue; /* dropped for want of room */
			if (w == 0 || ev.x < col + w) {
				if (ui->sort[ui->view] == i)
					ui->ascending[ui->view] = !ui->ascending[ui->view];
				ui->sort[ui->view] = i;
				return;
			}
			col += w;
		}
	} else if (ev.y > ui->table_top && ev.y < ui->rows - 1) {
		ui->selected[ui->view] = ui->scroll[ui->view] + ev.y - ui->table_top - 1;
	}
}

static void filter_key(struct ms_ui *ui, int key)
{
	size_t len = strlen(ui->filter);

	if (key == '\n' || key == '\r' || key == KEY_ENTER) {
		ui->filtering = 0;
	} else if (key == 27) {
		ui->filter[0] = '\0';
		ui->filtering = 0;
	} else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		if (len > 0)
			ui->filter[len - 1] = '\0';
	} else if (key >= 32 && key < 127 && len + 1 < sizeof(ui->filter)) {
		ui->filter[len] = (char)key;
		ui->filter[len + 1] = '\0';
	}
	ui->selected[ui->view] = 0;
	ui->scroll[ui->view] = 0;
}

/* Typing the time to go to. */
static void goto_key(struct ms_ui *ui, ms_feed *feed, int key)
{
	size_t len = strlen(ui->goto_text);

	if (key == '\n' || key == '\r' || key == KEY_ENTER) {
		ms_recording *r = feed->recording;
		size_t cursor;

		pthread_mutex_lock(&feed->lock);
		cursor = feed->cursor;
		pthread_mutex_unlock(&feed->lock);
		ms_feed_replay_seek(feed, ms_recording_time(r, frame_at_program_time(r, cursor,
										       atof(ui->goto_text))));
		ui->going = 0;
	} else if (key == 27) {
		ui->going = 0;
	} else if ((key == KEY_BACKSPACE || key == 127 || key == 8) && len > 0) {
		ui->goto_text[len - 1] = '\0';
	} else if (((key >= '0' && key <= '9') || key == '.') && len + 1 < sizeof(ui->goto_text)) {
		ui->goto_text[len] = (char)key;
		ui->goto_text[len + 1] = '\0';
	}
}

/* Replay's own keys; returns 1 if the key was one. */
static int replay_key(struct ms_ui *ui, ms_feed *feed, int key)
{
	ms_recording *r = feed->recording;
	double at, speed;
	int playing;

	pthread_mutex_lock(&feed->lock);
	at = ms_recording_time(r, feed->cursor);
	speed = feed->speed;
	playing = feed->playing;
	pthread_mutex_unlock(&feed->lock);
	switch (key) {
	case ' ':
	case 'p':
		ms_feed_replay_play(feed, !playing);
		return 1;
	case KEY_RIGHT:
		ms_feed_replay_seek(feed, at + 1);
		return 1;
	case KEY_LEFT:
		ms_feed_replay_seek(feed, at - 1);
		return 1;
	case ']':
		ms_feed_replay_seek(feed, at + 10);
		return 1;
	case '[':
		ms_feed_replay_seek(feed, at - 10);
		return 1;
	case 'n':
		ms_feed_replay_step(feed, 1);
		return 1;
	case 'N':
		ms_feed_replay_step(feed, -1);
		return 1;
	case 'P':
		ms_feed_replay_seek(feed, ms_recording_time(r, ms_recording_peak_frame(r)));
		return 1;
	case ')':
		ms_feed_replay_speed(feed, speed * 2);
		return 1;
	case '(':
		ms_feed_replay_speed(feed, speed / 2);
		return 1;
	case ':':
		ui->going = 1;
		ui->goto_text[0] = '\0';
		return 1;
	}
	return 0;
}

/* Returns 1 to quit. */
static int handle_key(struct ms_ui *ui, ms_feed *feed, int key)
{
	int page = ui->table_rows > 1 ? ui->table_rows - 1 : 1;
	int *sel = &ui->selected[ui->view];

	if (ui->filtering) {
		filter_key(ui, key);
		return 0;
	}
	if (ui->going) {
		goto_key(ui, feed, key);
		return 0;
	}
	if (ui->replay && !ui->help && !ui->setup && replay_key(ui, feed, key))
		return 0;
	if (ui->help) {
		ui->help = 0;
		return key == 'q' || key == KEY_F(10);
	}
	if (ui->setup) {
		if (ms_setup_key(ui, views, key))
			ui->setup = 0;
		return 0;
	}
	switch (key) {
	case KEY_F(2):
		ui->setup = 1;
		ui->setup_sel = 0;
		break;
	case 'r':
		ui->hide_rss = !ui->hide_rss;
		break;
	case 'm':
		ui->kind = (ui->kind + 1) % MS_KIND_COUNT;
		ui->expanded_key = 0;
		ui->selected[MS_VIEW_SITES] = ui->scroll[MS_VIEW_SITES] = 0;
		ui->selected[MS_VIEW_LEAKS] = ui->scroll[MS_VIEW_LEAKS] = 0;
		break;
	case 'q':
	case 'Q':
	case KEY_F(10):
		return 1;
	case KEY_F(1):
	case 'h':
	case '?':
		ui->help = 1;
		break;
	case '\t':
		ui->view = (ui->view + 1) % MS_VIEW_COUNT;
		break;
	case 's':
		ui->view = MS_VIEW_SITES;
		break;
	case 't':
		ui->view = MS_VIEW_THREADS;
		break;
	case 'l':
		ui->view = MS_VIEW_LEAKS;
		break;
	case 'a':
		ui->view = MS_VIEW_NOTES;
		break;
	case '+':
	case '=':
		if (ui->age + 1 < (int)MS_STORE_AGES)
			ui->age++;
		break;
	case '-':
		if (ui->age > 0)
			ui->age--;
		break;
	case KEY_F(5):
	case 'g':
		if (ui->view == MS_VIEW_NOTES) {
			ui->note_group = (ui->note_group + 1) % (MS_NOTE_BY_SCOPE + 1);
			ui->expanded_note_open = 0;
			ui->selected[MS_VIEW_NOTES] = ui->scroll[MS_VIEW_NOTES] = 0;
			break;
		}
		ui->group = (ui->group + 1) % MS_GROUP_COUNT;
		ui->expanded_key = 0;
		ui->selected[MS_VIEW_SITES] = ui->scroll[MS_VIEW_SITES] = 0;
		break;
	case KEY_F(6):
	case '>':
	case '.':
		next_sort(ui, 1);
		break;
	case '<':
	case ',':
		next_sort(ui, -1);
		break;
	case 'I':
		ui->ascending[ui->view] = !ui->ascending[ui->view];
		break;
	case KEY_F(4):
	case KEY_F(3):
	case '/':
	case '\\':
		ui->filtering = 1;
		break;
	case ' ':
	case 'p':
		ui->paused = !ui->paused;
		ms_feed_set_paused(feed, ui->paused);
		if (!ui->paused)
			ms_feed_poke(feed);
		break;
	case KEY_UP:
	case 'k':
		(*sel)--;
		break;
	case KEY_DOWN:
	case 'j':
		(*sel)++;
		break;
	case KEY_PPAGE:
		*sel -= page;
		break;
	case KEY_NPAGE:
		*sel += page;
		break;
	case KEY_HOME:
		*sel = 0;
		break;
	case KEY_END:
		*sel = 1 << 30;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER: {
		ms_model *m;

		urcu_bp_read_lock();
		m = ms_feed_model(feed);
		if (m != NULL)
			ms_view_activate(views[ui->view], ui, m);
		urcu_bp_read_unlock();
		break;
	}
	case KEY_MOUSE:
		click(ui);
		break;
	case KEY_RESIZE:
		getmaxyx(stdscr, ui->rows, ui->cols);
		break;
	}
	return 0;
}

/* The screen until q: keys in, models drawn as they come. */
static void run_screen(struct ms_ui *ui, ms_feed *feed)
{
	unsigned long shown = 0;
	int dirty = 1;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	screen_start(ui);
	while (!quit_signal) {
		int key = getch();
		ms_model *m;

		if (key != ERR) {
			if (handle_key(ui, feed, key))
				break;
			dirty = 1;
		}
		urcu_bp_read_lock();
		m = ms_feed_model(feed);
		if (m != NULL && m->seq != shown) {
			shown = m->seq;
			dirty = 1;
		}
		urcu_bp_read_unlock();
		/* The replay's time bar moves with the cursor. */
		if (dirty || (ui->replay && feed->playing)) {
			draw(ui, feed);
			dirty = 0;
		}
	}
	screen_end();
}

static void default_sorts(struct ms_ui *ui)
{
	for (int v = 0; v < MS_VIEW_COUNT; v++)
		ui->sort[v] = views[v]->default_sort;
}

int ms_ui_replay(const char *path)
{
	struct ms_ui ui = { .replay = 1 };
	ms_recording *r;
	ms_feed feed;
	int err;

	default_sorts(&ui);
	ms_setup_load(&ui, views);
	err = ms_recording_open(path, &r);
	if (err != 0) {
		fprintf(stderr, "memscope-top: %s: %s\n", path, ms_recording_strerror(err));
		return 1;
	}
	err = ms_feed_start_replay(&feed, r);
	if (err != 0) {
		fprintf(stderr, "memscope-top: cannot start: %s\n", strerror(-err));
		ms_recording_close(r);
		return 1;
	}
	run_screen(&ui, &feed);
	ms_feed_stop(&feed);
	ms_recording_close(r);
	return 0;
}

int ms_ui_run(const struct ms_top_options *opt, pid_t pid, int launched, const char *output_path,
	      int is_demo, struct ms_event_tap *events)
{
	const char *record = opt->record;
	struct ms_ui ui = { .output_path = output_path };
	ms_recorder *recorder = NULL;
	ms_feed feed;
	int status = 0, err;

	default_sorts(&ui);
	ms_setup_load(&ui, views);
	if (record != NULL && (err = ms_recorder_create(record, &recorder)) != 0) {
		fprintf(stderr, "memscope-top: cannot create %s: %s\n", record, strerror(-err));
		return 1;
	}
	err = ms_feed_start(&feed, pid, launched, opt->interval_s, opt->skip, recorder, events);
	if (err != 0) {
		fprintf(stderr, "memscope-top: cannot start: %s\n", strerror(-err));
		return 1;
	}
	run_screen(&ui, &feed);
	pthread_mutex_lock(&feed.lock);
	if (launched && feed.exit_status >= 0) {
		status = feed.exit_status;
	} else if (launched && is_demo) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		feed.exit_status = 0; /* ours to end: its session can go */
		status = 0;
	} else if (launched) {
		fprintf(stderr, "memscope-top: pid %d goes on running; its output goes to %s\n",
			(int)pid, output_path);
	}
	pthread_mutex_unlock(&feed.lock);
	ms_feed_stop(&feed);
	if (feed.record_error[0] != '\0')
		fprintf(stderr, "memscope-top: %s: %s\n", record, feed.record_error);
	if (feed.recorder != NULL && (err = ms_recorder_close(feed.recorder)) != 0)
		fprintf(stderr, "memscope-top: cannot finish %s: %s\n", record, strerror(-err));
	if (launched && is_demo && status == 0)
		unlink(output_path);
	if (launched)
		ms_launch_cleanup(feed.exit_status >= 0 ? pid : 0);
	return status;
}
