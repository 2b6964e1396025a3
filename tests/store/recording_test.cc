// Recordings (memscope/recording.h): frames written by the recorder come
// back exactly; a file cut short anywhere, or damaged anywhere, opens up to
// its last good chunk or is refused with an error, never a crash (this test
// runs under ASan in CI too).
#include <gtest/gtest.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <memscope/recording.h>

#include "core/recording/record_format.h"
#include "tests/support/run.h"

namespace {

// A synthetic session: two threads, three call sites over a few frames.
struct Scene {
	ms_frame frames[4];
	const ms_frame *stack_a[2], *stack_b[2], *stack_c[1];
	ms_callsite sites[3];
	ms_thread_info threads[2];
	ms_note_info notes[2];
	ms_thread_view views[2];
	ms_snapshot snap;

	Scene()
	{
		memset(frames, 0, sizeof(frames));
		frames[0] = ms_frame{ 0x1000, "malloc", nullptr, 0, "/lib/libc.so.6", 0x100, 1, 0 };
		frames[1] = ms_frame{ 0x2000, "make_cache", "cache.c", 42, "/bin/app", 0x200, 0, 0 };
		frames[2] = ms_frame{ 0x3000, "parse", "parse.c", 7, "/bin/app", 0x300, 0, 0 };
		frames[3] = ms_frame{ 0x4000, nullptr, nullptr, 0, "/bin/app", 0x400, 0, 0 };
		stack_a[0] = &frames[0];
		stack_a[1] = &frames[1];
		stack_b[0] = &frames[0];
		stack_b[1] = &frames[2];
		stack_c[0] = &frames[3];
		memset(sites, 0, sizeof(sites));
		sites[0].site.stack = 1;
		sites[0].depth = 2;
		sites[0].frames = stack_a;
		sites[0].top = &frames[1];
		sites[1].site.stack = 2;
		sites[1].depth = 2;
		sites[1].frames = stack_b;
		sites[1].top = &frames[2];
		sites[2].site.stack = 3;
		sites[2].depth = 1;
		sites[2].frames = stack_c;
		sites[2].top = &frames[3];
		memset(threads, 0, sizeof(threads));
		threads[0].tid = 100;
		strcpy(threads[0].name, "main");
		threads[1].tid = 101;
		strcpy(threads[1].name, "worker");
		memset(&snap, 0, sizeof(snap));
		snap.pid = 100;
		strcpy(snap.command, "app --flag");
		snap.start_real_ns = 1700000000000000000ull;
		snap.threads = threads;
		snap.nthreads = 2;
	}
	// Frame k: every figure a function of k, so any frame can be checked.
	void step(int k)
	{
		snap.time_s = k * 0.1;
		snap.state = MS_SESSION_RUNNING;
		for (int s = 0; s < 3; s++) {
			ms_site_info &i = sites[s].site;
			i.allocs = (uint64_t)(s + 1) * k;
			i.frees = s == 1 ? (uint64_t)k / 2 : 0;
			i.alloc_bytes = i.allocs * 16 * (s + 1);
			i.free_bytes = i.frees * 16 * (s + 1);
			i.live_allocs = i.allocs - i.frees;
			i.live_bytes = i.alloc_bytes - i.free_bytes;
			i.peak_bytes = i.live_bytes + (s == 2 ? 1000 : 0);
			i.old_bytes[0] = i.live_bytes / 2;
			i.old_allocs[0] = i.live_allocs / 2;
			// Lifetimes only where blocks were freed; unchanged now and then.
			i.life_min_s = i.frees ? 0.000002 : -1;
			i.life_median_s = i.frees ? 0.001 * (k / 4) : -1;
			i.life_max_s = i.frees ? 2.5 + k / 4 : -1;
		}
		// Annotated blocks: cfg lives on, borrowed more and more; tmp
		// comes and goes.
		snap.nnotes = k % 5 == 0 ? 1 : 2;
		snap.notes = notes;
		memset(notes, 0, sizeof(notes));
		strcpy(notes[0].var, "cfg");
		strcpy(notes[0].type, "struct config");
		strcpy(notes[0].scope, "main");
		notes[0].ptr = 0x5000;
		notes[0].size = 64;
		notes[0].live = 1;
		notes[0].borrows = (uint32_t)k;
		notes[0].lent = (uint32_t)(k % 3);
		notes[0].tracked_s = 0.25;
		notes[0].lifetime_s = k * 0.1 - 0.25 > 0 ? k * 0.1 - 0.25 : 0;
		strcpy(notes[1].var, "tmp");
		notes[1].ptr = 0x6000 + 16 * (uint64_t)k;
		notes[1].size = (uint64_t)k;
		notes[1].tracked_s = k * 0.1;
		notes[1].lifetime_s = 0.000123;
		snap.total_allocs = 6 * k;
		snap.live_bytes = sites[0].site.live_bytes + sites[1].site.live_bytes +
				  sites[2].site.live_bytes;
		snap.peak_bytes = snap.live_bytes + 1000;
		snap.peak_time_s = snap.time_s;
		snap.rss_bytes = 1 << 20;
		snap.cpu_percent = 12.5;
		snap.memscope_cpu_percent = 0.1 * (k % 40); // per mille steps, 0 included
		snap.ages_scanned = 1;
		threads[0].allocs = k;
		threads[1].allocs = k % 7 == 0 ? threads[1].allocs : k; // sometimes unchanged
		threads[1].exited = k > 150;
		views[0] = { k % 3 == 0 ? 'R' : 'S', 0.125 * (k % 50), (double)(k * 10), (double)k };
		views[1] = { k > 150 ? 'X' : 'R', 99.5, 0, 0 };
	}
};

std::vector<char> slurp(const std::string &path)
{
	std::vector<char> b;
	int fd = open(path.c_str(), O_RDONLY);
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		b.insert(b.end(), buf, buf + n);
	close(fd);
	return b;
}

void spill(const std::string &path, const std::vector<char> &b, size_t len)
{
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_EQ(write(fd, b.data(), len), (ssize_t)len);
	close(fd);
}

const int kFrames = 200;

std::string record(const std::string &dir)
{
	std::string path = dir + "/rec";
	ms_recorder *rec;
	Scene sc;
	EXPECT_EQ(ms_recorder_create(path.c_str(), &rec), 0);
	for (int k = 1; k <= kFrames; k++) {
		sc.step(k);
		EXPECT_EQ(ms_recorder_frame(rec, &sc.snap, sc.views, sc.sites, 3,
					    k == kFrames ? 0 : -1),
			  0);
	}
	sc.snap.state = MS_SESSION_EXITED;
	EXPECT_EQ(ms_recorder_close(rec), 0);
	return path;
}

const ms_callsite *site_named(const ms_replay &f, const char *function)
{
	for (size_t i = 0; i < f.nsites; i++)
		if (f.sites[i].top != nullptr && f.sites[i].top->function != nullptr &&
		    strcmp(f.sites[i].top->function, function) == 0)
			return &f.sites[i];
	return nullptr;
}

TEST(Recording, EveryFrameComesBackExactly)
{
	std::string path = record(mstest::temp_dir("rec"));
	ms_recording *r;
	ASSERT_EQ(ms_recording_open(path.c_str(), &r), 0);
	EXPECT_EQ(ms_recording_problem(r), nullptr);
	ASSERT_EQ(ms_recording_count(r), (size_t)kFrames);
	Scene want;
	for (int k = 1; k <= kFrames; k++) {
		want.step(k);
		ms_replay f;
		ASSERT_EQ(ms_recording_load(r, k - 1, &f), 0) << k;
		EXPECT_NEAR(ms_recording_time(r, k - 1), (k - 1) * 0.1, 1e-6);
		ms_rec_frame_info info;
		ASSERT_EQ(ms_recording_frame_info(r, k - 1, &info), 0);
		EXPECT_EQ(info.image, 0u);
		EXPECT_EQ(info.generation, 0u);
		EXPECT_NEAR(info.time_s, k * 0.1, 1e-6); // the program's time
		EXPECT_EQ(info.live_bytes, want.snap.live_bytes);
		EXPECT_EQ(f.snap.pid, 100);
		EXPECT_STREQ(f.snap.command, "app --flag");
		EXPECT_EQ(f.snap.live_bytes, want.snap.live_bytes);
		EXPECT_EQ(f.snap.total_allocs, want.snap.total_allocs);
		EXPECT_EQ(f.snap.peak_bytes, want.snap.peak_bytes);
		EXPECT_DOUBLE_EQ(f.snap.cpu_percent, 12.5);
		EXPECT_NEAR(f.snap.memscope_cpu_percent, 0.1 * (k % 40), 1e-9) << k;
		EXPECT_EQ(f.exit_status, k == kFrames ? 0 : -1);
		ASSERT_EQ(f.snap.nthreads, 2u);
		EXPECT_EQ(f.snap.threads[1].tid, 101);
		EXPECT_STREQ(f.snap.threads[1].name, "worker");
		EXPECT_EQ(f.snap.threads[0].allocs, want.threads[0].allocs);
		EXPECT_EQ(f.snap.threads[1].exited, k > 150);
		// What the thread table showed, as it showed it.
		ASSERT_NE(f.views, nullptr);
		for (int t = 0; t < 2; t++) {
			EXPECT_EQ(f.views[t].state, want.views[t].state) << k;
			EXPECT_DOUBLE_EQ(f.views[t].cpu_percent, want.views[t].cpu_percent) << k;
			EXPECT_DOUBLE_EQ(f.views[t].allocs_per_s, want.views[t].allocs_per_s) << k;
			EXPECT_DOUBLE_EQ(f.views[t].frees_per_s, want.views[t].frees_per_s) << k;
		}
		ASSERT_EQ(f.nsites, 3u);
		const ms_callsite *parse = site_named(f, "parse");
		ASSERT_NE(parse, nullptr);
		EXPECT_EQ(parse->site.allocs, want.sites[1].site.allocs);
		EXPECT_EQ(parse->site.frees, want.sites[1].site.frees);
		EXPECT_EQ(parse->site.live_bytes, want.sites[1].site.live_bytes);
		EXPECT_EQ(parse->site.old_bytes[0], want.sites[1].site.old_bytes[0]);
		EXPECT_NEAR(parse->site.life_min_s, want.sites[1].site.life_min_s, 1e-9) << k;
		EXPECT_NEAR(parse->site.life_median_s, want.sites[1].site.life_median_s, 1e-9) << k;
		EXPECT_NEAR(parse->site.life_max_s, want.sites[1].site.life_max_s, 1e-9) << k;
		const ms_callsite *cache = site_named(f, "make_cache");
		ASSERT_NE(cache, nullptr);
		EXPECT_LT(cache->site.life_median_s, 0.0); // no frees, no lifetimes
		// The annotated blocks, whole.
		ASSERT_EQ(f.snap.nnotes, want.snap.nnotes) << k;
		for (size_t n = 0; n < f.snap.nnotes; n++) {
			const ms_note_info &got = f.snap.notes[n], &exp = want.notes[n];
			EXPECT_STREQ(got.var, exp.var);
			EXPECT_STREQ(got.type, exp.type);
			EXPECT_STREQ(got.scope, exp.scope);
			EXPECT_EQ(got.ptr, exp.ptr);
			EXPECT_EQ(got.size, exp.size);
			EXPECT_EQ(got.live, exp.live);
			EXPECT_EQ(got.borrows, exp.borrows);
			EXPECT_EQ(got.lent, exp.lent);
			EXPECT_NEAR(got.tracked_s, exp.tracked_s, 1e-6);
			EXPECT_NEAR(got.lifetime_s, exp.lifetime_s, 1e-9);
		}
		EXPECT_STREQ(parse->top->file, "parse.c");
		EXPECT_EQ(parse->top->line, 7);
		ASSERT_EQ(parse->depth, 2u);
		EXPECT_STREQ(parse->frames[0]->function, "malloc");
		EXPECT_TRUE(parse->frames[0]->allocator);
		EXPECT_EQ(f.snap.nsamples, (size_t)k); // the graph: every frame so far
		ms_replay_release(&f);
	}
	EXPECT_EQ(ms_recording_peak_frame(r), (size_t)kFrames - 1);
	// Seeking by time: the last frame at or before it.
	EXPECT_EQ(ms_recording_frame_at(r, -1), 0u);
	EXPECT_EQ(ms_recording_frame_at(r, 0), 0u);
	EXPECT_EQ(ms_recording_frame_at(r, 0.55), 5u);
	EXPECT_EQ(ms_recording_frame_at(r, 1e9), (size_t)kFrames - 1);
	ms_recording_close(r);
}

// After an exec the recording holds a second image, whose time starts
// again: each frame keeps its image's own time, while ms_recording_time
// runs on across images by their start times.
TEST(Recording, ImagesKeepTheirOwnTimes)
{
	std::string path = mstest::temp_dir("rec-exec") + "/rec";
	ms_recorder *rec;
	Scene sc, want;
	ASSERT_EQ(ms_recorder_create(path.c_str(), &rec), 0);
	for (int k = 1; k <= 7; k++) {
		if (k == 5) { // the exec, a second after the first image started
			sc.snap.generation = 1;
			sc.snap.start_real_ns += 1000000000ull;
		}
		sc.step(k <= 4 ? k : k - 4);
		ASSERT_EQ(ms_recorder_frame(rec, &sc.snap, sc.views, sc.sites, 3, -1), 0);
	}
	ASSERT_EQ(ms_recorder_close(rec), 0);
	ms_recording *r;
	ASSERT_EQ(ms_recording_open(path.c_str(), &r), 0);
	ASSERT_EQ(ms_recording_count(r), 7u);
	for (size_t i = 0; i < 7; i++) {
		int k = i < 4 ? (int)i + 1 : (int)i - 3;
		ms_rec_frame_info info;
		want.step(k);
		ASSERT_EQ(ms_recording_frame_info(r, i, &info), 0);
		EXPECT_EQ(info.image, i < 4 ? 0u : 1u) << i;
		EXPECT_EQ(info.generation, i < 4 ? 0u : 1u) << i;
		EXPECT_NEAR(info.time_s, k * 0.1, 1e-6) << i;
		EXPECT_EQ(info.live_bytes, want.snap.live_bytes) << i;
	}
	EXPECT_NEAR(ms_recording_time(r, 4), 1.0, 1e-6); // 1 s + 0.1 s - the first's 0.1 s
	ms_rec_frame_info info;
	EXPECT_EQ(ms_recording_frame_info(r, 7, &info), -EINVAL);
	ms_recording_close(r);
}

TEST(Recording, CutShortAnywhere)
{
	std::string dir = mstest::temp_dir("rec-cut");
	std::vector<char> good = slurp(record(dir));
	std::string path = dir + "/cut";
	size_t last_count = 0;
	for (size_t len = 0; len < good.size(); len += 1 + len / 50) {
		spill(path, good, len);
		ms_recording *r;
		int err = ms_recording_open(path.c_str(), &r);
		if (err != 0) {
			EXPECT_TRUE(err == MS_REC_ERR_NOT_RECORDING || err == MS_REC_ERR_EMPTY) << len;
			continue;
		}
		ASSERT_NE(ms_recording_problem(r), nullptr) << len;
		size_t n = ms_recording_count(r);
		EXPECT_GE(n, last_count); // longer files never hold fewer frames
		last_count = n;
		ms_replay f;
		EXPECT_EQ(ms_recording_load(r, n - 1, &f), 0);
		ms_replay_release(&f);
		ms_recording_close(r);
	}
	EXPECT_GT(last_count, (size_t)kFrames / 2);
}

TEST(Recording, DamageAnywhere)
{
	std::string dir = mstest::temp_dir("rec-damage");
	std::vector<char> good = slurp(record(dir));
	std::string path = dir + "/damaged";
	std::mt19937 rng(5);
	int opened = 0, refused = 0;
	for (int trial = 0; trial < 400; trial++) {
		std::vector<char> b = good;
		for (int k = 1 + rng() % 4; k > 0; k--)
			b[rng() % b.size()] ^= (char)(1 + rng() % 255);
		spill(path, b, b.size());
		ms_recording *r;
		if (ms_recording_open(path.c_str(), &r) != 0) {
			refused++;
			continue;
		}
		opened++;
		// Every readable frame loads or is refused; none crashes.
		for (size_t i = 0; i < ms_recording_count(r); i += 7) {
			ms_replay f;
			if (ms_recording_load(r, i, &f) == 0)
				ms_replay_release(&f);
		}
		ms_recording_close(r);
	}
	EXPECT_EQ(opened + refused, 400);
	EXPECT_GT(opened, 0);
}

// A closed recording ends with an index of its frames (the end chunk gives
// its offset). A damaged index is not trusted: the file is read chunk by
// chunk instead, with the same result; a damaged frame is still found when
// the file is opened, index or not.
TEST(Recording, TheIndexIsCheckedNotTrusted)
{
	std::string dir = mstest::temp_dir("rec-index");
	std::vector<char> good = slurp(record(dir));
	std::string path = dir + "/indexed";
	ASSERT_GT(good.size(), 20u);
	uint64_t at;
	memcpy(&at, good.data() + good.size() - 8, 8);
	ASSERT_LT(at, good.size() - 20);
	EXPECT_EQ(good[at], 8) << "an index chunk";

	auto frames_of = [&](const std::vector<char> &b, std::string *problem) {
		spill(path, b, b.size());
		ms_recording *r;
		if (ms_recording_open(path.c_str(), &r) != 0)
			return (size_t)-1;
		*problem = ms_recording_problem(r) ? ms_recording_problem(r) : "";
		size_t n = ms_recording_count(r);
		ms_replay f;
		EXPECT_EQ(ms_recording_load(r, n - 1, &f), 0);
		EXPECT_EQ(f.snap.total_allocs, 6u * n);
		ms_replay_release(&f);
		ms_recording_close(r);
		return n;
	};
	std::string problem;
	EXPECT_EQ(frames_of(good, &problem), (size_t)kFrames);
	EXPECT_EQ(problem, "");

	// Every byte of the index chunk damaged in turn: the same frames.
	for (size_t i = at; i < good.size() - 20; i++) {
		std::vector<char> b = good;
		b[i] ^= 0x5a;
		EXPECT_EQ(frames_of(b, &problem), (size_t)kFrames) << i;
	}
	// An index that lies (its checksum made right): a frame's length.
	{
		std::vector<char> b = good;
		// The end chunk pointing elsewhere is just ignored.
		uint64_t wrong = at - 1;
		memcpy(b.data() + b.size() - 8, &wrong, 8);
		EXPECT_EQ(frames_of(b, &problem), (size_t)kFrames);
	}
	// A frame in the middle damaged: found on opening, the index
	// notwithstanding.
	size_t middle = good.size() / 2;
	std::vector<char> b = good;
	b[middle] ^= 0x5a;
	size_t n = frames_of(b, &problem);
	EXPECT_LT(n, (size_t)kFrames);
	EXPECT_NE(problem.find("damaged"), std::string::npos) << problem;
}

TEST(Recording, ForeignAndOtherVersionFilesAreRefused)
{
	std::string dir = mstest::temp_dir("rec-foreign");
	std::string path = dir + "/f";
	ms_recording *r;
	spill(path, std::vector<char>(100, 'x'), 100);
	EXPECT_EQ(ms_recording_open(path.c_str(), &r), MS_REC_ERR_NOT_RECORDING);
	spill(path, {}, 0);
	EXPECT_EQ(ms_recording_open(path.c_str(), &r), MS_REC_ERR_NOT_RECORDING);
	std::vector<char> good = slurp(record(dir));
	good[8] = 9; // version
	spill(path, good, good.size());
	EXPECT_EQ(ms_recording_open(path.c_str(), &r), MS_REC_ERR_VERSION);
	EXPECT_EQ(ms_recording_open((dir + "/absent").c_str(), &r), -ENOENT);
	EXPECT_EQ(ms_recording_open(dir.c_str(), &r), MS_REC_ERR_NOT_RECORDING);
	for (int err : { MS_REC_ERR_NOT_RECORDING, MS_REC_ERR_VERSION, MS_REC_ERR_EMPTY,
			 MS_REC_ERR_DAMAGED })
		EXPECT_EQ(std::string(ms_recording_strerror(err)).find('\n'), std::string::npos);
}

// One frame of a call site whose return address stands for an inlined
// function and the one it was inlined into, recorded to path.
void record_inlined(const std::string &path)
{
	Scene sc;
	ms_frame frames[3] = {
		{ 0x1000, "malloc", nullptr, 0, "/lib/libc.so.6", 0x100, 1, 0 },
		{ 0x2000, "make_buf", "table.c", 7, "/bin/app", 0x200, 0, 1 },
		{ 0x2000, "main", "table.c", 18, "/bin/app", 0x200, 0, 0 },
	};
	const ms_frame *stack[3] = { &frames[0], &frames[1], &frames[2] };
	ms_callsite site = {};
	site.site.stack = 1;
	site.site.allocs = 1;
	site.site.alloc_bytes = 100;
	site.depth = 3;
	site.frames = stack;
	site.top = &frames[1];
	ms_recorder *rec;
	ASSERT_EQ(ms_recorder_create(path.c_str(), &rec), 0);
	sc.step(1);
	ASSERT_EQ(ms_recorder_frame(rec, &sc.snap, sc.views, &site, 1, 0), 0);
	ASSERT_EQ(ms_recorder_close(rec), 0);
}

// The replayed stack of the only call site: "function:line" and whether
// inlined ("+") or not ("-"), frame by frame.
std::vector<std::string> replayed_stack(const std::string &path, std::string *problem)
{
	std::vector<std::string> out;
	ms_recording *r;
	int err = ms_recording_open(path.c_str(), &r);
	EXPECT_EQ(err, 0);
	if (err != 0)
		return out;
	*problem = ms_recording_problem(r) ? ms_recording_problem(r) : "";
	ms_replay f;
	EXPECT_EQ(ms_recording_load(r, 0, &f), 0);
	EXPECT_EQ(f.nsites, 1u);
	for (uint32_t k = 0; f.nsites == 1 && k < f.sites[0].depth; k++) {
		const ms_frame *fr = f.sites[0].frames[k];
		out.push_back(std::string(fr->function) + ":" + std::to_string(fr->line) +
			      (fr->inlined ? "+" : "-") + (fr == f.sites[0].top ? " top" : ""));
	}
	ms_replay_release(&f);
	ms_recording_close(r);
	return out;
}

// Version 5 keeps which frames are inlined; a version 4 file (the frames
// entry without the flag) still reads, with no frame inlined.
TEST(Recording, FramesKeepInlinedAndVersion4FilesStillRead)
{
	std::string dir = mstest::temp_dir("rec-inlined");
	std::string path = dir + "/v5";
	record_inlined(path);
	std::string problem;
	EXPECT_EQ(replayed_stack(path, &problem),
		  (std::vector<std::string>{ "malloc:0-", "make_buf:7+ top", "main:18-" }));
	EXPECT_EQ(problem, "");

	// The same file as version 4 wrote it: each frames chunk without the
	// flags, each frame without version 5's head and call-site fields
	// (temporaries, mapped memory, kind), checksums made right (the index,
	// now off by the bytes taken out, is checked and passed over).
	std::vector<char> v5 = slurp(path), v4(v5.begin(), v5.begin() + MS_REC_HEADER);
	uint32_t version;
	memcpy(&version, v5.data() + 8, 4);
	ASSERT_EQ(version, 5u);
	version = 4;
	memcpy(v4.data() + 8, &version, 4);
	int frames_chunks = 0, frame_chunks = 0;
	for (size_t at = MS_REC_HEADER; at + MS_REC_CHUNK_HEADER <= v5.size();) {
		unsigned char head[8];
		uint32_t len, crc;
		memcpy(head, v5.data() + at, 8);
		memcpy(&len, head + 4, 4);
		ASSERT_LE(at + MS_REC_CHUNK_HEADER + len, v5.size());
		const unsigned char *payload = (const unsigned char *)v5.data() + at + MS_REC_CHUNK_HEADER;
		struct ms_buf out = {};
		if (head[0] == MS_REC_FRAMES) {
			ASSERT_EQ(head[1], MS_REC_RAW); // small: stored as is
			struct ms_cursor c = { payload, payload + len, 0 };
			uint64_t n = ms_cur_varint(&c);
			ms_buf_put_varint(&out, n);
			for (uint64_t i = 0; i < n; i++) {
				for (int field = 0; field < 8; field++)
					ms_buf_put_varint(&out, ms_cur_varint(&c));
				ms_cur_varint(&c); // inlined
			}
			ASSERT_FALSE(c.bad);
			ASSERT_EQ(c.p, c.end);
			frames_chunks++;
		} else if (head[0] == MS_REC_FRAME) {
			ASSERT_EQ(head[1], MS_REC_RAW);
			struct ms_cursor c = { payload, payload + len, 0 };
			auto copy = [&](int k) {
				for (int i = 0; i < k; i++)
					ms_buf_put_varint(&out, ms_cur_varint(&c));
			};
			auto drop = [&](int k) {
				for (int i = 0; i < k; i++)
					ms_cur_varint(&c);
			};
			copy(MS_REC_HEAD_TEMPORARY);
			drop(MS_REC_HEAD_FIELDS - MS_REC_HEAD_TEMPORARY);
			uint64_t n = ms_cur_varint(&c); // threads: index, tid, name, fields
			ms_buf_put_varint(&out, n);
			copy((int)n * (3 + MS_REC_THREAD_FIELDS));
			n = ms_cur_varint(&c); // call sites: stack id, fields
			ms_buf_put_varint(&out, n);
			for (uint64_t i = 0; i < n; i++) {
				copy(1 + MS_REC_SITE_TEMPORARY);
				drop(MS_REC_SITE_FIELDS - MS_REC_SITE_TEMPORARY);
			}
			ASSERT_FALSE(c.bad);
			ms_buf_put_bytes(&out, c.p, (size_t)(c.end - c.p)); // annotated blocks
			frame_chunks++;
		} else {
			ms_buf_put_bytes(&out, payload, len);
		}
		ASSERT_FALSE(out.failed);
		uint32_t out_len = (uint32_t)out.len;
		memcpy(head + 4, &out_len, 4);
		crc = ms_crc32c(ms_crc32c(0, head, 8), out.data, out.len);
		v4.insert(v4.end(), head, head + 8);
		v4.insert(v4.end(), (char *)&crc, (char *)&crc + 4);
		v4.insert(v4.end(), out.data, out.data + out.len);
		ms_buf_free(&out);
		at += MS_REC_CHUNK_HEADER + len;
	}
	EXPECT_EQ(frames_chunks, 1);
	EXPECT_EQ(frame_chunks, 1);
	// A byte a frame's flag, four of the head's, two of the call site's.
	ASSERT_EQ(v4.size(), v5.size() - 3 - 4 - 2);
	spill(path, v4, v4.size());
	EXPECT_EQ(replayed_stack(path, &problem),
		  (std::vector<std::string>{ "malloc:0-", "make_buf:7- top", "main:18-" }));
	EXPECT_EQ(problem, "");
}

} // namespace
