/*
 * The column chooser (F2, as htop's setup screen) and the file that
 * remembers what it hid: $XDG_CONFIG_HOME/memscope/memscope-toprc, else
 * ~/.config/memscope/memscope-toprc, one line a view,
 * "hide.sites=MED_LIFE,%LIVE". The call-site tables (call sites, leaks)
 * have their columns chosen; the others' are fixed.
 *
 * Runs: readers only (memscope-top).
 */
#ifndef MEMSCOPE_TUI_SETUP_H
#define MEMSCOPE_TUI_SETUP_H

#include "ui.h"

/* Reads the file into ui->hidden; a missing or unreadable file hides
 * nothing, a line it does not know is left alone. */
void ms_setup_load(struct ms_ui *ui, const ms_view_ops *const *views);

/* Writes ui->hidden to the file. Returns 0 or -errno. */
int ms_setup_save(const struct ms_ui *ui, const ms_view_ops *const *views);

void ms_setup_draw(struct ms_ui *ui, const ms_view_ops *const *views);

/* A key while the chooser is open. Returns 1 when it closed it. */
int ms_setup_key(struct ms_ui *ui, const ms_view_ops *const *views, int key);

#endif
