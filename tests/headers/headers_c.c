/* Every public header compiles as strict C11 (with -Werror -pedantic). */
#include "tests/headers/all_headers.h"

const char *ms_headers_c_probe(void)
{
	ms_event ev = { .op = MS_OP_ALLOC, .size = 1 };

	/* memscope.h without the hook: every call does nothing. */
	MS_SCOPE("probe");
	ms_track(&ev, "ev", "ms_event");
	ms_borrow(&ev);
	ms_return(&ev);
	ms_move(&ev, &ev);
	return ms_op_name(ev.op);
}
