// The manual pages and the Debian package: both pages render without a
// warning (groff -ww, man -l) and name every option the usage text names;
// package/build-deb makes a .deb that installs into a fresh root
// (dpkg --root) and whose memscope-top runs a program, and the demo, from
// there, with the hook it finds beside itself.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

const char *const kPages[] = { "memscope-top.1", "memscope-report.1" };

std::string slurp(const std::string &path)
{
	mstest::Result r = mstest::run({ "cat", path });
	EXPECT_EQ(r.status, 0) << path;
	return r.out;
}

TEST(ManPages, RenderWithoutWarnings)
{
	for (const char *page : kPages) {
		std::string path = mstest::runfile(std::string("tui/man/") + page);
		mstest::Result r = mstest::run({ "groff", "-ww", "-man", "-Tutf8", path },
					       { "LC_ALL=C.UTF-8" });
		EXPECT_EQ(r.status, 0) << page << r.err;
		EXPECT_EQ(r.err, "") << page;
		// Bold and underline are overstruck (X backspace X): read the letters.
		std::string plain = std::regex_replace(r.out, std::regex(".\b"), "");
		EXPECT_NE(plain.find("EXIT STATUS"), std::string::npos) << page;
		r = mstest::run({ "man", "-l", path }, { "LC_ALL=C.UTF-8", "MANWIDTH=80", "MANPAGER=cat",
							  "PAGER=cat" });
		EXPECT_EQ(r.status, 0) << page << r.err;
		EXPECT_EQ(r.err, "") << page;
		EXPECT_NE(r.out.find("SYNOPSIS"), std::string::npos) << page;
	}
}

// Every option of a tool's --help is in its page (as roff writes it).
void expect_options_documented(const std::string &tool, const std::string &page)
{
	mstest::Result help = mstest::run({ tool, "--help" });
	ASSERT_EQ(help.status, 0) << help.err;
	std::string text = slurp(mstest::runfile("tui/man/" + page));
	std::set<std::string> options;
	std::regex option(R"((^|[\s\[|(])(--?[a-zA-Z][a-zA-Z-]*))");
	for (std::sregex_iterator it(help.out.begin(), help.out.end(), option), end; it != end; ++it)
		options.insert((*it)[2].str());
	EXPECT_GT(options.size(), 5u) << help.out;
	for (const std::string &o : options) {
		std::string roff = std::regex_replace(o, std::regex("-"), "\\-");
		EXPECT_NE(text.find(roff), std::string::npos) << page << " lacks " << o;
	}
}

TEST(ManPages, NameEveryOptionOfTheUsageText)
{
	expect_options_documented(mstest::top_path(), "memscope-top.1");
	expect_options_documented(mstest::report_path(), "memscope-report.1");
}

TEST(Package, InstallsIntoAFreshRootAndRunsFromThere)
{
	std::string dir = mstest::temp_dir("deb");
	mstest::Result r = mstest::run(
		{ "sh", mstest::runfile("package/build-deb"), "--top", mstest::runfile("tui/memscope-top"),
		  "--report", mstest::runfile("tui/memscope-report"), "--demo",
		  mstest::runfile("tui/memscope-demo"), "--hook", mstest::runfile("hooks/libmemscope.so"),
		  "--header", mstest::runfile("hooks/include/memscope.h"), "--man",
		  mstest::runfile("tui/man/memscope-top.1").substr(
			  0, mstest::runfile("tui/man/memscope-top.1").rfind('/')),
		  "--out", dir });
	ASSERT_EQ(r.status, 0) << r.err;
	std::string deb = r.out.substr(0, r.out.find('\n'));
	EXPECT_TRUE(std::regex_search(deb, std::regex(R"(/memscope_\d+\.\d+\.\d+_amd64\.deb$)"))) << deb;

	mstest::Result info = mstest::run({ "dpkg-deb", "--field", deb, "Package", "Architecture",
					    "Depends" });
	ASSERT_EQ(info.status, 0) << info.err;
	EXPECT_NE(info.out.find("Package: memscope"), std::string::npos) << info.out;
	EXPECT_NE(info.out.find("libunwind8"), std::string::npos) << info.out;
	mstest::Result list = mstest::run({ "dpkg-deb", "--contents", deb });
	for (const char *file : { "./usr/bin/memscope-top", "./usr/bin/memscope-report",
				  "./usr/bin/memscope-demo", "./usr/lib/memscope/libmemscope.so",
				  "./usr/include/memscope.h", "./usr/share/man/man1/memscope-top.1.gz",
				  "./usr/share/man/man1/memscope-report.1.gz" })
		EXPECT_NE(list.out.find(file), std::string::npos) << file << "\n" << list.out;

	// A fresh root: an empty dpkg database, nothing else (the libraries
	// are the host's, hence --force-depends).
	std::string root = dir + "/root";
	ASSERT_EQ(mstest::run({ "mkdir", "-p", root + "/var/lib/dpkg/info", root + "/var/lib/dpkg/updates" })
			  .status,
		  0);
	ASSERT_EQ(mstest::run({ "touch", root + "/var/lib/dpkg/status" }).status, 0);
	mstest::Result inst = mstest::run({ "dpkg", "--root=" + root, "--force-depends",
					    "--force-not-root", "--log=/dev/null", "-i", deb });
	ASSERT_EQ(inst.status, 0) << inst.out << inst.err;
	mstest::Result status = mstest::run({ "dpkg", "--root=" + root, "-s", "memscope" });
	EXPECT_NE(status.out.find("Status: install ok installed"), std::string::npos) << status.out;

	// Its memscope-top, with the hook it finds at ../lib/memscope/.
	mstest::Result run = mstest::run({ root + "/usr/bin/memscope-top", "-b", "--json", "--",
					   "/bin/true" },
					 { "MEMSCOPE_LIB=" });
	EXPECT_EQ(run.status, 0) << run.err;
	EXPECT_NE(run.out.find("\"exit_status\":0"), std::string::npos) << run.out << run.err;
	EXPECT_NE(run.out.find("\"command\":\"/bin/true\""), std::string::npos) << run.out;

	// And the demo it is installed with.
	mstest::Result demo = mstest::run({ root + "/usr/bin/memscope-top", "--demo", "-b", "--json",
					    "-n", "2", "-d", "0.2" },
					  { "MEMSCOPE_LIB=" });
	EXPECT_EQ(demo.status, 0) << demo.err;
	EXPECT_NE(demo.out.find(root + "/usr/bin/memscope-demo"), std::string::npos) << demo.out;
	EXPECT_GT(mstest::last_json_line(demo.out)["total_allocs"].u64(), 0u) << demo.out;
}

} // namespace
