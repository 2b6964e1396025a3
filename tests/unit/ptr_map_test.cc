// ptr_map: the hook's address -> block map. Exact counts against a
// std::unordered_map reference under growth and heavy churn.
#include <gtest/gtest.h>

#include <errno.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <unordered_map>

#include <memscope/ptr_map.h>

namespace {

uint64_t fake_ptr(uint64_t i)
{
	return (i + 1) * 16;
}

ms_ptr_entry entry(uint64_t ptr, uint64_t size, uint32_t owner)
{
	ms_ptr_entry e{};
	e.ptr = ptr;
	e.size = size;
	e.owner = owner;
	e.stack = owner ^ 0x5a5a;
	return e;
}

struct Ref {
	uint64_t size;
	uint32_t owner;
};

TEST(PtrMap, InitRejectsBadCapacity)
{
	ms_ptr_map m{};

	EXPECT_EQ(ms_ptr_map_init(&m, 0), -EINVAL);
	EXPECT_EQ(ms_ptr_map_init(&m, 1), -EINVAL);
	EXPECT_EQ(ms_ptr_map_init(&m, 8), -EINVAL);
	EXPECT_EQ(ms_ptr_map_init(&m, 15), -EINVAL);
	EXPECT_EQ(ms_ptr_map_init(&m, 17), -EINVAL);
	EXPECT_EQ(ms_ptr_map_init(&m, 24), -EINVAL);
	EXPECT_EQ(ms_ptr_map_init(&m, 1000), -EINVAL);
	ASSERT_EQ(ms_ptr_map_init(&m, 16), 0);
	EXPECT_EQ(m.count, 0u);
	EXPECT_EQ(m.mask, 15u);
	ms_ptr_map_destroy(&m);
	ASSERT_EQ(ms_ptr_map_init(&m, 1024), 0);
	EXPECT_EQ(m.mask, 1023u);
	ms_ptr_map_destroy(&m);
}

TEST(PtrMap, PutTakeRoundTrip)
{
	ms_ptr_map m{};
	ms_ptr_entry e = entry(fake_ptr(7), 123, 4), out{};

	ASSERT_EQ(ms_ptr_map_init(&m, 16), 0);
	EXPECT_EQ(ms_ptr_map_put(&m, &e, nullptr), 0);
	EXPECT_EQ(m.count, 1u);
	ASSERT_EQ(ms_ptr_map_take(&m, fake_ptr(7), &out), 0);
	EXPECT_EQ(out.ptr, fake_ptr(7));
	EXPECT_EQ((uint64_t)out.size, 123u);
	EXPECT_EQ((uint64_t)out.owner, 4u);
	EXPECT_EQ(out.stack, 4u ^ 0x5a5au);
	EXPECT_EQ(m.count, 0u);
	// Taken once: gone.
	EXPECT_EQ(ms_ptr_map_take(&m, fake_ptr(7), &out), -ENOENT);
	ms_ptr_map_destroy(&m);
}

TEST(PtrMap, TakeMissing)
{
	ms_ptr_map m{};
	ms_ptr_entry e = entry(fake_ptr(1), 8, 0), out{};

	ASSERT_EQ(ms_ptr_map_init(&m, 16), 0);
	EXPECT_EQ(ms_ptr_map_take(&m, fake_ptr(2), &out), -ENOENT);
	ASSERT_EQ(ms_ptr_map_put(&m, &e, nullptr), 0);
	EXPECT_EQ(ms_ptr_map_take(&m, fake_ptr(2), &out), -ENOENT);
	EXPECT_EQ(ms_ptr_map_take(&m, 0, &out), -ENOENT);
	EXPECT_EQ(m.count, 1u);
	ms_ptr_map_destroy(&m);
}

TEST(PtrMap, PutExistingReplaces)
{
	ms_ptr_map m{};
	ms_ptr_entry a = entry(fake_ptr(3), 100, 1), b = entry(fake_ptr(3), 200, 2);
	ms_ptr_entry replaced{}, out{};

	ASSERT_EQ(ms_ptr_map_init(&m, 16), 0);
	ASSERT_EQ(ms_ptr_map_put(&m, &a, nullptr), 0);
	EXPECT_EQ(ms_ptr_map_put(&m, &b, &replaced), 1);
	EXPECT_EQ(replaced.ptr, fake_ptr(3));
	EXPECT_EQ((uint64_t)replaced.size, 100u);
	EXPECT_EQ((uint64_t)replaced.owner, 1u);
	EXPECT_EQ(m.count, 1u);
	// A NULL replaced is allowed.
	EXPECT_EQ(ms_ptr_map_put(&m, &a, nullptr), 1);
	EXPECT_EQ(m.count, 1u);
	ASSERT_EQ(ms_ptr_map_take(&m, fake_ptr(3), &out), 0);
	EXPECT_EQ((uint64_t)out.size, 100u);
	EXPECT_EQ((uint64_t)out.owner, 1u);
	EXPECT_EQ(m.count, 0u);
	ms_ptr_map_destroy(&m);
}

TEST(PtrMap, AddLeavesAnExistingEntryAlone)
{
	ms_ptr_map m;
	ASSERT_EQ(ms_ptr_map_init(&m, 16), 0);
	ms_ptr_entry a = entry(0x1000, 100, 1), b = entry(0x1000, 200, 2), out{};
	EXPECT_EQ(ms_ptr_map_add(&m, &a), 0);
	EXPECT_EQ(ms_ptr_map_add(&m, &b), -EEXIST);
	EXPECT_EQ(m.count, 1u);
	ASSERT_EQ(ms_ptr_map_take(&m, 0x1000, &out), 0);
	EXPECT_EQ((uint64_t)out.size, 100u);
	// Many adds: the map grows as with put.
	for (uint64_t i = 0; i < 5000; i++) {
		ms_ptr_entry e = entry(fake_ptr(i) + 0x100000, i + 1, 3);
		ASSERT_EQ(ms_ptr_map_add(&m, &e), 0);
	}
	EXPECT_EQ(m.count, 5000u);
	ms_ptr_map_destroy(&m);
}

TEST(PtrMap, GrowthKeepsEveryEntry)
{
	const uint64_t n = 200000;
	ms_ptr_map m{};
	ms_ptr_entry out{};

	ASSERT_EQ(ms_ptr_map_init(&m, 16), 0);
	for (uint64_t i = 0; i < n; i++) {
		ms_ptr_entry e = entry(fake_ptr(i), i * 3 + 1, (uint32_t)(i % 1000));
		ASSERT_EQ(ms_ptr_map_put(&m, &e, nullptr), 0) << i;
	}
	EXPECT_EQ(m.count, n);
	// Grown to a power of two, never fuller than the load limit (5/8).
	EXPECT_EQ((m.mask + 1) & m.mask, 0u);
	EXPECT_LE(m.count * 8, (m.mask + 1) * 5);
	for (uint64_t i = 0; i < n; i++) {
		ASSERT_EQ(ms_ptr_map_take(&m, fake_ptr(i), &out), 0) << i;
		ASSERT_EQ(out.ptr, fake_ptr(i));
		ASSERT_EQ((uint64_t)out.size, i * 3 + 1);
		ASSERT_EQ((uint64_t)out.owner, (uint32_t)(i % 1000));
	}
	EXPECT_EQ(m.count, 0u);
	EXPECT_EQ(ms_ptr_map_take(&m, fake_ptr(0), &out), -ENOENT);
	ms_ptr_map_destroy(&m);
}

// Mixed puts and takes over keys, checked op by op and at the end against a
// reference map.
void churn(size_t capacity, uint64_t keys, int ops, uint64_t seed)
{
	std::mt19937_64 rng(seed);
	std::unordered_map<uint64_t, Ref> ref;
	ms_ptr_map m{};

	ASSERT_EQ(ms_ptr_map_init(&m, capacity), 0);
	for (int op = 0; op < ops; op++) {
		uint64_t k = fake_ptr(rng() % keys);
		auto it = ref.find(k);

		if (rng() % 2 == 0) {
			Ref r{ rng() % 100000 + 1, (uint32_t)(rng() % 64) };
			ms_ptr_entry e = entry(k, r.size, r.owner), replaced{};
			int rc = ms_ptr_map_put(&m, &e, &replaced);

			if (it == ref.end()) {
				ASSERT_EQ(rc, 0) << "op " << op;
			} else {
				ASSERT_EQ(rc, 1) << "op " << op;
				ASSERT_EQ(replaced.ptr, k);
				ASSERT_EQ((uint64_t)replaced.size, (uint64_t)it->second.size);
				ASSERT_EQ((uint64_t)replaced.owner, (uint64_t)it->second.owner);
			}
			ref[k] = r;
		} else {
			ms_ptr_entry out{};
			int rc = ms_ptr_map_take(&m, k, &out);

			if (it == ref.end()) {
				ASSERT_EQ(rc, -ENOENT) << "op " << op;
			} else {
				ASSERT_EQ(rc, 0) << "op " << op;
				ASSERT_EQ(out.ptr, k);
				ASSERT_EQ((uint64_t)out.size, (uint64_t)it->second.size);
				ASSERT_EQ((uint64_t)out.owner, (uint64_t)it->second.owner);
				ref.erase(it);
			}
		}
		ASSERT_EQ(m.count, ref.size()) << "op " << op;
	}
	EXPECT_EQ(m.count, ref.size());
	for (const auto &kv : ref) {
		ms_ptr_entry out{};

		ASSERT_EQ(ms_ptr_map_take(&m, kv.first, &out), 0) << kv.first;
		ASSERT_EQ(out.ptr, kv.first);
		ASSERT_EQ((uint64_t)out.size, (uint64_t)kv.second.size);
		ASSERT_EQ((uint64_t)out.owner, (uint64_t)kv.second.owner);
	}
	EXPECT_EQ(m.count, 0u);
	ms_ptr_map_destroy(&m);
}

TEST(PtrMap, RandomAgainstReference)
{
	churn(16, 50000, 1000000, 0x6d656d73636f7065ULL);
}

// Few keys, small table: long clusters that wrap around the end, so
// backward-shift deletion runs across the wrap all the time.
TEST(PtrMap, RandomSmallTableWrapping)
{
	churn(16, 9, 200000, 42);
	churn(64, 39, 200000, 7);
}

} // namespace
