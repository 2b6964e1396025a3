/* memscope-report: summaries of recordings. */
#ifndef MEMSCOPE_TUI_REPORT_H
#define MEMSCOPE_TUI_REPORT_H

#include <memscope/recording.h>

int ms_report_run(int argc, char **argv);

/* --events: the event stream's analysis on stdout. top: call sites shown
 * (0: all). Returns the exit status. */
int ms_report_events(ms_recording *r, long top);

#endif
