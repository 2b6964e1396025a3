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
	// Through a pointer: EXPECT_EQ takes its arguments by reference, and a
	// reference to a function at address 0 is undefined (at -O2 the
	// comparison folds to false).
	void (*const track)(const void *, const char *, const char *) = &memscope_track;
	EXPECT_EQ(track, nullptr);
	EXPECT_EQ(x, 1);
}
