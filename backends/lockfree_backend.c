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
	ms_store_count_event(be->store, ev); /* atomic throughout: shared_cells */
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
