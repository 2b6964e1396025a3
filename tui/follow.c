#include "follow.h"

#include <stdlib.h>
#include <string.h>

#include <memscope/grow.h>
#include <memscope/platform.h>
#include <memscope/sessions.h>

/* The open image's symbols are done with: kept or freed. Returns 0, or -1
 * when they had to be kept and could not be. */
static int retire_symbols(ms_follow *w)
{
	if (w->symbols == NULL)
		return 0;
	if (w->keep_old) {
		if (w->nold == w->cap_old) {
			ms_symbols **more = ms_grow(w->old, &w->cap_old, w->nold + 1, sizeof(*more), 4);

			if (more == NULL)
				return -1;
			w->old = more;
		}
		w->old[w->nold++] = w->symbols;
	} else {
		ms_symbols_free(w->symbols);
	}
	w->symbols = NULL;
	return 0;
}

int ms_follow_update(ms_follow *w)
{
	char path[MS_SESSION_PATH_MAX];
	int err;

	if (ms_session_find(ms_shm_dir(), w->pid, path, sizeof(path)) != 0)
		return 0;
	if (w->reader.base != NULL && strcmp(path, w->reader.path) == 0)
		return 0;
	/* Symbols that cannot be kept as promised: stay on the image open. */
	if (retire_symbols(w) != 0)
		return 0;
	if (w->reader.base != NULL)
		ms_reader_close(&w->reader);
	err = ms_reader_open(&w->reader, path);
	if (err != 0) {
		w->reader.base = NULL;
		return err;
	}
	w->symbols = ms_symbols_new(w->skip);
	return 1;
}

void ms_follow_close(ms_follow *w)
{
	if (w->reader.base != NULL)
		ms_reader_close(&w->reader);
	w->reader.base = NULL;
	ms_symbols_free(w->symbols);
	w->symbols = NULL;
	for (size_t i = 0; i < w->nold; i++)
		ms_symbols_free(w->old[i]);
	free(w->old);
	w->old = NULL;
	w->nold = w->cap_old = 0;
}
