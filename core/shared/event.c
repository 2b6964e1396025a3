#include <memscope/event.h>

const char *ms_op_name(ms_op op)
{
	switch (op) {
	case MS_OP_ALLOC:
		return "alloc";
	case MS_OP_FREE:
		return "free";
	case MS_OP_REALLOC:
		return "realloc";
	case MS_OP_MOVE:
		return "move";
	case MS_OP_BORROW:
		return "borrow";
	case MS_OP_RETURN:
		return "return";
	}
	return "?";
}
