// Symbols as a user meets them: frames come on time however big the
// program's symbol table, names follow, and a call site is the function
// that called the allocator, not a wrapper of it.
#include <gtest/gtest.h>

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <string>
#include <vector>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

// The call sites of frame f by function name: live bytes and blocks.
struct Site {
	uint64_t live_bytes = 0, live_allocs = 0;
	int rows = 0;
};

Site site(const Json &f, const std::string &function)
{
	Site s;
	for (const Json &c : f["callsites"].items) {
		if (c["function"].str() != function)
			continue;
		s.rows++;
		s.live_bytes += c["live_bytes"].u64();
		s.live_allocs += c["live_allocs"].u64();
	}
	return s;
}

// A program with a 100 MB symbol table: its first frame is due at 0.25 s
// and must not wait for the symbols (read with a full scan per address,
// they took seconds); the last frame has every name.
TEST(Symbols, FirstFrameOnTimeBesideAHugeSymbolTable)
{
	mstest::fresh_session_dir("big-symbols");
	double start = mstest::now_s();
	mstest::Child top = mstest::start({ mstest::top_path(), "-b", "--json", "-d", "0.25", "--",
					    mstest::workload("big_symbols") });
	// When the first frame starts to come (a frame is 100 KB or so: its
	// whole line takes a while to read).
	struct pollfd p = { top.out_fd, POLLIN, 0 };
	ASSERT_EQ(poll(&p, 1, 30000), 1);
	double first_at = mstest::now_s() - start;
	EXPECT_LT(first_at, 1.0) << "the first frame, due at 0.25 s";

	std::string out;
	char buf[65536];
	ssize_t got;
	while ((got = read(top.out_fd, buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR))
		out.append(buf, got > 0 ? (size_t)got : 0);
	std::vector<Json> frames = mstest::json_lines(out);
	ASSERT_FALSE(frames.empty());
	EXPECT_FALSE(frames[0]["exited"].boolean);
	EXPECT_EQ(top.wait(), 0);
	// The program runs 2 s: a frame every 0.25 s came, and the final one.
	EXPECT_GE(frames.size(), 6u);
	const Json &end = frames.back();
	ASSERT_TRUE(end["exited"].boolean);
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "site_%02d", i);
		Site s = site(end, name);
		EXPECT_EQ(s.rows, 1) << name;
		EXPECT_EQ(s.live_bytes, 1000u + i) << name;
		EXPECT_EQ(s.live_allocs, 1u) << name;
	}
	// The stack's next frame is main, with its file and line.
	for (const Json &c : end["callsites"].items) {
		if (c["function"].str().rfind("site_", 0) != 0)
			continue;
		EXPECT_EQ(c["file"].str(), "tests/workloads/big_symbols.c");
		ASSERT_GE(c["stack"].size(), 2u);
		EXPECT_EQ(c["stack"][1]["function"].str(), "main");
		break;
	}
}

// A launched wrappers program's last frame, with extra memscope-top
// arguments and environment.
Json wrappers_frame(const std::vector<std::string> &args, const std::vector<std::string> &env = {})
{
	std::vector<std::string> argv = { mstest::top_path(), "-b", "--json", "--sites", "0" };
	argv.insert(argv.end(), args.begin(), args.end());
	argv.push_back("--");
	argv.push_back(mstest::workload("wrappers"));
	mstest::Result r = mstest::run(argv, env);
	EXPECT_EQ(r.status, 0) << r.err;
	return mstest::last_json_line(r.out);
}

TEST(Symbols, AWrapperOfMallocIsNotACallSite)
{
	mstest::fresh_session_dir("wrappers");
	Json f = wrappers_frame({});
	// xmalloc and xcalloc are built-in wrappers, strdup the C library's.
	EXPECT_EQ(site(f, "from_parser").live_bytes, 300u);
	EXPECT_EQ(site(f, "from_parser").live_allocs, 3u);
	EXPECT_EQ(site(f, "from_lexer").live_bytes, 400u);
	EXPECT_EQ(site(f, "from_lexer").live_allocs, 2u);
	EXPECT_EQ(site(f, "from_names").live_bytes, 30u);
	EXPECT_EQ(site(f, "from_names").live_allocs, 5u);
	EXPECT_EQ(site(f, "xmalloc").rows, 0);
	EXPECT_EQ(site(f, "xcalloc").rows, 0);
	// The program's own wrapper is a call site until the user says.
	EXPECT_EQ(site(f, "my_pool_alloc").live_bytes, 1200u);
	EXPECT_EQ(site(f, "from_cache").rows, 0);
	// The stack still shows the wrappers.
	for (const Json &c : f["callsites"].items) {
		if (c["function"].str() != "from_lexer")
			continue;
		std::vector<std::string> names;
		for (const Json &frame : c["stack"].items)
			names.push_back(frame["function"].str());
		ASSERT_GE(names.size(), 3u);
		EXPECT_EQ(names[0], "xmalloc");
		EXPECT_EQ(names[1], "xcalloc");
		EXPECT_EQ(names[2], "from_lexer");
	}
	// No name carries a symbol version ("@@GLIBC_2.2.5").
	for (const Json &c : f["callsites"].items)
		for (const Json &frame : c["stack"].items)
			EXPECT_EQ(frame["function"].str().find('@'), std::string::npos)
				<< frame["function"].str();
}

TEST(Symbols, TheUsersWrappersAreSkippedToo)
{
	mstest::fresh_session_dir("wrappers-skip");
	for (const Json &f : { wrappers_frame({ "--skip", "my_pool_alloc" }),
			       wrappers_frame({}, { "MEMSCOPE_SKIP=my_pool*" }),
			       wrappers_frame({ "--skip", "a_function,my_pool_alloc" },
					      { "MEMSCOPE_SKIP=another" }) }) {
		EXPECT_EQ(site(f, "from_cache").live_bytes, 1200u);
		EXPECT_EQ(site(f, "from_cache").live_allocs, 4u);
		EXPECT_EQ(site(f, "my_pool_alloc").rows, 0);
		EXPECT_EQ(site(f, "from_parser").live_bytes, 300u);
	}
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--skip", "f(int)", "--", "true" });
	EXPECT_EQ(r.status, 2);
	EXPECT_EQ(r.err.rfind("memscope-top: --skip", 0), 0u) << r.err;
}

} // namespace
