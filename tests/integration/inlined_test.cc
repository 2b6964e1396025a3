// Inlined functions as frames of their own: an allocation in a function
// the compiler inlined (twice over, in C; a constructor, in C++) is named
// for that function, and each return address of the stack reads as
// binutils' addr2line -i reads it, function, file and line for every
// function of the chain; a recording keeps which frames are inlined.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/frames.h"
#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using namespace mstest; // Json and the frame helpers (tests/support/frames.h)

struct Place {
	std::string function, file;
	int line = 0;
};

// What addr2line -i says of pc in module: one place per function of its
// inline chain, innermost first.
std::vector<Place> addr2line(const std::string &module, uint64_t pc)
{
	char at[32];
	snprintf(at, sizeof(at), "0x%llx", (unsigned long long)pc);
	mstest::Result r = mstest::run({ "addr2line", "-i", "-f", "-C", "-e", module, at });
	EXPECT_EQ(r.status, 0) << r.err;
	std::vector<Place> out;
	std::istringstream in(r.out);
	std::string function, where;
	while (std::getline(in, function) && std::getline(in, where)) {
		Place p;
		size_t colon = where.rfind(':');
		p.function = function;
		p.file = where.substr(0, colon);
		// "file:line (discriminator N)"
		p.line = colon == std::string::npos ? 0 : atoi(where.c_str() + colon + 1);
		out.push_back(p);
	}
	return out;
}

uint64_t hex(const Json &v)
{
	return std::stoull(v.str(), nullptr, 16);
}

// The call site's stack from its innermost frame that is in the workload
// (past the allocator's) to its first frame that is not inlined: one
// return address's chain. Checks it against addr2line and returns it.
std::vector<const Json *> chain_checked(const Json &c, const std::string &binary)
{
	std::vector<const Json *> chain;
	size_t i = 0;
	const Json &stack = c["stack"];
	while (i < stack.size() && !ends_with(stack[i]["module"].str(), "/" + binary))
		i++;
	for (; i < stack.size(); i++) {
		chain.push_back(&stack[i]);
		if (!stack[i].has("inlined"))
			break;
	}
	if (chain.empty()) {
		ADD_FAILURE() << "no frame of " << binary;
		return chain;
	}
	// One return address: the same address and offset throughout.
	const Json &first = *chain[0];
	for (const Json *f : chain) {
		EXPECT_EQ((*f)["address"].str(), first["address"].str());
		EXPECT_EQ((*f)["offset"].str(), first["offset"].str());
		EXPECT_EQ((*f)["module"].str(), first["module"].str());
	}
	// The offset is the address in the file; a return address is looked
	// up at the call, one byte back, as memscope does.
	std::vector<Place> want = addr2line(first["module"].str(), hex(first["offset"]) - 1);
	EXPECT_EQ(want.size(), chain.size());
	for (size_t k = 0; k < want.size() && k < chain.size(); k++) {
		const Json &f = *chain[k];
		EXPECT_EQ(f["function"].str(), want[k].function) << "frame " << k;
		// addr2line joins the compilation directory; memscope keeps the
		// path as compiled.
		EXPECT_FALSE(f["file"].str().empty()) << "frame " << k;
		EXPECT_TRUE(ends_with(want[k].file, "/" + f["file"].str()))
			<< "frame " << k << ": " << want[k].file << " vs " << f["file"].str();
		EXPECT_EQ(f["line"].i64(), want[k].line) << "frame " << k;
	}
	return chain;
}

TEST(Inlined, AChainOfTwoInlinedFunctionsReadsAsAddr2lineReadsIt)
{
	mstest::fresh_session_dir("inlined");
	Json f = final_frame({ mstest::workload("inlined") });
	const std::string src = "tests/workloads/inlined.c";

	// The call site is the innermost function, inlined as it is.
	const Json *c = callsite(f, "make_buf");
	ASSERT_NE(c, nullptr);
	EXPECT_EQ((*c)["live_bytes"].u64(), 4002u);
	EXPECT_EQ((*c)["live_allocs"].u64(), 1u);
	EXPECT_EQ((*c)["file"].str(), src);
	EXPECT_EQ((*c)["line"].i64(), marker_line(src, "make_buf"));
	EXPECT_EQ(callsite(f, "main"), nullptr);

	std::vector<const Json *> chain = chain_checked(*c, "inlined");
	ASSERT_EQ(chain.size(), 3u);
	const char *names[] = { "make_buf", "fill_table", "main" };
	for (size_t k = 0; k < 3; k++) {
		const Json &fr = *chain[k];
		EXPECT_EQ(fr["function"].str(), names[k]);
		EXPECT_EQ(fr["file"].str(), src);
		EXPECT_EQ(fr["line"].i64(), marker_line(src, names[k])) << names[k];
		if (k < 2) {
			ASSERT_TRUE(fr.has("inlined")) << names[k];
			EXPECT_TRUE(fr["inlined"].boolean) << names[k];
		} else {
			EXPECT_FALSE(fr.has("inlined"));
		}
	}
	// The call site's frame is the stack's first of the chain, and no
	// other frame of the stack is inlined.
	EXPECT_EQ((*c)["stack"][0]["function"].str(), "make_buf");
	size_t inlined = 0;
	for (const Json &fr : (*c)["stack"].items)
		inlined += fr.has("inlined");
	EXPECT_EQ(inlined, 2u);
}

TEST(Inlined, AnInlinedConstructorIsTheCallSite)
{
	mstest::fresh_session_dir("inlined-ctor");
	Json f = final_frame({ mstest::workload("inlined_ctor") });
	const std::string src = "tests/workloads/inlined_ctor.cc";

	const Json *c = callsite(f, "Table::Table(unsigned long)");
	ASSERT_NE(c, nullptr);
	EXPECT_EQ((*c)["live_bytes"].u64(), 3001u);
	EXPECT_EQ((*c)["line"].i64(), marker_line(src, "Table"));
	// operator new[] first: the allocator's, not the call site.
	EXPECT_EQ((*c)["stack"][0]["function"].str().rfind("operator new", 0), 0u);

	std::vector<const Json *> chain = chain_checked(*c, "inlined_ctor");
	ASSERT_EQ(chain.size(), 2u);
	EXPECT_EQ((*chain[0])["function"].str(), "Table::Table(unsigned long)");
	EXPECT_EQ((*chain[0])["line"].i64(), marker_line(src, "Table"));
	ASSERT_TRUE(chain[0]->has("inlined"));
	EXPECT_TRUE((*chain[0])["inlined"].boolean);
	EXPECT_EQ((*chain[1])["function"].str(), "main");
	EXPECT_EQ((*chain[1])["line"].i64(), marker_line(src, "main"));
	EXPECT_FALSE(chain[1]->has("inlined"));
}

// The stack of the call site named function, each frame as
// "function file:line inlined".
std::vector<std::string> frames_of(const Json &f, const std::string &function)
{
	std::vector<std::string> out;
	const Json *c = callsite(f, function);
	if (c == nullptr)
		return out;
	for (const Json &fr : (*c)["stack"].items)
		out.push_back(fr["function"].str() + " " +
			      (fr["file"].type == Json::Type::Null ? "-" : fr["file"].str()) + ":" +
			      std::to_string(fr["line"].i64()) +
			      (fr.has("inlined") && fr["inlined"].boolean ? " inlined" : ""));
	return out;
}

TEST(Inlined, ARecordingKeepsWhichFramesAreInlined)
{
	std::string dir = mstest::fresh_session_dir("inlined-record");
	std::string file = dir + "/inlined.rec";
	Json live = final_frame({ mstest::workload("inlined") }, { "-w", file });
	std::vector<std::string> want = frames_of(live, "make_buf");
	ASSERT_GE(want.size(), 3u);
	EXPECT_EQ(want[0], "make_buf tests/workloads/inlined.c:" +
				   std::to_string(marker_line("tests/workloads/inlined.c", "make_buf")) +
				   " inlined");

	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--json", "--top", "0" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	Json got = Json::parse(rep.out.substr(0, rep.out.find('\n')));
	EXPECT_EQ(frames_of(got, "make_buf"), want);

	// A flame graph has every function of the chain.
	rep = mstest::run({ mstest::report_path(), file, "--folded" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_NE(rep.out.find(";main;fill_table;make_buf 4002\n"), std::string::npos) << rep.out;
}

} // namespace
