// Real programs under the hook behave exactly as without it: the same
// bytes on stdout and stderr and the same exit status.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/run.h"

namespace {

void same_with_and_without_hook(const std::vector<std::string> &argv, const std::string &input = "",
				const std::vector<std::string> &env = {})
{
	mstest::Result plain = mstest::run(argv, env, input);
	std::vector<std::string> hooked_env = env;
	hooked_env.push_back("LD_PRELOAD=" + mstest::hook_path());
	mstest::Result hooked = mstest::run(argv, hooked_env, input);
	EXPECT_EQ(hooked.status, plain.status) << argv[0];
	EXPECT_EQ(hooked.out, plain.out) << argv[0];
	EXPECT_EQ(hooked.err, plain.err) << argv[0];
	EXPECT_FALSE(plain.out.empty() && plain.err.empty()) << argv[0] << " printed nothing";
}

TEST(RealPrograms, Ls)
{
	mstest::fresh_session_dir("ls");
	same_with_and_without_hook({ "/bin/ls", "-la", "--time-style=+%s", "/usr/include" });
	same_with_and_without_hook({ "/bin/ls", "/nonexistent" }); // an error and status 2
}

TEST(RealPrograms, Sort)
{
	mstest::fresh_session_dir("sort");
	std::string input;
	unsigned x = 12345;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		input += std::to_string(x % 1000003) + " line " + std::to_string(i) + "\n";
	}
	same_with_and_without_hook({ "/usr/bin/sort", "-n" }, input);
	same_with_and_without_hook({ "/usr/bin/sort", "-u", "-k3" }, input);
}

TEST(RealPrograms, Python)
{
	mstest::fresh_session_dir("python");
	same_with_and_without_hook(
		{ "/usr/bin/python3", "-c",
		  "import sys\n"
		  "d = {str(i): [i] * (i % 7) for i in range(200000)}\n"
		  "print(len(d), sum(len(v) for v in d.values()))\n"
		  "print('to stderr', file=sys.stderr)\n"
		  "sys.exit(5)\n" },
		"", { "PYTHONMALLOC=malloc" });
}

} // namespace
