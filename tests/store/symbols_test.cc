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
		uint64_t frames[8];
		for (size_t i = 0; i < functions.size(); i++)
			frames[i] = inside(functions[i]);
		mstest::alloc(&c, mstest::fake(0), 100, frames, (int)functions.size());
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

} // namespace
