/*
 * Uses memscope.h, with exactly known annotations; prints "annotated: ok"
 * and exits 0, with or without the hook.
 *
 * In scope "main":
 *   cfg     one struct config (64 bytes), borrowed 3 times and returned
 *           twice, never freed;
 *   buf     32 bytes, "char[]", realloc'ed to 4096, never freed;
 *   moved   64 bytes, "struct config", copied into a block of 128 bytes
 *           that takes over its names (ms_move: a hand-made realloc), then
 *           both freed.
 * In scope "load", inside "main":
 *   line    ten blocks of 100 bytes, "char[100]"; the even-numbered five
 *           freed, the odd-numbered five kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memscope.h>

struct config {
	int values[16];
};

static char *lines[10];

static void load(void)
{
	MS_SCOPE("load");

	for (int i = 0; i < 10; i++) {
		lines[i] = malloc(100);
		ms_track(lines[i], "line", "char[100]");
		snprintf(lines[i], 100, "line %d", i);
	}
	for (int i = 0; i < 10; i += 2) {
		free(lines[i]);
		lines[i] = NULL;
	}
}

int main(void)
{
	MS_SCOPE("main");
	struct config *cfg = malloc(sizeof(*cfg));
	struct config *moved, *bigger;
	char *buf, *grown;

	ms_track(cfg, "cfg", "struct config");
	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < 3; i++)
		ms_borrow(cfg);
	ms_return(cfg);
	ms_return(cfg);

	load();

	buf = malloc(32);
	ms_track(buf, "buf", "char[]");
	grown = realloc(buf, 4096);
	if (grown == NULL)
		return 1;
	memset(grown, 'x', 4096);

	moved = calloc(1, sizeof(*moved));
	ms_track(moved, "moved", "struct config");
	bigger = malloc(2 * sizeof(*moved));
	memcpy(bigger, moved, sizeof(*moved));
	ms_move(moved, bigger);
	free(moved);
	free(bigger);

	printf("annotated: ok %d %c\n", cfg->values[0], grown[4095]);
	fflush(stdout);
	return 0;
}
