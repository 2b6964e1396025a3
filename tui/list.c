#define _GNU_SOURCE
#include "list.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "frame.h"
#include <memscope/platform.h>
#include <memscope/sessions.h>
#include <memscope/snapshot.h>

/* The terminal's width when stdout is one, else 0: into a pipe or a file
 * every line stays whole, for scripts. */
static int terminal_width(void)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
		return 0;
	return ws.ws_col;
}

/* Cuts line to at most cols columns of the terminal, at a character
 * boundary (wide characters count two; a byte the locale cannot read, one). */
static void cut_to_width(char *line, int cols)
{
	mbstate_t st;
	size_t at = 0, len = strlen(line);
	int used = 0;

	memset(&st, 0, sizeof(st));
	while (at < len) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, line + at, len - at, &st);
		int w = 1;

		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof(st));
			n = 1;
		} else if ((w = wcwidth(wc)) < 0) {
			w = 1;
		}
		if (used + w > cols)
			break;
		used += w;
		at += n;
	}
	line[at] = '\0';
}

static void print_row(char *line, int cols)
{
	if (cols > 0)
		cut_to_width(line, cols);
	puts(line);
}

int ms_list_sessions(int clean)
{
	ms_session_entry *list;
	int n = ms_session_list(ms_shm_dir(), &list), removed = 0, python = 0;
	int cols = terminal_width();

	if (n < 0) {
		fprintf(stderr, "memscope-top: cannot list %s: %s\n", ms_shm_dir(),
			ms_reader_strerror(n));
		return 1;
	}
	if (cols > 0)
		setlocale(LC_CTYPE, ""); /* for the widths of the characters */
	printf("%8s %4s %-8s %10s %12s  %s\n", "PID", "GEN", "STATE", "AGE", "LIVE", "COMMAND");
	for (int i = 0; i < n; i++) {
		ms_reader r;
		ms_snapshot s;
		char live[32], command[MS_COMMAND_MAX * 4], line[sizeof(command) + 128];
		int err = ms_reader_open(&r, list[i].path);

		if (err == 0) {
			err = ms_snapshot_take(&r, &s);
			ms_reader_close(&r);
		}
		if (err != 0) {
			snprintf(line, sizeof(line), "%8d %4u %-8s %10s %12s  (%s)", (int)list[i].pid,
				 list[i].gen, "bad", "-", "-", ms_reader_strerror(err));
			print_row(line, cols);
			continue;
		}
		/* '*': the footnote on CPython's allocator applies. */
		snprintf(line, sizeof(line), "%8d %4u %-8s %9.1fs %12s%c %s", (int)s.pid,
			 s.generation,
			 s.state == MS_SESSION_GONE ? "stale" : ms_session_state_name(s.state),
			 s.time_s, ms_format_bytes(live, sizeof(live), s.live_bytes),
			 s.python_pymalloc ? '*' : ' ',
			 ms_format_command(command, sizeof(command), s.command));
		python += s.python_pymalloc;
		print_row(line, cols);
		if (clean && s.state != MS_SESSION_RUNNING && unlink(list[i].path) == 0)
			removed++;
		ms_snapshot_release(&s);
	}
	if (python > 0)
		printf("* %s\n", MS_PYTHON_HINT);
	if (clean)
		printf("removed %d session%s\n", removed, removed == 1 ? "" : "s");
	free(list);
	return 0;
}
