#define _GNU_SOURCE
#include "setup.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The views' names in the file. */
static const char *const view_keys[MS_VIEW_COUNT] = {
	[MS_VIEW_SITES] = "sites",
	[MS_VIEW_THREADS] = "threads",
	[MS_VIEW_LEAKS] = "leaks",
	[MS_VIEW_NOTES] = "annotated",
};

/* Whether a view's columns may be chosen: the call-site tables, whose last
 * column takes the rest of the line. */
static int choosable(const ms_view_ops *v)
{
	return v->ncolumns > 1 && v->widths[v->ncolumns - 1] == 0;
}

/* The file's path, and its directory's (dir may be NULL). 0 or -ENOENT. */
static int rc_path(char *path, size_t len, char *dir, size_t dir_len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char base[512];

	if (xdg != NULL && xdg[0] == '/')
		snprintf(base, sizeof(base), "%s/memscope", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(base, sizeof(base), "%s/.config/memscope", home);
	else
		return -ENOENT;
	if (dir != NULL)
		snprintf(dir, dir_len, "%s", base);
	if ((size_t)snprintf(path, len, "%s/memscope-toprc", base) >= len)
		return -ENAMETOOLONG;
	return 0;
}

void ms_setup_load(struct ms_ui *ui, const ms_view_ops *const *views)
{
	char path[600], line[1024];
	FILE *f;

	if (rc_path(path, sizeof(path), NULL, 0) != 0 || (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *names = strchr(line, '='), *save = NULL;

		line[strcspn(line, "\r\n")] = '\0';
		if (names == NULL || strncmp(line, "hide.", 5) != 0)
			continue;
		*names++ = '\0';
		for (int v = 0; v < MS_VIEW_COUNT; v++) {
			if (strcmp(line + 5, view_keys[v]) != 0 || !choosable(views[v]))
				continue;
			ui->hidden[v] = 0;
			for (char *n = strtok_r(names, ",", &save); n != NULL;
			     n = strtok_r(NULL, ",", &save))
				for (int i = 0; i < views[v]->ncolumns - 1; i++)
					if (strcmp(n, views[v]->columns[i]) == 0)
						ui->hidden[v] |= 1u << i;
		}
	}
	fclose(f);
}

int ms_setup_save(const struct ms_ui *ui, const ms_view_ops *const *views)
{
	char path[600], dir[512], tmp[640];
	FILE *f;
	int err = rc_path(path, sizeof(path), dir, sizeof(dir));

	if (err != 0)
		return err;
	/* ~/.config may not be there yet either. */
	{
		char *slash = strrchr(dir, '/');

		if (slash != NULL && slash != dir) {
			*slash = '\0';
			mkdir(dir, 0700);
			*slash = '/';
		}
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	fprintf(f, "# memscope-top: columns hidden by view (F2)\n");
	for (int v = 0; v < MS_VIEW_COUNT; v++) {
		const char *sep = "";

		if (!choosable(views[v]))
			continue;
		fprintf(f, "hide.%s=", view_keys[v]);
		for (int i = 0; i < views[v]->ncolumns - 1; i++)
			if (ui->hidden[v] & (1u << i)) {
				fprintf(f, "%s%s", sep, views[v]->columns[i]);
				sep = ",";
			}
		fprintf(f, "\n");
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}

void ms_setup_draw(struct ms_ui *ui, const ms_view_ops *const *views)
{
	const ms_view_ops *v = views[ui->view];
	int n = v->ncolumns;

	erase();
	ms_ui_textf(ui, 0, 1, ui->cols - 2, MS_COLOR_LABEL, A_BOLD, "Columns of %s", v->title);
	if (!choosable(v)) {
		ms_ui_text(ui, 2, 1, ui->cols - 2, 0, 0, "This view's columns are fixed.");
		ms_ui_text(ui, ui->rows - 1, 1, ui->cols - 2, MS_COLOR_DIM, 0,
			   "F2 Esc Enter: done");
		return;
	}
	for (int i = 0; i < n && 2 + i < ui->rows - 1; i++) {
		int last = i == n - 1, shown = last || !(ui->hidden[ui->view] & (1u << i));

		if (i == ui->setup_sel)
			ms_ui_bar(ui, 2 + i, MS_COLOR_SELECTED);
		ms_ui_textf(ui, 2 + i, 2, ui->cols - 3, i == ui->setup_sel ? MS_COLOR_SELECTED : 0, 0,
			    "[%c] %s%s", shown ? 'x' : ' ', v->columns[i],
			    last ? "  (always shown)" : "");
	}
	ms_ui_text(ui, ui->rows - 1, 1, ui->cols - 2, MS_COLOR_DIM, 0,
		   "Up Down: choose  Space: show or hide  F2 Esc Enter: done (remembered)");
}

int ms_setup_key(struct ms_ui *ui, const ms_view_ops *const *views, int key)
{
	int n = views[ui->view]->ncolumns;

	switch (key) {
	case KEY_UP:
	case 'k':
		if (ui->setup_sel > 0)
			ui->setup_sel--;
		return 0;
	case KEY_DOWN:
	case 'j':
		if (ui->setup_sel < n - 1)
			ui->setup_sel++;
		return 0;
	case ' ':
		if (choosable(views[ui->view]) && ui->setup_sel < n - 1)
			ui->hidden[ui->view] ^= 1u << ui->setup_sel;
		return 0;
	case KEY_F(2):
	case 27:
	case '\n':
	case '\r':
	case KEY_ENTER:
	case 'q':
		ms_setup_save(ui, views);
		return 1;
	default:
		return 0;
	}
}
