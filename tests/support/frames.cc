#include "tests/support/frames.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/run.h"

namespace mstest {

Json final_frame(const std::vector<std::string> &command, const std::vector<std::string> &options,
		 const std::vector<std::string> &env)
{
	std::vector<std::string> argv = { top_path(), "-b", "--json", "--sites", "0" };
	argv.insert(argv.end(), options.begin(), options.end());
	argv.push_back("--");
	argv.insert(argv.end(), command.begin(), command.end());
	Result r = run(argv, env);
	EXPECT_EQ(r.status, 0) << r.err;
	return last_json_line(r.out);
}

const Json *callsite(const Json &frame, const std::string &function)
{
	for (const Json &c : frame["callsites"].items)
		if (c["function"].str() == function)
			return &c;
	return nullptr;
}

bool ends_with(const std::string &s, const std::string &tail)
{
	return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

int marker_line(const std::string &source, const std::string &name)
{
	std::ifstream in(runfile(source));
	std::string line;
	for (int n = 1; std::getline(in, line); n++)
		if (line.find("site: " + name) != std::string::npos)
			return n;
	return -1;
}

} // namespace mstest
