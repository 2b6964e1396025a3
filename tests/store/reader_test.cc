// The reader treats a segment as hostile: damaged, truncated, foreign or
// adversarial segments give an error (or a sane snapshot), never a crash.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <memscope/backends.h>
#include <memscope/capture.h>
#include <memscope/snapshot.h>

#include "core/store_layout.h"

#include "tests/support/run.h"

namespace {

std::vector<char> slurp(const std::string &path)
{
	std::vector<char> bytes;
	int fd = open(path.c_str(), O_RDONLY);
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		bytes.insert(bytes.end(), buf, buf + n);
	close(fd);
	return bytes;
}

void spill(const std::string &path, const std::vector<char> &bytes)
{
	unlink(path.c_str());
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, bytes.data(), bytes.size()), (ssize_t)bytes.size());
	close(fd);
}

class Damaged : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir = mstest::temp_dir("reader");
		ASSERT_EQ(ms_capture_open(&c, &ms_backend_core, dir.c_str(), getpid()), 0);
		for (uint64_t i = 0; i < 100; i++)
			ms_capture_alloc(&c, reinterpret_cast<void *>(0x1000 + i * 16), 10);
		ms_store_sample(&c.store);
		good = slurp(c.store.path);
		ASSERT_GT(good.size(), sizeof(ms_seg_header));
		path = dir + "/damaged";
	}
	void TearDown() override
	{
		unlink(c.store.path);
		unlink(path.c_str());
		ms_capture_close(&c);
	}
	ms_seg_header *hdr(std::vector<char> &bytes)
	{
		return reinterpret_cast<ms_seg_header *>(bytes.data());
	}
	int open_copy(const std::vector<char> &bytes)
	{
		spill(path, bytes);
		ms_reader r;
		int err = ms_reader_open(&r, path.c_str());
		if (err == 0) {
			ms_snapshot s;
			err = ms_snapshot_take(&r, &s);
			if (err == 0)
				ms_snapshot_release(&s);
			ms_reader_close(&r);
		}
		return err;
	}
	std::string dir, path;
	ms_capture c;
	std::vector<char> good;
};

TEST_F(Damaged, IntactCopyReads)
{
	spill(path, good);
	ms_reader r;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&r, path.c_str()), 0);
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	EXPECT_EQ(s.total_allocs, 100u);
	EXPECT_EQ(s.live_bytes, 1000u);
	ms_snapshot_release(&s);
	ms_reader_close(&r);
}

TEST_F(Damaged, EmptyAndForeignFiles)
{
	EXPECT_EQ(open_copy({}), -EINVAL); // empty: not even mappable
	EXPECT_EQ(open_copy(std::vector<char>(100, 'x')), MS_ERR_NOT_MEMSCOPE);
	std::vector<char> junk(good.size());
	std::mt19937 rng(1);
	for (char &b : junk)
		b = (char)rng();
	EXPECT_EQ(open_copy(junk), MS_ERR_NOT_MEMSCOPE);
}

TEST_F(Damaged, WrongVersion)
{
	std::vector<char> b = good;
	hdr(b)->layout_version = MS_LAYOUT_VERSION + 1;
	EXPECT_EQ(open_copy(b), MS_ERR_VERSION);
}

TEST_F(Damaged, Truncated)
{
	std::vector<char> b(good.begin(), good.begin() + good.size() / 2);
	EXPECT_EQ(open_copy(b), MS_ERR_CORRUPT);
	std::vector<char> tiny(good.begin(), good.begin() + 64);
	EXPECT_EQ(open_copy(tiny), MS_ERR_NOT_MEMSCOPE);
}

TEST_F(Damaged, OffsetsAndCountsOutOfRange)
{
	struct Case {
		const char *what;
		void (*damage)(ms_seg_header *);
	} cases[] = {
		{ "globals past the end", [](ms_seg_header *h) { h->globals_off = ~0ull; } },
		{ "cells past the end", [](ms_seg_header *h) { h->cells_off = h->segment_size - 8; } },
		{ "cell count huge", [](ms_seg_header *h) { h->cell_count = 0xffffffffu; } },
		{ "cell count zero", [](ms_seg_header *h) { h->cell_count = 0; } },
		{ "cell size wrong", [](ms_seg_header *h) { h->cell_size = 8; } },
		{ "threads overflow", [](ms_seg_header *h) { h->thread_count = 0x7fffffffu; } },
		{ "timeline misaligned", [](ms_seg_header *h) { h->timeline_off += 3; } },
		{ "samples huge", [](ms_seg_header *h) { h->sample_count = 1u << 30; } },
		{ "segment size lies", [](ms_seg_header *h) { h->segment_size = ~0ull; } },
		{ "header size wrong", [](ms_seg_header *h) { h->header_size = 12; } },
	};
	for (const Case &k : cases) {
		std::vector<char> b = good;
		k.damage(hdr(b));
		EXPECT_EQ(open_copy(b), MS_ERR_CORRUPT) << k.what;
	}
}

TEST_F(Damaged, AdversarialContentsGiveSaneSnapshots)
{
	std::vector<char> b = good;
	ms_seg_header *h = hdr(b);
	// Counts and strings the writer never wrote: the snapshot stays bounded.
	h->cmdline_len = 0xffffffffu;
	memset(h->cmdline, 0x01, sizeof(h->cmdline));
	auto *g = reinterpret_cast<ms_seg_globals *>(b.data() + h->globals_off);
	g->threads_used = 0xffffffffu;
	auto *tl = reinterpret_cast<ms_seg_timeline *>(b.data() + h->timeline_off);
	tl->count = 0xffffffffu;
	tl->seq = 1; // a writer that died mid-update
	auto *cell = reinterpret_cast<ms_seg_cell *>(b.data() + h->cells_off);
	cell[3].seq = 7;
	cell[3].frees = 1000000; // more freed than allocated
	auto *threads = reinterpret_cast<ms_seg_thread *>(b.data() + h->threads_off);
	memset(threads[0].name, 'A', sizeof(threads[0].name)); // no terminator
	threads[1].state = 99;

	spill(path, b);
	ms_reader r;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&r, path.c_str()), 0);
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	EXPECT_TRUE(s.torn);
	EXPECT_LT(strlen(s.command), sizeof(s.command));
	for (size_t i = 0; s.command[i]; i++)
		EXPECT_GE((unsigned char)s.command[i], 0x20);
	EXPECT_LE(s.nthreads, (size_t)h->thread_count);
	EXPECT_LE(s.nsamples, (size_t)h->sample_count);
	EXPECT_EQ(strlen(s.threads[0].name), 15u);
	EXPECT_EQ(s.live_allocs, 0u); // clamped, not wrapped around
	ms_snapshot_release(&s);
	ms_reader_close(&r);
}

// Random damage to the header and the first cells: every outcome is an
// error code or a snapshot; none is a crash (ASan in CI watches the reads).
TEST_F(Damaged, RandomHeaderMutations)
{
	std::mt19937 rng(42);
	size_t span = std::min(good.size(), (size_t)16384);
	int errors = 0, reads = 0;

	for (int i = 0; i < 3000; i++) {
		std::vector<char> b = good;
		int flips = 1 + rng() % 8;
		for (int k = 0; k < flips; k++)
			b[rng() % span] = (char)rng();
		if (rng() % 4 == 0)
			b.resize(rng() % good.size());
		(open_copy(b) == 0 ? reads : errors)++;
	}
	EXPECT_EQ(reads + errors, 3000);
	EXPECT_GT(errors, 0);
	EXPECT_GT(reads, 0);
}

TEST_F(Damaged, DirectoriesAndOtherUsersAreRefused)
{
	ms_reader r;
	EXPECT_EQ(ms_reader_open(&r, dir.c_str()), -EINVAL);
	EXPECT_EQ(ms_reader_open(&r, (dir + "/absent").c_str()), -ENOENT);
	if (geteuid() == 0) {
		spill(path, good);
		ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
		EXPECT_EQ(ms_reader_open(&r, path.c_str()), -EPERM);
	} else {
		// Without root we cannot make a file of another owner; a file we
		// cannot read at all must still be refused cleanly.
		spill(path, good);
		ASSERT_EQ(chmod(path.c_str(), 0), 0);
		EXPECT_EQ(ms_reader_open(&r, path.c_str()), -EACCES);
	}
}

TEST(ReaderErrors, EachErrorIsOneLine)
{
	for (int err : { MS_ERR_NOT_MEMSCOPE, MS_ERR_VERSION, MS_ERR_CORRUPT, MS_ERR_STARTING, -EPERM,
			 -ENOENT, -EIO }) {
		std::string msg = ms_reader_strerror(err);
		EXPECT_FALSE(msg.empty());
		EXPECT_EQ(msg.find('\n'), std::string::npos);
	}
}

} // namespace
