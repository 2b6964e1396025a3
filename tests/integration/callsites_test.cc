// Call sites in batch JSON: allocations from named functions give exact
// per-call-site figures with function, file:line and module; C++ new is
// the caller's; a stripped binary reads module+offset; a library closed
// before the end still resolves; the figures add up to the process totals.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/support/frames.h"
#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using namespace mstest; // Json and the frame helpers (tests/support/frames.h)

TEST(Callsites, NamedFunctionsHaveExactFigures)
{
	mstest::fresh_session_dir("sites");
	Json f = final_frame({ mstest::workload("sites") });

	const Json *small = callsite(f, "small_blocks");
	ASSERT_NE(small, nullptr);
	EXPECT_EQ((*small)["total_allocs"].u64(), 100u);
	EXPECT_EQ((*small)["total_bytes"].u64(), 2400u);
	EXPECT_EQ((*small)["total_frees"].u64(), 0u);
	EXPECT_EQ((*small)["live_bytes"].u64(), 2400u);
	EXPECT_EQ((*small)["live_allocs"].u64(), 100u);
	EXPECT_EQ((*small)["peak_bytes"].u64(), 2400u);
	EXPECT_TRUE(ends_with((*small)["file"].str(), "tests/workloads/sites.c"));
	EXPECT_EQ((*small)["line"].i64(), marker_line("tests/workloads/sites.c", "small_blocks"));
	EXPECT_TRUE(ends_with((*small)["module"].str(), "/sites"));
	// The stack runs from the call site out to main.
	const Json &stack = (*small)["stack"];
	ASSERT_GE(stack.size(), 2u);
	EXPECT_EQ(stack[0]["function"].str(), "small_blocks");
	bool has_main = false;
	for (const Json &fr : stack.items)
		has_main |= fr["function"].str() == "main";
	EXPECT_TRUE(has_main);

	const Json *big = callsite(f, "big_blocks");
	ASSERT_NE(big, nullptr);
	EXPECT_EQ((*big)["total_allocs"].u64(), 10u);
	EXPECT_EQ((*big)["total_bytes"].u64(), 40960u);
	EXPECT_EQ((*big)["total_frees"].u64(), 6u);
	EXPECT_EQ((*big)["live_bytes"].u64(), 16384u);
	EXPECT_EQ((*big)["live_allocs"].u64(), 4u);
	EXPECT_EQ((*big)["peak_bytes"].u64(), 40960u);
	EXPECT_EQ((*big)["line"].i64(), marker_line("tests/workloads/sites.c", "big_blocks"));

	// Sorted by live bytes.
	const Json &sites = f["callsites"];
	for (size_t i = 1; i < sites.size(); i++)
		EXPECT_GE(sites[i - 1]["live_bytes"].u64(), sites[i]["live_bytes"].u64());
}

TEST(Callsites, SitesAddUpToTheProcessTotals)
{
	mstest::fresh_session_dir("sites-sum");
	Json f = final_frame({ mstest::workload("exact_threads"), "3", "500" });
	uint64_t allocs = 0, frees = 0, bytes = 0, live = 0;
	for (const Json &c : f["callsites"].items) {
		allocs += c["total_allocs"].u64();
		frees += c["total_frees"].u64();
		bytes += c["total_bytes"].u64();
		live += c["live_bytes"].u64();
	}
	EXPECT_EQ(allocs, f["total_allocs"].u64());
	EXPECT_EQ(frees, f["total_frees"].u64());
	EXPECT_EQ(bytes, f["total_bytes"].u64());
	EXPECT_EQ(live, f["live_bytes"].u64());
	// The 64 MiB block is the main thread's, from main.
	bool big = false;
	for (const Json &c : f["callsites"].items)
		big |= c["function"].str() == "main" && c["total_bytes"].u64() == (64u << 20);
	EXPECT_TRUE(big);
}

TEST(Callsites, LibraryClosedBeforeTheEndStillResolves)
{
	mstest::fresh_session_dir("plugin");
	Json f = final_frame({ mstest::workload("sites"), mstest::workload("libplugin.so") });
	const Json *p = callsite(f, "plugin_alloc");
	ASSERT_NE(p, nullptr);
	EXPECT_EQ((*p)["total_allocs"].u64(), 5u);
	EXPECT_EQ((*p)["live_bytes"].u64(), 5000u);
	EXPECT_TRUE(ends_with((*p)["module"].str(), "/libplugin.so"));
	EXPECT_TRUE(ends_with((*p)["file"].str(), "tests/workloads/plugin.c"));
	EXPECT_EQ((*p)["line"].i64(), marker_line("tests/workloads/plugin.c", "plugin_alloc"));
}

TEST(Callsites, CxxNewIsTheCallersSite)
{
	mstest::fresh_session_dir("cxx");
	Json f = final_frame({ mstest::workload("cxx_sites") });

	const Json *w = callsite(f, "make_widgets()");
	ASSERT_NE(w, nullptr);
	EXPECT_EQ((*w)["total_allocs"].u64(), 50u);
	EXPECT_EQ((*w)["total_bytes"].u64(), 50u * 64);
	EXPECT_EQ((*w)["live_bytes"].u64(), 50u * 64);
	EXPECT_EQ((*w)["line"].i64(), marker_line("tests/workloads/cxx_sites.cc", "make_widgets"));
	// The innermost frame is operator new itself, passed over for the site.
	EXPECT_EQ((*w)["stack"][0]["function"].str().rfind("operator new", 0), 0u);

	const Json *b = callsite(f, "make_buffers()");
	ASSERT_NE(b, nullptr);
	EXPECT_EQ((*b)["total_allocs"].u64(), 20u);
	EXPECT_EQ((*b)["total_frees"].u64(), 20u);
	EXPECT_EQ((*b)["total_bytes"].u64(), 20u * 400);
	EXPECT_EQ((*b)["live_bytes"].u64(), 0u);
	EXPECT_EQ((*b)["peak_bytes"].u64(), 400u); // one array at a time
}

TEST(Callsites, StrippedBinaryReadsModulePlusOffset)
{
	mstest::fresh_session_dir("stripped");
	Json f = final_frame({ mstest::workload("sites_stripped") });
	const Json *small = nullptr;
	for (const Json &c : f["callsites"].items)
		if (c["total_allocs"].u64() == 100 && c["total_bytes"].u64() == 2400)
			small = &c;
	ASSERT_NE(small, nullptr);
	EXPECT_EQ((*small)["function"].str().rfind("sites_stripped+0x", 0), 0u)
		<< (*small)["function"].str();
	EXPECT_EQ((*small)["file"].type, Json::Type::Null);
	// The C library's frames still have names.
	bool libc_named = false;
	for (const Json &fr : (*small)["stack"].items)
		libc_named |= fr["function"].str().find("__libc_start") == 0;
	EXPECT_TRUE(libc_named);
}

TEST(Callsites, WithStacksOffEverythingIsOneSite)
{
	mstest::fresh_session_dir("nostack");
	Json f = final_frame({ mstest::workload("sites") }, {}, { "MEMSCOPE_DEPTH=0" });
	ASSERT_EQ(f["callsites"].size(), 1u);
	const Json &c = f["callsites"][0];
	EXPECT_EQ(c["function"].str(), "(no stack)");
	EXPECT_EQ(c["total_allocs"].u64(), f["total_allocs"].u64());
	EXPECT_EQ(c["live_bytes"].u64(), f["live_bytes"].u64());
	EXPECT_EQ(c["stack"].size(), 0u);
}

TEST(Callsites, AgesOfLiveBlocks)
{
	// The program keeps everything; its exit path runs a last leak scan.
	mstest::fresh_session_dir("aging");
	Json f = final_frame({ mstest::workload("aging") });
	const Json *old = callsite(f, "old_site"), *young = callsite(f, "young_site");
	ASSERT_NE(old, nullptr);
	ASSERT_NE(young, nullptr);
	const Json &o = (*old)["aged"], &y = (*young)["aged"];
	ASSERT_EQ(o.size(), 3u);
	EXPECT_EQ(o[0]["age_s"].num(), 1.0);
	EXPECT_EQ(o[1]["age_s"].num(), 10.0);
	EXPECT_EQ(o[2]["age_s"].num(), 60.0);
	EXPECT_EQ(o[0]["live_bytes"].u64(), 10000u); // older than 1 s
	EXPECT_EQ(o[0]["live_allocs"].u64(), 10u);
	EXPECT_EQ(o[1]["live_bytes"].u64(), 0u); // not older than 10 s
	EXPECT_EQ(y[0]["live_bytes"].u64(), 0u); // half a second old
	EXPECT_EQ(y[0]["live_allocs"].u64(), 0u);
	EXPECT_EQ((*young)["live_bytes"].u64(), 2500u);
}

TEST(Callsites, SitesOptionLimitsTheList)
{
	mstest::fresh_session_dir("limit");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--sites", "2", "--",
					 mstest::workload("sites") });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(mstest::last_json_line(r.out)["callsites"].size(), 2u);
}

// Names as people read them: no symbol version ("@@GLIBC_2.2.5", which
// ELF symbol tables carry) in any frame of any stack, over sqlite3 and
// python3 (issue: functions of libc read from its symbol table).
TEST(Callsites, NoSymbolVersionInAnyName)
{
	mstest::fresh_session_dir("names");
	std::string sql = "create table t(a integer primary key, b text);\n";
	for (int i = 0; i < 2000; i++)
		sql += "insert into t(b) values('row " + std::to_string(i) + "');\n";
	sql += "create index tb on t(b);\nselect count(*), max(b) from t;\n";
	std::string script = mstest::temp_dir("names") + "/script.sql";
	std::ofstream(script) << sql;
	const std::vector<std::vector<std::string>> programs = {
		{ "/bin/sh", "-c", "exec /usr/bin/sqlite3 :memory: < " + script },
		{ "/usr/bin/python3", "-c",
		  "import json; print(len(json.dumps([{'a': i} for i in range(50000)])))" },
	};
	for (const auto &command : programs) {
		Json f = final_frame(command, {}, { "PYTHONMALLOC=malloc" });
		size_t names = 0;
		for (const Json &c : f["callsites"].items) {
			EXPECT_EQ(c["function"].str().find('@'), std::string::npos) << c["function"].str();
			for (const Json &fr : c["stack"].items) {
				const std::string &fn = fr["function"].str();
				names += !fn.empty();
				EXPECT_EQ(fn.find('@'), std::string::npos) << fn << " in " << command[0];
			}
		}
		EXPECT_GT(names, 20u) << command[0]; // the stacks were read and named
	}
}

} // namespace
