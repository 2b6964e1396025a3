// Processes and threads: fork gives the child its own session and leaves
// the parent's alone; 200 short-lived threads are each accounted.
#include <gtest/gtest.h>

#include <unistd.h>

#include <set>
#include <sstream>
#include <string>

#include <memscope/session.h>
#include <memscope/snapshot.h>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

TEST(Process, ForkGivesTheChildItsOwnSession)
{
	std::string dir = mstest::fresh_session_dir("fork");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("forker") });
	ASSERT_EQ(r.status, 0) << r.err;

	// The parent: its "forker" thread made 10 blocks and freed 5, whatever
	// the child did.
	Json f = mstest::last_json_line(r.out);
	const Json *forker = nullptr;
	for (const Json &t : f["threads"].items)
		if (t["name"].str() == "forker")
			forker = &t;
	ASSERT_NE(forker, nullptr);
	EXPECT_EQ((*forker)["allocs"].u64(), 10u);
	EXPECT_EQ((*forker)["frees"].u64(), 5u);
	EXPECT_EQ((*forker)["live_bytes"].u64(), 5000u);

	// The child printed its pid; its session is separate and exact.
	size_t at = r.out.find("child ");
	ASSERT_NE(at, std::string::npos) << r.out;
	pid_t child = std::stoi(r.out.substr(at + 6));
	EXPECT_NE(child, (pid_t)f["pid"].i64());
	char path[512];
	ASSERT_EQ(ms_session_find(dir.c_str(), child, path, sizeof(path)), 0);
	ms_reader rd;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&rd, path), 0);
	ASSERT_EQ(ms_snapshot_take(&rd, &s), 0);
	EXPECT_EQ(s.state, MS_SESSION_EXITED);
	EXPECT_EQ(s.ppid, (pid_t)f["pid"].i64());
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
	unlink(path);
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
