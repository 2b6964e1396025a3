/* memscope-top -l: the caller's sessions. */
#ifndef MEMSCOPE_TUI_LIST_H
#define MEMSCOPE_TUI_LIST_H

/* Prints one line per session; with clean, removes those whose process is
 * gone or whose image was replaced. Returns the exit status. */
int ms_list_sessions(int clean);

#endif
