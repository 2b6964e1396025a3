/*
 * Frames: one snapshot printed for people (text, like top -b) or for
 * programs (one JSON object on one line). The JSON field names are a
 * contract that scripts and tests depend on; see DESIGN.md.
 *
 * Runs: readers only (memscope-top, memscope-report).
 */
#ifndef MEMSCOPE_FRAME_H
#define MEMSCOPE_FRAME_H

#include <stdio.h>

#include <memscope/snapshot.h>
#include <memscope/symbols.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What frames, the screen and memscope-top -l say of a program whose heap
 * CPython's own allocator hides (ms_snapshot.python_pymalloc). */
#define MS_PYTHON_HINT                                                                  \
	"Python: pymalloc keeps most of this heap out of sight; run it with "           \
	"PYTHONMALLOC=malloc (memscope-top --python-malloc -- ...)"

/* What a frame shows besides the snapshot. */
typedef struct ms_frame_extra {
	int exit_status;            /* the target's, when known; else -1 */
	const ms_callsite *sites;   /* call sites, sorted (ms_callsites_sort) */
	size_t nsites;
	size_t max_sites;           /* print at most this many; 0 = all */
} ms_frame_extra;

void ms_frame_print_json(FILE *out, const ms_snapshot *s, const ms_frame_extra *x);
void ms_frame_print_text(FILE *out, const ms_snapshot *s, const ms_frame_extra *x);

/* The call-site table's title line and one row of it (live bytes, live
 * blocks, total bytes, the call site and its file:line), as text frames
 * and reports print them. */
void ms_frame_print_site_head(FILE *out);
void ms_frame_print_site_row(FILE *out, const ms_callsite *c);
/* The call site's name as the row shows it: function (file:line). */
void ms_frame_print_site_name(FILE *out, const ms_callsite *c);

/* "function", else "module+0x1f3", else the bare address, into buf. */
const char *ms_frame_name(const ms_frame *f, char *buf, size_t len);

/* The length of the valid UTF-8 character at s (at most n bytes there), or
 * 0 when the bytes are not one (overlong forms, surrogates and code points
 * beyond U+10FFFF included): for writers of formats that must be UTF-8. */
size_t ms_utf8_len(const unsigned char *s, size_t n);

/* "12.3 MiB" etc. into buf; returns buf. */
const char *ms_format_bytes(char *buf, size_t len, uint64_t bytes);

/* A command line (ms_snapshot.command) for a terminal: newline, tab and
 * carriage return as \n, \t and \r, other control characters and bytes
 * that are not UTF-8 as \xHH (C1 controls as \u0080 to \u009f), the rest
 * as it is. Cut at a character boundary to fit len; returns buf. */
const char *ms_format_command(char *buf, size_t len, const char *command);

#ifdef __cplusplus
}
#endif

#endif
