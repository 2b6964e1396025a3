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

// The in-band block headers (workload tests/workloads/blocks.c): usable
// sizes, every aligned function from 16 B to 64 KiB alignment and realloc of
// aligned blocks, blocks of the real allocator freed and resized through
// the hook, a forked child freeing its parent's blocks. The library's
// answers are unchanged, and the figures exact.
TEST(Ops, BlockHeadersKeepEveryAnswer)
{
	mstest::fresh_session_dir("blocks");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--",
					 mstest::workload("blocks") });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	const Json *t = nullptr;
	for (const Json &th : f["threads"].items)
		if (th["name"].str() == "blocks")
			t = &th;
	ASSERT_NE(t, nullptr) << r.out;

	// Alignments 16 .. 65536: 13 of them, adding up to 2^17 - 16.
	const uint64_t aligns = 13, align_sum = (1u << 17) - 16;
	// malloc 100; per alignment 1000, realloc 3000, 2 x align, 500; valloc
	// and pvalloc 5000 each; malloc 40; the real allocator's block
	// realloc'd to 128; 111 and 222.
	EXPECT_EQ((*t)["allocs"].u64(), 1 + 4 * aligns + 2 + 1 + 1 + 2);
	EXPECT_EQ((*t)["alloc_bytes"].u64(),
		  100 + aligns * (1000 + 3000 + 500) + 2 * align_sum + 5000 + 5000 + 40 + 128 + 111 +
			  222);
	EXPECT_EQ((*t)["frees"].u64(), 1 + 4 * aligns + 2 + 1 + 1 + 1);
	EXPECT_EQ((*t)["live_bytes"].u64(), 111u);
	EXPECT_EQ((*t)["live_allocs"].u64(), 1u);
	EXPECT_EQ(f["total_reallocs"].u64(), aligns);
	// The real allocator's two blocks, and nothing else.
	EXPECT_EQ(f["untracked_frees"].u64(), 2u);
	EXPECT_EQ(f["dropped_events"].u64(), 0u);
}

} // namespace
