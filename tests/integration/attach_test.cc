// A program started with LD_PRELOAD by hand, read by other processes while
// it runs: this test's own reader, memscope-top -p, and memscope-top -l.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <memscope/sessions.h>
#include <memscope/snapshot.h>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

const Json *thread_named(const Json &f, const std::string &name)
{
	for (const Json &t : f["threads"].items)
		if (t["name"].str() == name)
			return &t;
	return nullptr;
}

class Attach : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir = mstest::fresh_session_dir("attach");
		holder = mstest::start({ mstest::workload("holder"), "1000", "512" },
				       { "LD_PRELOAD=" + mstest::hook_path() });
		ASSERT_EQ(holder.read_line(), "ready");
	}
	void TearDown() override
	{
		if (holder.pid > 0 && kill(holder.pid, 0) == 0) {
			kill(holder.pid, SIGKILL);
			holder.wait();
		}
	}
	std::string dir;
	mstest::Child holder;
};

TEST_F(Attach, ASecondProcessReadsTheRunningSegment)
{
	char path[512];
	ASSERT_EQ(ms_session_find(dir.c_str(), holder.pid, path, sizeof(path)), 0);
	ms_reader r;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&r, path), 0);
	// The async backend's drain applies what the program did within
	// microseconds of it, unless the machine is busy: allow it a while.
	for (int tries = 0;; tries++) {
		ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
		if (s.total_allocs >= 1000 || tries == 200)
			break;
		ms_snapshot_release(&s);
		usleep(10000);
	}
	EXPECT_EQ(s.state, MS_SESSION_RUNNING);
	EXPECT_EQ(s.pid, holder.pid);
	const ms_thread_info *h = nullptr;
	for (size_t i = 0; i < s.nthreads; i++)
		if (std::string(s.threads[i].name) == "holding")
			h = &s.threads[i];
	ASSERT_NE(h, nullptr);
	EXPECT_EQ(h->allocs, 1000u);
	EXPECT_EQ(h->live_bytes, 1000u * 512);
	EXPECT_GE(s.live_bytes, 1000u * 512);
	EXPECT_GE(s.peak_bytes, s.live_bytes);
	ms_snapshot_release(&s);

	// Release it and watch the same mapping see the exit.
	holder.write_line("go");
	EXPECT_EQ(holder.read_line(), "done");
	EXPECT_EQ(holder.wait(), 0);
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	EXPECT_EQ(s.state, MS_SESSION_EXITED);
	for (size_t i = 0; i < s.nthreads; i++) {
		if (std::string(s.threads[i].name) == "holding") {
			EXPECT_EQ(s.threads[i].live_bytes, 0u);
		}
	}
	ms_snapshot_release(&s);
	ms_reader_close(&r);
	// Nobody asked to keep it: the target removed its own session name.
	EXPECT_NE(ms_session_find(dir.c_str(), holder.pid, path, sizeof(path)), 0);
}

TEST_F(Attach, TopPrintsFramesOfARunningProgram)
{
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.1", "-n", "2",
					 "-p", std::to_string(holder.pid) });
	ASSERT_EQ(r.status, 0) << r.err;
	std::vector<Json> frames = mstest::json_lines(r.out);
	ASSERT_EQ(frames.size(), 2u);
	for (const Json &f : frames) {
		EXPECT_FALSE(f["exited"].boolean);
		const Json *h = thread_named(f, "holding");
		ASSERT_NE(h, nullptr);
		EXPECT_EQ((*h)["live_bytes"].u64(), 512000u);
	}
	// Detaching left the program alone: it still answers.
	holder.write_line("go");
	EXPECT_EQ(holder.read_line(), "done");
	EXPECT_EQ(holder.wait(), 0);
}

TEST_F(Attach, TopFollowsTheProgramToItsExit)
{
	mstest::Child top = mstest::start({ mstest::top_path(), "-b", "--json", "-d", "0.1", "-p",
					    std::to_string(holder.pid) });
	Json first = Json::parse(top.read_line());
	EXPECT_FALSE(first["exited"].boolean);
	holder.write_line("go");
	EXPECT_EQ(holder.read_line(), "done");
	EXPECT_EQ(holder.wait(), 0);
	Json last;
	for (;;) {
		last = Json::parse(top.read_line(10));
		if (last["exited"].boolean)
			break;
	}
	EXPECT_EQ(last["state"].str(), "exited");
	const Json *h = thread_named(last, "holding");
	ASSERT_NE(h, nullptr);
	// The main thread freed the blocks; they leave the live figure of the
	// thread that made them.
	EXPECT_EQ((*h)["frees"].u64(), 0u);
	EXPECT_EQ((*h)["live_bytes"].u64(), 0u);
	EXPECT_EQ((*h)["live_allocs"].u64(), 0u);
	EXPECT_GE(last["threads"][0]["frees"].u64(), 1000u);
	EXPECT_EQ(top.wait(), 0);
}

TEST_F(Attach, ListShowsTheSessionAndCleanRemovesDeadOnes)
{
	mstest::Result l = mstest::run({ mstest::top_path(), "-l" });
	ASSERT_EQ(l.status, 0) << l.err;
	EXPECT_NE(l.out.find(std::to_string(holder.pid)), std::string::npos) << l.out;
	EXPECT_NE(l.out.find("running"), std::string::npos) << l.out;
	EXPECT_NE(l.out.find("holder 1000 512"), std::string::npos) << l.out;

	// A second holder killed outright leaves a stale session behind (this
	// test is its keeper, so it is not removed at exit: it never exits).
	mstest::Child dead = mstest::start({ mstest::workload("holder"), "10", "10" },
					   { "LD_PRELOAD=" + mstest::hook_path(),
					     "MEMSCOPE_KEEPER=" + std::to_string(getpid()) });
	ASSERT_EQ(dead.read_line(), "ready");
	kill(dead.pid, SIGKILL);
	EXPECT_EQ(dead.wait(), 128 + SIGKILL);
	l = mstest::run({ mstest::top_path(), "-l" });
	EXPECT_NE(l.out.find("stale"), std::string::npos) << l.out;

	l = mstest::run({ mstest::top_path(), "-l", "--clean" });
	EXPECT_EQ(l.status, 0);
	EXPECT_NE(l.out.find("removed 1 session"), std::string::npos) << l.out;
	char path[512];
	EXPECT_NE(ms_session_find(dir.c_str(), dead.pid, path, sizeof(path)), 0);
	EXPECT_EQ(ms_session_find(dir.c_str(), holder.pid, path, sizeof(path)), 0);
}

TEST_F(Attach, KillingTheTargetIsReportedAsGone)
{
	mstest::Child top = mstest::start({ mstest::top_path(), "-b", "--json", "-d", "0.1", "-p",
					    std::to_string(holder.pid) });
	Json first = Json::parse(top.read_line());
	EXPECT_FALSE(first["exited"].boolean);
	auto killed = std::chrono::steady_clock::now();
	kill(holder.pid, SIGKILL);
	holder.wait();
	Json last;
	do {
		last = Json::parse(top.read_line(5));
	} while (!last["exited"].boolean);
	// Within a second or two: the first frame after the death says so.
	EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count(),
		  2.0);
	EXPECT_EQ(last["state"].str(), "gone");
	EXPECT_EQ(top.wait(), 0);
	holder.pid = -1;
}

} // namespace
