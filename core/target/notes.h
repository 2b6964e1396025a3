/* The engine's side of annotations (notes.c), for capture.c. Private to
 * core/target.
 *
 * Runs: the hook path (the program's ms_track and friends, and frees). */
#ifndef MEMSCOPE_NOTES_H
#define MEMSCOPE_NOTES_H

#include <stdint.h>

#include <memscope/capture.h>

/* ptr's block was freed: its note, if any, ends. The malloc path: it
 * takes no lock unless ptr may be annotated. */
void ms_notes_end(ms_capture *c, uint64_t ptr);
/* Realloc, first half: ptr's note leaves the index with the old block.
 * Returns what ms_notes_settle needs (0: no note). */
uint32_t ms_notes_claim(ms_capture *c, uint64_t ptr);
/* Realloc, second half: the note follows the block to new_ptr, or stays at
 * old_ptr when the realloc failed (new_ptr 0, size not 0), or ends with
 * realloc(p, 0). */
void ms_notes_settle(ms_capture *c, uint32_t claimed, uint64_t old_ptr, uint64_t new_ptr,
		     uint64_t size);
/* ms_move: the note of the block at from goes to the block at to. */
void ms_notes_move(ms_capture *c, uint64_t from, uint64_t to);
/* ms_borrow (lend 1) or ms_return (lend 0) of ptr's block. */
void ms_notes_borrow(ms_capture *c, uint64_t ptr, int lend);
/* Forgets every note and frees their memory. */
void ms_notes_destroy(ms_capture *c);

#endif
