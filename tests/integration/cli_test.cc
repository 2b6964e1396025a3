// memscope-top's command line as a user meets it: exit statuses, errors
// that are one clear line, the demo, the text frames.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <string>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

size_t lines(const std::string &s)
{
	size_t n = 0;
	for (char c : s)
		n += c == '\n';
	return n;
}

TEST(Cli, ExitStatusOfTheTargetIsOurs)
{
	mstest::fresh_session_dir("cli-status");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c",
					 "exit 3" });
	EXPECT_EQ(r.status, 3) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["exit_status"].i64(), 3);
	EXPECT_TRUE(f["exited"].boolean);

	r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c", "kill -9 $$" });
	EXPECT_EQ(r.status, 128 + SIGKILL);
	f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["state"].str(), "gone"); // no exit path ran
	EXPECT_EQ(f["exit_status"].i64(), 128 + SIGKILL);
}

// Every line of text parses as a JSON object; the count of them.
size_t all_json_lines(const std::string &text)
{
	size_t n = 0, at = 0;
	while (at < text.size()) {
		size_t end = text.find('\n', at);
		EXPECT_NE(end, std::string::npos) << "an unfinished last line";
		if (end == std::string::npos)
			break;
		std::string line = text.substr(at, end - at);
		try {
			mstest::Json::parse(line);
			n++;
		} catch (const std::exception &e) {
			ADD_FAILURE() << e.what() << ": " << line;
		}
		at = end + 1;
	}
	return n;
}

// A program's output without a newline, then a pause of several frames:
// on stdout only frames, each a whole line; the program's bytes on stderr.
TEST(Cli, ProgramOutputNeverCutsIntoFrames)
{
	mstest::fresh_session_dir("cli-stdout");
	const std::string script = "printf 'progress: '; sleep 1.3; echo done";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.2", "--",
					 "/bin/sh", "-c", script });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_GE(all_json_lines(r.out), 3u);
	EXPECT_NE(r.err.find("progress: done\n"), std::string::npos) << r.err;

	// Text frames too: no line of the program's among them.
	r = mstest::run({ mstest::top_path(), "-b", "-d", "0.2", "--", "/bin/sh", "-c", script });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out.find("progress: done"), std::string::npos) << r.out;
	EXPECT_NE(r.err.find("progress: done\n"), std::string::npos) << r.err;
}

// -o FILE: frames to the file; the program keeps stdout.
TEST(Cli, FramesToAFileLeaveStdoutToTheProgram)
{
	std::string dir = mstest::fresh_session_dir("cli-o");
	std::string file = dir + "/frames.json";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.2", "-o", file,
					 "--", "/bin/sh", "-c", "printf 'progress: '; sleep 1.3; echo done" });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "progress: done\n");
	EXPECT_GE(all_json_lines(mstest::read_file(file)), 3u);
	EXPECT_TRUE(mstest::last_json_line(mstest::read_file(file))["exited"].boolean);

	r = mstest::run({ mstest::top_path(), "-b", "-o", dir + "/no/such/dir", "--", "true" });
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(lines(r.err), 1u) << r.err;
}

TEST(Cli, UsageErrorsAreOneLineAndStatusTwo)
{
	for (auto args : std::vector<std::vector<std::string>>{
		     { "--bogus" },
		     { "-d" },
		     { "-d", "zero", "--", "true" },
		     { "-n", "-3", "--", "true" },
		     { "-p", "abc" },
		     { "--json", "--", "true" },
		     { "-o", "frames.json", "--", "true" },
		     { "-b", "-o" },
		     { "-l", "-p", "1" },
		     { "--" },
	     }) {
		args.insert(args.begin(), mstest::top_path());
		mstest::Result r = mstest::run(args);
		EXPECT_EQ(r.status, 2) << args[1];
		EXPECT_EQ(lines(r.err), 1u) << r.err;
		EXPECT_EQ(r.err.rfind("memscope-top: ", 0), 0u) << r.err;
	}
}

TEST(Cli, AttachToAProgramNotUnderTheHook)
{
	mstest::fresh_session_dir("cli-attach");
	mstest::Child plain = mstest::start({ "/bin/sleep", "30" });
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "-p", std::to_string(plain.pid) });
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(lines(r.err), 1u);
	EXPECT_NE(r.err.find("not running under memscope"), std::string::npos) << r.err;
	kill(plain.pid, SIGKILL);
	plain.wait();

	r = mstest::run({ mstest::top_path(), "-b", "-p", "2147483600" });
	EXPECT_EQ(r.status, 1);
	EXPECT_NE(r.err.find("no process"), std::string::npos) << r.err;
}

TEST(Cli, ACommandThatCannotRun)
{
	mstest::fresh_session_dir("cli-exec");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--", "/nonexistent/program" });
	EXPECT_EQ(r.status, 127);
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_NE(r.err.find("cannot run /nonexistent/program"), std::string::npos) << r.err;
}

TEST(Cli, MissingHookLibrarySaysWhatToDo)
{
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--", "true" },
				       { "MEMSCOPE_LIB=/nonexistent/libmemscope.so" });
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(lines(r.err), 1u);
	EXPECT_NE(r.err.find("MEMSCOPE_LIB"), std::string::npos) << r.err;
}

TEST(Cli, DemoShowsItsThreadsLeakAndSpike)
{
	mstest::fresh_session_dir("cli-demo");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.25", "--demo" },
				       { "MEMSCOPE_DEMO_SECONDS=4" });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_TRUE(f["exited"].boolean);
	int named = 0;
	for (const Json &t : f["threads"].items) {
		const std::string &n = t["name"].str();
		named += n == "ingest" || n == "cache" || n == "render";
		if (n == "cache") { // the leak: every entry still live
			EXPECT_EQ(t["live_bytes"].u64(), t["alloc_bytes"].u64());
		}
		if (n == "render") { // the spike came and went
			EXPECT_EQ(t["live_bytes"].u64(), 0u);
		}
	}
	EXPECT_EQ(named, 3);
	EXPECT_GE(f["peak_bytes"].u64(), 32u << 20);
	EXPECT_LT(f["live_bytes"].u64(), 32u << 20);
}

TEST(Cli, TextFramesForPeople)
{
	mstest::fresh_session_dir("cli-text");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--",
					 mstest::workload("exact_threads"), "2", "100" });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("Heap: "), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("exited"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("worker-1"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("peak 64.0 MiB"), std::string::npos) << r.out;
}

TEST(Cli, HelpAndVersion)
{
	mstest::Result r = mstest::run({ mstest::top_path(), "--help" });
	EXPECT_EQ(r.status, 0);
	EXPECT_NE(r.out.find("--batch"), std::string::npos);
	// Every capture backend MEMSCOPE_BACKEND accepts.
	for (const char *backend : { "unified", "async", "core", "lockfree" })
		EXPECT_NE(r.out.find(backend), std::string::npos) << backend;
	r = mstest::run({ mstest::top_path(), "--version" });
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.out.rfind("memscope-top ", 0), 0u);
}

} // namespace
