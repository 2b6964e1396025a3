// Processes and threads: fork gives the child its own session and leaves
// the parent's alone; 200 short-lived threads are each accounted.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

#include <set>
#include <sstream>
#include <string>

#include <memscope/sessions.h>
#include <memscope/snapshot.h>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

// Runs thread_exit MODE... under the hook and returns its status; the
// elapsed time goes to *took. A program that hangs is killed after 10 s
// (status -1).
int run_thread_exit(const std::vector<std::string> &args, double *took)
{
	std::vector<std::string> argv = { mstest::workload("thread_exit") };
	argv.insert(argv.end(), args.begin(), args.end());
	double start = mstest::now_s();
	mstest::Result r = mstest::run(argv, { "LD_PRELOAD=" + mstest::hook_path(),
					       "MEMSCOPE_KEEPER=" + std::to_string(getpid()) },
				       "", 10);
	*took = mstest::now_s() - start;
	return r.status;
}

// The only session in dir, read: its state and the calling test's figures.
void expect_one_exited_session(const std::string &dir)
{
	ms_session_entry *list;
	int n = ms_session_list(dir.c_str(), &list);
	ASSERT_EQ(n, 1);
	ms_reader rd;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&rd, list[0].path), 0);
	ASSERT_EQ(ms_snapshot_take(&rd, &s), 0);
	EXPECT_EQ(s.state, MS_SESSION_EXITED);
	EXPECT_GE(s.total_allocs, 1u);
	ms_snapshot_release(&s);
	ms_reader_close(&rd);
	unlink(list[0].path);
	free(list);
}

// glibc ends a process when its last thread ends; memscope's own threads
// must not count. Plain, each of these exits at once.
TEST(Process, MainThreadPthreadExitEndsTheProcess)
{
	std::string dir = mstest::fresh_session_dir("pthread-exit");
	double took;
	EXPECT_EQ(run_thread_exit({ "main" }, &took), 0);
	EXPECT_LT(took, 1.0);
	expect_one_exited_session(dir);
}

TEST(Process, LastWorkerEndingEndsTheProcess)
{
	std::string dir = mstest::fresh_session_dir("last-worker");
	double took;
	// The worker returns: glibc's exit(0) for the last thread.
	EXPECT_EQ(run_thread_exit({ "worker", "return" }, &took), 0);
	EXPECT_LT(took, 1.2); // its 200 ms nap included
	expect_one_exited_session(dir);
	// The worker calls exit(7) itself.
	std::string dir2 = mstest::fresh_session_dir("worker-exit");
	EXPECT_EQ(run_thread_exit({ "worker", "7" }, &took), 7);
	EXPECT_LT(took, 1.2);
	expect_one_exited_session(dir2);
}

TEST(Process, ChildForkedFromAThreadEndsWhenItsThreadReturns)
{
	mstest::fresh_session_dir("fork-thread");
	double took;
	// 40 + the child's status 0: the parent's waitpid returned.
	EXPECT_EQ(run_thread_exit({ "fork" }, &took), 40);
	EXPECT_LT(took, 1.0);
}

// Waits up to timeout_s for pid; its status (128 + signal) or -1.
int wait_for(pid_t pid, double timeout_s)
{
	double deadline = mstest::now_s() + timeout_s;
	int status;
	while (mstest::now_s() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

TEST(Process, SigtermKillsAProgramWhoseMainThreadEnded)
{
	mstest::fresh_session_dir("sigterm");
	// Its one running thread blocks nothing: SIGTERM's default action ends
	// the process, as it does without the hook.
	mstest::Child c = mstest::start({ mstest::workload("thread_exit"), "wait" },
					{ "LD_PRELOAD=" + mstest::hook_path() });
	EXPECT_EQ(c.read_line(), "ready");
	usleep(300000); // several sampler ticks with the main thread gone
	ASSERT_EQ(kill(c.pid, SIGTERM), 0);
	EXPECT_EQ(wait_for(c.pid, 2), 128 + SIGTERM);
}

TEST(Process, SigtermKillsAHookedProgram)
{
	mstest::fresh_session_dir("sigterm-plain");
	mstest::Child c = mstest::start({ mstest::workload("holder"), "10", "100" },
					{ "LD_PRELOAD=" + mstest::hook_path() });
	c.read_line();
	ASSERT_EQ(kill(c.pid, SIGTERM), 0);
	EXPECT_EQ(wait_for(c.pid, 2), 128 + SIGTERM);
}

// Run with LD_PRELOAD and this test as the keeper, so both sessions stay
// for reading after the program ended.
TEST(Process, ForkGivesTheChildItsOwnSession)
{
	std::string dir = mstest::fresh_session_dir("fork");
	mstest::Result r = mstest::run({ mstest::workload("forker") },
				       { "LD_PRELOAD=" + mstest::hook_path(),
					 "MEMSCOPE_KEEPER=" + std::to_string(getpid()) });
	ASSERT_EQ(r.status, 0) << r.err;
	size_t at = r.out.find("child ");
	ASSERT_NE(at, std::string::npos) << r.out;
	pid_t child = std::stoi(r.out.substr(at + 6));

	ms_session_entry *list;
	int n = ms_session_list(dir.c_str(), &list);
	ASSERT_EQ(n, 2);
	std::string parent_path, child_path;
	pid_t parent = 0;
	for (int i = 0; i < n; i++) {
		if (list[i].pid == child) {
			child_path = list[i].path;
		} else {
			parent_path = list[i].path;
			parent = list[i].pid;
		}
	}
	free(list);
	ASSERT_FALSE(child_path.empty());
	ASSERT_FALSE(parent_path.empty());

	// The parent: its "forker" thread made 10 blocks and freed 5, whatever
	// the child did.
	ms_reader rd;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&rd, parent_path.c_str()), 0);
	ASSERT_EQ(ms_snapshot_take(&rd, &s), 0);
	const ms_thread_info *forker = nullptr;
	for (size_t i = 0; i < s.nthreads; i++)
		if (std::string(s.threads[i].name) == "forker")
			forker = &s.threads[i];
	ASSERT_NE(forker, nullptr);
	EXPECT_EQ(forker->allocs, 10u);
	EXPECT_EQ(forker->frees, 5u);
	EXPECT_EQ(forker->live_bytes, 5000u);
	EXPECT_EQ(s.state, MS_SESSION_EXITED);
	ms_snapshot_release(&s);
	ms_reader_close(&rd);

	// The child's session is separate and exact.
	ASSERT_EQ(ms_reader_open(&rd, child_path.c_str()), 0);
	ASSERT_EQ(ms_snapshot_take(&rd, &s), 0);
	EXPECT_EQ(s.state, MS_SESSION_EXITED);
	EXPECT_EQ(s.ppid, parent);
	ASSERT_GE(s.nthreads, 1u);
	EXPECT_EQ(s.threads[0].tid, child);
	EXPECT_EQ(s.threads[0].allocs, 7u);
	EXPECT_EQ(s.threads[0].frees, 3u);
	EXPECT_EQ(s.threads[0].live_bytes, 1200u);
	// Blocks inherited from the parent are not the child's: its totals are
	// its own allocations (and whatever exit() adds, all counted).
	uint64_t allocs = 0;
	for (size_t i = 0; i < s.nthreads; i++)
		allocs += s.threads[i].allocs;
	EXPECT_EQ(allocs, s.total_allocs);
	EXPECT_EQ(s.live_bytes, s.threads[0].live_bytes);
	ms_snapshot_release(&s);
	ms_reader_close(&rd);
	unlink(child_path.c_str());
	unlink(parent_path.c_str());
}

TEST(Process, LauncherRemovesTheSessionsItKept)
{
	// memscope-top keeps the sessions of the program and its descendants
	// for its final frame, then removes them all.
	std::string dir = mstest::fresh_session_dir("fork-clean");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("forker") });
	ASSERT_EQ(r.status, 0) << r.err;
	ms_session_entry *list;
	EXPECT_EQ(ms_session_list(dir.c_str(), &list), 0);
	free(list);
}

TEST(Process, ExecChainFollowsTheNewestImage)
{
	// Three images of one process: sh execs sh execs ops.
	mstest::fresh_session_dir("exec-chain");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c",
					 "exec /bin/sh -c 'exec " + mstest::workload("ops") + "'" });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["generation"].u64(), 2u);
	EXPECT_EQ(f["total_reallocs"].u64(), 4u);
}

TEST(Process, TwoHundredShortLivedThreads)
{
	mstest::fresh_session_dir("threads");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("many_threads"), "200" });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	std::set<std::string> names;
	for (const Json &t : f["threads"].items) {
		const std::string &name = t["name"].str();
		if (name.rfind("t-", 0) != 0)
			continue;
		EXPECT_TRUE(names.insert(name).second) << name;
		EXPECT_EQ(t["allocs"].u64(), 10u) << name;
		EXPECT_EQ(t["frees"].u64(), 5u) << name;
		EXPECT_EQ(t["live_bytes"].u64(), 500u) << name;
		EXPECT_EQ(t["state"].str(), "exited");
	}
	EXPECT_EQ(names.size(), 200u);
	EXPECT_EQ(f["dropped_events"].u64(), 0u);
}

TEST(Process, ExecStartsANewSessionThatTheLauncherFollows)
{
	// sh runs ops with exec: the pid keeps going under a new image, whose
	// session (generation 1) the final frame comes from.
	mstest::fresh_session_dir("exec");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--", "/bin/sh", "-c",
					 "exec " + mstest::workload("ops") });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["generation"].u64(), 1u);
	EXPECT_EQ(f["total_reallocs"].u64(), 4u);
	EXPECT_NE(f["command"].str().find("ops"), std::string::npos);
}

} // namespace
