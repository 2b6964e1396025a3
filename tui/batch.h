/* Batch mode: frames on stdout (or -o FILE), for people (text) or
 * programs (JSON). */
#ifndef MEMSCOPE_TUI_BATCH_H
#define MEMSCOPE_TUI_BATCH_H

#include "options.h"

struct ms_event_tap;

/* Watches pid until it is gone or -n frames were printed, writing frames
 * to out, and the last one as a heap profile to pprof (--pprof; NULL:
 * none). launched: pid is our child (we reap it, report its status and
 * remove its sessions). Returns memscope-top's exit status. */
int ms_batch_run(const struct ms_top_options *opt, FILE *out, FILE *pprof, pid_t pid,
		 int launched, struct ms_event_tap *events);

#endif
