// The reader treats a segment as hostile: damaged, truncated, foreign or
// adversarial segments give an error (or a sane snapshot), never a crash.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <memscope/backends.h>
#include <memscope/capture.h>
#include "tui/frame.h"
#include <memscope/snapshot.h>

#include "core/shared/store_layout.h"

#include "tests/support/blocks.h"
#include "tests/support/run.h"

namespace {

// A segment file as the tests damage it: the pages that hold data, and the
// file's full size. Segments are large and sparse (most of a fresh one is
// room for stacks), so copying only the written pages keeps thousands of
// damaged copies cheap.
struct Image {
	static constexpr size_t kPage = 64 * 1024;
	std::map<size_t, std::vector<char>> pages; // page index -> kPage bytes
	size_t size = 0;

	// The bytes at off, in a page made (zero-filled) if it held nothing.
	char *at(size_t off)
	{
		std::vector<char> &page = pages[off / kPage];
		if (page.empty())
			page.assign(kPage, 0);
		return page.data() + off % kPage;
	}
	// A structure at off; it must not straddle two pages.
	template <typename T> T *field(size_t off)
	{
		EXPECT_LE(off % kPage + sizeof(T), kPage);
		return reinterpret_cast<T *>(at(off));
	}
	ms_seg_header *hdr() { return field<ms_seg_header>(0); }
};

Image slurp(const std::string &path)
{
	Image img;
	int fd = open(path.c_str(), O_RDONLY);
	std::vector<char> buf(Image::kPage);
	ssize_t n;

	for (size_t page = 0; (n = pread(fd, buf.data(), buf.size(), page * Image::kPage)) > 0;
	     page++) {
		img.size += n;
		bool data = false;
		for (ssize_t i = 0; i < n && !data; i++)
			data = buf[i] != 0;
		if (data) {
			buf.resize(Image::kPage, 0);
			img.pages[page] = buf;
		}
	}
	close(fd);
	return img;
}

void spill(const std::string &path, const Image &img)
{
	unlink(path.c_str());
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ftruncate(fd, (off_t)img.size), 0);
	for (const auto &[page, bytes] : img.pages) {
		size_t off = page * Image::kPage;
		if (off >= img.size)
			continue;
		size_t len = std::min(bytes.size(), img.size - off);
		ASSERT_EQ(pwrite(fd, bytes.data(), len, (off_t)off), (ssize_t)len);
	}
	close(fd);
}

class Damaged : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir = mstest::temp_dir("reader");
		ASSERT_EQ(ms_capture_open(&c, &ms_backend_core, dir.c_str(), getpid()), 0);
		for (uint64_t i = 0; i < 100; i++)
			mstest::alloc(&c, mstest::fake(i), 10, nullptr, 0);
		ms_store_sample(&c.store);
		good = slurp(c.store.path);
		ASSERT_GT(good.size, sizeof(ms_seg_header));
		path = dir + "/damaged";
	}
	void TearDown() override
	{
		unlink(c.store.path);
		unlink(path.c_str());
		ms_capture_close(&c);
	}
	int open_copy(const Image &img)
	{
		spill(path, img);
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
	Image good;
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
	EXPECT_EQ(open_copy(Image{}), -EINVAL); // empty: not even mappable
	Image text;
	text.size = 100;
	memset(text.at(0), 'x', 100);
	EXPECT_EQ(open_copy(text), MS_ERR_NOT_MEMSCOPE);
	Image junk;
	junk.size = good.size;
	std::mt19937 rng(1);
	for (size_t i = 0; i < Image::kPage; i++)
		*junk.at(i) = (char)rng();
	EXPECT_EQ(open_copy(junk), MS_ERR_NOT_MEMSCOPE);
}

TEST_F(Damaged, WrongVersion)
{
	Image b = good;
	b.hdr()->layout_version = MS_LAYOUT_VERSION + 1;
	EXPECT_EQ(open_copy(b), MS_ERR_VERSION);
}

TEST_F(Damaged, Truncated)
{
	Image b = good;
	b.size = good.size / 2;
	EXPECT_EQ(open_copy(b), MS_ERR_CORRUPT);
	b.size = 64;
	EXPECT_EQ(open_copy(b), MS_ERR_NOT_MEMSCOPE);
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
		{ "stacks past the end", [](ms_seg_header *h) { h->stacks_off = h->segment_size; } },
		{ "stack count huge", [](ms_seg_header *h) { h->stack_count = 0xffffffffu; } },
		{ "site size wrong", [](ms_seg_header *h) { h->site_size = 1; } },
		{ "frames overflow", [](ms_seg_header *h) { h->frame_words = 0xffffffffu; } },
		{ "modules misaligned", [](ms_seg_header *h) { h->modules_off += 4; } },
		{ "notes past the end", [](ms_seg_header *h) { h->notes_off = h->segment_size - 64; } },
		{ "note count huge", [](ms_seg_header *h) { h->note_count = 0xffffffffu; } },
		{ "note size wrong", [](ms_seg_header *h) { h->note_size = 32; } },
		{ "names misaligned", [](ms_seg_header *h) { h->names_off += 1; } },
		{ "name count huge", [](ms_seg_header *h) { h->name_count = 1u << 30; } },
		{ "segment size lies", [](ms_seg_header *h) { h->segment_size = ~0ull; } },
		{ "header size wrong", [](ms_seg_header *h) { h->header_size = 12; } },
	};
	for (const Case &k : cases) {
		Image b = good;
		k.damage(b.hdr());
		EXPECT_EQ(open_copy(b), MS_ERR_CORRUPT) << k.what;
	}
}

TEST_F(Damaged, AdversarialContentsGiveSaneSnapshots)
{
	Image b = good;
	ms_seg_header *h = b.hdr();
	// Counts and strings the writer never wrote: the snapshot stays bounded.
	h->cmdline_len = 0xffffffffu;
	memset(h->cmdline, 0x01, sizeof(h->cmdline));
	b.field<ms_seg_globals>(h->globals_off)->threads_used = 0xffffffffu;
	auto *tl = b.field<ms_seg_timeline>(h->timeline_off);
	tl->count = 0xffffffffu;
	tl->seq = 1; // a writer that died mid-update
	auto *cell = b.field<ms_seg_cell>(h->cells_off + 3 * sizeof(ms_seg_cell));
	cell->begun = 7; // a writer that died mid-update
	cell->frees = 1000000; // more freed than allocated
	auto *t0 = b.field<ms_seg_thread>(h->threads_off);
	memset(t0->name, 'A', sizeof(t0->name)); // no terminator
	b.field<ms_seg_thread>(h->threads_off + sizeof(ms_seg_thread))->state = 99;
	// Annotations: counts past their tables, names with no terminator, a
	// note naming ids that were never published, one mid-update.
	auto *g = b.field<ms_seg_globals>(h->globals_off);
	g->notes_used = 0xffffffffu;
	g->names_used = 2;
	memset(b.field<ms_seg_name>(h->names_off)->text, 0x07, MS_NAME_MAX);
	auto *note = b.field<ms_seg_note>(h->notes_off);
	note->state = MS_NOTE_LIVE;
	note->size = 64;
	note->var = 1;
	note->type = 0xfffffff0u;
	note->scope = 3;
	b.field<ms_seg_note>(h->notes_off + sizeof(ms_seg_note))->seq = 1;

	spill(path, b);
	ms_reader r;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&r, path.c_str()), 0);
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	EXPECT_TRUE(s.torn);
	// The command as it is (bounded), and fit for a terminal once
	// formatted: every control byte made visible.
	EXPECT_LT(strlen(s.command), sizeof(s.command));
	char shown[sizeof(s.command) * 4];
	ms_format_command(shown, sizeof(shown), s.command);
	EXPECT_EQ(strlen(shown), 4 * strlen(s.command)); // "\x01" each
	for (size_t i = 0; shown[i]; i++)
		EXPECT_GE((unsigned char)shown[i], 0x20);
	EXPECT_LE(s.nthreads, (size_t)h->thread_count);
	EXPECT_LE(s.nsamples, (size_t)h->sample_count);
	EXPECT_EQ(strlen(s.threads[0].name), 15u);
	EXPECT_EQ(s.live_allocs, 0u); // clamped, not wrapped around
	ASSERT_EQ(s.nnotes, 1u); // the rest are free slots, or torn
	EXPECT_EQ(strlen(s.notes[0].var), sizeof(s.notes[0].var) - 1);
	for (size_t i = 0; s.notes[0].var[i]; i++)
		EXPECT_EQ(s.notes[0].var[i], '?');
	EXPECT_STREQ(s.notes[0].type, "");
	EXPECT_STREQ(s.notes[0].scope, "");
	ms_snapshot_release(&s);
	ms_reader_close(&r);
}

// The segment's file truncated under an open reader: reads past its new
// end fault (SIGBUS), and each read says so instead of crashing.
TEST_F(Damaged, TruncatedUnderAnOpenReader)
{
	ms_reader r;
	ms_snapshot s;
	ASSERT_EQ(ms_reader_open(&r, c.store.path), 0);
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	ms_snapshot_release(&s);
	ASSERT_EQ(truncate(c.store.path, 4096), 0);
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(ms_snapshot_take(&r, &s), MS_ERR_TRUNCATED);
		EXPECT_EQ(s.threads, nullptr);
		// No module was recorded here: the list needs nothing past the
		// header's page, and reads as empty.
		ms_module_entry *mods = nullptr;
		EXPECT_EQ(ms_reader_modules(&r, &mods), 0);
		free(mods);
		uint64_t frames[4];
		uint32_t epoch;
		EXPECT_EQ(ms_reader_stack(&r, 1, frames, 4, &epoch), MS_ERR_TRUNCATED);
	}
	EXPECT_NE(std::string(ms_reader_strerror(MS_ERR_TRUNCATED)).find("truncated"),
		  std::string::npos);
	ms_reader_close(&r);
	// Opened now, the short file is refused outright.
	EXPECT_EQ(ms_reader_open(&r, c.store.path), MS_ERR_CORRUPT);
}

// Random damage to the header and the first cells: every outcome is an
// error code or a snapshot; none is a crash (ASan in CI watches the reads).
TEST_F(Damaged, RandomHeaderMutations)
{
	std::mt19937 rng(42);
	const size_t span = 16384;
	int errors = 0, reads = 0;

	for (int i = 0; i < 3000; i++) {
		Image b = good;
		int flips = 1 + rng() % 8;
		for (int k = 0; k < flips; k++)
			*b.at(rng() % span) = (char)rng();
		if (rng() % 4 == 0)
			b.size = rng() % good.size;
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
