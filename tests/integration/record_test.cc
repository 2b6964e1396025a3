// memscope-top -b -w records what it watches; memscope-report reads it back
// the same, without the program, and copes with a recorder killed mid-way.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/frames.h"
#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;
using mstest::callsite;


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
		const Json *a = callsite(got, fn), *b = callsite(want, fn);
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

// Frames print their times to the millisecond and the file keeps them to
// the microsecond: the same time may print a millisecond apart.
const double kPrintedTime = 0.0010001;

// The frames of `memscope-top -b --json -d 0.2 -w file -- argv`.
std::vector<Json> record_frames(const std::string &file, const std::vector<std::string> &argv)
{
	std::vector<std::string> cmd = { mstest::top_path(), "-b", "--json", "-d", "0.2",
					 "--sites", "0", "-w", file, "--" };
	cmd.insert(cmd.end(), argv.begin(), argv.end());
	mstest::Result live = mstest::run(cmd);
	EXPECT_EQ(live.status, 0) << live.err;
	return mstest::json_lines(live.out);
}

// The first frame with the most live bytes among frames[from, to).
size_t busiest(const std::vector<Json> &frames, size_t from, size_t to)
{
	size_t best = from;
	for (size_t k = from; k < to; k++)
		if (frames[k]["live_bytes"].u64() > frames[best]["live_bytes"].u64())
			best = k;
	return best;
}

// The frame `memscope-report file --json --at at` gives.
Json report_at(const std::string &file, const std::string &at)
{
	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--json", "--top", "0",
					   "--at", at });
	EXPECT_EQ(rep.status, 0) << rep.err;
	EXPECT_EQ(rep.err, "");
	return Json::parse(rep.out.substr(0, rep.out.find('\n')));
}

void expect_same_frame(const Json &got, const Json &want, const std::string &at)
{
	EXPECT_EQ(got["generation"].i64(), want["generation"].i64()) << "--at " << at;
	EXPECT_NEAR(got["time_s"].num(), want["time_s"].num(), kPrintedTime) << "--at " << at;
	EXPECT_NEAR(got["peak_time_s"].num(), want["peak_time_s"].num(), kPrintedTime) << at;
	for (const char *k : { "live_bytes", "live_allocs", "peak_bytes", "total_allocs",
			       "total_frees", "total_bytes" })
		EXPECT_EQ(got[k].u64(), want[k].u64()) << k << " --at " << at;
	EXPECT_EQ(got["callsites"].size(), want["callsites"].size()) << "--at " << at;
}

double seconds_in(const std::string &text, const std::string &pattern)
{
	std::smatch m;
	if (!std::regex_search(text, m, std::regex(pattern))) {
		ADD_FAILURE() << "no \"" << pattern << "\" in:\n" << text;
		return -1;
	}
	return std::stod(m[1]);
}

// One time base, the program's: the report's times and --at are the
// time_s and peak_time_s of the frames memscope-top printed.
TEST(Record, ReportTimesAreTheFramesTimes)
{
	std::string dir = mstest::fresh_session_dir("record-times");
	std::string file = dir + "/phases.rec";
	std::vector<Json> frames = record_frames(file, { mstest::workload("phases") });
	ASSERT_GE(frames.size(), 5u);
	const Json &last = frames.back();
	size_t top = busiest(frames, 0, frames.size());
	// phases holds its peak for 0.6 s, over frames 0.2 s apart.
	ASSERT_EQ(frames[top]["live_bytes"].u64(), 1010000u);
	ASSERT_EQ(last["peak_bytes"].u64(), 1010000u);
	// The first frame is not at 0: a time counted from it would show.
	ASSERT_GT(frames[0]["time_s"].num(), 0.1);

	mstest::Result rep = mstest::run({ mstest::report_path(), file });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_EQ(seconds_in(rep.out, " ([0-9]+) frames, "), (double)frames.size());
	EXPECT_NEAR(seconds_in(rep.out, " frames, ([0-9.]+)s to "), frames[0]["time_s"].num(),
		    kPrintedTime);
	EXPECT_NEAR(seconds_in(rep.out, "s to ([0-9.]+)s of the program\n"),
		    last["time_s"].num(), kPrintedTime);
	EXPECT_NEAR(seconds_in(rep.out, "\nPeak: 986.3 KiB at ([0-9.]+)s\n"),
		    last["peak_time_s"].num(), kPrintedTime);
	EXPECT_NEAR(seconds_in(rep.out, "at the peak \\(the frame with the most live bytes, "
					"at ([0-9.]+)s\\)"),
		    frames[top]["time_s"].num(), kPrintedTime);

	// --at each frame's time_s, as printed: that frame; halfway to the
	// next one: still that frame; before the first: the first.
	for (size_t k = 0; k < frames.size(); k++) {
		const Json &want = frames[k];
		expect_same_frame(report_at(file, want["time_s"].text), want, want["time_s"].text);
		if (k + 1 < frames.size()) {
			char half[32];
			snprintf(half, sizeof(half), "%.3f",
				 (want["time_s"].num() + frames[k + 1]["time_s"].num()) / 2);
			if (std::stod(half) > want["time_s"].num() + kPrintedTime)
				expect_same_frame(report_at(file, half), want, half);
		}
	}
	expect_same_frame(report_at(file, "0"), frames[0], "0");

	// The summary at a frame says when it is.
	std::string at = frames[top]["time_s"].text;
	rep = mstest::run({ mstest::report_path(), file, "--at", at });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_NEAR(seconds_in(rep.out, "\nAt ([0-9.]+)s: 986.3 KiB live in 110 blocks"),
		    frames[top]["time_s"].num(), kPrintedTime);
	EXPECT_NEAR(seconds_in(rep.out, "\nLeaks at ([0-9.]+)s \\(call sites"),
		    frames[top]["time_s"].num(), kPrintedTime);
}

// A recording that followed an exec holds one image per generation, each
// timed from its own start: --at S names a frame of the last one, --at G:S
// of generation G's.
TEST(Record, AtNamesAFrameOfOneImage)
{
	std::string dir = mstest::fresh_session_dir("record-exec");
	std::string file = dir + "/exec.rec";
	std::vector<Json> frames = record_frames(
		file, { "/bin/sh", "-c", "sleep 0.5; exec " + mstest::workload("phases") });
	size_t second = 0;
	while (second < frames.size() && frames[second]["generation"].i64() == 0)
		second++;
	ASSERT_GT(second, 0u) << "no frame of the shell";
	ASSERT_LT(second + 4, frames.size()) << "too few frames of phases";
	for (size_t k = second; k < frames.size(); k++)
		ASSERT_EQ(frames[k]["generation"].i64(), 1);

	for (size_t k = 0; k < frames.size(); k++) {
		const std::string &t = frames[k]["time_s"].text;
		std::string gen = std::to_string(frames[k]["generation"].i64());
		expect_same_frame(report_at(file, gen + ":" + t), frames[k], gen + ":" + t);
		// Without a generation: the last image's frame at that time.
		size_t want = second;
		for (size_t j = second; j < frames.size(); j++)
			if (frames[j]["time_s"].num() <= frames[k]["time_s"].num())
				want = j;
		expect_same_frame(report_at(file, t), frames[want], t);
	}
	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--at", "7:1" });
	EXPECT_EQ(rep.status, 1);
	EXPECT_EQ(rep.err, "memscope-report: " + file + ": no program image of generation 7 in it\n");

	size_t top = busiest(frames, second, frames.size());
	rep = mstest::run({ mstest::report_path(), file });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_NE(rep.out.find(std::to_string(frames.size()) + " frames of 2 program images"),
		  std::string::npos) << rep.out;
	EXPECT_NEAR(seconds_in(rep.out, "\nPeak: 986.3 KiB at ([0-9.]+)s of generation 1\n"),
		    frames.back()["peak_time_s"].num(), kPrintedTime);
	EXPECT_NEAR(seconds_in(rep.out, "at the peak \\(the frame with the most live bytes, "
					"at ([0-9.]+)s of generation 1\\)"),
		    frames[top]["time_s"].num(), kPrintedTime);
}

// "stack bytes" lines: their count and the sum of their bytes.
std::pair<size_t, uint64_t> folded_sum(const std::string &out)
{
	std::istringstream in(out);
	std::string line;
	size_t lines = 0;
	uint64_t sum = 0;
	while (std::getline(in, line)) {
		size_t sp = line.rfind(' ');
		EXPECT_NE(sp, std::string::npos) << line;
		if (sp == std::string::npos)
			continue;
		sum += std::stoull(line.substr(sp + 1));
		lines++;
	}
	return { lines, sum };
}

// --folded holds every live byte of its frame, in every stack: a flame
// graph of some of them would misstate every share.
TEST(Record, FoldedSumsToTheLiveBytes)
{
	std::string dir = mstest::fresh_session_dir("record-folded");
	std::string file = dir + "/phases.rec";
	std::vector<Json> frames = record_frames(file, { mstest::workload("phases") });
	ASSERT_GE(frames.size(), 2u);
	// phases ends with 11,200 B live from 13 stacks.
	ASSERT_EQ(frames.back()["live_bytes"].u64(), 11200u);
	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--folded" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	auto got = folded_sum(rep.out);
	EXPECT_EQ(got.first, 13u) << rep.out;
	EXPECT_EQ(got.second, 11200u) << rep.out;
	// At every frame, the bytes of that frame.
	for (const Json &f : frames) {
		rep = mstest::run({ mstest::report_path(), file, "--folded", "--at",
				    f["time_s"].text });
		ASSERT_EQ(rep.status, 0) << rep.err;
		EXPECT_EQ(folded_sum(rep.out).second, f["live_bytes"].u64()) << f["time_s"].text;
	}
	// --top still limits it when asked: the largest stacks.
	rep = mstest::run({ mstest::report_path(), file, "--folded", "--top", "3" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	got = folded_sum(rep.out);
	EXPECT_EQ(got.first, 3u) << rep.out;
	EXPECT_EQ(got.second, 10000u + 2 * 100u) << rep.out;
}

TEST(Record, KilledRecorderLeavesAReadableFile)
{
	std::string dir = mstest::fresh_session_dir("record-kill");
	std::string file = dir + "/killed.rec";
	mstest::Child top = mstest::start({ mstest::top_path(), "-b", "--json", "-d", "0.1", "-w",
					    file, "--", mstest::workload("tui_target"), "30" });
	// Killed once a frame names alpha_site (the recorder writes each frame
	// before it prints it), and a few frames later. The names come from
	// the symbol thread after it has read libc's debug info: a few tenths
	// of a second, more on a busy machine, so a fixed wait can end first.
	while (top.read_line(10).find("\"function\":\"alpha_site\"") == std::string::npos)
		;
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	kill(top.pid, SIGKILL);
	top.wait();
	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--json" });
	EXPECT_EQ(rep.status, 0) << rep.err;
	EXPECT_NE(rep.err.find("cut short"), std::string::npos) << rep.err;
	Json f = Json::parse(rep.out.substr(0, rep.out.find('\n')));
	EXPECT_EQ(f["state"].str(), "running");
	EXPECT_NE(callsite(f, "alpha_site"), nullptr);
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
