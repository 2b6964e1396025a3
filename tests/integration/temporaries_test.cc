// Temporaries (a block freed before its thread allocates again, heaptrack's
// definition) counted live by the hook, per call site and in all, exactly;
// kept in recordings; and the same counts as the after-the-run analysis of
// the event stream (memscope-report --events).
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

// The workload's call sites and their temporaries (tests/workloads/temporaries.c).
const std::map<std::string, uint64_t> kExpected = {
	{ "temp_loop", 1000 },	   { "pair_first", 0 },	   { "pair_second", 1000 },
	{ "realloc_first", 100 }, { "realloc_second", 100 }, { "handed_over", 1 },
	{ "handed_first", 0 },	   { "handed_second", 1 },
};

void expect_exact(const Json &f, const std::string &where)
{
	uint64_t sum = 0;
	std::map<std::string, uint64_t> seen;
	for (const Json &c : f["callsites"].items) {
		sum += c["temporary_allocs"].u64();
		if (kExpected.count(c["function"].str()))
			seen[c["function"].str()] += c["temporary_allocs"].u64();
	}
	for (const auto &kv : kExpected) {
		ASSERT_EQ(seen.count(kv.first), 1u) << where << ": no call site " << kv.first;
		EXPECT_EQ(seen[kv.first], kv.second) << where << ": " << kv.first;
	}
	EXPECT_EQ(f["temporary_allocs"].u64(), sum) << where;
	EXPECT_GE(sum, 2202u) << where;
}

TEST(Temporaries, PerCallSiteExactLiveInRecordingsAndAfterTheRun)
{
	std::string dir = mstest::fresh_session_dir("temporaries");
	std::string file = dir + "/temp.rec";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--sites", "0",
					 "-w", file, "--events", "--",
					 mstest::workload("temporaries") });
	ASSERT_EQ(r.status, 0) << r.err;
	expect_exact(mstest::last_json_line(r.out), "live");

	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--json" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	expect_exact(mstest::last_json_line(rep.out), "replayed");

	// The event stream's analysis: ALLOCS TEMPORARY ... per call site.
	rep = mstest::run({ mstest::report_path(), file, "--events", "--top", "0" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	for (const auto &kv : kExpected) {
		std::regex row("\\n\\s*\\d+\\s+" + std::to_string(kv.second) + "\\s.*  " + kv.first +
			       " \\(");
		EXPECT_TRUE(std::regex_search(rep.out, row)) << kv.first << "\n" << rep.out;
	}
}

} // namespace
