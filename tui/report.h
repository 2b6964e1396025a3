/* memscope-report: summaries of recordings. */
#ifndef MEMSCOPE_TUI_REPORT_H
#define MEMSCOPE_TUI_REPORT_H

int ms_report_run(int argc, char **argv);

#endif
