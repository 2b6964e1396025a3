/* memscope-top: the program. */
#ifndef MEMSCOPE_TUI_TOP_H
#define MEMSCOPE_TUI_TOP_H

int ms_top_run(int argc, char **argv);

#endif
