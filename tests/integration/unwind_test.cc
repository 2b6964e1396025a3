// The hook's own stack walker, which reuses a thread's last stack after
// checking its return-address slots (hooks/unwind.c), against libunwind's
// full unw_backtrace at the same point, capture by capture
// (MEMSCOPE_UNWIND_CHECK), on the places where reuse could go wrong
// (workload tests/workloads/unwinding.cc): C++ exceptions, longjmp out of
// recursion, swapcontext fibers, a signal handler on an alternate stack,
// threads, a library closed and opened again.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

// "name value name value ..." on the report's first line.
std::map<std::string, unsigned long> counts(const std::string &report)
{
	std::istringstream in(report.substr(0, report.find('\n')));
	std::map<std::string, unsigned long> m;
	std::string name;
	unsigned long v;

	while (in >> name >> v)
		m[name] = v;
	return m;
}

TEST(Unwind, EveryCaptureEqualsAFullBacktrace)
{
	mstest::fresh_session_dir("unwinding");
	std::string report = mstest::temp_dir("unwind-check") + "/check.txt";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("unwinding"),
					 mstest::workload("libplugin.so") },
				       { "MEMSCOPE_UNWIND_CHECK=" + report });
	ASSERT_EQ(r.status, 0) << r.err;
	mstest::Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["exit_status"].i64(), 0); // every step of the workload did its part

	std::string text = mstest::read_file(report);
	std::map<std::string, unsigned long> c = counts(text);
	ASSERT_EQ(c.size(), 7u) << text;
	EXPECT_EQ(c["mismatches"], 0u) << text;
	EXPECT_EQ(c["captures"], c["reused"] + c["walked"] + c["fallback"]) << text;
	// libunwind walks exactly these: the signal handler's 50 allocations
	// (behind a signal frame) and the fibers' 3 x 20 x 2 (their stacks end
	// in glibc's __start_context, whose return address lies just before its
	// own unwind entry, outside any). Everything else is the hook's walk.
	EXPECT_EQ(c["fallback"], 50u + 120u) << text;
	// Most captures reuse the thread's last stack.
	EXPECT_GT(c["reused"], c["captures"] * 9 / 10) << text;
	EXPECT_GT(c["frames_reused"], 0u) << text;
}

} // namespace
