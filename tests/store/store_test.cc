// The capture engine, its backends and the EventStore, driven directly (no
// preloading): exact figures for known event sequences, the reader's view
// of a store being written, and the store's session rules. The Engine tests
// are the backends' conformance suite: every backend runs them all.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <sys/wait.h>

#include <errno.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <memscope/backends.h>
#include <memscope/capture.h>
#include <memscope/platform.h>
#include <memscope/sessions.h>
#include <memscope/snapshot.h>
#include <memscope/store.h>

#include "core/shared/store_layout.h"

#include "tests/support/blocks.h"
#include "tests/support/run.h"

namespace {

// A backend of one's own, registered through the public struct: this one
// hands every operation to the core backend and counts what it was given.
// It runs the same conformance suite as the shipped ones.
std::atomic<uint64_t> counted_records{ 0 };

void counting_record(ms_backend *be, const ms_event *ev)
{
	counted_records++;
	ms_backend_core.record(be, ev);
}

const ms_backend_ops counting = [] {
	ms_backend_ops ops = ms_backend_core;
	ops.name = "counting";
	ops.record = counting_record;
	return ops;
}();

const int counting_registered = ms_backend_register(&counting);

using mstest::fake;

class Engine : public ::testing::TestWithParam<const char *> {
protected:
	void SetUp() override
	{
		dir = mstest::temp_dir("store");
		ops = ms_backend_find(GetParam());
		ASSERT_NE(ops, nullptr) << GetParam();
		// Our own pid as keeper: the segment outlives finish() for reading.
		ASSERT_EQ(ms_capture_open(&c, ops, dir.c_str(), getpid()), 0);
		ASSERT_EQ(ms_reader_open(&r, c.store.path), 0);
	}
	void TearDown() override
	{
		ms_reader_close(&r);
		unlink(c.store.path);
		ms_capture_close(&c);
	}
	// What the store holds once the backend has applied everything.
	ms_snapshot snap()
	{
		ms_snapshot s;
		ms_capture_flush(&c);
		EXPECT_EQ(ms_snapshot_take(&r, &s), 0);
		return s;
	}
	bool is_core() const
	{
		return strcmp(GetParam(), "core") == 0;
	}
	const ms_thread_info *slot_of(const ms_snapshot &s, pid_t tid)
	{
		for (size_t i = 0; i < s.nthreads; i++)
			if (s.threads[i].tid == tid)
				return &s.threads[i];
		return nullptr;
	}
	std::string dir;
	const ms_backend_ops *ops = nullptr;
	ms_capture c;
	ms_reader r;
};

TEST_P(Engine, ExactCountsOneThread)
{
	uint64_t bytes = 0;
	for (uint64_t i = 0; i < 10; i++) {
		mstest::alloc(&c, fake(i), 100 + i, nullptr, 0);
		bytes += 100 + i;
	}
	for (uint64_t i = 0; i < 4; i++)
		mstest::free_block(&c, fake(i));

	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, 10u);
	EXPECT_EQ(s.total_frees, 4u);
	EXPECT_EQ(s.total_bytes, bytes);
	EXPECT_EQ(s.live_allocs, 6u);
	EXPECT_EQ(s.live_bytes, bytes - (100 + 101 + 102 + 103));
	EXPECT_EQ(s.peak_bytes, bytes);
	EXPECT_EQ(s.dropped_events, 0u);
	EXPECT_EQ(s.untracked_frees, 0u);
	EXPECT_EQ(s.state, MS_SESSION_RUNNING);
	EXPECT_EQ(s.pid, getpid());
	const ms_thread_info *t = slot_of(s, ms_thread_id());
	ASSERT_NE(t, nullptr);
	EXPECT_EQ(t->allocs, 10u);
	EXPECT_EQ(t->frees, 4u);
	EXPECT_EQ(t->alloc_bytes, bytes);
	EXPECT_EQ(t->live_bytes, s.live_bytes);
	EXPECT_EQ(t->live_allocs, 6u);
	ms_snapshot_release(&s);
}

TEST_P(Engine, PeakIsExact)
{
	mstest::alloc(&c, fake(1), 100, nullptr, 0);
	mstest::alloc(&c, fake(2), 200, nullptr, 0);
	mstest::free_block(&c, fake(1));
	mstest::free_block(&c, fake(2));
	mstest::alloc(&c, fake(3), 250, nullptr, 0);

	ms_snapshot s = snap();
	EXPECT_EQ(s.peak_bytes, 300u);
	EXPECT_EQ(s.live_bytes, 250u);
	EXPECT_GE(s.peak_time_s, 0.0);
	EXPECT_LE(s.peak_time_s, s.time_s);
	ms_snapshot_release(&s);
}

// Lifetimes per call site: two call sites, one whose blocks live about
// 30 ms and one whose blocks are freed at once; realloc ends a block's
// lifetime too. min and max are exact up to the clock's calibration, the
// median within a factor of 1.5.
TEST_P(Engine, LifetimesPerCallSite)
{
	const uint64_t slow_frames[] = { 0x401000, 0x402000 }, fast_frames[] = { 0x403000 };
	const double wait_s = 0.03;

	for (int i = 0; i < 4; i++)
		mstest::alloc(&c, fake(100 + i), 64, slow_frames, 2);
	std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
	for (int i = 0; i < 4; i++)
		mstest::free_block(&c, fake(100 + i));
	for (int i = 0; i < 100; i++) {
		mstest::alloc(&c, fake(200 + i), 16, fast_frames, 1);
		mstest::free_block(&c, fake(200 + i));
	}
	ms_store_sample(&c.store); /* measures the store's clock */

	ms_snapshot s = snap();
	const ms_site_info *slow = nullptr, *fast = nullptr;
	for (size_t i = 0; i < s.nsites; i++) {
		if (s.sites[i].frees == 4)
			slow = &s.sites[i];
		if (s.sites[i].frees == 100)
			fast = &s.sites[i];
	}
	ASSERT_NE(slow, nullptr);
	ASSERT_NE(fast, nullptr);
	EXPECT_GE(slow->life_min_s, wait_s * 0.95);
	EXPECT_LE(slow->life_min_s, slow->life_median_s);
	EXPECT_LE(slow->life_median_s, slow->life_max_s);
	EXPECT_LT(slow->life_max_s, 2.0);
	EXPECT_GE(slow->life_median_s, slow->life_min_s);
	EXPECT_LE(slow->life_median_s, slow->life_max_s * 1.5);
	EXPECT_GE(fast->life_min_s, 0.0);
	EXPECT_LT(fast->life_max_s, wait_s * 0.5);
	EXPECT_LE(fast->life_min_s, fast->life_median_s);
	EXPECT_LE(fast->life_median_s, fast->life_max_s);
	// A site with no frees has no lifetimes.
	mstest::alloc(&c, fake(400), 8, fast_frames, 0);
	ms_snapshot_release(&s);
	s = snap();
	for (size_t i = 0; i < s.nsites; i++) {
		if (s.sites[i].frees == 0) {
			EXPECT_LT(s.sites[i].life_median_s, 0.0);
		}
	}
	ms_snapshot_release(&s);
}

TEST_P(Engine, ReallocCases)
{
	ms_claim claim;

	// realloc(NULL, 40): a plain allocation.
	mstest::realloc_begin(&c, nullptr, &claim);
	mstest::realloc_end(&c, &claim, fake(1), 40, nullptr, 0);
	// grow in place: 40 -> 400 at the same address.
	mstest::realloc_begin(&c, fake(1), &claim);
	EXPECT_TRUE(claim.found); // read from the block's header
	EXPECT_EQ(claim.size, 40u);
	mstest::realloc_end(&c, &claim, fake(1), 400, nullptr, 0);
	// move: 400 -> 4000 at a new address.
	mstest::realloc_begin(&c, fake(1), &claim);
	mstest::realloc_end(&c, &claim, fake(2), 4000, nullptr, 0);
	// failure: the block stays as it was.
	mstest::realloc_begin(&c, fake(2), &claim);
	mstest::realloc_end(&c, &claim, nullptr, 1 << 30, nullptr, 0);

	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, 3u);
	EXPECT_EQ(s.total_reallocs, 2u);
	EXPECT_EQ(s.total_frees, 2u);
	EXPECT_EQ(s.total_bytes, 40u + 400 + 4000);
	EXPECT_EQ(s.live_bytes, 4000u);
	EXPECT_EQ(s.live_allocs, 1u);
	ms_snapshot_release(&s);

	// realloc(p, 0), which the hook makes a free of p.
	mstest::free_block(&c, fake(2));
	s = snap();
	EXPECT_EQ(s.total_frees, 3u);
	EXPECT_EQ(s.live_bytes, 0u);
	EXPECT_EQ(s.live_allocs, 0u);
	EXPECT_EQ(s.peak_bytes, 4000u);
	ms_snapshot_release(&s);

	// The block is really gone: freeing it again is untracked.
	mstest::free_block(&c, fake(2));
	s = snap();
	EXPECT_EQ(s.total_frees, 3u);
	EXPECT_EQ(s.untracked_frees, 1u);
	ms_snapshot_release(&s);
}

TEST_P(Engine, ReallocOfUntrackedBlock)
{
	ms_claim claim;

	mstest::realloc_begin(&c, fake(9), &claim);
	EXPECT_FALSE(claim.found); // no header of ours
	mstest::realloc_end(&c, &claim, fake(10), 64, nullptr, 0);
	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, 1u);
	EXPECT_EQ(s.total_reallocs, 0u);
	EXPECT_EQ(s.untracked_frees, 1u);
	EXPECT_EQ(s.live_bytes, 64u);
	ms_snapshot_release(&s);
}

// Annotations count, and leave the blocks as they are: ms_move hands one
// block's names to another (a hand-made realloc), realloc carries them to
// the new block, and a free ends them.
TEST_P(Engine, AnnotationsFollowTheirBlocks)
{
	mstest::alloc(&c, fake(1), 128, nullptr, 0);
	mstest::alloc(&c, fake(2), 64, nullptr, 0);
	ms_capture_track(&c, fake(1), "a", "struct a");
	ms_capture_annotate(&c, MS_OP_MOVE, fake(2), fake(1));
	ms_capture_annotate(&c, MS_OP_BORROW, fake(2), nullptr);
	ms_capture_annotate(&c, MS_OP_RETURN, fake(2), nullptr);
	mstest::free_block(&c, fake(1)); // the old home, freed as usual
	mstest::alloc(&c, fake(3), 32, nullptr, 0);
	ms_capture_track(&c, fake(3), "b", "char[]");
	ms_claim claim;
	mstest::realloc_begin(&c, fake(3), &claim);
	mstest::realloc_end(&c, &claim, fake(4), 256, nullptr, 0);

	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, 4u);
	EXPECT_EQ(s.total_frees, 2u);
	EXPECT_EQ(s.live_bytes, 64u + 256u);
	EXPECT_EQ(s.untracked_frees, 0u);
	EXPECT_EQ(s.dropped_events, 0u);
	EXPECT_EQ(s.moves, 1u);
	EXPECT_EQ(s.borrows, 1u);
	EXPECT_EQ(s.returns, 1u);
	ASSERT_EQ(s.nnotes, 2u);
	const ms_note_info &a = s.notes[0], &b = s.notes[1];
	EXPECT_STREQ(a.var, "a");
	EXPECT_EQ(a.ptr, (uint64_t)(uintptr_t)fake(2)); // moved, with its new block's size
	EXPECT_EQ(a.size, 64u);
	EXPECT_TRUE(a.live);
	EXPECT_EQ(a.borrows, 1u);
	EXPECT_EQ(a.lent, 0u);
	EXPECT_STREQ(b.var, "b");
	EXPECT_EQ(b.ptr, (uint64_t)(uintptr_t)fake(4)); // followed the realloc
	EXPECT_EQ(b.size, 256u);
	EXPECT_TRUE(b.live);
	ms_snapshot_release(&s);

	mstest::free_block(&c, fake(2));
	mstest::free_block(&c, fake(4));
	s = snap();
	ASSERT_EQ(s.nnotes, 2u);
	EXPECT_FALSE(s.notes[0].live);
	EXPECT_FALSE(s.notes[1].live);
	EXPECT_EQ(s.live_bytes, 0u);
	ms_snapshot_release(&s);
}

// Many blocks at once with no upkeep from a sampler in between: the
// backend's tables grow on the hook path alone and nothing is dropped.
TEST_P(Engine, ManyBlocksWithoutUpkeep)
{
	const uint64_t n = 600000;

	for (uint64_t i = 0; i < n; i++)
		mstest::alloc(&c, fake(i), 16, nullptr, 0);
	ms_snapshot s = snap();
	EXPECT_EQ(s.live_allocs, n);
	EXPECT_EQ(s.dropped_events, 0u);
	ms_snapshot_release(&s);
	for (uint64_t i = 0; i < n; i++)
		mstest::free_block(&c, fake(i));
	s = snap();
	EXPECT_EQ(s.live_bytes, 0u);
	EXPECT_EQ(s.untracked_frees, 0u);
	ms_snapshot_release(&s);
}

// Frees the hook cannot count: a block whose header is not ours (a block
// of the real allocator: the word before it is a glibc chunk's size field,
// whose bit 3 is always 0), a block made while the hook did not count
// (generation 0) and a block of another session (a forked child's parent,
// an engine closed since). Each is an untracked free; nothing else moves.
TEST_P(Engine, FreesOfBlocksNotCountedAreUntracked)
{
	mstest::alloc(&c, fake(1), 100);
	// A real allocator's block: prev_size, then size 48 | PREV_INUSE.
	uint64_t *glibc = static_cast<uint64_t *>(fake(2)) - 2;
	glibc[0] = 0;
	glibc[1] = 48 | 1;
	mstest::free_block(&c, fake(2));
	// Generation 0: written as the hook writes a block it does not count.
	ms_block_put(fake(3), 77, 0, 0, 0, 0, MS_BLOCK_HEAD);
	mstest::free_block(&c, fake(3));
	// Another session's generation.
	ms_block_put(fake(4), 88, 0, 0, c.gen % (MS_BLOCK_GENS - 1) + 1, 0, MS_BLOCK_HEAD);
	mstest::free_block(&c, fake(4));
	// Never written at all.
	mstest::free_block(&c, fake(5));

	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, 1u);
	EXPECT_EQ(s.total_frees, 0u);
	EXPECT_EQ(s.untracked_frees, 4u);
	EXPECT_EQ(s.live_bytes, 100u);
	EXPECT_EQ(s.dropped_events, 0u);
	ms_snapshot_release(&s);
}

// The header says what a block is: size, stack id, owner, generation and
// birth read back as written, and an aligned block says where it starts.
TEST(BlockHeader, ReadsBackWhatWasWritten)
{
	ms_block_init();
	ms_block_info b;
	alignas(64) static char buf[512];
	void *p = buf + 64;

	ms_block_put(p, 123456789, 0x3ffff, 4095, 7, 0xabcdef1234ull, MS_BLOCK_HEAD);
	ASSERT_EQ(ms_block_get(p, &b), 0);
	EXPECT_EQ(b.size, 123456789u);
	EXPECT_EQ(b.stack, 0x3ffffu);
	EXPECT_EQ(b.owner, 4095u);
	EXPECT_EQ(b.gen, 7u);
	EXPECT_EQ(b.born, 0xabcdef1234ull);
	EXPECT_EQ(ms_block_base(p, &b), buf + 48);

	ms_block_put(p, MS_BLOCK_SIZE_MAX, 1, 2, 3, MS_BLOCK_BORN_MASK, 64);
	ASSERT_EQ(ms_block_get(p, &b), 0);
	EXPECT_EQ(b.size, MS_BLOCK_SIZE_MAX);
	EXPECT_EQ(b.born, MS_BLOCK_BORN_MASK);
	EXPECT_EQ(ms_block_base(p, &b), buf);

	// The check byte always has the bit a glibc size field never has.
	EXPECT_NE(reinterpret_cast<uint64_t *>(p)[-1] & MS_BLOCK_GLIBC_BIT, 0u);
	// The same header at another address does not check out there (the
	// check has 7 bits of hash: 16 tries pass by chance rarely).
	ms_block_put(p, 10, 1, 2, 3, 4, MS_BLOCK_HEAD);
	int moved_ok = 0;
	for (int i = 1; i <= 16; i++) {
		memcpy(buf + 64 + 16 * i - 16, buf + 48, 16);
		moved_ok += ms_block_get(buf + 64 + 16 * i, &b) == 0 &&
			    b.offset == MS_BLOCK_HEAD;
	}
	EXPECT_LT(moved_ok, 4) << "a copied header passes at other addresses";
	// An aligned block's start must be a power of two of at least 32.
	ms_block_put(p, 10, 1, 2, 3, 4, 64);
	reinterpret_cast<uint64_t *>(p)[-3] = 48;
	EXPECT_EQ(ms_block_get(p, &b), -1);
}

// A count threads wait on. Spinning on an atomic with yield() instead
// starves the threads still working when threads outnumber cores: under
// TSan on two cores that took minutes.
struct Latch {
	std::mutex m;
	std::condition_variable cv;
	int count = 0;
	void add()
	{
		std::lock_guard<std::mutex> hold(m);
		count++;
		cv.notify_all();
	}
	void wait_for(int n)
	{
		std::unique_lock<std::mutex> hold(m);
		cv.wait(hold, [&] { return count >= n; });
	}
};

TEST_P(Engine, EightThreadsExactWithCrossThreadFrees)
{
	const int threads = 8, per = 20000;
	std::vector<std::thread> pool;
	std::vector<pid_t> tids(threads);

	// Thread t allocates blocks [t*per, (t+1)*per), frees the first half of
	// its own and the second half of its neighbour's is freed by the
	// neighbour, after all allocations are done.
	Latch allocated;
	for (int t = 0; t < threads; t++) {
		pool.emplace_back([&, t] {
			tids[t] = ms_thread_id();
			for (int i = 0; i < per; i++)
				mstest::alloc(&c, fake((uint64_t)t * per + i), 8 + (i % 16), nullptr, 0);
			allocated.add();
			allocated.wait_for(threads);
			for (int i = 0; i < per / 2; i++)
				mstest::free_block(&c, fake((uint64_t)t * per + i));
			int n = (t + 1) % threads;
			for (int i = per / 2; i < per; i++)
				mstest::free_block(&c, fake((uint64_t)n * per + i));
		});
	}
	for (auto &th : pool)
		th.join();

	uint64_t per_bytes = 0;
	for (int i = 0; i < per; i++)
		per_bytes += 8 + (i % 16);
	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, (uint64_t)threads * per);
	EXPECT_EQ(s.total_frees, (uint64_t)threads * per);
	EXPECT_EQ(s.total_bytes, per_bytes * threads);
	EXPECT_EQ(s.live_bytes, 0u);
	EXPECT_EQ(s.live_allocs, 0u);
	EXPECT_EQ(s.dropped_events, 0u);
	EXPECT_FALSE(s.torn);
	for (int t = 0; t < threads; t++) {
		const ms_thread_info *ti = slot_of(s, tids[t]);
		ASSERT_NE(ti, nullptr);
		EXPECT_EQ(ti->allocs, (uint64_t)per);
		EXPECT_EQ(ti->frees, (uint64_t)per);
		EXPECT_EQ(ti->alloc_bytes, per_bytes);
		EXPECT_EQ(ti->live_bytes, 0u);
		EXPECT_EQ(ti->live_allocs, 0u);
		EXPECT_TRUE(ti->exited);
	}
	ms_snapshot_release(&s);
}

// core and unified: the first thread accounts without a lock (solo mode) until a
// second thread comes; the second's first operation lands while the first
// is busy, and nothing is lost at the switch. In many rounds (a new engine
// each), for the switch falls at another point of the first thread's
// operation each time.
TEST_P(Engine, SoloModeEndsWithoutLosingAnOperation)
{
	const int rounds = 40, per = 20000;
	for (int round = 0; round < rounds; round++) {
		if (round > 0) {
			ms_reader_close(&r);
			unlink(c.store.path);
			ms_capture_close(&c);
			ASSERT_EQ(ms_capture_open(&c, ops, dir.c_str(), getpid()), 0);
			ASSERT_EQ(ms_reader_open(&r, c.store.path), 0);
		}
		mstest::alloc(&c, fake(0), 64);
		EXPECT_EQ(c.store.solo, c.store.solo_allowed);
		EXPECT_EQ(c.store.solo_allowed, is_core() || strcmp(GetParam(), "counting") == 0 ||
							 strcmp(GetParam(), "unified") == 0);
		std::atomic<bool> go{ false };
		std::thread other([&] {
			while (!go.load())
				;
			for (int i = 0; i < per; i++)
				mstest::alloc(&c, fake(1 + (uint64_t)i), 16);
			for (int i = 0; i < per; i++)
				mstest::free_block(&c, fake(1 + (uint64_t)i));
		});
		go.store(true);
		for (int i = 0; i < per; i++) {
			mstest::alloc(&c, fake(100000 + (uint64_t)i), 32);
			mstest::free_block(&c, fake(100000 + (uint64_t)i));
		}
		other.join();
		EXPECT_EQ(c.store.solo, 0u);

		ms_snapshot s = snap();
		EXPECT_EQ(s.total_allocs, 1u + 2u * per) << "round " << round;
		EXPECT_EQ(s.total_frees, 2u * per) << "round " << round;
		EXPECT_EQ(s.total_bytes, 64u + 48u * per) << "round " << round;
		EXPECT_EQ(s.live_bytes, 64u) << "round " << round;
		EXPECT_EQ(s.live_allocs, 1u) << "round " << round;
		EXPECT_FALSE(s.torn);
		uint64_t site_allocs = 0, site_live = 0;
		for (size_t i = 0; i < s.nsites; i++) {
			site_allocs += s.sites[i].allocs;
			site_live += s.sites[i].live_bytes;
		}
		EXPECT_EQ(site_allocs, 1u + 2u * per) << "round " << round;
		EXPECT_EQ(site_live, 64u) << "round " << round;
		ms_snapshot_release(&s);
		mstest::free_block(&c, fake(0));
	}
}

// The sampler's upkeep runs while eight threads fill and churn a table far
// past its first size: tables grow on the hook path and are replaced by
// maintain (the lockfree backend), and nothing is lost or counted twice.
TEST_P(Engine, UpkeepWhileThreadsFillAndChurn)
{
	const int threads = 8, held = 6000, churn = 30000;
	std::vector<std::thread> pool;
	std::atomic<int> done{ 0 };
	Latch filled, checked;

	std::mutex sampler; // scan and maintain are both the sampler's: never at once
	std::thread upkeep([&] {
		while (done.load() < threads) {
			std::lock_guard<std::mutex> hold(sampler);
			ms_capture_maintain(&c);
		}
	});
	for (int t = 0; t < threads; t++) {
		pool.emplace_back([&, t] {
			uint64_t base = (uint64_t)t * (held + churn), next = held;

			for (int i = 0; i < held; i++)
				mstest::alloc(&c, fake(base + i), 32, nullptr, 0);
			filled.add();
			checked.wait_for(1);
			// Free the oldest held block, allocate a new address.
			for (int i = 0; i < churn; i++) {
				mstest::free_block(&c, fake(base + next - held));
				mstest::alloc(&c, fake(base + next), 32, nullptr, 0);
				next++;
			}
			for (uint64_t i = next - held; i < next; i++)
				mstest::free_block(&c, fake(base + i));
			done++;
		});
	}
	filled.wait_for(threads);
	ms_snapshot mid = snap();
	EXPECT_EQ(mid.live_allocs, (uint64_t)threads * held);
	ms_snapshot_release(&mid);
	checked.add();
	for (auto &th : pool)
		th.join();
	upkeep.join();
	ms_capture_maintain(&c);

	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, (uint64_t)threads * (held + churn));
	EXPECT_EQ(s.total_frees, (uint64_t)threads * (held + churn));
	EXPECT_EQ(s.live_bytes, 0u);
	EXPECT_EQ(s.untracked_frees, 0u);
	EXPECT_EQ(s.dropped_events, 0u);
	EXPECT_EQ(s.peak_bytes, (uint64_t)threads * held * 32);
	ms_snapshot_release(&s);
}

// A reader polling while writers churn never sees an impossible state.
TEST_P(Engine, ReaderSeesConsistentFiguresWhileWritersRun)
{
	std::atomic<bool> stop{ false };
	std::vector<std::thread> writers;

	for (int t = 0; t < 2; t++) {
		writers.emplace_back([&, t] {
			uint64_t base = (uint64_t)t * 1000;
			for (uint64_t i = 0; !stop.load(); i++) {
				mstest::alloc(&c, fake(base + i % 1000), 64, nullptr, 0);
				if (i % 1000 == 999)
					for (uint64_t k = 0; k < 1000; k++)
						mstest::free_block(&c, fake(base + k));
			}
		});
	}
	int bad = 0;
	// 2000 snapshots, or as many as fit in 3 s: a snapshot of the async
	// backend first applies what its rings hold, which slows under the
	// sanitizers.
	uint64_t until = ms_clock_mono_ns() + 3000000000ull;
	for (int i = 0; i < 2000 && bad == 0 && (i < 50 || ms_clock_mono_ns() < until); i++) {
		ms_snapshot s = snap();
		bad += s.total_frees > s.total_allocs;
		bad += s.live_bytes > s.peak_bytes;
		bad += s.live_bytes != s.live_allocs * 64;
		bad += s.live_allocs > 2000u + 2;
		bad += s.torn;
		EXPECT_EQ(bad, 0) << "snapshot " << i << ": allocs " << s.total_allocs << " frees "
				  << s.total_frees << " live " << s.live_bytes << " in "
				  << s.live_allocs << " peak " << s.peak_bytes << " torn " << s.torn;
		ms_snapshot_release(&s);
	}
	stop = true;
	for (auto &th : writers)
		th.join();
}

TEST_P(Engine, TimelineKeepsWholeHistory)
{
	// 5000 samples do not fit 2048 slots: the ring compacts, keeping the
	// oldest sample and time order, never overflowing.
	for (int i = 0; i < 5000; i++) {
		mstest::alloc(&c, fake(i), 10, nullptr, 0);
		ms_capture_flush(&c); // a sample shows what the backend applied
		ms_store_sample(&c.store);
	}
	ms_snapshot s = snap();
	ASSERT_GT(s.nsamples, 1u);
	EXPECT_LE(s.nsamples, 2048u);
	for (size_t i = 1; i < s.nsamples; i++)
		EXPECT_LE(s.samples[i - 1].time_s, s.samples[i].time_s);
	EXPECT_EQ(s.samples[0].total_allocs, 0u); // the start survives compaction
	EXPECT_EQ(s.samples[s.nsamples - 1].total_allocs, 5000u);
	EXPECT_EQ(s.samples[s.nsamples - 1].live_bytes, 50000u);
	EXPECT_GT(s.samples[s.nsamples - 1].rss_bytes, 0u);
	ms_snapshot_release(&s);
}

TEST_P(Engine, ThreadTableOverflowSharesTheLastSlot)
{
	for (int i = 0; i < 5000; i++)
		ms_store_thread_claim(&c.store, 100000 + i, "x");
	ms_snapshot s = snap();
	EXPECT_EQ(s.nthreads, 4096u);
	EXPECT_EQ(s.threads_overflowed, 5000u - 4095u);
	EXPECT_STREQ(s.threads[4095].name, "(more threads)");
	ms_snapshot_release(&s);
}

TEST_P(Engine, FinishMarksExitedAndKeeperKeepsTheName)
{
	mstest::alloc(&c, fake(1), 10, nullptr, 0);
	ms_capture_finish(&c);
	ms_snapshot s = snap();
	EXPECT_EQ(s.state, MS_SESSION_EXITED);
	EXPECT_TRUE(s.threads[0].exited);
	ms_snapshot_release(&s);
	struct stat st;
	EXPECT_EQ(stat(c.store.path, &st), 0); // our keeper (this process) lives
	EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// realloc moves a block and the old address goes at once to another
// thread's malloc, before the realloc has returned: the old block must be
// off the table by then, and the new owner's block must not be taken for
// it (nor its free for an untracked one).
TEST_P(Engine, ReallocedAddressReusedAtOnce)
{
	ms_claim claim;

	mstest::alloc(&c, fake(1), 100, nullptr, 0);
	mstest::realloc_begin(&c, fake(1), &claim); // this thread
	std::thread([&] { mstest::alloc(&c, fake(1), 7, nullptr, 0); }).join();
	mstest::realloc_end(&c, &claim, fake(2), 300, nullptr, 0);
	std::thread([&] { mstest::free_block(&c, fake(1)); }).join(); // the other's block

	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, 3u);
	EXPECT_EQ(s.total_reallocs, 1u);
	EXPECT_EQ(s.total_frees, 2u);
	EXPECT_EQ(s.live_bytes, 300u);
	EXPECT_EQ(s.live_allocs, 1u);
	EXPECT_EQ(s.untracked_frees, 0u);
	EXPECT_EQ(s.dropped_events, 0u);
	ms_snapshot_release(&s);
}

// A thread that frees blocks it never saw allocated, while another keeps
// appending: the free is counted untracked and the thread moves on.
TEST_P(Engine, UntrackedFreeDoesNotWaitForOthers)
{
	std::atomic<bool> stop{ false };
	std::thread busy([&] {
		for (uint64_t i = 0; !stop.load(); i++) {
			mstest::alloc(&c, fake(1000000 + i % 64), 16, nullptr, 0);
			mstest::free_block(&c, fake(1000000 + i % 64));
		}
	});
	for (int i = 0; i < 100; i++)
		mstest::free_block(&c, fake(5000000 + i)); // returns: the test ends
	stop = true;
	busy.join();
	ms_snapshot s = snap();
	EXPECT_EQ(s.untracked_frees, 100u);
	EXPECT_EQ(s.live_allocs, 0u);
	EXPECT_EQ(s.dropped_events, 0u);
	ms_snapshot_release(&s);
}

// Frees after the exit path are still counted (exit handlers free late).
TEST_P(Engine, OperationsAfterFinishStillCount)
{
	mstest::alloc(&c, fake(1), 77, nullptr, 0);
	ms_capture_finish(&c);
	mstest::free_block(&c, fake(1));
	mstest::alloc(&c, fake(2), 5, nullptr, 0);
	ms_snapshot s;
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0); // no flush: nothing is held back now
	EXPECT_EQ(s.total_allocs, 2u);
	EXPECT_EQ(s.total_frees, 1u);
	EXPECT_EQ(s.live_bytes, 5u);
	ms_snapshot_release(&s);
}

// Threads that come and go: each exited thread keeps its exact figures,
// and a block made by one thread and freed by another after the first
// exited is counted to both right.
TEST_P(Engine, ThreadsExitWithTheirFigures)
{
	const int rounds = 50, per = 100;
	std::vector<pid_t> tids(rounds);

	for (int k = 0; k < rounds; k++) {
		std::thread th([&, k] {
			tids[k] = ms_thread_id();
			for (int i = 0; i < per; i++)
				mstest::alloc(&c, fake((uint64_t)k * per + i), 32, nullptr, 0);
			for (int i = 0; i < per / 2; i++)
				mstest::free_block(&c, fake((uint64_t)k * per + i));
		});
		th.join();
	}
	for (int k = 0; k < rounds; k++) // the other halves, by this thread
		for (int i = per / 2; i < per; i++)
			mstest::free_block(&c, fake((uint64_t)k * per + i));

	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, (uint64_t)rounds * per);
	EXPECT_EQ(s.total_frees, (uint64_t)rounds * per);
	EXPECT_EQ(s.live_bytes, 0u);
	EXPECT_EQ(s.untracked_frees, 0u);
	for (int k = 0; k < rounds; k++) {
		const ms_thread_info *ti = slot_of(s, tids[k]);
		ASSERT_NE(ti, nullptr) << k;
		EXPECT_TRUE(ti->exited);
		EXPECT_EQ(ti->allocs, (uint64_t)per);
		EXPECT_EQ(ti->frees, (uint64_t)per / 2);
		EXPECT_EQ(ti->live_bytes, 0u); // its blocks, freed by us
	}
	const ms_thread_info *me = slot_of(s, ms_thread_id());
	ASSERT_NE(me, nullptr);
	EXPECT_EQ(me->frees, (uint64_t)rounds * per / 2);
	ms_snapshot_release(&s);
}

// fork: the child gets a session of its own, empty, in which its
// operations count exactly; the parent's is untouched by them.
TEST_P(Engine, ForkGivesTheChildItsOwnSession)
{
	mstest::alloc(&c, fake(1), 1000, nullptr, 0);
	mstest::alloc(&c, fake(2), 2000, nullptr, 0);
	ms_capture_fork_prepare(&c);
	pid_t pid = fork();
	if (pid == 0) {
		int bad = ms_capture_fork_child(&c) != 0;
		ms_reader cr;
		ms_snapshot cs;

		mstest::free_block(&c, fake(1)); // the parent's block: untracked here
		mstest::alloc(&c, fake(3), 30, nullptr, 0);
		mstest::alloc(&c, fake(4), 40, nullptr, 0);
		mstest::free_block(&c, fake(3));
		ms_capture_flush(&c);
		bad |= ms_reader_open(&cr, c.store.path) != 0;
		bad |= ms_snapshot_take(&cr, &cs) != 0;
		bad |= cs.pid != getpid() || cs.total_allocs != 2 || cs.total_frees != 1 ||
		       cs.live_bytes != 40 || cs.untracked_frees != 1 || cs.peak_bytes != 70;
		unlink(c.store.path);
		_exit(bad);
	}
	ms_capture_fork_parent(&c);
	ASSERT_GT(pid, 0);
	int status = -1;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
	mstest::free_block(&c, fake(2));
	ms_snapshot s = snap();
	EXPECT_EQ(s.total_allocs, 2u);
	EXPECT_EQ(s.total_frees, 1u);
	EXPECT_EQ(s.live_bytes, 1000u);
	EXPECT_EQ(s.untracked_frees, 0u);
	ms_snapshot_release(&s);
}

TEST(CustomBackend, RegistersByNameAndIsUsed)
{
	ASSERT_EQ(counting_registered, 0);
	EXPECT_EQ(ms_backend_find("counting"), &counting);
	EXPECT_EQ(ms_backend_register(&counting), -EEXIST);
	ms_backend_ops nameless = counting;
	nameless.name = "";
	EXPECT_EQ(ms_backend_register(&nameless), -EINVAL);

	std::string dir = mstest::temp_dir("custom");
	ms_capture c;
	ASSERT_EQ(ms_capture_open(&c, ms_backend_find("counting"), dir.c_str(), 0), 0);
	uint64_t before = counted_records;
	mstest::alloc(&c, fake(1), 10, nullptr, 0);
	mstest::free_block(&c, fake(1));
	EXPECT_EQ(counted_records - before, 2u);
	ms_capture_finish(&c);
	ms_capture_close(&c);
}

INSTANTIATE_TEST_SUITE_P(Backends, Engine,
			 ::testing::Values("core", "lockfree", "async", "unified", "counting"),
			 [](const ::testing::TestParamInfo<const char *> &info) {
				 return std::string(info.param);
			 });

TEST(StoreSession, WithoutKeeperFinishRemovesTheNameButReadersKeepTheirView)
{
	std::string dir = mstest::temp_dir("store");
	ms_capture c;
	ms_reader r;
	ms_snapshot s;
	struct stat st;

	ASSERT_EQ(ms_capture_open(&c, &ms_backend_core, dir.c_str(), 0), 0);
	ASSERT_EQ(ms_reader_open(&r, c.store.path), 0);
	mstest::alloc(&c, fake(1), 77, nullptr, 0);
	ms_capture_finish(&c);
	EXPECT_NE(stat(c.store.path, &st), 0);
	mstest::free_block(&c, fake(1)); // accounted after the exit path too
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	EXPECT_EQ(s.state, MS_SESSION_EXITED);
	EXPECT_EQ(s.total_allocs, 1u);
	EXPECT_EQ(s.total_frees, 1u);
	EXPECT_EQ(s.peak_bytes, 77u);
	ms_snapshot_release(&s);
	ms_reader_close(&r);
	ms_capture_close(&c);
}

// A second store of the same process is what an exec'd image makes: the
// earlier one is marked replaced and the new one takes the next generation.
TEST(StoreSession, ExecStartsANewGeneration)
{
	std::string dir = mstest::temp_dir("store");
	ms_store first, second;
	ms_reader r;
	ms_snapshot s;

	ASSERT_EQ(ms_store_create(&first, dir.c_str(), getpid()), 0);
	ASSERT_EQ(ms_store_create(&second, dir.c_str(), getpid()), 0);
	EXPECT_NE(std::string(first.path), std::string(second.path));
	ASSERT_EQ(ms_reader_open(&r, first.path), 0);
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	EXPECT_EQ(s.state, MS_SESSION_EXECED);
	EXPECT_EQ(s.generation, 0u);
	ms_snapshot_release(&s);
	ms_reader_close(&r);
	ASSERT_EQ(ms_reader_open(&r, second.path), 0);
	ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
	EXPECT_EQ(s.state, MS_SESSION_RUNNING);
	EXPECT_EQ(s.generation, 1u);
	ms_snapshot_release(&s);
	ms_reader_close(&r);
	unlink(first.path);
	unlink(second.path);
	ms_shm_unmap(first.base, first.size);
	ms_shm_unmap(second.base, second.size);
}

// Without a keeper, each image removes the one before it; generations must
// still grow, so the newest is always the current image.
TEST(StoreSession, ExecChainWithoutKeeperKeepsGrowing)
{
	std::string dir = mstest::temp_dir("chain");
	ms_store images[4];

	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(ms_store_create(&images[i], dir.c_str(), 0), 0);
		std::string want = dir + "/memscope-" + std::to_string(geteuid()) + "-" +
				   std::to_string(getpid()) + "-" + std::to_string(i);
		EXPECT_EQ(std::string(images[i].path), want);
	}
	char path[512];
	ASSERT_EQ(ms_session_find(dir.c_str(), getpid(), path, sizeof(path)), 0);
	EXPECT_EQ(std::string(path), std::string(images[3].path));
	for (int i = 0; i < 4; i++) {
		unlink(images[i].path);
		ms_shm_unmap(images[i].base, images[i].size);
		ms_store_detach(&images[i]);
	}
}

// A segment with our pid but another process's start time was left by a
// dead process whose pid we reuse: it is replaced, not kept beside ours.
TEST(StoreSession, StaleSegmentOfAReusedPidIsReplaced)
{
	std::string dir = mstest::temp_dir("store");
	ms_store st;

	ASSERT_EQ(ms_store_create(&st, dir.c_str(), getpid()), 0);
	std::string path = st.path;
	// Pretend the process that wrote it started at another time.
	uint64_t *ticks = &static_cast<ms_seg_header *>(st.base)->proc_start_ticks;
	uint64_t mine = 0;
	ASSERT_EQ(ms_proc_start_ticks(0, &mine), 0);
	ASSERT_EQ(*ticks, mine);
	*ticks = mine + 12345;
	ms_shm_unmap(st.base, st.size);

	ms_store again;
	ASSERT_EQ(ms_store_create(&again, dir.c_str(), getpid()), 0);
	EXPECT_EQ(std::string(again.path), path); // generation 0 reused
	unlink(again.path);
	ms_shm_unmap(again.base, again.size);
}

TEST(Backends, FindByName)
{
	EXPECT_EQ(ms_backend_find("core"), &ms_backend_core);
	EXPECT_EQ(ms_backend_find("async"), &ms_backend_async);
	EXPECT_EQ(ms_backend_find("unified"), &ms_backend_unified);
	EXPECT_EQ(ms_backend_find(nullptr), &ms_backend_unified); // the default
	EXPECT_EQ(ms_backend_find(""), &ms_backend_unified);
	EXPECT_EQ(ms_backend_find("nonesuch"), nullptr);
}

} // namespace
