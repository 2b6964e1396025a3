/*
 * The memscope event model: one event per heap operation (or annotation),
 * handed by the capture engine to a backend, which applies it to the store.
 *
 * Runs: anywhere: the hook path makes events, readers name their ops.
 */
#ifndef MEMSCOPE_EVENT_H
#define MEMSCOPE_EVENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ms_op {
	/* ptr, size: a new block. */
	MS_OP_ALLOC = 1,
	/* ptr: a block given back. */
	MS_OP_FREE = 2,
	/* old_ptr -> ptr, size: a block resized (possibly in place); ptr 0:
	 * realloc(old_ptr, 0) freed the block. */
	MS_OP_REALLOC = 3,
	/* old_ptr -> ptr: the annotation (memscope.h names) of the block at
	 * old_ptr now belongs to the block at ptr; both blocks stay as they
	 * are (a hand-made realloc: copy, then free the old one). */
	MS_OP_MOVE = 4,
	/* ptr: a live block lent out (annotation). */
	MS_OP_BORROW = 5,
	/* ptr: a lent block given back to its owner (annotation). */
	MS_OP_RETURN = 6,
} ms_op;

/* A temporary allocation, heaptrack's definition: a block freed before the
 * thread that allocated it allocates again (alloc, free, alloc, free: two;
 * alloc, alloc, free, free: none). */
#define MS_EVENT_TEMPORARY 1u

typedef struct ms_event {
	ms_op op;
	/* Slot of the acting thread in the store's thread table. */
	uint32_t thread;
	/* The block made (ALLOC, REALLOC; ptr 0 when realloc(p, 0) freed p),
	 * or ended (FREE): its address, size, stack id (memscope/stacks.h)
	 * and birth (store time units: whole for a block made, the low
	 * MS_BLOCK_BORN_BITS its header keeps for a block ended). */
	uint64_t ptr;
	uint64_t size;
	uint32_t stack;
	uint64_t born;
	/* FREE: the slot of the thread that allocated the block. */
	uint32_t owner;
	/* FREE, REALLOC: MS_EVENT_TEMPORARY when the block that ends (for a
	 * realloc, the old one) is a temporary. */
	uint32_t flags;
	/* REALLOC: the old block, as ptr..born; MOVE: the address the
	 * annotation comes from (old_ptr). */
	uint64_t old_ptr;
	uint64_t old_size;
	uint32_t old_thread;
	uint32_t old_stack;
	uint64_t old_born;
} ms_event;

/* "alloc", "free", ...; "?" for a value outside the enum. */
const char *ms_op_name(ms_op op);

#ifdef __cplusplus
}
#endif

#endif
