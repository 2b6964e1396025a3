// The interactive screen, used as a person would: memscope-top runs in a
// real terminal (tmux), keys are typed with send-keys, and the assertions
// are on what capture-pane shows.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

class Screen : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir = mstest::fresh_session_dir("tui");
		// A socket path must fit sockaddr_un (108 bytes): not under the
		// test's long temporary directory, but in a short one of its own
		// (pids repeat across sandboxed tests running at once).
		char templ[] = "/tmp/mstui-XXXXXX";
		ASSERT_NE(mkdtemp(templ), nullptr);
		socket_dir = templ;
		socket = socket_dir + "/s";
	}
	void TearDown() override
	{
		tmux({ "kill-server" });
		unlink(socket.c_str());
		rmdir(socket_dir.c_str());
		if (target > 0)
			kill(target, SIGKILL);
	}
	mstest::Result tmux(std::vector<std::string> args)
	{
		args.insert(args.begin(), { "tmux", "-S", socket });
		return mstest::run(args, {}, "", 10);
	}
	// Starts memscope-top with these arguments in a WxH terminal.
	void start(const std::vector<std::string> &args, int width = 100, int height = 30)
	{
		// A configuration of the test's own (F2's choices).
		std::string cmd = "env LANG=C.UTF-8 MEMSCOPE_DIR=" + dir + " XDG_CONFIG_HOME=" +
				  dir + "/config " + mstest::top_path();
		for (const std::string &a : args)
			cmd += " '" + a + "'";
		mstest::Result r = tmux({ "new-session", "-d", "-x", std::to_string(width), "-y",
					  std::to_string(height), cmd });
		ASSERT_EQ(r.status, 0) << r.err;
	}
	std::string screen()
	{
		return tmux({ "capture-pane", "-p" }).out;
	}
	std::vector<std::string> lines()
	{
		std::vector<std::string> out;
		std::istringstream in(screen());
		std::string l;
		while (std::getline(in, l))
			out.push_back(l);
		return out;
	}
	void keys(const std::vector<std::string> &k)
	{
		std::vector<std::string> args = { "send-keys" };
		args.insert(args.end(), k.begin(), k.end());
		ASSERT_EQ(tmux(args).status, 0);
	}
	// Waits until the screen shows text (true) or the time runs out.
	bool wait_for(const std::string &text, double seconds = 10)
	{
		auto end = std::chrono::steady_clock::now() +
			   std::chrono::milliseconds((int)(seconds * 1000));
		while (std::chrono::steady_clock::now() < end) {
			if (screen().find(text) != std::string::npos)
				return true;
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
		return false;
	}
	bool wait_gone(const std::string &text, double seconds = 10)
	{
		auto end = std::chrono::steady_clock::now() +
			   std::chrono::milliseconds((int)(seconds * 1000));
		while (std::chrono::steady_clock::now() < end) {
			if (screen().find(text) == std::string::npos)
				return true;
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
		return false;
	}
	// The row of the first line containing text, or -1.
	int row_of(const std::string &text)
	{
		std::vector<std::string> ls = lines();
		for (size_t i = 0; i < ls.size(); i++)
			if (ls[i].find(text) != std::string::npos)
				return (int)i;
		return -1;
	}
	// Waits until the session of memscope-top has ended.
	bool wait_exit(double seconds = 5)
	{
		auto end = std::chrono::steady_clock::now() +
			   std::chrono::milliseconds((int)(seconds * 1000));
		while (std::chrono::steady_clock::now() < end) {
			if (tmux({ "has-session" }).status != 0)
				return true;
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
		return false;
	}
	// The launched target's pid, from the title line.
	pid_t target_pid()
	{
		std::string s = screen();
		size_t at = s.find(" pid ");
		return at == std::string::npos ? -1 : std::stoi(s.substr(at + 5));
	}
	void start_target(int width = 100, int height = 30, const std::string &seconds = "120")
	{
		start({ "-d", "0.2", "--", mstest::workload("tui_target"), seconds }, width, height);
		ASSERT_TRUE(wait_for("alpha_site")) << screen();
		ASSERT_TRUE(wait_for("beta_site")) << screen();
		target = target_pid();
	}
	std::string dir, socket, socket_dir;
	pid_t target = -1;
};

TEST_F(Screen, HeaderGraphTableAndKeyBar)
{
	start_target();
	std::vector<std::string> ls = lines();
	ASSERT_EQ(ls.size(), 30u);
	EXPECT_EQ(ls[0].rfind("memscope-top tui_target", 0), 0u) << ls[0];
	EXPECT_NE(ls[1].find("Heap["), std::string::npos) << ls[1];
	EXPECT_NE(ls[1].find("RSS"), std::string::npos);
	// The program's CPU and memscope's own, each a meter with its figure.
	EXPECT_TRUE(std::regex_search(
		ls[2], std::regex(R"(^CPU\[[| ]*\d+\.\d%\] +memscope\[[| ]*\d+\.\d%\])")))
		<< ls[2];
	EXPECT_NE(ls[3].find("Allocs"), std::string::npos);
	// The rates' figures may wrap to a second line at 100 columns.
	int output = row_of("Program output: ");
	EXPECT_TRUE(output == 4 || output == 5) << screen();
	EXPECT_NE(screen().find("^peak"), std::string::npos);
	EXPECT_NE(screen().find("█"), std::string::npos); // Unicode blocks in a UTF-8 terminal
	EXPECT_NE(row_of("LIVE_BYTES"), -1);
	EXPECT_NE(ls.back().find("F10Quit"), std::string::npos) << ls.back();
}

// A 100 KB heap beside an RSS of megabytes: on one scale the heap was a
// row of the lowest block; each on its own, the heap fills the graph.
TEST_F(Screen, TheGraphScalesTheHeapAndRssEachToItsOwnTop)
{
	start({ "-d", "0.2", "--", mstest::workload("holder"), "100", "1000" });
	ASSERT_TRUE(wait_for("heap")) << screen();
	target = target_pid();
	std::this_thread::sleep_for(std::chrono::milliseconds(1500)); // a graph of samples
	std::vector<std::string> ls = lines();
	int legend = row_of("heap");
	ASSERT_GT(legend, 0) << screen();
	const std::string &top = ls[legend - 1];
	EXPECT_TRUE(std::regex_search(top, std::regex(R"(^\d+(\.\d)? KiB )"))) << top;
	// The heap's bars reach the top (on RSS's scale they were a sliver at
	// the bottom); the row under the top is full where the heap is highest.
	EXPECT_NE(ls[legend].find("█"), std::string::npos) << screen();
	EXPECT_EQ(ls[legend + 1].rfind("rss", 0), 0u) << screen();
	EXPECT_TRUE(std::regex_search(ls[legend + 2], std::regex(R"(^\d+(\.\d)? MiB )")))
		<< ls[legend + 2];
	// r hides the RSS line and its scale.
	keys({ "r" });
	auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
	while (lines()[legend + 1].rfind("rss", 0) == 0 && std::chrono::steady_clock::now() < end)
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_NE(lines()[legend + 1].rfind("rss", 0), 0u) << screen();
	EXPECT_EQ(screen().find("·"), std::string::npos) << screen(); // no RSS dots
	EXPECT_EQ(screen().find("•"), std::string::npos) << screen(); // nor over the bars
}

TEST_F(Screen, SortingChangesTheOrder)
{
	start_target();
	// By live bytes, alpha (2.5 MiB live) is above beta (512 B live).
	EXPECT_LT(row_of("alpha_site"), row_of("beta_site"));
	// Three columns on is ALLOCS: beta has made far more allocations.
	keys({ ">", ">" });
	ASSERT_TRUE(wait_for("sort: ALLOCS"));
	EXPECT_GT(row_of("alpha_site"), row_of("beta_site")) << screen();
	keys({ "I" });
	ASSERT_TRUE(wait_for("(asc)"));
	EXPECT_LT(row_of("alpha_site"), row_of("beta_site")) << screen();
}

TEST_F(Screen, FilterHidesRows)
{
	start_target();
	keys({ "/", "a", "l", "p", "h", "a", "Enter" });
	ASSERT_TRUE(wait_for("filter: alpha"));
	EXPECT_NE(row_of("alpha_site"), -1);
	EXPECT_TRUE(wait_gone("beta_site")) << screen();
	keys({ "/", "Escape" });
	EXPECT_TRUE(wait_for("beta_site")) << screen();
}

TEST_F(Screen, ThreadsViewListsNamedThreads)
{
	start_target();
	// The header's system figures: the program's three threads (main,
	// alpha, beta), not counting memscope's own.
	EXPECT_TRUE(wait_for("Threads 3")) << screen();
	keys({ "t" });
	ASSERT_TRUE(wait_for("ALLOC/s"));
	EXPECT_NE(row_of("worker-alpha"), -1) << screen();
	EXPECT_NE(row_of("worker-beta"), -1) << screen();
	// Sorted by live bytes: alpha holds 2.5 MiB.
	EXPECT_LT(row_of("worker-alpha"), row_of("worker-beta"));
	keys({ "Tab" });
	EXPECT_TRUE(wait_for("CALL SITE"));
}

TEST_F(Screen, HelpListsTheKeys)
{
	start_target();
	keys({ "F1" });
	ASSERT_TRUE(wait_for("Press any key to return."));
	std::string s = screen();
	for (const char *k : { "Tab", "F1 h ?", "Enter", "F6 >  <", "F5 g", "F4 / \\", "Space p",
			       "q F10", "I " })
		EXPECT_NE(s.find(k), std::string::npos) << k;
	keys({ "x" });
	EXPECT_TRUE(wait_for("CALL SITE"));
}

TEST_F(Screen, EnterOpensTheStackAndGroupsChange)
{
	start_target();
	keys({ "/", "a", "l", "p", "h", "a", "_", "s", "Enter" });
	ASSERT_TRUE(wait_gone("beta_site"));
	keys({ "Enter" });
	ASSERT_TRUE(wait_for("> alpha_site")) << screen();
	EXPECT_NE(screen().find("start_thread"), std::string::npos);
	keys({ "Enter" });
	EXPECT_TRUE(wait_gone("> alpha_site"));
	keys({ "/", "Escape", "g" });
	EXPECT_TRUE(wait_for("group: function"));
	keys({ "g" });
	EXPECT_TRUE(wait_for("group: module"));
	keys({ "g" });
	ASSERT_TRUE(wait_for("group: thread"));
	EXPECT_TRUE(wait_for("worker-alpha"));
}

TEST_F(Screen, ResizingKeepsTheLayout)
{
	start_target(80, 24);
	std::vector<std::string> ls = lines();
	ASSERT_EQ(ls.size(), 24u);
	EXPECT_EQ(ls[0].rfind("memscope-top", 0), 0u);
	EXPECT_NE(ls.back().find("F10Quit"), std::string::npos);
	for (auto [w, h] : { std::pair<int, int>{ 160, 50 }, { 80, 24 }, { 60, 15 } }) {
		tmux({ "resize-window", "-x", std::to_string(w), "-y", std::to_string(h) });
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		ls = lines();
		ASSERT_EQ(ls.size(), (size_t)h) << w << "x" << h;
		EXPECT_EQ(ls[0].rfind("memscope-top", 0), 0u) << w << "x" << h;
		EXPECT_NE(ls.back().find("F1Help"), std::string::npos) << w << "x" << h;
		EXPECT_NE(row_of("LIVE_BYTES"), -1) << w << "x" << h << "\n" << screen();
		if (h >= 20) {
			EXPECT_NE(screen().find("^peak"), std::string::npos) << w << "x" << h;
		}
	}
}

// At 80 columns the call site keeps 40 characters: the least useful
// columns make way, never the one the table is sorted by.
TEST_F(Screen, At80ColumnsTheCallSiteKeepsFortyCharacters)
{
	start_target(80, 24);
	int head = row_of("CALL SITE");
	ASSERT_GT(head, 0) << screen();
	std::string h = lines()[head];
	EXPECT_LE(h.find("CALL SITE"), 80u - 40u) << h;
	EXPECT_EQ(h.find("MED_LIFE"), std::string::npos) << h;
	EXPECT_EQ(h.find("%LIVE"), std::string::npos) << h;
	EXPECT_NE(h.find("LIVE_BYTES"), std::string::npos) << h;
	EXPECT_NE(screen().find("tui_target.c:"), std::string::npos) << screen(); // file:line fits
	// Sorted by %LIVE (two columns back from LIVE_BYTES), %LIVE is shown.
	keys({ "<" });
	keys({ "<" });
	ASSERT_TRUE(wait_for("sort: %LIVE")) << screen();
	std::this_thread::sleep_for(std::chrono::milliseconds(500));
	h = lines()[row_of("CALL SITE")];
	EXPECT_NE(h.find("%LIVE"), std::string::npos) << h;
	EXPECT_LE(h.find("CALL SITE"), 80u - 40u) << h;
	// At 200x60 every column is back, and a site reads in full.
	tmux({ "resize-window", "-x", "200", "-y", "60" });
	std::this_thread::sleep_for(std::chrono::milliseconds(700));
	h = lines()[row_of("CALL SITE")];
	for (const char *col : { "LIVE_BYTES", "ALLOCS", "TEMP", "TOTAL_BYTES", "PEAK", "MED_LIFE", "%LIVE" })
		EXPECT_NE(h.find(col), std::string::npos) << col << " in " << h;
	EXPECT_TRUE(std::regex_search(screen(), std::regex(R"(alpha_site  tests/workloads/tui_target\.c:\d+)")))
		<< screen();
}

// At 80 columns the header's figures wrap to a line of their own instead
// of being cut: the last one, Dropped, is there.
TEST_F(Screen, At80ColumnsTheHeaderWrapsInsteadOfCutting)
{
	start_target(80, 24);
	ASSERT_TRUE(wait_for("Dropped 0")) << screen();
	EXPECT_NE(screen().find("Threads "), std::string::npos) << screen();
	for (const std::string &l : lines())
		EXPECT_LE(l.size(), 80u * 3) << l; // (multi-byte blocks) no line runs over
}

// At 80 columns the tab line and every table fit: the sort is named in
// full, threads keep their names (last, as htop's command), the annotated
// view its names column.
TEST_F(Screen, At80ColumnsTheTabLineAndEveryTableFit)
{
	start_target(80, 24);
	int tabs = row_of(" Call sites ");
	ASSERT_NE(tabs, -1) << screen();
	EXPECT_NE(lines()[tabs].find("LIVE_BYTES desc"), std::string::npos) << lines()[tabs];
	keys({ "t" });
	ASSERT_TRUE(wait_for("worker-alpha")) << screen();
	std::string head = lines()[row_of(" TID ")];
	EXPECT_NE(head.find("NAME"), std::string::npos) << head;
	EXPECT_NE(head.find("LIVE_BYTES"), std::string::npos) << head;
	EXPECT_NE(lines()[tabs].find("sort: LIVE_BYTES (desc)"), std::string::npos) << screen();
	keys({ "a" });
	ASSERT_TRUE(wait_for("LIFE_MED")) << screen();
	head = lines()[row_of("LIFE_MED")];
	EXPECT_NE(head.find("  var"), std::string::npos) << head;
	EXPECT_LE(head.find("var"), 80u - 24u) << head; // room for a 24-character name
}

// Temporaries on the screen: the header's total and a call site's TEMP
// cell (tests/workloads/temporaries.c: temp_loop, 1000 of 1000 calls).
TEST_F(Screen, TemporariesShowInTheHeaderAndTheirColumn)
{
	start({ "--", mstest::workload("temporaries") }, 120, 40);
	ASSERT_TRUE(wait_for("exited after")) << screen();
	ASSERT_TRUE(wait_for("temp_loop")) << screen();
	EXPECT_NE(screen().find("Temporary 2.2k"), std::string::npos) << screen();
	std::string head = lines()[row_of("CALL SITE")];
	std::string row = lines()[row_of("temp_loop")];
	size_t temp_end = head.find("TEMP") + 4;
	ASSERT_NE(head.find("TEMP"), std::string::npos) << head;
	// The cell is right-aligned under its title: the row has 1000 there.
	EXPECT_EQ(row.substr(temp_end - 4, 4), "1000") << head << "\n" << row;
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
}

// Mapped memory on the screen (tests/workloads/mmaps.c): its figure in the
// header, its series in the graph, its call site marked, and m filtering
// the table to mappings or heap.
TEST_F(Screen, MappedMemoryHasItsMeterSeriesAndFilter)
{
	start({ "--", mstest::workload("mmaps") }, 120, 40);
	ASSERT_TRUE(wait_for("exited after")) << screen();
	ASSERT_TRUE(wait_for("map_ten [mmap]")) << screen();
	EXPECT_NE(screen().find("Mapped 6.5 MiB (peak 10.0 MiB)"), std::string::npos) << screen();
	EXPECT_NE(row_of("mmap  "), -1) << screen(); // the graph's margin names the series
	EXPECT_NE(row_of("big_malloc"), -1) << screen();
	keys({ "m" }); // heap only
	ASSERT_TRUE(wait_for("heap only")) << screen();
	EXPECT_TRUE(wait_gone("map_ten")) << screen();
	EXPECT_NE(row_of("big_malloc"), -1) << screen();
	keys({ "m" }); // mmap only
	ASSERT_TRUE(wait_for("mmap only")) << screen();
	EXPECT_TRUE(wait_gone("big_malloc")) << screen();
	EXPECT_NE(row_of("map_ten [mmap]"), -1) << screen();
	keys({ "m" }); // all again
	ASSERT_TRUE(wait_for("big_malloc")) << screen();
	EXPECT_NE(row_of("map_ten"), -1) << screen();
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
}

// F2 chooses the call-site table's columns, and the next start remembers.
TEST_F(Screen, F2HidesAColumnAndTheChoiceIsRemembered)
{
	start_target();
	ASSERT_NE(lines()[row_of("CALL SITE")].find("PEAK"), std::string::npos) << screen();
	keys({ "F2" });
	ASSERT_TRUE(wait_for("Columns of Call sites")) << screen();
	EXPECT_NE(screen().find("[x] PEAK"), std::string::npos) << screen();
	for (int i = 0; i < 5; i++) // LIVE_BYTES, LIVE, ALLOCS, TEMP, TOTAL_BYTES, then PEAK
		keys({ "Down" });
	keys({ "Space" });
	ASSERT_TRUE(wait_for("[ ] PEAK")) << screen();
	keys({ "Enter" });
	ASSERT_TRUE(wait_for("CALL SITE")) << screen();
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	std::string head = lines()[row_of("CALL SITE")];
	EXPECT_EQ(head.find("PEAK"), std::string::npos) << head;
	EXPECT_NE(head.find("TOTAL_BYTES"), std::string::npos) << head;
	mstest::Result rc = mstest::run({ "cat", dir + "/config/memscope/memscope-toprc" });
	EXPECT_NE(rc.out.find("hide.sites=PEAK\n"), std::string::npos) << rc.out;

	keys({ "q" });
	ASSERT_TRUE(wait_exit());
	kill(target, SIGKILL);
	start_target();
	head = lines()[row_of("CALL SITE")];
	EXPECT_EQ(head.find("PEAK"), std::string::npos) << head;
	EXPECT_NE(head.find("LIVE_BYTES"), std::string::npos) << head;
}

TEST_F(Screen, QuitLeavesALaunchedProgramRunning)
{
	start_target();
	ASSERT_GT(target, 0);
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
	EXPECT_EQ(kill(target, 0), 0); // still there
}

TEST_F(Screen, ExitOfTheTargetIsShownAndTheLastStateKept)
{
	start({ "-d", "0.2", "--", mstest::workload("tui_target"), "1.5" });
	ASSERT_TRUE(wait_for("exited after")) << screen();
	EXPECT_TRUE(wait_for("status 0", 2)) << screen(); // once reaped, a moment later
	EXPECT_NE(row_of("alpha_site"), -1) << screen();
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
}

TEST_F(Screen, LeakViewShowsOnlyOldBlocks)
{
	start_target();
	keys({ "l" });
	ASSERT_TRUE(wait_for("OLD_BYTES"));
	// alpha keeps its blocks from the start; beta's churn never gets old.
	ASSERT_TRUE(wait_for("alpha_site", 5)) << screen();
	EXPECT_TRUE(wait_for("older than 1s"));
	EXPECT_EQ(row_of("beta_site"), -1) << screen();
	keys({ "+" });
	EXPECT_TRUE(wait_for("older than 10s"));
	keys({ "-" });
	EXPECT_TRUE(wait_for("older than 1s"));
}

// The annotated view: memscope.h's names, grouped by variable, then by
// type and scope (g), and a group opened on its blocks (Enter).
TEST_F(Screen, AnnotatedViewGroupsAndOpensBlocks)
{
	start({ "-d", "0.2", "--", mstest::workload("annotated") });
	ASSERT_TRUE(wait_for("exited after")) << screen();
	keys({ "a" });
	ASSERT_TRUE(wait_for("group: var")) << screen();
	int buf = row_of("  buf"), line = row_of("  line"), cfg = row_of("  cfg");
	ASSERT_NE(buf, -1) << screen();
	ASSERT_NE(line, -1) << screen();
	ASSERT_NE(cfg, -1) << screen();
	EXPECT_LT(buf, line); // most live bytes first
	EXPECT_LT(line, cfg);
	std::vector<std::string> ls = lines();
	// cfg: 64 B in one block, none ended, borrowed 3 times, 1 still lent.
	EXPECT_NE(ls[cfg].find("64 B      1      0       3     1        -"), std::string::npos)
		<< ls[cfg];
	// line: 500 B in 5 blocks, 5 ended.
	EXPECT_NE(ls[line].find("500 B      5      5"), std::string::npos) << ls[line];
	// Open line: its ten blocks, five live and five freed.
	keys({ "Down", "Enter" });
	ASSERT_TRUE(wait_for("freed borrowed 0")) << screen();
	int live = 0, freed = 0;
	for (const std::string &l : lines()) {
		live += l.find("100 B  live ") != std::string::npos;
		freed += l.find("100 B  freed") != std::string::npos;
	}
	EXPECT_EQ(live, 5) << screen();
	EXPECT_EQ(freed, 5) << screen();
	keys({ "g" });
	ASSERT_TRUE(wait_for("group: type")) << screen();
	EXPECT_NE(row_of("  struct config"), -1) << screen();
	EXPECT_NE(row_of("  char[100]"), -1) << screen();
	keys({ "g" });
	ASSERT_TRUE(wait_for("group: scope")) << screen();
	EXPECT_NE(row_of("  main"), -1) << screen();
	EXPECT_NE(row_of("  load"), -1) << screen();
}

TEST_F(Screen, ReplayMovesThroughARecording)
{
	std::string file = dir + "/run.rec";
	mstest::Result rec = mstest::run({ mstest::top_path(), "-b", "-d", "0.1", "-w", file, "--",
					   mstest::workload("tui_target"), "2" });
	ASSERT_EQ(rec.status, 0) << rec.err;
	start({ "-r", file });
	ASSERT_TRUE(wait_for("PAUSE")) << screen();
	EXPECT_TRUE(wait_for("frame 1/")) << screen();
	EXPECT_NE(screen().find("memscope-top tui_target"), std::string::npos);
	// The program's time, as batch frames print it: "PAUSE   0.101s  x1".
	auto cursor = [&] {
		std::vector<std::string> ls = lines();
		std::string bar = ls.size() >= 2 ? ls[ls.size() - 2] : "";
		return bar.substr(0, bar.find("s  x") + 1);
	};
	std::string first = cursor();
	EXPECT_LT(std::stod(first.substr(5)), 0.3) << first;
	// Go to a second of the program, by typing it: the last frame at or
	// before it.
	keys({ ":", "1", "Enter" });
	EXPECT_TRUE(wait_gone(first)) << screen();
	std::string at = cursor();
	double t = std::stod(at.substr(5));
	EXPECT_GT(t, 0.7) << at;
	EXPECT_LE(t, 1.0) << at;
	// The same frame as memscope-report names for that time.
	mstest::Result report = mstest::run({ mstest::report_path(), file, "--json", "--at",
					      std::to_string(t) });
	ASSERT_EQ(report.status, 0) << report.err;
	EXPECT_NEAR(mstest::last_json_line(report.out)["time_s"].num(), t, 0.0005);
	EXPECT_NE(row_of("alpha_site"), -1) << screen();
	// The threads as the screen showed them then: a state from /proc and
	// beta's allocation rate, not blanks (TID S CPU% ALLOC/s ... NAME).
	keys({ "t" });
	ASSERT_TRUE(wait_for("worker-beta")) << screen();
	std::string beta = lines()[row_of("worker-beta")];
	EXPECT_TRUE(std::regex_search(beta, std::regex(R"(^\s*\d+\s+[RSD]\s+\d+\.\d\s+[1-9]\d*\s.*worker-beta)")))
		<< beta;
	// One frame on, one back.
	keys({ "n" });
	EXPECT_TRUE(wait_gone(at)) << screen();
	keys({ "N" });
	EXPECT_TRUE(wait_for(at)) << screen();
	// Faster, and play to the end.
	keys({ ")", ")" });
	EXPECT_TRUE(wait_for("x4")) << screen();
	keys({ "Space" });
	EXPECT_TRUE(wait_for("PLAY"));
	ASSERT_TRUE(wait_for("PAUSE", 5)) << screen(); // stops at the last frame
	std::vector<std::string> ls = lines();
	std::string bar = ls[ls.size() - 2];
	EXPECT_EQ(bar.find("-"), std::string::npos) << bar; // the bar is full
	// The other views replay too.
	keys({ "t" });
	EXPECT_TRUE(wait_for("worker-alpha")) << screen();
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
}

TEST_F(Screen, RecordsWhileWatching)
{
	std::string file = dir + "/screen.rec";
	start({ "-d", "0.2", "-w", file, "--", mstest::workload("tui_target"), "1.5" });
	ASSERT_TRUE(wait_for("exited after")) << screen();
	keys({ "q" });
	ASSERT_TRUE(wait_exit());
	mstest::Result rep = mstest::run({ mstest::report_path(), file });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_EQ(rep.err, ""); // closed properly, not cut short
	EXPECT_NE(rep.out.find("alpha_site"), std::string::npos) << rep.out;
}

TEST_F(Screen, AttachDetachAndAttachAgain)
{
	mstest::Child holder = mstest::start({ mstest::workload("holder"), "100", "1000" },
					     { "LD_PRELOAD=" + mstest::hook_path() });
	ASSERT_EQ(holder.read_line(), "ready");
	for (int round = 0; round < 2; round++) {
		start({ "-d", "0.2", "-p", std::to_string(holder.pid) });
		ASSERT_TRUE(wait_for("pid " + std::to_string(holder.pid))) << screen();
		keys({ "t" });
		ASSERT_TRUE(wait_for("holding")) << screen();
		keys({ "q" });
		ASSERT_TRUE(wait_exit()) << "round " << round;
		EXPECT_EQ(kill(holder.pid, 0), 0); // detaching left it alone
	}
	holder.write_line("go");
	EXPECT_EQ(holder.read_line(), "done");
	EXPECT_EQ(holder.wait(), 0);
}

TEST_F(Screen, PauseFreezesTheScreen)
{
	start_target();
	keys({ "Space" });
	ASSERT_TRUE(wait_for("PAUSED"));
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	std::string a = screen();
	std::this_thread::sleep_for(std::chrono::milliseconds(800));
	EXPECT_EQ(screen(), a);
	keys({ "p" });
	EXPECT_TRUE(wait_gone("PAUSED"));
}

TEST_F(Screen, AsciiWithoutUnicodeLocale)
{
	std::string cmd = "env LANG=C LC_ALL=C MEMSCOPE_DIR=" + dir + " " + mstest::top_path() +
			  " -d 0.2 -- " + mstest::workload("tui_target");
	mstest::Result r = tmux({ "new-session", "-d", "-x", "100", "-y", "30", cmd });
	ASSERT_EQ(r.status, 0) << r.err;
	ASSERT_TRUE(wait_for("alpha_site"));
	target = target_pid();
	std::string s = screen();
	EXPECT_EQ(s.find("█"), std::string::npos);
	EXPECT_NE(s.find("#"), std::string::npos) << s;
}

TEST_F(Screen, TheTitleShowsANewlineAsBackslashN)
{
	start({ "-d", "0.2", "--", "/bin/sh", "-c", "sleep 30\ntrue" });
	ASSERT_TRUE(wait_for("sh -c sleep 30\\ntrue")) << screen();
	target = target_pid();
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
}

TEST_F(Screen, AnExitTheHookDidNotSeeIsShownAsAnExit)
{
	// The bare exit_group system call: only the reaped status tells.
	start({ "-d", "0.2", "--", mstest::workload("exits"), "syscall" });
	ASSERT_TRUE(wait_for("exited after")) << screen();
	EXPECT_NE(screen().find("status 7"), std::string::npos) << screen();
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
}

TEST_F(Screen, ListCutsLongCommandLinesToTheTerminal)
{
	const std::string arg(3000, 'x');
	mstest::Child c = mstest::start({ mstest::workload("exits"), "wait", arg },
					{ "LD_PRELOAD=" + mstest::hook_path() });
	ASSERT_EQ(c.read_line(), "ready");
	// Into a pipe, for scripts: whole (as far as the session keeps it).
	mstest::Result piped = mstest::run({ mstest::top_path(), "-l" });
	EXPECT_NE(piped.out.find("exits wait " + std::string(1500, 'x')), std::string::npos);

	std::string cmd = "env LANG=C.UTF-8 MEMSCOPE_DIR=" + dir + " " + mstest::top_path() +
			  " -l; sleep 60";
	ASSERT_EQ(tmux({ "new-session", "-d", "-x", "70", "-y", "20", cmd }).status, 0);
	ASSERT_TRUE(wait_for(" running ")) << screen();
	// -J joins the lines the terminal wrapped: none may be wider than it.
	std::istringstream joined(tmux({ "capture-pane", "-p", "-J" }).out);
	std::string line, row;
	while (std::getline(joined, line)) {
		EXPECT_LE(line.size(), 70u) << line;
		if (line.find(" running ") != std::string::npos)
			row = line;
	}
	EXPECT_EQ(row.size(), 70u) << row; // cut, not dropped
	EXPECT_EQ(row.find(std::to_string(c.pid)), 8 - std::to_string(c.pid).size()) << row;
	kill(c.pid, SIGKILL);
	c.wait();
}

TEST_F(Screen, TheHeaderSaysWhenPymallocHidesTheHeap)
{
	const char *script = "import time\ntime.sleep(30)\n";
	start({ "-d", "0.2", "--", "/usr/bin/python3", "-c", script }, 140);
	ASSERT_TRUE(wait_for("Python: pymalloc keeps most of this heap out of sight; run it with "
			     "PYTHONMALLOC=malloc")) << screen();
	EXPECT_LT(row_of("pymalloc"), row_of("LIVE_BYTES")); // in the header
	target = target_pid();
	keys({ "q" });
	ASSERT_TRUE(wait_exit());
	kill(target, SIGKILL);

	start({ "-d", "0.2", "--python-malloc", "--", "/usr/bin/python3", "-c", script }, 140);
	ASSERT_TRUE(wait_for("python3")) << screen();
	target = target_pid();
	std::this_thread::sleep_for(std::chrono::milliseconds(500));
	EXPECT_EQ(screen().find("pymalloc"), std::string::npos) << screen();
	keys({ "q" });
	EXPECT_TRUE(wait_exit());
}

} // namespace
