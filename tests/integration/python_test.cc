// CPython's own allocator (pymalloc) hides most of a Python program's heap
// from the hook: memscope says so (frames, memscope-top -l, recordings)
// and --python-malloc turns it off for a launched program. The system
// python3, as CI installs it.
#include <gtest/gtest.h>

#include <signal.h>

#include <string>
#include <vector>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

const char *const kPython = "/usr/bin/python3";
// 100,000 small objects, all live at the end; long enough (0.3 s) for
// memscope-top to look at the process while it runs.
const char *const kScript = "import time\n"
			    "keep = [str(i) * 2 for i in range(100000)]\n"
			    "time.sleep(0.3)\n";

// The final JSON frame of a launched python3 with these options and
// environment.
Json final_frame(const std::vector<std::string> &options, const std::vector<std::string> &env = {},
		 const std::vector<std::string> &python_flags = {})
{
	std::vector<std::string> argv = { mstest::top_path(), "-b", "--json", "-d", "0.1" };
	argv.insert(argv.end(), options.begin(), options.end());
	argv.push_back("--");
	argv.push_back(kPython);
	argv.insert(argv.end(), python_flags.begin(), python_flags.end());
	argv.push_back("-c");
	argv.push_back(kScript);
	mstest::Result r = mstest::run(argv, env);
	EXPECT_EQ(r.status, 0) << r.err;
	return mstest::last_json_line(r.out);
}

TEST(Python, DefaultAllocatorIsSaidAndMallocShowsTheObjects)
{
	mstest::fresh_session_dir("python-default");
	Json hidden = final_frame({});
	EXPECT_TRUE(hidden["python_pymalloc"].boolean);
	Json seen = final_frame({ "--python-malloc" });
	EXPECT_FALSE(seen["python_pymalloc"].boolean);
	// What pymalloc hid: each of the 100,000 strings (and the one it was
	// made from) is a block of its own.
	EXPECT_GE(seen["total_allocs"].u64(), 200000u);
	EXPECT_LT(hidden["total_allocs"].u64(), 20000u);
}

TEST(Python, WhatPythonmallocSays)
{
	mstest::fresh_session_dir("python-env");
	for (const char *v : { "pymalloc", "pymalloc_debug", "debug", "" })
		EXPECT_TRUE(final_frame({}, { std::string("PYTHONMALLOC=") + v })["python_pymalloc"]
				    .boolean)
			<< v;
	for (const char *v : { "malloc", "malloc_debug" })
		EXPECT_FALSE(final_frame({}, { std::string("PYTHONMALLOC=") + v })["python_pymalloc"]
				     .boolean)
			<< v;
	// -E and -I make python ignore PYTHONMALLOC.
	EXPECT_TRUE(final_frame({}, { "PYTHONMALLOC=malloc" }, { "-E" })["python_pymalloc"].boolean);
	EXPECT_TRUE(final_frame({}, { "PYTHONMALLOC=malloc" }, { "-Is" })["python_pymalloc"].boolean);
	EXPECT_FALSE(final_frame({}, { "PYTHONMALLOC=malloc" }, { "-W", "ignore" })["python_pymalloc"]
			     .boolean);
}

TEST(Python, OtherProgramsAreNotPython)
{
	mstest::fresh_session_dir("python-not");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c",
					 "sleep 0.3" });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	ASSERT_TRUE(f.has("python_pymalloc"));
	EXPECT_FALSE(f["python_pymalloc"].boolean);
}

TEST(Python, TextFramesSayWhatToDo)
{
	mstest::fresh_session_dir("python-text");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--", kPython, "-c", kScript });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("Python: pymalloc keeps most of this heap out of sight; run it with "
			     "PYTHONMALLOC=malloc"),
		  std::string::npos)
		<< r.out;
	r = mstest::run({ mstest::top_path(), "-b", "--python-malloc", "--", kPython, "-c", kScript });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out.find("pymalloc"), std::string::npos) << r.out;
}

TEST(Python, ListMarksItsSession)
{
	mstest::fresh_session_dir("python-list");
	mstest::Child py = mstest::start({ kPython, "-c",
					   "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n" },
					 { "LD_PRELOAD=" + mstest::hook_path() });
	ASSERT_EQ(py.read_line(), "ready");
	mstest::Child plain = mstest::start({ mstest::workload("exits"), "wait" },
					    { "LD_PRELOAD=" + mstest::hook_path() });
	ASSERT_EQ(plain.read_line(), "ready");
	mstest::Result l = mstest::run({ mstest::top_path(), "-l" });
	py.write_line("");
	EXPECT_EQ(py.wait(), 0);
	kill(plain.pid, SIGKILL);
	plain.wait();
	ASSERT_EQ(l.status, 0) << l.err;
	std::string py_row, plain_row;
	size_t at = 0;
	for (size_t nl; (nl = l.out.find('\n', at)) != std::string::npos; at = nl + 1) {
		std::string row = l.out.substr(at, nl - at);
		if (row.find(std::to_string(py.pid) + " ") == 8 - std::to_string(py.pid).size())
			py_row = row;
		if (row.find(std::to_string(plain.pid) + " ") == 8 - std::to_string(plain.pid).size())
			plain_row = row;
	}
	EXPECT_NE(py_row.find("* /usr/bin/python3 -c"), std::string::npos) << l.out;
	EXPECT_NE(plain_row.find("  "), std::string::npos) << l.out;
	EXPECT_EQ(plain_row.find('*'), std::string::npos) << l.out;
	EXPECT_NE(l.out.find("\n* Python: pymalloc keeps most of this heap out of sight"),
		  std::string::npos)
		<< l.out;
}

TEST(Python, RecordingsKeepIt)
{
	std::string dir = mstest::fresh_session_dir("python-rec");
	std::string file = dir + "/py.rec";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "-d", "0.1", "-w", file, "--",
					 kPython, "-c", kScript });
	ASSERT_EQ(r.status, 0) << r.err;
	r = mstest::run({ mstest::report_path(), file, "--json" });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_TRUE(mstest::last_json_line(r.out)["python_pymalloc"].boolean) << r.out;

	file = dir + "/malloc.rec";
	r = mstest::run({ mstest::top_path(), "-b", "-d", "0.1", "-w", file, "--python-malloc", "--",
			  kPython, "-c", kScript });
	ASSERT_EQ(r.status, 0) << r.err;
	r = mstest::run({ mstest::report_path(), file, "--json" });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_FALSE(mstest::last_json_line(r.out)["python_pymalloc"].boolean) << r.out;
}

TEST(Python, TheOptionGoesWithALaunch)
{
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--python-malloc", "-p", "1" });
	EXPECT_EQ(r.status, 2);
	EXPECT_NE(r.err.find("--python-malloc goes with a program to launch"), std::string::npos)
		<< r.err;
}

} // namespace
