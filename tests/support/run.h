// Running programs from tests: the built binaries (from Bazel runfiles),
// with their output captured and a private session directory.
#ifndef MEMSCOPE_TESTS_RUN_H
#define MEMSCOPE_TESTS_RUN_H

#include <sys/types.h>

#include <string>
#include <vector>

namespace mstest {

// Absolute path of a file of this workspace in the test's runfiles.
std::string runfile(const std::string &workspace_relative);

std::string hook_path();        // hooks/libmemscope.so
std::string top_path();         // tui/memscope-top (or MEMSCOPE_TEST_TOP)
std::string report_path();      // tui/memscope-report (or MEMSCOPE_TEST_REPORT)
std::string workload(const std::string &name); // tests/workloads/NAME

// A fresh, empty directory PREFIX-XXXXXX (mkdtemp) under the test's
// temporary directory; throws if it cannot be made.
std::string temp_dir(const std::string &prefix);

// A fresh, empty directory under the test's temporary directory, also set
// as MEMSCOPE_DIR for this process and the programs it runs.
std::string fresh_session_dir(const std::string &name);

struct Result {
	int status = -1; // exit code, or 128 + signal
	std::string out, err;
};

// Runs argv with env_extra ("NAME=value") added, feeding stdin_data; waits
// at most timeout_s seconds (then kills it and fails with status -1).
Result run(const std::vector<std::string> &argv, const std::vector<std::string> &env_extra = {},
	   const std::string &stdin_data = "", double timeout_s = 120);

// Starts argv in the background with stdout to a pipe; returns the pid.
// read_line() reads one line of its stdout (blocking, with a timeout).
struct Child {
	pid_t pid = -1;
	int out_fd = -1;
	int in_fd = -1;
	std::string read_line(double timeout_s = 30);
	void write_line(const std::string &line);
	int wait(); // exit code, or 128 + signal
};
Child start(const std::vector<std::string> &argv, const std::vector<std::string> &env_extra = {});

std::string read_file(const std::string &path);

// The monotonic clock, in seconds.
double now_s();

} // namespace mstest

#endif
