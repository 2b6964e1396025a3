// Stack interning (memscope/stacks.h): equal stacks get one id, from any
// number of threads at once; ids lead back to the same frames; the module
// map is in the store before any stack that needs it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include <memscope/platform.h>
#include <memscope/stacks.h>
#include <memscope/store.h>

#include "tests/support/run.h"

namespace {

class Stacks : public ::testing::Test {
protected:
	void SetUp() override
	{
		ASSERT_EQ(ms_store_create(&store, mstest::temp_dir("stacks").c_str(), getpid()), 0);
		ASSERT_EQ(ms_stacks_init(&stacks, &store), 0);
	}
	void TearDown() override
	{
		ms_stacks_destroy(&stacks);
		unlink(store.path);
		ms_shm_unmap(store.base, store.size);
	}
	ms_store store;
	ms_stacks stacks;
};

std::vector<uint64_t> make_stack(int i)
{
	std::vector<uint64_t> s;
	for (int k = 0; k <= i % 20; k++)
		s.push_back(0x400000 + (uint64_t)i * 0x100 + (uint64_t)k * 8);
	return s;
}

TEST_F(Stacks, EqualStacksShareAnId)
{
	std::vector<uint64_t> a = make_stack(1), b = make_stack(2);
	uint32_t ia = ms_stacks_intern(&stacks, a.data(), a.size());
	uint32_t ib = ms_stacks_intern(&stacks, b.data(), b.size());

	EXPECT_NE(ia, MS_STACK_NONE);
	EXPECT_NE(ib, MS_STACK_NONE);
	EXPECT_NE(ia, ib);
	EXPECT_EQ(ms_stacks_intern(&stacks, a.data(), a.size()), ia);
	EXPECT_EQ(ms_stacks_intern(&stacks, b.data(), b.size()), ib);
	EXPECT_EQ(ms_stacks_intern(&stacks, a.data(), 0), MS_STACK_NONE);

	uint32_t depth = 0;
	const uint64_t *frames = ms_store_stack_frames(&store, ia, &depth);
	ASSERT_NE(frames, nullptr);
	EXPECT_EQ(std::vector<uint64_t>(frames, frames + depth), a);
	// A prefix of a stack is a different stack.
	EXPECT_NE(ms_stacks_intern(&stacks, a.data(), a.size() - 1), ia);
}

TEST_F(Stacks, ManyThreadsManyStacks)
{
	const int kStacks = 5000, kThreads = 4;
	std::vector<std::vector<uint32_t>> ids(kThreads, std::vector<uint32_t>(kStacks));
	std::vector<std::thread> pool;

	for (int t = 0; t < kThreads; t++)
		pool.emplace_back([&, t] {
			for (int round = 0; round < 3; round++)
				for (int i = 0; i < kStacks; i++) {
					int k = (i * 7 + t * 13) % kStacks;
					std::vector<uint64_t> s = make_stack(k);
					uint32_t id = ms_stacks_intern(&stacks, s.data(), s.size());
					if (round == 0)
						ids[t][k] = id;
					else
						EXPECT_EQ(ids[t][k], id);
				}
		});
	for (auto &th : pool)
		th.join();
	std::set<uint32_t> distinct;
	for (int k = 0; k < kStacks; k++) {
		for (int t = 1; t < kThreads; t++)
			ASSERT_EQ(ids[t][k], ids[0][k]) << "stack " << k;
		distinct.insert(ids[0][k]);
		uint32_t depth = 0;
		const uint64_t *frames = ms_store_stack_frames(&store, ids[0][k], &depth);
		ASSERT_NE(frames, nullptr);
		EXPECT_EQ(std::vector<uint64_t>(frames, frames + depth), make_stack(k));
	}
	EXPECT_EQ(distinct.size(), (size_t)kStacks);
	EXPECT_EQ(distinct.count(MS_STACK_NONE), 0u);
	// The sampler grows the index; lookups keep working across the resize.
	ms_stacks_maintain(&stacks);
	std::vector<uint64_t> s = make_stack(42);
	EXPECT_EQ(ms_stacks_intern(&stacks, s.data(), s.size()), ids[0][42]);
}

TEST_F(Stacks, ModuleMapComesFirst)
{
	std::vector<uint64_t> s = make_stack(3);
	ms_stacks_intern(&stacks, s.data(), s.size());
	// This test binary and the C library at least.
	EXPECT_GE(ms_store_module_count(&store), 2u);
	EXPECT_GE(ms_store_module_epoch(&store), 2u);
	bool exe = false;
	for (uint32_t i = 0; i < ms_store_module_count(&store); i++) {
		uint64_t base;
		const char *path;
		int loaded;
		ASSERT_EQ(ms_store_module_get(&store, i, &base, &path, &loaded), 0);
		EXPECT_TRUE(loaded);
		exe |= std::string(path).find("stacks_test") != std::string::npos;
	}
	EXPECT_TRUE(exe);
}

} // namespace
