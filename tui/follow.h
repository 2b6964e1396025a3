/*
 * A program's session, followed across exec. Each image of a process (an
 * exec starts a new one) has a session of its own; the newest is the one
 * read, with fresh symbols (new stacks, new modules). Shared by the
 * screen's feed and the batch loop.
 *
 * Runs: readers only.
 */
#ifndef MEMSCOPE_TUI_FOLLOW_H
#define MEMSCOPE_TUI_FOLLOW_H

#include <stddef.h>
#include <sys/types.h>

#include <memscope/snapshot.h>
#include <memscope/symbols.h>

typedef struct ms_follow {
	pid_t pid;
	const char *skip;     /* for each image's symbols (memscope/skip.h) */
	/* Keep the symbols of earlier images: what was made from them (a
	 * model on screen, a recorder's frames) points into them. */
	int keep_old;
	ms_reader reader;     /* the newest image; base NULL while none is open */
	ms_symbols *symbols;  /* its symbols; NULL while none */
	ms_symbols **old;     /* earlier images' symbols, when kept */
	size_t nold, cap_old;
} ms_follow;

/* Opens the pid's newest session unless it is the one open. Returns 1 when
 * it opened a new image, 0 when nothing changed (or there is no session
 * yet), or the reader's error (< 0) when the newest could not be opened:
 * reader.base is then NULL. */
int ms_follow_update(ms_follow *w);

/* Closes the reader and frees every image's symbols. */
void ms_follow_close(ms_follow *w);

#endif
