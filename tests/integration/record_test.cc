// memscope-top -b -w records what it watches; memscope-report reads it back
// the same, without the program, and copes with a recorder killed mid-way.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;


const Json *site(const Json &f, const std::string &function)
{
	for (const Json &c : f["callsites"].items)
		if (c["function"].str() == function)
			return &c;
	return nullptr;
}

TEST(Record, ReportShowsWhatTheBatchFramesShowed)
{
	std::string dir = mstest::fresh_session_dir("record");
	std::string file = dir + "/sites.rec";
	mstest::Result live = mstest::run({ mstest::top_path(), "-b", "--json", "--sites", "0",
					    "-w", file, "--", mstest::workload("sites") });
	ASSERT_EQ(live.status, 0) << live.err;
	Json want = mstest::last_json_line(live.out);

	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--json", "--top", "0" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_EQ(rep.err, "");
	Json got = Json::parse(rep.out.substr(0, rep.out.find('\n')));
	for (const char *k : { "pid", "live_bytes", "live_allocs", "peak_bytes", "total_allocs",
			       "total_frees", "total_bytes", "exit_status" })
		EXPECT_EQ(got[k].i64(), want[k].i64()) << k;
	EXPECT_EQ(got["command"].str(), want["command"].str());
	EXPECT_EQ(got["exited"].boolean, true);
	EXPECT_EQ(got["callsites"].size(), want["callsites"].size());
	for (const char *fn : { "small_blocks", "big_blocks" }) {
		const Json *a = site(got, fn), *b = site(want, fn);
		ASSERT_NE(a, nullptr) << fn;
		ASSERT_NE(b, nullptr) << fn;
		for (const char *k : { "live_bytes", "live_allocs", "total_allocs", "total_frees",
				       "total_bytes", "peak_bytes", "line" })
			EXPECT_EQ((*a)[k].i64(), (*b)[k].i64()) << fn << " " << k;
		EXPECT_EQ((*a)["file"].str(), (*b)["file"].str());
		EXPECT_EQ((*a)["stack"].size(), (*b)["stack"].size());
	}

	// The summary and the other views.
	rep = mstest::run({ mstest::report_path(), file });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_NE(rep.out.find("Peak: "), std::string::npos) << rep.out;
	EXPECT_NE(rep.out.find("small_blocks (tests/workloads/sites.c:"), std::string::npos);
	rep = mstest::run({ mstest::report_path(), file, "--leaks" });
	EXPECT_NE(rep.out.find("big_blocks"), std::string::npos) << rep.out;
	rep = mstest::run({ mstest::report_path(), file, "--folded" });
	ASSERT_EQ(rep.status, 0);
	EXPECT_NE(rep.out.find(";main;small_blocks 2400\n"), std::string::npos) << rep.out;
}

TEST(Record, KilledRecorderLeavesAReadableFile)
{
	std::string dir = mstest::fresh_session_dir("record-kill");
	std::string file = dir + "/killed.rec";
	mstest::Child top = mstest::start({ mstest::top_path(), "-b", "--json", "-d", "0.1", "-w",
					    file, "--", mstest::workload("tui_target"), "30" });
	top.read_line(10);
	std::this_thread::sleep_for(std::chrono::milliseconds(800));
	kill(top.pid, SIGKILL);
	top.wait();
	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--json" });
	EXPECT_EQ(rep.status, 0) << rep.err;
	EXPECT_NE(rep.err.find("cut short"), std::string::npos) << rep.err;
	Json f = Json::parse(rep.out.substr(0, rep.out.find('\n')));
	EXPECT_EQ(f["state"].str(), "running");
	EXPECT_NE(site(f, "alpha_site"), nullptr);
	// The target outlived its launcher: end it.
	kill(f["pid"].i64(), SIGKILL);
}

TEST(Record, BadFilesGiveOneLineAndStatusOne)
{
	std::string dir = mstest::fresh_session_dir("record-bad");
	mstest::Result rep = mstest::run({ mstest::report_path(), dir + "/absent.rec" });
	EXPECT_EQ(rep.status, 1);
	EXPECT_EQ(rep.err.rfind("memscope-report: ", 0), 0u);
	EXPECT_EQ(std::count(rep.err.begin(), rep.err.end(), '\n'), 1);
	rep = mstest::run({ mstest::report_path(), mstest::workload("sites") }); // an ELF file
	EXPECT_EQ(rep.status, 1);
	EXPECT_NE(rep.err.find("not a memscope recording"), std::string::npos) << rep.err;
	rep = mstest::run({ mstest::report_path() });
	EXPECT_EQ(rep.status, 2);
}

} // namespace
