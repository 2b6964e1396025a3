// Mapped memory: the program's own anonymous private mmap, munmap and
// mremap calls, counted apart from the heap with exact figures (whole
// unmaps, a partial one, a hole punched and the pieces unmapped, a growth by
// mremap); a large malloc counted once, as heap; shared and file mappings
// not at all; kept in recordings; MEMSCOPE_MMAP=0 turns it off.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/frames.h"
#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;
using mstest::callsite;

constexpr uint64_t kMiB = 1024 * 1024;

// tests/workloads/mmaps.c says what each figure must be.
void expect_exact(const Json &f, const std::string &where)
{
	EXPECT_EQ(f["mmap_live_bytes"].u64(), 6 * kMiB + kMiB / 2) << where;
	EXPECT_EQ(f["mmap_peak_bytes"].u64(), 10 * kMiB) << where;
	EXPECT_EQ(f["mmap_total_maps"].u64(), 10u) << where;

	const Json *maps = callsite(f, "map_ten");
	ASSERT_NE(maps, nullptr) << where;
	EXPECT_EQ((*maps)["kind"].str(), "mmap") << where;
	EXPECT_EQ((*maps)["total_allocs"].u64(), 10u) << where;
	EXPECT_EQ((*maps)["total_frees"].u64(), 5u) << where;
	EXPECT_EQ((*maps)["live_allocs"].u64(), 5u) << where;
	EXPECT_EQ((*maps)["live_bytes"].u64(), 6 * kMiB + kMiB / 2) << where;
	EXPECT_EQ((*maps)["total_bytes"].u64(), 12 * kMiB) << where;
	EXPECT_EQ((*maps)["peak_bytes"].u64(), 10 * kMiB) << where;

	// The large malloc is the heap's, once: the allocator's own mapping
	// of it is not the program's mmap call.
	const Json *big = callsite(f, "big_malloc");
	ASSERT_NE(big, nullptr) << where;
	EXPECT_EQ((*big)["kind"].str(), "heap") << where;
	EXPECT_EQ((*big)["live_bytes"].u64(), 8 * kMiB) << where;

	// Heap sites add up to the heap totals, mmap sites to the mapped ones.
	uint64_t heap_live = 0, heap_allocs = 0, mmap_live = 0, mmap_sites = 0;
	for (const Json &c : f["callsites"].items) {
		if (c["kind"].str() == "mmap") {
			mmap_live += c["live_bytes"].u64();
			mmap_sites++;
		} else {
			EXPECT_EQ(c["kind"].str(), "heap") << where;
			heap_live += c["live_bytes"].u64();
			heap_allocs += c["total_allocs"].u64();
		}
	}
	EXPECT_EQ(mmap_sites, 1u) << where; // the shared and file mappings are not counted
	EXPECT_EQ(mmap_live, f["mmap_live_bytes"].u64()) << where;
	EXPECT_EQ(heap_live, f["live_bytes"].u64()) << where;
	EXPECT_EQ(heap_allocs, f["total_allocs"].u64()) << where;
}

TEST(Mmap, ExactFiguresLiveAndReplayed)
{
	std::string dir = mstest::fresh_session_dir("mmap");
	std::string file = dir + "/mmaps.rec";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--sites", "0", "-w",
					 file, "--", mstest::workload("mmaps") });
	ASSERT_EQ(r.status, 0) << r.err << r.out;
	expect_exact(mstest::last_json_line(r.out), "live");

	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--json" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	expect_exact(mstest::last_json_line(rep.out), "replayed");
}

TEST(Mmap, TurnedOffByTheEnvironment)
{
	mstest::fresh_session_dir("mmap-off");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--sites", "0", "--",
					 mstest::workload("mmaps") },
				       { "MEMSCOPE_MMAP=0" });
	ASSERT_EQ(r.status, 0) << r.err << r.out;
	Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["mmap_live_bytes"].u64(), 0u);
	EXPECT_EQ(f["mmap_total_maps"].u64(), 0u);
	EXPECT_EQ(callsite(f, "map_ten"), nullptr);
	ASSERT_NE(callsite(f, "big_malloc"), nullptr);
}

} // namespace
