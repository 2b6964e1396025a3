// What libmemscope.so brings into every program it is preloaded into: by
// the rule of the code that runs inside the monitored program, only libc,
// libunwind and liburcu. //core also holds the reader side (recordings
// with zstd, symbols with libdw): none of it may reach the hook, as a
// library it needs nor as a function it calls.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace {

// The words of each line of `readelf ARGS hook` that contains `marker`.
std::vector<std::vector<std::string>> readelf_lines(const std::string &args,
						    const std::string &marker)
{
	mstest::Result r = mstest::run({ "/usr/bin/readelf", args, "-W", mstest::hook_path() });
	EXPECT_EQ(r.status, 0) << r.err;
	std::vector<std::vector<std::string>> lines;
	std::istringstream in(r.out);
	for (std::string line; std::getline(in, line);) {
		if (line.find(marker) == std::string::npos)
			continue;
		std::istringstream words(line);
		std::vector<std::string> w;
		for (std::string word; words >> word;)
			w.push_back(word);
		lines.push_back(w);
	}
	return lines;
}

TEST(HookDeps, NeedsOnlyLibcLibunwindAndLiburcu)
{
	const std::set<std::string> allowed = {
		"[libc.so.6]",	      "[libunwind.so.8]",	"[liburcu-bp.so.8]",
		"[liburcu-cds.so.8]", "[liburcu-common.so.8]", "[libdl.so.2]",
		"[libpthread.so.0]",  "[ld-linux-x86-64.so.2]",
	};
	std::set<std::string> needed;
	for (const auto &w : readelf_lines("-d", "(NEEDED)"))
		needed.insert(w.back()); // "Shared library: [NAME]"
	EXPECT_EQ(needed.count("[libc.so.6]"), 1u);
	EXPECT_EQ(needed.count("[libunwind.so.8]"), 1u);
	for (const std::string &n : needed)
		EXPECT_EQ(allowed.count(n), 1u) << "libmemscope.so needs " << n;
}

TEST(HookDeps, CallsNothingOfTheReaderSide)
{
	// Prefixes of libzstd, liblzma, libdw/libelf and ncurses functions.
	const std::vector<std::string> banned = { "ZSTD_", "lzma_", "dwfl_", "dwarf_",
						  "elf_",  "gelf_", "initscr", "wrefresh",
						  "newwin" };
	size_t undefined = 0;
	for (const auto &w : readelf_lines("--dyn-syms", " UND ")) {
		if (w.size() < 8)
			continue; // the null symbol
		undefined++;
		const std::string &name = w[7];
		for (const std::string &b : banned)
			EXPECT_NE(name.rfind(b, 0), 0u) << "libmemscope.so calls " << name;
	}
	EXPECT_GT(undefined, 10u); // malloc, dlsym, unw_backtrace...: the list was read
}

} // namespace
