// ms_grow (memscope/grow.h): capacities double from the first, new
// elements are zeroed, and a size that cannot be had leaves the array as it
// was.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>

#include <memscope/grow.h>

TEST(Grow, DoublesFromTheFirstAndZeroesTheNewElements)
{
	size_t cap = 0;
	auto *v = static_cast<uint32_t *>(ms_grow(nullptr, &cap, 1, sizeof(uint32_t), 4));
	ASSERT_NE(v, nullptr);
	EXPECT_EQ(cap, 4u);
	for (size_t i = 0; i < cap; i++)
		v[i] = 7;
	EXPECT_EQ(ms_grow(v, &cap, 4, sizeof(uint32_t), 4), v); // room already
	EXPECT_EQ(cap, 4u);
	v = static_cast<uint32_t *>(ms_grow(v, &cap, 5, sizeof(uint32_t), 4));
	ASSERT_NE(v, nullptr);
	EXPECT_EQ(cap, 8u);
	v = static_cast<uint32_t *>(ms_grow(v, &cap, 100, sizeof(uint32_t), 4));
	ASSERT_NE(v, nullptr);
	EXPECT_EQ(cap, 128u);
	for (size_t i = 0; i < 4; i++)
		EXPECT_EQ(v[i], 7u) << i;
	for (size_t i = 4; i < cap; i++)
		EXPECT_EQ(v[i], 0u) << i;
	free(v);
}

TEST(Grow, TooMuchLeavesTheArrayAsItWas)
{
	size_t cap = 0;
	auto *v = static_cast<uint64_t *>(ms_grow(nullptr, &cap, 3, sizeof(uint64_t), 16));
	ASSERT_NE(v, nullptr);
	v[0] = 42;
	EXPECT_EQ(ms_grow(v, &cap, SIZE_MAX / 4, sizeof(uint64_t), 16), nullptr); // bytes overflow
	EXPECT_EQ(ms_grow(v, &cap, SIZE_MAX, 1, 16), nullptr);                   // count overflow
	EXPECT_EQ(cap, 16u);
	EXPECT_EQ(v[0], 42u);
	free(v);
}
