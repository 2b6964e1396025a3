// memscope-top -w FILE --events records every allocation and free: the
// stream is complete (no number missing), pairs up exactly, and agrees with
// the frames recorded beside it; memscope-report --events analyses it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <memscope/recording.h>

#include "tests/support/run.h"

namespace {


struct Recorded {
	std::vector<ms_rec_event> events;
	ms_replay last{};
	ms_recording *rec = nullptr;

	~Recorded()
	{
		if (rec != nullptr) {
			ms_replay_release(&last);
			ms_recording_close(rec);
		}
	}
};

// Records argv with --events; loads the stream and the last frame.
void record(const std::string &file, const std::vector<std::string> &argv, Recorded *out)
{
	std::vector<std::string> cmd = { mstest::top_path(), "-b", "-d", "0.05", "-w", file,
					 "--events", "--" };
	cmd.insert(cmd.end(), argv.begin(), argv.end());
	mstest::Result r = mstest::run(cmd);
	ASSERT_EQ(r.status, 0) << r.err;
	ASSERT_EQ(ms_recording_open(file.c_str(), &out->rec), 0);
	EXPECT_EQ(ms_recording_problem(out->rec), nullptr);
	ms_rec_event *ev;
	size_t n;
	ASSERT_EQ(ms_recording_events(out->rec, &ev, &n), 0);
	out->events.assign(ev, ev + n);
	free(ev);
	ASSERT_EQ(ms_recording_load(out->rec, ms_recording_count(out->rec) - 1, &out->last), 0);
}

TEST(Events, EveryOperationOfEveryThreadArrivesInOrder)
{
	const long per_thread = 20000;
	std::string dir = mstest::fresh_session_dir("events-threads");
	Recorded r;
	ASSERT_NO_FATAL_FAILURE(record(dir + "/threads.rec",
				       { mstest::workload("exact_threads"), "4",
					 std::to_string(per_thread) },
				       &r));
	const ms_snapshot &s = r.last.snap;

	// The hook numbers each event: all numbers from 0 arrived, once.
	ASSERT_FALSE(r.events.empty());
	for (size_t i = 0; i < r.events.size(); i++)
		ASSERT_EQ(r.events[i].seq, i) << "event " << i;

	// Per thread, exactly what each worker did: its array and N blocks
	// made, the odd half of the blocks freed.
	std::map<uint32_t, std::pair<uint64_t, uint64_t>> by_thread; // allocs, frees
	uint64_t allocs = 0, frees = 0;
	for (const ms_rec_event &e : r.events) {
		EXPECT_EQ(e.session, 0u);
		EXPECT_EQ(e.flags, 0) << "no realloc in this workload";
		if (e.op == MS_STREAM_ALLOC) {
			by_thread[e.thread].first++;
			allocs++;
		} else {
			by_thread[e.thread].second++;
			frees++;
		}
	}
	int workers = 0;
	for (size_t i = 0; i < s.nthreads; i++) {
		const ms_thread_info &t = s.threads[i];
		if (std::string(t.name).rfind("worker-", 0) != 0)
			continue;
		workers++;
		EXPECT_EQ(by_thread[i].first, per_thread + 1) << t.name;
		EXPECT_EQ(by_thread[i].second, per_thread / 2) << t.name;
		EXPECT_EQ(by_thread[i].first, t.allocs) << t.name;
		EXPECT_EQ(by_thread[i].second, t.frees) << t.name;
	}
	EXPECT_EQ(workers, 4);
	EXPECT_EQ(allocs, s.total_allocs);
	EXPECT_EQ(frees, s.total_frees + s.untracked_frees);

	// Paired by address in this order, every free finds its block and no
	// address is made twice while live; what is left is what the frame
	// says is live, per call site too.
	std::map<uint64_t, const ms_rec_event *> live;
	std::map<uint32_t, uint64_t> live_by_stack, made_by_stack;
	uint64_t unmatched = 0;
	for (const ms_rec_event &e : r.events) {
		if (e.op == MS_STREAM_ALLOC) {
			EXPECT_TRUE(live.emplace(e.ptr, &e).second) << "address made twice";
			made_by_stack[e.stack]++;
		} else if (live.erase(e.ptr) == 0) {
			unmatched++;
		}
	}
	EXPECT_EQ(unmatched, s.untracked_frees);
	EXPECT_EQ(live.size(), s.live_allocs);
	for (const auto &kv : live)
		live_by_stack[kv.second->stack]++;
	size_t sites_seen = 0;
	for (size_t i = 0; i < r.last.nsites; i++) {
		const ms_site_info &site = r.last.sites[i].site;
		EXPECT_EQ(made_by_stack[site.stack], site.allocs) << "stack " << site.stack;
		EXPECT_EQ(live_by_stack[site.stack], site.live_allocs) << "stack " << site.stack;
		sites_seen++;
	}
	EXPECT_GT(sites_seen, 0u);
}

TEST(Events, ReallocsAndFailuresPairUpLikeTheFrames)
{
	std::string dir = mstest::fresh_session_dir("events-ops");
	std::string file = dir + "/ops.rec";
	Recorded r;
	ASSERT_NO_FATAL_FAILURE(record(file, { mstest::workload("ops") }, &r));
	const ms_snapshot &s = r.last.snap;

	for (size_t i = 0; i < r.events.size(); i++)
		ASSERT_EQ(r.events[i].seq, i);
	// A successful realloc ends the old block and makes the new one.
	int realloc_allocs = 0;
	for (const ms_rec_event &e : r.events) {
		if (e.op == MS_STREAM_ALLOC && (e.flags & MS_STREAM_REALLOC))
			realloc_allocs++;
	}
	EXPECT_EQ((uint64_t)realloc_allocs, s.total_reallocs);

	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--events", "--top", "0" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	EXPECT_EQ(rep.err, "");
	auto figure = [&](const std::string &label) -> long long {
		std::smatch m;
		std::regex re(label + R"(:\s+(\d+))");
		if (!std::regex_search(rep.out, m, re))
			return -1;
		return std::stoll(m[1]);
	};
	EXPECT_EQ(figure("allocations"), (long long)s.total_allocs) << rep.out;
	EXPECT_EQ(figure("frees"), (long long)s.total_frees) << rep.out;
	EXPECT_EQ(figure("left live"), (long long)s.live_allocs) << rep.out;
	EXPECT_EQ(figure("unmatched"), (long long)s.untracked_frees) << rep.out;
	EXPECT_NE(rep.out.find("(" + std::to_string(s.total_reallocs) + " by realloc)"),
		  std::string::npos)
		<< rep.out;
}

TEST(Events, ReportGivesLifetimesAndLeftoversPerCallSite)
{
	std::string dir = mstest::fresh_session_dir("events-sites");
	std::string file = dir + "/sites.rec";
	Recorded r;
	ASSERT_NO_FATAL_FAILURE(record(file, { mstest::workload("sites") }, &r));

	mstest::Result rep = mstest::run({ mstest::report_path(), file, "--events", "--top", "0" });
	ASSERT_EQ(rep.status, 0) << rep.err;
	// small_blocks: 100 made, none freed, none temporary, all left.
	std::regex small(R"(\n\s+100\s+0\s+-\s+-\s+-\s+100  small_blocks \(tests/workloads/sites\.c:\d+\)\n)");
	EXPECT_TRUE(std::regex_search(rep.out, small)) << rep.out;
	// big_blocks: 10 made, 6 freed (with lifetimes), 4 left.
	std::regex big(R"(\n\s+10\s+0\s+\S+\s+\S+\s+\S+\s+4  big_blocks \(tests/workloads/sites\.c:\d+\)\n)");
	EXPECT_TRUE(std::regex_search(rep.out, big)) << rep.out;
	EXPECT_NE(rep.out.find("unmatched:    0 "), std::string::npos) << rep.out;
}

TEST(Events, OptionsAndRecordingsWithoutEvents)
{
	std::string dir = mstest::fresh_session_dir("events-cli");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--events", "--",
					 mstest::workload("sites") });
	EXPECT_EQ(r.status, 2);
	EXPECT_NE(r.err.find("--events needs -w FILE"), std::string::npos) << r.err;
	r = mstest::run({ mstest::top_path(), "-b", "-w", dir + "/x.rec", "--events", "-p", "1" });
	EXPECT_EQ(r.status, 2);
	EXPECT_NE(r.err.find("--events needs -w FILE"), std::string::npos) << r.err;

	// A recording made without --events.
	std::string file = dir + "/plain.rec";
	r = mstest::run({ mstest::top_path(), "-b", "-w", file, "--", mstest::workload("sites") });
	ASSERT_EQ(r.status, 0) << r.err;
	r = mstest::run({ mstest::report_path(), file, "--events" });
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.out, "");
	EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
	EXPECT_NE(r.err.find("no event stream"), std::string::npos) << r.err;
}

// The program's own behaviour does not change: output and exit status are
// those of a plain run, with or without the stream.
TEST(Events, ProgramBehavesTheSame)
{
	std::string dir = mstest::fresh_session_dir("events-same");
	mstest::Result plain = mstest::run({ "/bin/sh", "-c", "ls /; exit 3" });
	mstest::Result watched = mstest::run({ mstest::top_path(), "-b", "-d", "5", "-w",
					       dir + "/sh.rec", "--events", "--", "/bin/sh", "-c",
					       "ls / >&2; exit 3" });
	EXPECT_EQ(plain.status, 3);
	EXPECT_EQ(watched.status, 3);
	std::string ls = plain.out;
	EXPECT_NE(watched.err.find(ls), std::string::npos);
}

} // namespace
