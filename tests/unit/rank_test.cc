// Partial ordering of table rows (tui/rank.h): the first rows are exactly
// those, and in the order, that a full sort gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tui/rank.h"

namespace {

int by_value_then_key(const void *a, const void *b)
{
	const rank *x = static_cast<const rank *>(a), *y = static_cast<const rank *>(b);
	if (x->value != y->value)
		return x->value < y->value ? 1 : -1; // large first
	return x->key < y->key ? -1 : x->key > y->key;
}

// An empty table (its rows not even allocated yet) ranks as nothing, with
// no null pointer handed to qsort (UBSan in CI checks that).
TEST(Rank, NoRowsAtAll)
{
	ms_rank_first(nullptr, 0, 10, by_value_then_key);
	ms_rank_first(nullptr, 0, 0, by_value_then_key);
}

TEST(Rank, FirstRowsMatchAFullSort)
{
	std::mt19937_64 rng(7);
	for (size_t n : { 1, 2, 3, 10, 100, 1000, 20000 }) {
		for (size_t needed : { (size_t)0, (size_t)1, (size_t)5, (size_t)40, n / 5, n }) {
			for (int values : { 3, 1000000 }) { // many ties, few ties
				std::vector<rank> v(n);
				for (size_t i = 0; i < n; i++)
					v[i] = rank{ rng() % values, i * 2654435761u % 1000003, (uint32_t)i };
				std::vector<rank> want = v;
				std::sort(want.begin(), want.end(), [](const rank &a, const rank &b) {
					return by_value_then_key(&a, &b) < 0;
				});
				ms_rank_first(v.data(), n, std::min(needed, n), by_value_then_key);
				for (size_t i = 0; i < std::min(needed, n); i++)
					ASSERT_EQ(v[i].row, want[i].row) << "n " << n << " needed " << needed;
				// Nothing lost or duplicated.
				std::vector<bool> seen(n);
				for (const rank &r : v)
					seen[r.row] = true;
				EXPECT_EQ(std::count(seen.begin(), seen.end(), true), (long)n);
			}
		}
	}
}

} // namespace
