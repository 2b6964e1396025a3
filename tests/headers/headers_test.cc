// Every public header compiles as C++ too, and the C build of them links.
#include <gtest/gtest.h>

#include <string>

#include "tests/headers/all_headers.h"

extern "C" const char *ms_headers_c_probe(void);

TEST(Headers, CompileAsCAndCxx)
{
	EXPECT_EQ(std::string(ms_headers_c_probe()), "alloc");
	EXPECT_EQ(std::string(ms_op_name(MS_OP_RETURN)), "return");
	EXPECT_EQ(std::string(ms_op_name(static_cast<ms_op>(99))), "?");
}

// memscope.h from C++, without the hook: the calls are no-ops and the
// entry points are null.
TEST(Headers, AnnotationsDoNothingWithoutTheHook)
{
	int x = 1;
	{
		MS_SCOPE("outer");
		MS_SCOPE("inner");
		ms_track(&x, "x", "int");
		ms_borrow(&x);
		ms_return(&x);
	}
	EXPECT_EQ(memscope_track, nullptr);
	EXPECT_EQ(x, 1);
}
