/* Every public header compiles as strict C11 (with -Werror -pedantic). */
#include "tests/headers/all_headers.h"

const char *ms_headers_c_probe(void)
{
	ms_event ev = { .op = MS_OP_ALLOC, .size = 1 };

	return ms_op_name(ev.op);
}
