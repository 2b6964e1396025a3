// A workload with exactly known allocations, watched end to end through
// memscope-top's batch JSON: per-thread figures are exact, and so are the
// process totals once the C library's own (fixed) allocations are taken
// out by a baseline run of the same program with no work.
#include <gtest/gtest.h>

#include <algorithm>

#include <string>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

Json final_frame(const std::string &threads, const std::string &per_thread)
{
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.2", "--",
					 mstest::workload("exact_threads"), threads, per_thread });
	EXPECT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	EXPECT_TRUE(f["exited"].boolean);
	EXPECT_EQ(f["exit_status"].i64(), 0);
	EXPECT_EQ(f["state"].str(), "exited");
	return f;
}

const Json *thread_named(const Json &f, const std::string &name)
{
	for (const Json &t : f["threads"].items)
		if (t["name"].str() == name)
			return &t;
	return nullptr;
}

TEST(Exact, FourThreadsOfKnownAllocations)
{
	const int T = 4, N = 1000;
	mstest::fresh_session_dir("exact");
	Json work = final_frame(std::to_string(T), std::to_string(N));
	Json base = final_frame(std::to_string(T), "0");

	// Per thread: N blocks of 32 + 8 * (j % 8) bytes plus the N-pointer
	// array; the odd-numbered blocks freed.
	uint64_t block_bytes = 0, live_bytes = 0;
	for (int j = 0; j < N; j++) {
		block_bytes += 32 + 8 * (j % 8);
		if (j % 2 == 0)
			live_bytes += 32 + 8 * (j % 8);
	}
	const uint64_t array = N * sizeof(void *);
	for (int t = 0; t < T; t++) {
		const Json *w = thread_named(work, "worker-" + std::to_string(t));
		ASSERT_NE(w, nullptr) << "worker-" << t;
		EXPECT_EQ((*w)["allocs"].u64(), (uint64_t)N + 1);
		EXPECT_EQ((*w)["frees"].u64(), (uint64_t)N / 2);
		EXPECT_EQ((*w)["alloc_bytes"].u64(), block_bytes + array);
		EXPECT_EQ((*w)["live_bytes"].u64(), live_bytes + array);
		EXPECT_EQ((*w)["live_allocs"].u64(), (uint64_t)N / 2 + 1);
		EXPECT_EQ((*w)["state"].str(), "exited");
	}

	// Process totals: the work run minus the baseline run is exactly the
	// workers' allocations.
	EXPECT_EQ(work["total_allocs"].u64() - base["total_allocs"].u64(), (uint64_t)T * (N + 1));
	EXPECT_EQ(work["total_frees"].u64() - base["total_frees"].u64(), (uint64_t)T * N / 2);
	EXPECT_EQ(work["total_bytes"].u64() - base["total_bytes"].u64(), T * (block_bytes + array));
	EXPECT_EQ(work["live_bytes"].u64() - base["live_bytes"].u64(), T * (live_bytes + array));
	EXPECT_EQ(work["live_allocs"].u64() - base["live_allocs"].u64(), (uint64_t)T * (N / 2 + 1));
	// The peak is the 64 MiB block on top of everything else live then.
	EXPECT_EQ(work["peak_bytes"].u64() - base["peak_bytes"].u64(), T * (live_bytes + array));
	EXPECT_GE(base["peak_bytes"].u64(), 64u << 20);
	EXPECT_EQ(work["dropped_events"].u64(), 0u);

	// Totals are the sums over threads.
	uint64_t allocs = 0, frees = 0, bytes = 0, live = 0;
	for (const Json &t : work["threads"].items) {
		allocs += t["allocs"].u64();
		frees += t["frees"].u64();
		bytes += t["alloc_bytes"].u64();
		live += t["live_bytes"].u64();
	}
	EXPECT_EQ(allocs, work["total_allocs"].u64());
	EXPECT_EQ(frees, work["total_frees"].u64());
	EXPECT_EQ(bytes, work["total_bytes"].u64());
	EXPECT_EQ(live, work["live_bytes"].u64());
}

TEST(Exact, FramesWhileRunningAreOrderedAndFinalIsLast)
{
	mstest::fresh_session_dir("frames");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.05", "--",
					 mstest::workload("exact_threads"), "4", "400000" });
	ASSERT_EQ(r.status, 0) << r.err;
	std::vector<Json> frames = mstest::json_lines(r.out);
	ASSERT_GE(frames.size(), 2u) << r.out;
	for (size_t i = 0; i + 1 < frames.size(); i++) {
		EXPECT_FALSE(frames[i]["exited"].boolean);
		EXPECT_LE(frames[i]["time_s"].num(), frames[i + 1]["time_s"].num());
		EXPECT_LE(frames[i]["total_allocs"].u64(), frames[i + 1]["total_allocs"].u64());
		EXPECT_LE(frames[i]["live_bytes"].u64(), frames[i]["peak_bytes"].u64());
	}
	EXPECT_TRUE(frames.back()["exited"].boolean);
	// Each JSON frame carries the contract's fields.
	for (const char *k : { "pid", "command", "time_s", "exited", "live_bytes", "live_allocs",
			       "peak_bytes", "peak_time_s", "total_allocs", "total_frees",
			       "total_bytes", "rss_bytes", "cpu_percent", "dropped_events", "threads",
			       "callsites" })
		EXPECT_TRUE(frames.back().has(k)) << k;
	EXPECT_GT(frames.back()["rss_bytes"].u64(), 0u);
}

TEST(Exact, BatchStopsAfterNFrames)
{
	mstest::fresh_session_dir("nframes");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.05", "-n", "3",
					 "--", mstest::workload("exact_threads"), "2", "3000000" });
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(mstest::json_lines(r.out).size(), 3u);
}

} // namespace

// The system figures come from the hook's sampler: the process's threads as
// the kernel counts them, without memscope's own (sampler, drain).
TEST(Exact, ThreadCountIsTheProgramsOwn)
{
	mstest::fresh_session_dir("exact-threads-count");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.05", "--",
					 mstest::workload("tui_target"), "1" });
	ASSERT_EQ(r.status, 0) << r.err;
	std::vector<mstest::Json> frames = mstest::json_lines(r.out);
	ASSERT_GE(frames.size(), 5u);
	uint64_t most = 0;
	for (const mstest::Json &f : frames) {
		most = std::max(most, f["thread_count"].u64());
		EXPECT_GT(f["rss_bytes"].u64(), 0u);
	}
	EXPECT_EQ(most, 3u); // main, worker-alpha, worker-beta
	EXPECT_EQ(frames.back()["thread_count"].u64(), 1u); // the workers joined
}
