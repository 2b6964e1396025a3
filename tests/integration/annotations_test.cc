// memscope.h end to end: a program that annotates its blocks runs the same
// with and without the hook, and memscope-top's batch JSON groups its
// annotated blocks by variable, type and scope with exact figures, borrow
// counts and lifetimes (the workload's opening comment says what it does).
#include <gtest/gtest.h>

#include <string>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

const Json *group(const Json &f, const std::string &by, const std::string &name)
{
	for (const Json &g : f["annotations"]["by_" + by].items)
		if (g["name"].str() == name)
			return &g;
	return nullptr;
}

Json final_frame(const std::string &program = "annotated")
{
	mstest::fresh_session_dir("annotations");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.2", "--",
					 mstest::workload(program) });
	EXPECT_EQ(r.status, 0) << r.err;
	return mstest::last_json_line(r.out);
}

TEST(Annotations, RunUnchangedWithoutTheHook)
{
	mstest::Result r = mstest::run({ mstest::workload("annotated") });
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.out, "annotated: ok 0 x\n");
}

TEST(Annotations, GroupedByVariableTypeAndScope)
{
	Json f = final_frame();
	ASSERT_TRUE(f["exited"].boolean);
	EXPECT_EQ(f["annotations"]["blocks"].items.size(), 13u);

	struct Want {
		const char *by, *name;
		uint64_t live_bytes, live_allocs, ended, borrows, lent;
	} want[] = {
		{ "var", "cfg", 64, 1, 0, 3, 1 },
		{ "var", "line", 500, 5, 5, 0, 0 },
		{ "var", "buf", 4096, 1, 0, 0, 0 },
		{ "var", "moved", 0, 0, 1, 0, 0 },
		{ "type", "struct config", 64, 1, 1, 3, 1 },
		{ "type", "char[100]", 500, 5, 5, 0, 0 },
		{ "type", "char[]", 4096, 1, 0, 0, 0 },
		{ "scope", "main", 64 + 4096, 2, 1, 3, 1 },
		{ "scope", "load", 500, 5, 5, 0, 0 },
	};
	for (const Want &w : want) {
		const Json *g = group(f, w.by, w.name);
		ASSERT_NE(g, nullptr) << w.by << " " << w.name;
		EXPECT_EQ((*g)["live_bytes"].u64(), w.live_bytes) << w.by << " " << w.name;
		EXPECT_EQ((*g)["live_allocs"].u64(), w.live_allocs) << w.by << " " << w.name;
		EXPECT_EQ((*g)["ended"].u64(), w.ended) << w.by << " " << w.name;
		EXPECT_EQ((*g)["borrows"].u64(), w.borrows) << w.by << " " << w.name;
		EXPECT_EQ((*g)["lent"].u64(), w.lent) << w.by << " " << w.name;
	}
	EXPECT_EQ(f["annotations"]["by_var"].items.size(), 4u);
	EXPECT_EQ(f["annotations"]["by_type"].items.size(), 3u);
	EXPECT_EQ(f["annotations"]["by_scope"].items.size(), 2u);
	// Most live bytes first.
	EXPECT_EQ(f["annotations"]["by_var"].items[0]["name"].str(), "buf");

	// Lifetimes exist for the ended blocks only, and are ordered.
	const Json *line = group(f, "var", "line");
	ASSERT_NE(line, nullptr);
	double lo = (*line)["lifetime_min_s"].num(), mid = (*line)["lifetime_median_s"].num(),
	       hi = (*line)["lifetime_max_s"].num();
	EXPECT_LE(0.0, lo);
	EXPECT_LE(lo, mid);
	EXPECT_LE(mid, hi);
	EXPECT_LT(hi, 10.0);
	const Json *cfg = group(f, "var", "cfg");
	ASSERT_NE(cfg, nullptr);
	EXPECT_EQ((*cfg)["lifetime_median_s"].type, Json::Type::Null);

	// Per block: the realloc'ed buffer carries its name and new size.
	int bufs = 0;
	for (const Json &b : f["annotations"]["blocks"].items) {
		if (b["var"].str() != "buf")
			continue;
		bufs++;
		EXPECT_EQ(b["size"].u64(), 4096u);
		EXPECT_TRUE(b["live"].boolean);
		EXPECT_EQ(b["type"].str(), "char[]");
		EXPECT_EQ(b["scope"].str(), "main");
	}
	EXPECT_EQ(bufs, 1);
	// moved handed its names to the block it was copied into.
	int moved = 0;
	for (const Json &b : f["annotations"]["blocks"].items) {
		if (b["var"].str() != "moved")
			continue;
		moved++;
		EXPECT_EQ(b["size"].u64(), 128u);
		EXPECT_FALSE(b["live"].boolean);
	}
	EXPECT_EQ(moved, 1);
}

// Linked without -pie, the program's weak references to the hook are null
// from the start: memscope.h finds the hook by name instead.
TEST(Annotations, AProgramLinkedWithoutPie)
{
	Json f = final_frame("annotated_nopie");
	EXPECT_EQ(f["annotations"]["blocks"].items.size(), 13u);
	const Json *cfg = group(f, "var", "cfg");
	ASSERT_NE(cfg, nullptr);
	EXPECT_EQ((*cfg)["borrows"].u64(), 3u);
	mstest::Result r = mstest::run({ mstest::workload("annotated_nopie") });
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.out, "annotated: ok 0 x\n");
}

} // namespace
