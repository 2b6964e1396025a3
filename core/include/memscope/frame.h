/*
 * Frames: one snapshot printed for people (text, like top -b) or for
 * programs (one JSON object on one line). The JSON field names are a
 * contract that scripts and tests depend on; see DESIGN.md.
 */
#ifndef MEMSCOPE_FRAME_H
#define MEMSCOPE_FRAME_H

#include <stdio.h>

#include <memscope/snapshot.h>

#ifdef __cplusplus
extern "C" {
#endif

/* exit_status: the target's exit status when known (a launched program that
 * exited), else -1. */
void ms_frame_print_json(FILE *out, const ms_snapshot *s, int exit_status);
void ms_frame_print_text(FILE *out, const ms_snapshot *s, int exit_status);

/* "12.3 MiB" etc. into buf; returns buf. */
const char *ms_format_bytes(char *buf, size_t len, uint64_t bytes);

#ifdef __cplusplus
}
#endif

#endif
