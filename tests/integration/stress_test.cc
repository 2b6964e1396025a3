// Stress and faults, each checked exactly at the call site of the blocks the
// workload makes (tests/workloads/stress.c says what each mode does):
// 64 threads of churn, thread storms, dlopen/dlclose loops, signals during
// allocation, allocation failure, a daemon, posix_spawn, memscope-top
// killed under a running program, and ten attach/detach cycles.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

struct Site {
	uint64_t allocs = 0, frees = 0, bytes = 0, live_bytes = 0, live_allocs = 0;
	int rows = 0;
};

// Every call site whose function is name, summed (one function may be
// reached by several stacks).
Site site(const Json &f, const std::string &name)
{
	Site s;
	for (const Json &c : f["callsites"].items) {
		if (c["function"].str() != name)
			continue;
		s.rows++;
		s.allocs += c["total_allocs"].u64();
		s.frees += c["total_frees"].u64();
		s.bytes += c["total_bytes"].u64();
		s.live_bytes += c["live_bytes"].u64();
		s.live_allocs += c["live_allocs"].u64();
	}
	return s;
}

struct Watched {
	Json last;
	std::string out; // the program's stdout (memscope-top's stderr with -b)
	int status;
};

Watched watch(const std::vector<std::string> &args, double timeout_s = 120)
{
	std::vector<std::string> argv = { mstest::top_path(), "-b", "--json", "--sites", "0", "-d",
					  "0.5", "--", mstest::workload("stress") };
	argv.insert(argv.end(), args.begin(), args.end());
	mstest::Result r = mstest::run(argv, {}, "", timeout_s);
	Watched out{ Json(), r.err, r.status };
	EXPECT_EQ(r.status, 0) << r.err;
	out.last = mstest::last_json_line(r.out);
	EXPECT_TRUE(out.last["exited"].boolean);
	EXPECT_EQ(out.last["dropped_events"].u64(), 0u);
	return out;
}

// "blocks N" as the workload printed it.
uint64_t printed_blocks(const std::string &out)
{
	size_t at = out.find("blocks ");
	EXPECT_NE(at, std::string::npos) << out;
	return at == std::string::npos ? 0 : std::stoull(out.substr(at + 7));
}

std::string wait_for_file(const std::string &path, double seconds = 10)
{
	auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds((int)(seconds * 1000));
	while (std::chrono::steady_clock::now() < end) {
		std::string text = mstest::read_file(path);
		if (!text.empty() && text.back() == '\n')
			return text;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	return "";
}

// One frame of a running program, by pid.
Json attach_once(pid_t pid)
{
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--sites", "0", "-n",
					 "1", "-p", std::to_string(pid) });
	EXPECT_EQ(r.status, 0) << r.err;
	return mstest::last_json_line(r.out);
}

class Stress : public ::testing::Test {
protected:
	void SetUp() override { dir = mstest::fresh_session_dir("stress"); }
	std::string dir;
};

TEST_F(Stress, SixtyFourThreadsOfChurn)
{
	const int threads = 64;
	const long ops = 20000;
	Watched r = watch({ "threads", std::to_string(threads), std::to_string(ops) });
	uint64_t bytes = 0;
	for (long i = 0; i < ops; i++)
		bytes += 16 + i % 64;
	Site s = site(r.last, "churn_block");
	EXPECT_EQ(s.allocs, (uint64_t)threads * ops);
	EXPECT_EQ(s.frees, (uint64_t)threads * ops);
	EXPECT_EQ(s.bytes, bytes * threads);
	EXPECT_EQ(s.live_bytes, 0u);
	int workers = 0;
	for (const Json &t : r.last["threads"].items)
		workers += t["allocs"].u64() == (uint64_t)ops && t["frees"].u64() == (uint64_t)ops;
	EXPECT_EQ(workers, threads);
}

TEST_F(Stress, ThreadStormsWithFreesAfterTheThreadsAreGone)
{
	Watched r = watch({ "storm", "20", "50" });
	Site s = site(r.last, "storm_block");
	EXPECT_EQ(s.allocs, 3000u);
	EXPECT_EQ(s.frees, 3000u);
	EXPECT_EQ(s.bytes, 3000u * 40);
	EXPECT_EQ(s.live_bytes, 0u);
	EXPECT_GE(r.last["threads"].items.size(), 1001u);
}

TEST_F(Stress, DlopenDlcloseLoops)
{
	Watched r = watch({ "dlopen", mstest::runfile("tests/workloads/libplugin.so"), "100" });
	Site s = site(r.last, "plugin_alloc");
	EXPECT_EQ(s.allocs, 200u);
	EXPECT_EQ(s.frees, 200u);
	EXPECT_EQ(s.bytes, 100u * 300);
	EXPECT_EQ(s.live_bytes, 0u);
}

TEST_F(Stress, SignalsDuringAllocation)
{
	Watched r = watch({ "signals", "3000" });
	uint64_t blocks = printed_blocks(r.out);
	EXPECT_GT(blocks, 0u);
	Site s = site(r.last, "signal_block");
	EXPECT_EQ(s.allocs, blocks);
	EXPECT_EQ(s.frees, blocks);
	EXPECT_EQ(s.live_bytes, 0u);
}

TEST_F(Stress, AllocationFailureIsTheProgramsAndCountsNothing)
{
	Watched r = watch({ "oom", "64" });
	uint64_t blocks = printed_blocks(r.out);
	EXPECT_GT(blocks, 8u);
	EXPECT_LT(blocks, 64u);
	Site s = site(r.last, "oom_block");
	EXPECT_EQ(s.allocs, blocks);
	EXPECT_EQ(s.frees, blocks);
	EXPECT_EQ(s.bytes, blocks << 20);
}

TEST_F(Stress, KillingMemscopeTopLeavesTheProgramRunning)
{
	for (bool events : { false, true }) {
		std::string done = dir + (events ? "/done-events" : "/done"), rec = dir + "/run.rec";
		std::vector<std::string> argv = { mstest::top_path(), "-b", "--json", "-d", "0.1" };
		if (events)
			argv.insert(argv.end(), { "-w", rec, "--events" });
		argv.insert(argv.end(), { "--", mstest::workload("stress"), "linger", done, "1" });
		mstest::Child top = mstest::start(argv);
		Json first = Json::parse(top.read_line());
		EXPECT_FALSE(first["exited"].boolean);
		kill(top.pid, SIGKILL);
		EXPECT_EQ(top.wait(), 128 + SIGKILL);
		// The program frees its blocks and finishes as if nothing happened.
		EXPECT_EQ(wait_for_file(done), "done\n") << (events ? "with --events" : "");
	}
}

TEST_F(Stress, ADaemonInASessionOfItsOwnIsWatched)
{
	std::string file = dir + "/daemon.pid";
	watch({ "daemon", file, "3" });
	std::string text = wait_for_file(file);
	ASSERT_FALSE(text.empty());
	pid_t pid = std::stoi(text);
	EXPECT_NE(getsid(pid), getsid(0)); // setsid: a session of its own
	Json f = attach_once(pid);
	Site s = site(f, "daemon_block");
	EXPECT_EQ(s.allocs, 10u);
	EXPECT_EQ(s.live_allocs, 10u);
	EXPECT_EQ(s.live_bytes, 1280u);
	EXPECT_EQ(f["pid"].i64(), pid);
	kill(pid, SIGKILL);
}

TEST_F(Stress, APosixSpawnedChildIsWatched)
{
	std::string file = dir + "/spawned.pid";
	mstest::Child top = mstest::start({ mstest::top_path(), "-b", "--json", "-d", "0.5", "--",
					    mstest::workload("stress"), "spawn", file, "2" });
	std::string text = wait_for_file(file);
	ASSERT_FALSE(text.empty());
	pid_t pid = std::stoi(text);
	Json f = attach_once(pid);
	Site s = site(f, "hold_block");
	EXPECT_EQ(s.allocs, 10u);
	EXPECT_EQ(s.live_bytes, 1280u);
	EXPECT_EQ(top.wait(), 0);
}

TEST_F(Stress, TenAttachDetachCycles)
{
	std::string file = dir + "/held.pid";
	mstest::Child held = mstest::start({ mstest::workload("stress"), "hold", file, "30" },
					   { "LD_PRELOAD=" + mstest::hook_path() });
	std::string text = wait_for_file(file);
	ASSERT_FALSE(text.empty());
	for (int i = 0; i < 10; i++) {
		Json f = attach_once(held.pid);
		Site s = site(f, "hold_block");
		EXPECT_EQ(s.live_allocs, 10u) << "cycle " << i;
		EXPECT_EQ(s.live_bytes, 1280u) << "cycle " << i;
		EXPECT_FALSE(f["exited"].boolean);
	}
	EXPECT_EQ(kill(held.pid, 0), 0); // still running, untouched
	kill(held.pid, SIGKILL);
	held.wait();
}

} // namespace
