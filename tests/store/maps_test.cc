// The mapping table (core/target/maps.c) against a model of the address
// space, page by page: thousands of random mmaps (some MAP_FIXED over older
// ones, some not counted), munmaps of any range (whole, partial, holes,
// several mappings at once) and mremaps (in place or moved, grown or
// shrunk). The test plays the kernel through the calls' callbacks, so the
// addresses are never touched. After every call the store's figures must
// be the model's exactly: each call site's mappings made and ended, bytes
// mapped and unmapped, and the totals live, peak and made.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include <memscope/backends.h>
#include <memscope/capture.h>
#include <memscope/snapshot.h>

#include "tests/support/run.h"

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBase = 0x700000000000ull;
constexpr int kPages = 256;
constexpr int kStacks = 4;

struct Site {
	uint64_t allocs = 0, frees = 0, alloc_bytes = 0, free_bytes = 0;
};

struct Model {
	std::vector<int> origin = std::vector<int>(kPages, 0); // 0: nothing counted there
	std::map<int, int> stack_of;			      // origin -> stack
	Site sites[kStacks];
	uint64_t live = 0, peak = 0, maps = 0;
	int next_origin = 0;

	int pages_of(int o) const
	{
		int n = 0;
		for (int p : origin)
			n += p == o;
		return n;
	}
	// [a, b) unmapped: counted out of their sites (count), or only taken.
	void cut(int a, int b, bool count)
	{
		std::map<int, int> gone;
		for (int p = a; p < b; p++)
			if (origin[p] != 0) {
				gone[origin[p]]++;
				origin[p] = 0;
			}
		for (auto &kv : gone) {
			Site &s = sites[stack_of[kv.first]];
			if (!count)
				continue;
			s.free_bytes += kv.second * kPage;
			live -= kv.second * kPage;
			if (pages_of(kv.first) == 0)
				s.frees++;
		}
	}
	void put(int a, int n, int o)
	{
		for (int p = a; p < a + n; p++)
			origin[p] = o;
	}
	int free_run(int n, int skip_a = 0, int skip_b = 0, std::mt19937 *rng = nullptr) const
	{
		std::vector<int> starts;
		for (int a = 0; a + n <= kPages; a++) {
			bool ok = true;
			for (int p = a; p < a + n && ok; p++)
				ok = origin[p] == 0 && !(p >= skip_a && p < skip_b);
			if (ok)
				starts.push_back(a);
		}
		if (starts.empty())
			return -1;
		return rng ? starts[(*rng)() % starts.size()] : starts[0];
	}
};

// What the fake kernel answers.
struct Kernel {
	uint64_t answer;
};

void *give_address(void *ctx)
{
	return (void *)(uintptr_t)static_cast<Kernel *>(ctx)->answer;
}

int succeed(void *)
{
	return 0;
}

void *fail_map(void *)
{
	return MAP_FAILED;
}

uint64_t at(int page)
{
	return kBase + (uint64_t)page * kPage;
}

class Maps : public ::testing::TestWithParam<unsigned> {};

TEST_P(Maps, EveryFigureMatchesAPageModelThroughRandomCalls)
{
	std::string dir = mstest::temp_dir("maps");
	ms_capture c;
	ms_reader r;
	ASSERT_EQ(ms_capture_open(&c, ms_backend_find("core"), dir.c_str(), getpid()), 0);
	ASSERT_NE(c.maps, nullptr);
	ASSERT_EQ(ms_reader_open(&r, c.store.path), 0);

	std::mt19937 rng(GetParam());
	Model m;
	uint32_t stack_ids[kStacks];
	int maps_done = 0, unmaps = 0, remaps = 0, holes = 0;
	for (int op = 0; op < 3000; op++) {
		int kind = (int)(rng() % 100);
		if (kind < 40) {
			// mmap: anywhere free, or MAP_FIXED anywhere; counted or not.
			int n = 1 + (int)(rng() % 16), stack = (int)(rng() % kStacks);
			bool fixed = rng() % 10 < 3, counted = rng() % 10 < 8;
			int a = fixed ? (int)(rng() % (kPages - n + 1)) : m.free_run(n, 0, 0, &rng);
			if (a < 0)
				continue;
			uint64_t frames[2] = { 0x401000u + 64u * (uint64_t)stack, 0x402000u };
			Kernel k{ at(a) };
			void *p = ms_capture_mmap(&c, (uint64_t)n * kPage, counted, frames, 2,
						  give_address, &k);
			ASSERT_EQ(p, (void *)(uintptr_t)at(a));
			m.cut(a, a + n, true);
			if (counted) {
				int o = ++m.next_origin;
				m.stack_of[o] = stack;
				m.put(a, n, o);
				m.sites[stack].allocs++;
				m.sites[stack].alloc_bytes += (uint64_t)n * kPage;
				m.live += (uint64_t)n * kPage;
				m.maps++;
			}
			maps_done++;
		} else if (kind < 75) {
			// munmap of any range: whole, partial, a hole, several at once.
			int a = (int)(rng() % kPages), n = 1 + (int)(rng() % 24);
			if (a + n > kPages)
				n = kPages - a;
			bool hole = a > 0 && m.origin[a - 1] != 0 && a + n < kPages &&
				    m.origin[a - 1] == m.origin[a + n];
			ASSERT_EQ(ms_capture_munmap(&c, at(a), (uint64_t)n * kPage, succeed, nullptr), 0);
			m.cut(a, a + n, true);
			unmaps++;
			holes += hole;
		} else {
			// mremap of part of one mapping's piece, in place or moved.
			std::vector<int> mapped;
			for (int p = 0; p < kPages; p++)
				if (m.origin[p] != 0)
					mapped.push_back(p);
			if (mapped.empty())
				continue;
			int p = mapped[rng() % mapped.size()], o = m.origin[p], s = p, e = p + 1;
			while (s > 0 && m.origin[s - 1] == o)
				s--;
			while (e < kPages && m.origin[e] == o)
				e++;
			int a = s + (int)(rng() % (e - s)), b = a + 1 + (int)(rng() % (e - a));
			int n = 1 + (int)(rng() % 20), dest = -1;
			// In place when the pages after it are free, else anywhere free.
			bool room = a + n <= kPages;
			for (int q = b; q < a + n && room; q++)
				room = m.origin[q] == 0;
			if (room && rng() % 2 == 0)
				dest = a;
			else
				dest = m.free_run(n, a, b, &rng);
			if (dest < 0)
				continue;
			Kernel k{ at(dest) };
			void *got = ms_capture_mremap(&c, at(a), (uint64_t)(b - a) * kPage,
						      (uint64_t)n * kPage, give_address, &k);
			ASSERT_EQ(got, (void *)(uintptr_t)at(dest));
			Site &site = m.sites[m.stack_of[o]];
			m.cut(a, b, false);
			m.put(dest, n, o);
			if (n > b - a) {
				site.alloc_bytes += (uint64_t)(n - (b - a)) * kPage;
				m.live += (uint64_t)(n - (b - a)) * kPage;
			} else {
				site.free_bytes += (uint64_t)((b - a) - n) * kPage;
				m.live -= (uint64_t)((b - a) - n) * kPage;
			}
			remaps++;
		}
		m.peak = std::max(m.peak, m.live);

		// A failed call changes nothing.
		if (op % 97 == 0) {
			Kernel k{ 0 };
			uint64_t frames[1] = { 0x403000u };
			ASSERT_EQ(ms_capture_mmap(&c, kPage, 1, frames, 1, fail_map, &k), MAP_FAILED);
		}

		ms_snapshot s;
		ASSERT_EQ(ms_snapshot_take(&r, &s), 0);
		ASSERT_EQ(s.mmap_live_bytes, m.live) << "op " << op;
		ASSERT_EQ(s.mmap_peak_bytes, m.peak) << "op " << op;
		ASSERT_EQ(s.mmap_total_maps, m.maps) << "op " << op;
		for (int st = 0; st < kStacks; st++) {
			uint64_t frames[2] = { 0x401000u + 64u * (uint64_t)st, 0x402000u };
			stack_ids[st] = ms_stacks_intern(&c.stacks, frames, 2);
			const ms_site_info *found = nullptr;
			for (size_t i = 0; i < s.nsites; i++)
				if (s.sites[i].stack == stack_ids[st])
					found = &s.sites[i];
			const Site &want = m.sites[st];
			if (want.allocs == 0) {
				ASSERT_EQ(found, nullptr) << "op " << op;
				continue;
			}
			ASSERT_NE(found, nullptr) << "op " << op;
			ASSERT_EQ(found->kind, MS_SITE_MMAP);
			ASSERT_EQ(found->allocs, want.allocs) << "op " << op << " stack " << st;
			ASSERT_EQ(found->frees, want.frees) << "op " << op << " stack " << st;
			ASSERT_EQ(found->alloc_bytes, want.alloc_bytes) << "op " << op << " stack " << st;
			ASSERT_EQ(found->free_bytes, want.free_bytes) << "op " << op << " stack " << st;
		}
		ms_snapshot_release(&s);
	}
	// The random calls did reach every case.
	EXPECT_GT(maps_done, 500);
	EXPECT_GT(unmaps, 500);
	EXPECT_GT(remaps, 300);
	EXPECT_GT(holes, 20);
	ms_reader_close(&r);
	unlink(c.store.path);
	ms_capture_close(&c);
}

INSTANTIATE_TEST_SUITE_P(Seeds, Maps, ::testing::Values(2026u, 7u, 99u, 12345u));

} // namespace
