/*
 * The "lockfree" backend: synchronous like core, with no lock at all. The
 * thread that calls malloc or free accounts the block itself, and the
 * store's counter cells take atomic adds (ms_store.shared_cells), so any
 * number of threads may write one cell at once; a block's allocation and
 * free still land in one cell (chosen by address hash), which keeps each
 * cell's own figures from ever going negative.
 */
#define _GNU_SOURCE
#include <memscope/backends.h>

#include <memscope/ptr_map.h>

static unsigned cell_of(uint64_t ptr)
{
	return (unsigned)(ms_ptr_hash(ptr) % MS_STORE_CELLS);
}

static int lf_open(ms_backend *be)
{
	be->store->shared_cells = 1;
	be->state = NULL;
	return 0;
}

static void lf_close(ms_backend *be)
{
	(void)be;
}

static void lf_record(ms_backend *be, const ms_event *ev)
{
	ms_store *st = be->store;

	switch (ev->op) {
	case MS_OP_ALLOC:
		ms_store_count_alloc(st, cell_of(ev->ptr), ev->thread, ev->stack, ev->size, 0,
				     ev->born);
		break;
	case MS_OP_FREE:
		ms_store_count_free(st, cell_of(ev->ptr), ev->thread, ev->owner, ev->stack,
				    ev->size, ev->born, ms_store_time());
		break;
	case MS_OP_REALLOC:
		ms_store_count_free(st, cell_of(ev->old_ptr), ev->thread, ev->old_thread,
				    ev->old_stack, ev->old_size, ev->old_born, ev->born);
		ms_store_count_alloc(st, cell_of(ev->ptr), ev->thread, ev->stack, ev->size, 1,
				     ev->born);
		break;
	default:
		ms_store_count_annotation(st, ev->op);
		break;
	}
}

static void lf_nothing(ms_backend *be)
{
	(void)be;
}

const ms_backend_ops ms_backend_lockfree = {
	.name = "lockfree",
	.open = lf_open,
	.close = lf_close,
	.record = lf_record,
	.fork_prepare = lf_nothing,
	.fork_parent = lf_nothing,
	.fork_child = lf_nothing,
};
