// How a program's end reads, and what becomes of its session afterwards:
// every way out of a program under the hook (exit, _exit, _Exit, an exit
// from a thread or a signal handler, the bare system call), and the rule
// that removes the sessions of programs that are gone.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <memscope/recording.h>
#include <memscope/sessions.h>
#include <memscope/stream.h>
#include <memscope/snapshot.h>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

std::string preload() { return "LD_PRELOAD=" + mstest::hook_path(); }
std::string keeper() { return "MEMSCOPE_KEEPER=" + std::to_string(getpid()); }

int count_sessions(const std::string &dir)
{
	ms_session_entry *list;
	int n = ms_session_list(dir.c_str(), &list);
	free(list);
	return n;
}

bool has_session(const std::string &dir, pid_t pid)
{
	char path[512];
	return ms_session_find(dir.c_str(), pid, path, sizeof(path)) == 0;
}

// The state of pid's newest session; fails the test if it has none.
ms_session_state state_of(const std::string &dir, pid_t pid, uint64_t *live = nullptr)
{
	char path[512];
	ms_reader r;
	ms_snapshot s;

	EXPECT_EQ(ms_session_find(dir.c_str(), pid, path, sizeof(path)), 0) << "pid " << pid;
	if (ms_reader_open(&r, path) != 0)
		return MS_SESSION_RUNNING;
	EXPECT_EQ(ms_snapshot_take(&r, &s), 0);
	ms_session_state st = s.state;
	if (live != nullptr)
		*live = s.live_bytes;
	ms_snapshot_release(&s);
	ms_reader_close(&r);
	return st;
}

// A program started with the hook by hand; the test is its keeper, so its
// session stays after the exit for the test to read.
TEST(Exits, EveryExitThatSkipsTheDestructorsStillEndsTheSession)
{
	std::string dir = mstest::fresh_session_dir("exits-kept");
	for (const char *how : { "_exit", "_Exit", "thread", "handler" }) {
		mstest::Child c = mstest::start({ mstest::workload("exits"), how }, { preload(), keeper() });
		EXPECT_EQ(c.wait(), 7) << how;
		uint64_t live = 0;
		EXPECT_EQ(state_of(dir, c.pid, &live), MS_SESSION_EXITED) << how;
		EXPECT_GE(live, 1000u) << how; // the kept block, in the final figures
	}
}

TEST(Exits, AVforkChildsExitLeavesTheParentRunning)
{
	// The child shares the parent's memory, session and all: its _exit is
	// not the parent's end.
	std::string dir = mstest::fresh_session_dir("exits-vfork");
	mstest::Child c = mstest::start({ mstest::workload("exits"), "vfork" }, { preload() });
	ASSERT_EQ(c.read_line(), "ready");
	EXPECT_EQ(state_of(dir, c.pid), MS_SESSION_RUNNING);
	c.write_line("go");
	EXPECT_EQ(c.wait(), 0);
	EXPECT_EQ(count_sessions(dir), 0); // its exit removed its session
}

TEST(Exits, WithoutAKeeperEveryExitRemovesItsSession)
{
	// dash ends `sh -c` and every subshell it forks with _exit.
	std::string dir = mstest::fresh_session_dir("exits-clean");
	mstest::Result r = mstest::run({ "/bin/sh", "-c", "echo hi; x=$(echo a); (true); sleep 0.1" },
				       { preload() });
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "hi\n");
	r = mstest::run({ mstest::workload("exits"), "_exit" }, { preload() });
	EXPECT_EQ(r.status, 7);
	EXPECT_EQ(count_sessions(dir), 0);
}

TEST(Exits, ALaunchedShellThatExitsZeroReadsExited)
{
	mstest::fresh_session_dir("exits-sh");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c",
					 "echo hi; sleep 0.3" });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["state"].str(), "exited");
	EXPECT_EQ(f["exit_status"].i64(), 0);
}

TEST(Exits, EventsBufferedAtAnUnderscoreExitAreSent)
{
	std::string dir = mstest::fresh_session_dir("exits-events");
	std::string file = dir + "/exit.rec";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "-w", file, "--events", "--",
					 mstest::workload("exits"), "_exit" });
	ASSERT_EQ(r.status, 7) << r.err;
	ms_recording *rec;
	ASSERT_EQ(ms_recording_open(file.c_str(), &rec), 0);
	ms_rec_event *ev;
	size_t n;
	ASSERT_EQ(ms_recording_events(rec, &ev, &n), 0);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		kept += ev[i].op == MS_STREAM_ALLOC && ev[i].size == 1000;
	EXPECT_EQ(kept, 1u) << n << " events";
	free(ev);
	ms_recording_close(rec);
}

TEST(Exits, AnExitTheHookCannotSeeIsTakenFromTheStatus)
{
	// The bare exit_group system call runs no code of ours; the launcher
	// knows from the status that the program exited rather than was killed.
	mstest::fresh_session_dir("exits-syscall");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("exits"), "syscall" });
	ASSERT_EQ(r.status, 7) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["state"].str(), "exited");
	EXPECT_EQ(f["exit_status"].i64(), 7);
	r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c", "kill -9 $$" });
	EXPECT_EQ(mstest::last_json_line(r.out)["state"].str(), "gone");
}

// A program killed outright (no exit of any kind ran) leaves its session:
// it can still be listed and read, until the next program started under
// the hook finds it has been dead for longer than MEMSCOPE_KEEP_DEAD.
class Retention : public ::testing::Test {
protected:
	void SetUp() override
	{
		// One directory per test: each counts what is left in it.
		dir = mstest::fresh_session_dir(
			::testing::UnitTest::GetInstance()->current_test_info()->name());
	}
	pid_t killed(const std::vector<std::string> &env = { preload() })
	{
		mstest::Child c = mstest::start({ mstest::workload("exits"), "wait" }, env);
		EXPECT_EQ(c.read_line(), "ready");
		// Under the async backend a thread's operations reach the segment
		// a drain's nap later (up to 10 ms): a kill before that leaves a
		// last state without them. Kill once the kept block is counted,
		// as a person would after seeing it.
		uint64_t live = 0;
		for (int i = 0; i < 500 && live < 1000; i++) {
			state_of(dir, c.pid, &live);
			if (live < 1000)
				usleep(10000);
		}
		kill(c.pid, SIGKILL);
		EXPECT_EQ(c.wait(), 128 + SIGKILL);
		return c.pid;
	}
	// Starts a program under the hook: the moment the rule is applied.
	void another_start(const std::string &keep)
	{
		std::vector<std::string> env = { preload() };
		if (!keep.empty())
			env.push_back("MEMSCOPE_KEEP_DEAD=" + keep);
		EXPECT_EQ(mstest::run({ mstest::workload("exits"), "_exit" }, env).status, 7);
	}
	std::string dir;
};

TEST_F(Retention, ADeadProgramsSessionCanStillBeListedAndRead)
{
	pid_t dead = killed();
	ASSERT_TRUE(has_session(dir, dead));
	mstest::Result l = mstest::run({ mstest::top_path(), "-l" });
	EXPECT_NE(l.out.find(std::to_string(dead)), std::string::npos) << l.out;
	EXPECT_NE(l.out.find("stale"), std::string::npos) << l.out;

	// Its last state, as a frame: the process is gone, its session is not.
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-p",
					 std::to_string(dead) });
	EXPECT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["pid"].i64(), dead);
	EXPECT_EQ(f["state"].str(), "gone");
	EXPECT_GE(f["live_bytes"].u64(), 1000u);

	// Within the default ten minutes, other programs leave it alone.
	another_start("");
	EXPECT_TRUE(has_session(dir, dead));
}

TEST_F(Retention, TheNextProgramRemovesItOnceItHasBeenDeadLongEnough)
{
	pid_t dead = killed();
	another_start("2");
	EXPECT_TRUE(has_session(dir, dead)); // dead for less than 2 s
	sleep(2);
	another_start("2");
	EXPECT_FALSE(has_session(dir, dead));
	EXPECT_EQ(count_sessions(dir), 0);
}

TEST_F(Retention, RunningProgramsAndKeptSessionsStay)
{
	mstest::Child running = mstest::start({ mstest::workload("exits"), "wait" }, { preload() });
	ASSERT_EQ(running.read_line(), "ready");
	// A launcher (this test) that is still there removes it itself.
	pid_t kept = killed({ preload(), keeper() });
	another_start("0");
	EXPECT_TRUE(has_session(dir, running.pid));
	EXPECT_TRUE(has_session(dir, kept));
	kill(running.pid, SIGKILL);
	running.wait();
	another_start("0");
	EXPECT_FALSE(has_session(dir, running.pid));
	EXPECT_TRUE(has_session(dir, kept));
	char path[512];
	ASSERT_EQ(ms_session_find(dir.c_str(), kept, path, sizeof(path)), 0);
	unlink(path);
}

TEST_F(Retention, ManyDeadSessionsGoAtOnce)
{
	for (int i = 0; i < 10; i++)
		killed();
	EXPECT_EQ(count_sessions(dir), 10);
	another_start("0");
	EXPECT_EQ(count_sessions(dir), 0);
}

} // namespace
