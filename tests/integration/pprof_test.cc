// pprof heap profiles, from memscope-top -b --pprof and memscope-report
// --pprof, read back by pprof itself (go tool pprof): exact figures per
// call site for each sample type, the call site's function as the flat
// one (the allocator's wrappers left out), an inline chain as the
// functions of one location, mapped memory left out, and a file that
// cannot be written refused in one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

// go tool pprof ARGS, with a home, caches and settings of its own.
mstest::Result go_pprof(const std::vector<std::string> &args)
{
	static const std::string home = mstest::temp_dir("go-home");
	std::vector<std::string> argv = { "go", "tool", "pprof", "-symbolize=none" };
	argv.insert(argv.end(), args.begin(), args.end());
	mstest::Result r = mstest::run(argv, { "HOME=" + home, "GOCACHE=" + home + "/cache",
					       "GOPATH=" + home + "/go", "GOFLAGS=",
					       "PPROF_TMPDIR=" + home });
	EXPECT_EQ(r.status, 0) << r.err;
	return r;
}

// `go tool pprof -top` of the profile for one sample type, every node,
// bytes in bytes (2400B, not 2.34kB); counts have no unit.
std::string top(const std::string &profile, const std::string &sample_index)
{
	bool bytes = sample_index.find("space") != std::string::npos;
	return go_pprof({ "-top", "-nodefraction=0", bytes ? "-unit=B" : "-unit=minimum",
			  "-sample_index=" + sample_index, profile })
		.out;
}

std::vector<std::string> words(const std::string &line)
{
	std::istringstream in(line);
	std::vector<std::string> w;
	for (std::string s; in >> s;)
		w.push_back(s);
	return w;
}

// A function's row of -top: flat, flat%, sum%, cum, cum%, then its name
// ("make_buf (inline)" for an inlined one). Empty when it has none.
std::vector<std::string> row(const std::string &top_out, const std::string &function)
{
	std::istringstream in(top_out);
	for (std::string line; std::getline(in, line);) {
		std::vector<std::string> w = words(line);
		std::string name;
		for (size_t i = 5; i < w.size(); i++)
			name += (i > 5 ? " " : "") + w[i];
		if (w.size() >= 6 && name == function)
			return w;
	}
	return {};
}

std::string flat(const std::string &top_out, const std::string &function)
{
	std::vector<std::string> w = row(top_out, function);
	return w.empty() ? "(no row for " + function + ")" : w[0];
}

std::string cum(const std::string &top_out, const std::string &function)
{
	std::vector<std::string> w = row(top_out, function);
	return w.empty() ? "(no row for " + function + ")" : w[3];
}

// "Total samples = 18784B" of -top's header.
std::string total(const std::string &top_out)
{
	size_t at = top_out.find("Total samples = ");
	if (at == std::string::npos)
		return "(no total)";
	std::vector<std::string> w = words(top_out.substr(at + 16, top_out.find('\n', at) - at - 16));
	return w.empty() ? "(no total)" : w[0];
}

// The sites workload's figures, as pprof reads them from profile.
void expect_sites(const std::string &profile)
{
	// gzip, whole and checked (its CRC and length), as pprof's readers take it.
	std::string bytes = mstest::read_file(profile);
	ASSERT_GE(bytes.size(), 2u);
	EXPECT_EQ((unsigned char)bytes[0], 0x1f);
	EXPECT_EQ((unsigned char)bytes[1], 0x8b);
	mstest::Result gz = mstest::run({ "gzip", "-t", profile });
	EXPECT_EQ(gz.status, 0) << gz.err;

	// small_blocks: 100 blocks of 24 B, all live; big_blocks: 10 of
	// 4096 B, 4 live. Each the flat function of its own sample: the
	// allocator's frames are not in the stacks.
	std::string inuse = top(profile, "inuse_space");
	EXPECT_NE(inuse.find("File: sites\n"), std::string::npos) << inuse; // the program's mapping
	EXPECT_EQ(flat(inuse, "small_blocks"), "2400B") << inuse;
	EXPECT_EQ(flat(inuse, "big_blocks"), "16384B") << inuse;
	EXPECT_EQ(flat(inuse, "malloc"), "(no row for malloc)") << inuse;
	EXPECT_EQ(flat(inuse, "main"), "0") << inuse;
	std::string alloc_objects = top(profile, "alloc_objects");
	EXPECT_EQ(flat(alloc_objects, "small_blocks"), "100") << alloc_objects;
	EXPECT_EQ(flat(alloc_objects, "big_blocks"), "10") << alloc_objects;
	std::string alloc_space = top(profile, "alloc_space");
	EXPECT_EQ(flat(alloc_space, "small_blocks"), "2400B") << alloc_space;
	EXPECT_EQ(flat(alloc_space, "big_blocks"), "40960B") << alloc_space;
	std::string inuse_objects = top(profile, "inuse_objects");
	EXPECT_EQ(flat(inuse_objects, "small_blocks"), "100") << inuse_objects;
	EXPECT_EQ(flat(inuse_objects, "big_blocks"), "4") << inuse_objects;
	// Both are called from main: the stacks go on out.
	EXPECT_EQ(cum(inuse, "main"), cum(inuse, "__libc_start_main")) << inuse;

	// Unasked, pprof shows live bytes, as Go's heap profiles do.
	mstest::Result dflt = go_pprof({ "-top", profile });
	EXPECT_NE(dflt.out.find("Type: inuse_space"), std::string::npos) << dflt.out;
}

TEST(Pprof, TopWritesExactFiguresAtTheExit)
{
	std::string dir = mstest::fresh_session_dir("pprof-top");
	std::string profile = dir + "/sites.pb.gz";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--pprof", profile, "--",
					 mstest::workload("sites") });
	ASSERT_EQ(r.status, 0) << r.err;
	expect_sites(profile);
}

TEST(Pprof, ReportWritesARecordingsEnd)
{
	std::string dir = mstest::fresh_session_dir("pprof-report");
	std::string rec = dir + "/sites.rec", profile = dir + "/sites.pb.gz";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "-w", rec, "--",
					 mstest::workload("sites") });
	ASSERT_EQ(r.status, 0) << r.err;
	r = mstest::run({ mstest::report_path(), rec, "--pprof", profile });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "");
	expect_sites(profile);

	// --at: the first frame, before the program's exit, is a profile too.
	r = mstest::run({ mstest::report_path(), rec, "--pprof", profile, "--at", "0" });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(go_pprof({ "-top", profile }).out.find("Type: inuse_space"), std::string::npos);
}

// make_buf is inlined into fill_table, inlined into main: one return
// address, whose location has a line for each, innermost first.
TEST(Pprof, InlineChainIsOneLocationOfEveryFunction)
{
	std::string dir = mstest::fresh_session_dir("pprof-inlined");
	std::string profile = dir + "/inlined.pb.gz";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--pprof", profile, "--",
					 mstest::workload("inlined") });
	ASSERT_EQ(r.status, 0) << r.err;

	std::string inuse = top(profile, "inuse_space");
	EXPECT_EQ(flat(inuse, "make_buf (inline)"), "4002B") << inuse;
	EXPECT_EQ(cum(inuse, "fill_table (inline)"), "4002B") << inuse;
	EXPECT_EQ(cum(inuse, "main"), "4002B") << inuse;

	// -traces lists a sample's stack, a line per function, inlined ones
	// marked.
	std::string traces = go_pprof({ "-traces", "-sample_index=inuse_space", profile }).out;
	size_t make_buf = traces.find("make_buf (inline)");
	size_t fill_table = traces.find("fill_table (inline)");
	size_t main_at = traces.find(" main\n");
	ASSERT_NE(make_buf, std::string::npos) << traces;
	ASSERT_NE(fill_table, std::string::npos) << traces;
	ASSERT_NE(main_at, std::string::npos) << traces;
	EXPECT_LT(make_buf, fill_table) << traces;
	EXPECT_LT(fill_table, main_at) << traces;

	// -raw lists the locations: the three are the lines of one, the
	// others have one line each.
	std::string raw = go_pprof({ "-raw", profile }).out;
	std::istringstream in(raw.substr(raw.find("Locations")));
	std::vector<std::string> lines;
	for (std::string line; std::getline(in, line) && line.rfind("Mappings", 0) != 0;)
		lines.push_back(line);
	bool chain = false;
	for (size_t i = 0; i + 2 < lines.size(); i++) {
		std::vector<std::string> a = words(lines[i]), b = words(lines[i + 1]),
					 c = words(lines[i + 2]);
		// "1: 0x... M=1 make_buf FILE:LINE s=0", then "fill_table ...",
		// "main ..." without an id of their own.
		chain |= a.size() >= 4 && a[3] == "make_buf" && !b.empty() && b[0] == "fill_table" &&
			 !c.empty() && c[0] == "main";
	}
	EXPECT_TRUE(chain) << raw;
}

// A stack starts at its call site: the wrappers of malloc inside it
// (built-in, the user's --skip, C++'s operator new) are not in the
// profile, so that the function that asked is the flat one.
TEST(Pprof, WrappersOfTheAllocatorAreLeftOut)
{
	std::string dir = mstest::fresh_session_dir("pprof-wrappers");
	std::string profile = dir + "/wrappers.pb.gz";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--skip", "my_pool_alloc",
					 "--pprof", profile, "--", mstest::workload("wrappers") });
	ASSERT_EQ(r.status, 0) << r.err;
	std::string inuse = top(profile, "inuse_space");
	EXPECT_EQ(flat(inuse, "from_parser"), "300B") << inuse;  // through xmalloc
	EXPECT_EQ(flat(inuse, "from_lexer"), "400B") << inuse;   // xcalloc, xmalloc
	EXPECT_EQ(flat(inuse, "from_cache"), "1200B") << inuse;  // my_pool_alloc
	EXPECT_EQ(flat(inuse, "from_names"), "30B") << inuse;    // strdup
	for (const char *wrapper : { "xmalloc", "xcalloc", "my_pool_alloc", "strdup", "malloc" })
		EXPECT_EQ(row(inuse, wrapper).size(), 0u) << wrapper << "\n" << inuse;

	profile = dir + "/cxx.pb.gz";
	r = mstest::run({ mstest::top_path(), "-b", "--pprof", profile, "--",
			  mstest::workload("cxx_sites") });
	ASSERT_EQ(r.status, 0) << r.err;
	inuse = top(profile, "inuse_space");
	// Names as demangled, parameters and all.
	EXPECT_EQ(flat(inuse, "make_widgets()"), "3200B") << inuse; // 50 Widgets of 64 B
	EXPECT_EQ(inuse.find("operator new"), std::string::npos) << inuse;
	std::string alloc_objects = top(profile, "alloc_objects");
	EXPECT_EQ(flat(alloc_objects, "make_buffers()"), "20") << alloc_objects;
}

// The profile is the heap's: its total is the frame's live bytes, mapped
// memory apart, as in every heap figure.
TEST(Pprof, MappedMemoryIsLeftOut)
{
	std::string dir = mstest::fresh_session_dir("pprof-mmaps");
	std::string profile = dir + "/mmaps.pb.gz";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--pprof", profile,
					 "--", mstest::workload("mmaps") });
	ASSERT_EQ(r.status, 0) << r.err;
	Json f = mstest::last_json_line(r.out);
	ASSERT_GT(f["mmap_live_bytes"].u64(), 0u);
	std::string inuse = top(profile, "inuse_space");
	EXPECT_EQ(total(inuse), std::to_string(f["live_bytes"].u64()) + "B") << inuse;
	EXPECT_EQ(row(inuse, "map_ten").size(), 0u) << inuse;
}

// Exactly one line on stderr, naming the file.
void expect_one_error_line(const mstest::Result &r, const std::string &path)
{
	EXPECT_NE(r.status, 0);
	EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
	EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
}

TEST(Pprof, UnwritablePathIsOneErrorLine)
{
	std::string dir = mstest::fresh_session_dir("pprof-bad");
	std::string bad = dir + "/no-such-dir/out.pb.gz";
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--pprof", bad, "--",
					 mstest::workload("sites") });
	expect_one_error_line(r, bad);
	EXPECT_EQ(r.out, ""); // refused before the program ran: no frame

	std::string rec = dir + "/sites.rec";
	r = mstest::run({ mstest::top_path(), "-b", "-w", rec, "--", mstest::workload("sites") });
	ASSERT_EQ(r.status, 0) << r.err;
	r = mstest::run({ mstest::report_path(), rec, "--pprof", bad });
	expect_one_error_line(r, bad);
}

} // namespace
