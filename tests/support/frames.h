// Reading memscope-top's batch JSON frames in tests: the final frame of a
// launched command, a call site by function, the source line a workload
// marks for a site.
#ifndef MEMSCOPE_TESTS_FRAMES_H
#define MEMSCOPE_TESTS_FRAMES_H

#include <string>
#include <vector>

#include "tests/support/json.h"

namespace mstest {

// memscope-top -b --json --sites 0 OPTIONS -- COMMAND, under env: its last
// frame (a failure is recorded when it exits non-zero).
Json final_frame(const std::vector<std::string> &command, const std::vector<std::string> &options = {},
		 const std::vector<std::string> &env = {});

// The frame's first call site named function; nullptr when none is.
const Json *callsite(const Json &frame, const std::string &function);

bool ends_with(const std::string &s, const std::string &tail);

// The line of a workspace source file that carries "site: NAME"; -1 if none.
int marker_line(const std::string &source, const std::string &name);

} // namespace mstest

#endif
