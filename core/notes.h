/* The engine's side of annotations (notes.c), for capture.c. Private to
 * core/. */
#ifndef MEMSCOPE_NOTES_H
#define MEMSCOPE_NOTES_H

#include <stdint.h>

#include <memscope/capture.h>

/* ptr's block was freed: its note, if any, ends. */
void ms_notes_end(ms_capture *c, uint64_t ptr);
/* The block at from is now at to (to 0: gone); size UINT64_MAX: unchanged. */
void ms_notes_move(ms_capture *c, uint64_t from, uint64_t to, uint64_t size);
/* ms_borrow (lend 1) or ms_return (lend 0) of ptr's block. */
void ms_notes_borrow(ms_capture *c, uint64_t ptr, int lend);
/* Forgets every note and frees their memory. */
void ms_notes_destroy(ms_capture *c);

#endif
