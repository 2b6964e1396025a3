// memscope/symbols.h against this very process: a frame is never held back
// for its name (module+offset at once, the name from the next call on, in
// a new frame), wrappers are skipped when a call site is named, and a
// recording keeps the names that came after a stack was first written.
#include <gtest/gtest.h>

#include <stdint.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <memscope/backends.h>
#include <memscope/capture.h>
#include <memscope/recording.h>
#include <memscope/snapshot.h>
#include <memscope/symbols.h>

#include "tests/support/blocks.h"
#include "tests/support/run.h"

// Functions whose addresses make the stacks, by name. A return address
// points inside its function, after the call: the start + 4 stands for one.
extern "C" {
__attribute__((noinline)) void symtest_named(void)
{
	asm volatile("nop; nop; nop; nop; nop; nop; nop; nop");
}
__attribute__((noinline)) void symtest_caller(void)
{
	asm volatile("nop; nop; nop; nop; nop; nop; nop; nop");
}
__attribute__((noinline)) void xmalloc(void)
{
	asm volatile("nop; nop; nop; nop; nop; nop; nop; nop");
}
// An address inside a function inlined into another: the label (a symbol,
// but not a function's) is the second of two instructions of the inlined
// code, so the label + 1 stands for a return address there.
extern const char symtest_inlined_pc[];
static inline __attribute__((always_inline)) void symtest_inlined(void)
{
	asm volatile("nop\n.globl symtest_inlined_pc\nsymtest_inlined_pc:\n\tnop");
}
const int symtest_inlined_line = __LINE__ - 2;
__attribute__((noinline)) void symtest_inliner(void)
{
	symtest_inlined();
	asm volatile("nop; nop; nop; nop");
}
const int symtest_inliner_line = __LINE__ - 3;
}

namespace {

uint64_t inside(void (*f)(void))
{
	return (uint64_t)(uintptr_t)f + 4;
}

class Symbols : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir = mstest::temp_dir("symbols");
		ASSERT_EQ(ms_capture_open(&c, ms_backend_find("core"), dir.c_str(), getpid()), 0);
		ASSERT_EQ(ms_reader_open(&r, c.store.path), 0);
	}
	void TearDown() override
	{
		ms_snapshot_release(&s);
		ms_reader_close(&r);
		unlink(c.store.path);
		ms_capture_close(&c);
	}
	// One block of 100 B allocated with the stack of these functions,
	// innermost first; then the snapshot s.
	void allocate(std::vector<void (*)(void)> functions)
	{
		std::vector<uint64_t> frames;
		for (auto f : functions)
			frames.push_back(inside(f));
		allocate_at(frames);
	}
	void allocate_at(std::vector<uint64_t> frames)
	{
		mstest::alloc(&c, mstest::fake(0), 100, frames.data(), (int)frames.size());
		ms_capture_flush(&c);
		ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	}
	// The one call site with frames among sites.
	const ms_callsite *the_site(const ms_callsite *sites, int n)
	{
		const ms_callsite *found = nullptr;
		for (int i = 0; i < n; i++)
			if (sites[i].depth > 0) {
				EXPECT_EQ(found, nullptr);
				found = &sites[i];
			}
		EXPECT_NE(found, nullptr);
		return found;
	}
	std::string dir;
	ms_capture c;
	ms_reader r;
	ms_snapshot s = {};
};

const uint64_t kWait = 20ull * 1000 * 1000 * 1000;

TEST_F(Symbols, NamesComeInNewFramesNeverHoldingOneBack)
{
	allocate({ symtest_named, symtest_caller });
	ms_symbols *sym = ms_symbols_new(nullptr);
	ASSERT_NE(sym, nullptr);

	// The first call answers at once: module and offset only.
	ms_callsite *first;
	int n = ms_symbols_callsites(sym, &r, &s, &first);
	const ms_callsite *c1 = the_site(first, n);
	ASSERT_NE(c1, nullptr);
	ASSERT_EQ(c1->depth, 2u);
	const ms_frame *placeholder = c1->top;
	ASSERT_EQ(placeholder, c1->frames[0]);
	EXPECT_EQ(placeholder->function, nullptr);
	ASSERT_NE(placeholder->module, nullptr);
	EXPECT_NE(std::string(placeholder->module).find("symbols_test"), std::string::npos);
	EXPECT_EQ(placeholder->address, inside(symtest_named));
	EXPECT_EQ(placeholder->offset, inside(symtest_named) - (placeholder->address - placeholder->offset));

	// Once the resolver answered, the next call has the name; the frame
	// handed out before is as it was (a screen may still show it).
	EXPECT_GE(ms_symbols_settle(sym, kWait), 1);
	ms_callsite *second;
	n = ms_symbols_callsites(sym, &r, &s, &second);
	const ms_callsite *c2 = the_site(second, n);
	ASSERT_NE(c2, nullptr);
	ASSERT_NE(c2->top, nullptr);
	ASSERT_NE(c2->top->function, nullptr);
	EXPECT_STREQ(c2->top->function, "symtest_named");
	EXPECT_NE(c2->top, placeholder);
	EXPECT_EQ(placeholder->function, nullptr);
	EXPECT_EQ(c2->top->address, placeholder->address);
	EXPECT_EQ(c2->top->offset, placeholder->offset);

	// The rest of the stack is asked for when a caller fills it.
	ms_symbols_fill(sym, &r, second, (size_t)n);
	EXPECT_GE(ms_symbols_settle(sym, kWait), 0);
	ms_symbols_fill(sym, &r, second, (size_t)n);
	EXPECT_STREQ(c2->frames[1]->function, "symtest_caller");
	// Nothing more to come.
	EXPECT_EQ(ms_symbols_settle(sym, kWait), 0);
	free(first);
	free(second);
	ms_symbols_free(sym);
}

TEST_F(Symbols, AWrapperIsSkippedWhenTheCallSiteIsNamed)
{
	allocate({ xmalloc, symtest_caller });
	ms_symbols *sym = ms_symbols_new(nullptr);
	ms_callsite *sites;
	int n = ms_symbols_sorted_callsites(sym, &r, &s, 0, kWait, &sites);
	const ms_callsite *c1 = the_site(sites, n);
	ASSERT_NE(c1, nullptr);
	EXPECT_TRUE(c1->frames[0]->allocator);
	EXPECT_STREQ(c1->frames[0]->function, "xmalloc");
	ASSERT_NE(c1->top, nullptr);
	EXPECT_STREQ(c1->top->function, "symtest_caller");
	free(sites);
	ms_symbols_free(sym);
}

TEST_F(Symbols, TheUsersWrappersAreSkipped)
{
	allocate({ symtest_named, symtest_caller });
	ms_symbols *sym = ms_symbols_new("symtest_n*");
	ms_callsite *sites;
	int n = ms_symbols_sorted_callsites(sym, &r, &s, 0, kWait, &sites);
	const ms_callsite *c1 = the_site(sites, n);
	ASSERT_NE(c1, nullptr);
	ASSERT_NE(c1->top, nullptr);
	EXPECT_STREQ(c1->top->function, "symtest_caller");
	free(sites);
	ms_symbols_free(sym);
	EXPECT_EQ(ms_symbols_new("f(int)"), nullptr);
}

// A recorder writes a stack when it first sees it, names unknown, and again
// when they come: the recording reads back with the names, in every frame.
TEST_F(Symbols, ARecordingKeepsNamesThatCameLater)
{
	allocate({ symtest_named, symtest_caller });
	std::string path = dir + "/late.rec";
	ms_recorder *rec;
	ASSERT_EQ(ms_recorder_create(path.c_str(), &rec), 0);
	ms_symbols *sym = ms_symbols_new(nullptr);
	std::vector<ms_thread_view> views(s.nthreads ? s.nthreads : 1);

	ms_callsite *sites;
	int n = ms_symbols_callsites(sym, &r, &s, &sites);
	ms_symbols_fill(sym, &r, sites, (size_t)n);
	ASSERT_EQ(the_site(sites, n)->top->function, nullptr);
	ASSERT_EQ(ms_recorder_frame(rec, &s, views.data(), sites, (size_t)n, -1), 0);
	free(sites);

	n = ms_symbols_sorted_callsites(sym, &r, &s, SIZE_MAX, kWait, &sites);
	ASSERT_STREQ(the_site(sites, n)->frames[1]->function, "symtest_caller");
	ASSERT_EQ(ms_recorder_frame(rec, &s, views.data(), sites, (size_t)n, 0), 0);
	free(sites);
	ASSERT_EQ(ms_recorder_close(rec), 0);
	ms_symbols_free(sym);

	ms_recording *rd;
	ASSERT_EQ(ms_recording_open(path.c_str(), &rd), 0);
	ASSERT_EQ(ms_recording_count(rd), 2u);
	for (size_t i = 0; i < 2; i++) {
		ms_replay f;
		ASSERT_EQ(ms_recording_load(rd, i, &f), 0);
		const ms_callsite *c1 = the_site(f.sites, (int)f.nsites);
		ASSERT_NE(c1, nullptr);
		ASSERT_EQ(c1->depth, 2u);
		ASSERT_NE(c1->top, nullptr);
		EXPECT_STREQ(c1->top->function, "symtest_named") << "frame " << i;
		EXPECT_STREQ(c1->frames[1]->function, "symtest_caller") << "frame " << i;
		ms_replay_release(&f);
	}
	ms_recording_close(rd);
}

// A return address in inlined code: one placeholder frame at first, then
// a frame per function of the chain, innermost first, with the same
// address; the inlined function is the call site, unless skipped; a
// recording keeps which frames are inlined.
TEST_F(Symbols, AnInlinedFunctionIsAFrameOfItsOwn)
{
	uint64_t pc = (uint64_t)(uintptr_t)symtest_inlined_pc + 1;
	allocate_at({ pc, inside(symtest_caller) });
	ms_symbols *sym = ms_symbols_new(nullptr);
	ASSERT_NE(sym, nullptr);
	ms_callsite *first;
	int n = ms_symbols_callsites(sym, &r, &s, &first);
	const ms_callsite *c1 = the_site(first, n);
	ASSERT_NE(c1, nullptr);
	ASSERT_EQ(c1->depth, 2u); // not known yet: a frame an address
	const ms_frame *placeholder = c1->frames[0];
	EXPECT_EQ(placeholder->function, nullptr);
	EXPECT_FALSE(placeholder->inlined);

	ms_callsite *sites;
	n = ms_symbols_sorted_callsites(sym, &r, &s, SIZE_MAX, kWait, &sites);
	const ms_callsite *c2 = the_site(sites, n);
	ASSERT_NE(c2, nullptr);
	ASSERT_EQ(c2->depth, 3u);
	const ms_frame *inl = c2->frames[0], *outer = c2->frames[1];
	ASSERT_NE(inl->function, nullptr);
	ASSERT_NE(outer->function, nullptr);
	EXPECT_STREQ(inl->function, "symtest_inlined");
	EXPECT_TRUE(inl->inlined);
	EXPECT_EQ(inl->line, symtest_inlined_line);
	EXPECT_STREQ(outer->function, "symtest_inliner");
	EXPECT_FALSE(outer->inlined);
	EXPECT_EQ(outer->line, symtest_inliner_line);
	for (const ms_frame *f : { inl, outer }) {
		EXPECT_EQ(f->address, pc);
		EXPECT_EQ(f->offset, placeholder->offset);
		EXPECT_EQ(f->module, placeholder->module);
		ASSERT_NE(f->file, nullptr);
		EXPECT_NE(std::string(f->file).find("symbols_test.cc"), std::string::npos) << f->file;
		EXPECT_FALSE(f->allocator);
	}
	EXPECT_STREQ(c2->frames[2]->function, "symtest_caller");
	EXPECT_FALSE(c2->frames[2]->inlined);
	EXPECT_EQ(c2->top, inl);
	// The frame handed out first is as it was.
	EXPECT_EQ(placeholder->function, nullptr);
	EXPECT_EQ(c1->depth, 2u);

	// Recorded and read back: the same frames, inlined where they were.
	std::string path = dir + "/inlined.rec";
	ms_recorder *rec;
	ASSERT_EQ(ms_recorder_create(path.c_str(), &rec), 0);
	std::vector<ms_thread_view> views(s.nthreads ? s.nthreads : 1);
	ASSERT_EQ(ms_recorder_frame(rec, &s, views.data(), sites, (size_t)n, 0), 0);
	ASSERT_EQ(ms_recorder_close(rec), 0);
	ms_recording *rd;
	ASSERT_EQ(ms_recording_open(path.c_str(), &rd), 0);
	ms_replay f;
	ASSERT_EQ(ms_recording_load(rd, 0, &f), 0);
	const ms_callsite *c3 = the_site(f.sites, (int)f.nsites);
	ASSERT_NE(c3, nullptr);
	ASSERT_EQ(c3->depth, 3u);
	for (uint32_t k = 0; k < 3; k++) {
		EXPECT_STREQ(c3->frames[k]->function, c2->frames[k]->function) << k;
		EXPECT_EQ(c3->frames[k]->line, c2->frames[k]->line) << k;
		EXPECT_EQ(c3->frames[k]->inlined, c2->frames[k]->inlined) << k;
	}
	EXPECT_EQ(c3->top, c3->frames[0]);
	ms_replay_release(&f);
	ms_recording_close(rd);
	free(first);
	free(sites);
	ms_symbols_free(sym);

	// The inlined function skipped as a wrapper: the one it is in is the
	// call site.
	sym = ms_symbols_new("symtest_inlined");
	n = ms_symbols_sorted_callsites(sym, &r, &s, 0, kWait, &sites);
	c2 = the_site(sites, n);
	ASSERT_NE(c2, nullptr);
	ASSERT_GE(c2->depth, 2u);
	EXPECT_TRUE(c2->frames[0]->allocator);
	EXPECT_TRUE(c2->frames[0]->inlined);
	ASSERT_NE(c2->top, nullptr);
	EXPECT_EQ(c2->top, c2->frames[1]);
	EXPECT_STREQ(c2->top->function, "symtest_inliner");
	free(sites);
	ms_symbols_free(sym);
}

} // namespace
