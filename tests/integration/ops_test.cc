// Every function of the malloc family with its edge cases (workload
// tests/workloads/ops.c): the library's answers are unchanged by the hook
// and the "ops" thread's figures are exactly those the calls imply.
#include <gtest/gtest.h>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

TEST(Ops, EveryFunctionAndEdgeCase)
{
	mstest::fresh_session_dir("ops");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("ops") });
	ASSERT_EQ(r.status, 0) << r.err; // the workload checks every call's result
	Json f = mstest::last_json_line(r.out);
	const Json *ops = nullptr;
	for (const Json &t : f["threads"].items)
		if (t["name"].str() == "ops" && t["tid"].i64() != f["pid"].i64())
			ops = &t;
	ASSERT_NE(ops, nullptr);

	// malloc 100, calloc 10x20, realloc grow to 1000 and shrink to 50,
	// malloc 64 twice, realloc move to 1 MiB, realloc(NULL, 77), the five
	// aligned calls (200, 256, 100, 300, 10), reallocarray 5x40, malloc 24,
	// malloc 0. Failed calls count for nothing.
	EXPECT_EQ((*ops)["allocs"].u64(), 16u);
	EXPECT_EQ((*ops)["alloc_bytes"].u64(), 100u + 200 + 1000 + 50 + 64 + 64 + (1 << 20) + 77 +
						       200 + 256 + 100 + 300 + 10 + 200 + 24 + 0);
	// Four reallocs free their old block, realloc(p, 0) frees p; then the
	// malloc(24), malloc(0) and seven explicit frees.
	EXPECT_EQ((*ops)["frees"].u64(), 14u);
	// Live: the reallocarray'd 200 B and pvalloc's 10 B.
	EXPECT_EQ((*ops)["live_bytes"].u64(), 210u);
	EXPECT_EQ((*ops)["live_allocs"].u64(), 2u);
	EXPECT_EQ(f["total_reallocs"].u64(), 4u);
	EXPECT_EQ(f["dropped_events"].u64(), 0u);
	EXPECT_EQ(f["untracked_frees"].u64(), 0u);
}

TEST(Ops, FreesOfBlocksFromBeforeTheHookStarted)
{
	// libearly's constructor runs before the hook's and makes four blocks;
	// main frees them: four untracked frees, no crash, no miscount.
	mstest::fresh_session_dir("preinit");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("preinit") });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["untracked_frees"].u64(), 4u);
	const Json &main_thread = f["threads"][0];
	EXPECT_EQ(main_thread["tid"].i64(), f["pid"].i64());
	EXPECT_EQ(main_thread["allocs"].u64(), 2u); // realloc(NULL, 0) and malloc(5)
	EXPECT_EQ(main_thread["frees"].u64(), 2u);
	EXPECT_EQ(main_thread["alloc_bytes"].u64(), 5u);
	EXPECT_EQ(f["live_bytes"].u64(), 0u);
}

} // namespace
