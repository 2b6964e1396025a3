// A program's command line as memscope shows it: exact in JSON (a newline
// is a newline), and for people with every control character made visible
// (`\n`), in text frames, in memscope-top -l and in memscope-report.
#include <gtest/gtest.h>

#include <signal.h>

#include <string>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

// No byte that a terminal would act on instead of showing.
bool printable(const std::string &text)
{
	for (unsigned char c : text)
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			return false;
	return true;
}

TEST(Command, ANewlineIsANewlineInJsonAndVisibleInText)
{
	mstest::fresh_session_dir("command-frames");
	const std::string script = "true\n\ttrue";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c",
					 script });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(mstest::last_json_line(r.out)["command"].str(), "/bin/sh -c " + script);

	r = mstest::run({ mstest::top_path(), "-b", "--", "/bin/sh", "-c", script });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out.rfind("memscope - pid ", 0), 0u) << r.out;
	EXPECT_NE(r.out.find(" - /bin/sh -c true\\n\\ttrue - exited"), std::string::npos) << r.out;
	EXPECT_TRUE(printable(r.out)) << r.out;
}

TEST(Command, ListShowsItVisible)
{
	mstest::fresh_session_dir("command-list");
	mstest::Child c = mstest::start({ mstest::workload("exits"), "wait", "one\ntwo\x1b[2J" },
					{ "LD_PRELOAD=" + mstest::hook_path() });
	ASSERT_EQ(c.read_line(), "ready");
	mstest::Result l = mstest::run({ mstest::top_path(), "-l" });
	kill(c.pid, SIGKILL);
	c.wait();
	ASSERT_EQ(l.status, 0) << l.err;
	EXPECT_NE(l.out.find("exits wait one\\ntwo\\x1b[2J\n"), std::string::npos) << l.out;
	EXPECT_TRUE(printable(l.out)) << l.out;
}

TEST(Command, ReportShowsItVisibleAndItsJsonExact)
{
	std::string dir = mstest::fresh_session_dir("command-report");
	std::string file = dir + "/cmd.rec";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "-w", file, "--", "/bin/sh",
					 "-c", "true\ntrue" });
	ASSERT_EQ(r.status, 0) << r.err;
	r = mstest::run({ mstest::report_path(), file });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("recording of /bin/sh -c true\\ntrue (pid"), std::string::npos) << r.out;
	EXPECT_TRUE(printable(r.out)) << r.out;
	r = mstest::run({ mstest::report_path(), file, "--json" });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(mstest::last_json_line(r.out)["command"].str(), "/bin/sh -c true\ntrue");
}

} // namespace
