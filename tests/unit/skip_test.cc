// memscope/skip.h: which frames are the allocator's or its wrappers', and
// the names they are matched by.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include <memscope/skip.h>

namespace {

std::string base(const char *function)
{
	char buf[256];
	return ms_skip_base(function, buf, sizeof(buf));
}

TEST(Skip, BaseOfCAndCxxNames)
{
	EXPECT_EQ(base("xmalloc"), "xmalloc");
	EXPECT_EQ(base("xmalloc.cold"), "xmalloc");
	EXPECT_EQ(base("bn_expand2.part.0"), "bn_expand2");
	EXPECT_EQ(base("os::malloc(unsigned long, MEMFLAGS)"), "os::malloc");
	EXPECT_EQ(base("__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)"),
		  "__gnu_cxx::new_allocator::allocate");
	EXPECT_EQ(base("std::vector<std::pair<int, int>, std::allocator<std::pair<int, int> > >"
		       "::_M_realloc_insert(int)"),
		  "std::vector::_M_realloc_insert");
	EXPECT_EQ(base("foo(int) [clone .isra.0]"), "foo");
	EXPECT_EQ(base("(anonymous namespace)::pool::get(int)"), "(anonymous namespace)::pool::get");
	EXPECT_EQ(base("std::ostream::operator<<(int)"), "std::ostream::operator<<");
	EXPECT_EQ(base("Less::operator()(int, int) const"), "Less::operator()");
	EXPECT_EQ(base("A<B>::operator<(A<B> const&)"), "A::operator<");
	// A buffer too small: cut, still a string.
	char small[4];
	EXPECT_STREQ(ms_skip_base("xmalloc", small, sizeof(small)), "xma");
}

TEST(Skip, TheAllocatorAndKnownWrappers)
{
	ms_skip *sk;
	ASSERT_EQ(ms_skip_new(nullptr, &sk), 0);
	for (const char *f : { "malloc", "__libc_calloc", "operator new(unsigned long)",
			       "operator delete[](void*)", "xmalloc", "xcalloc.cold", "g_malloc0",
			       "Perl_safesysmalloc", "os::malloc(unsigned long, MEMFLAGS)",
			       "CRYPTO_zalloc", "PyMem_RawMalloc", "strdup", "__strdup",
			       "std::allocator_traits<std::allocator<int> >::allocate("
			       "std::allocator<int>&, unsigned long)",
			       "__rust_alloc" })
		EXPECT_TRUE(ms_skip_frame(sk, f, "/usr/lib/libfoo.so")) << f;
	for (const char *f : { "main", "xmalloc_stats", "my_malloc", "std::vector<int>::push_back(int)",
			       "os::malloc_helper()", "operator+(A, B)" })
		EXPECT_FALSE(ms_skip_frame(sk, f, "/usr/lib/libfoo.so")) << f;
	// The hook's own frames, named or not.
	EXPECT_TRUE(ms_skip_frame(sk, nullptr, "/opt/memscope/lib/libmemscope.so"));
	EXPECT_FALSE(ms_skip_frame(sk, nullptr, "/usr/lib/libfoo.so"));
	EXPECT_FALSE(ms_skip_frame(sk, nullptr, nullptr));
	ms_skip_free(sk);
}

TEST(Skip, TheUsersNamesAndPrefixes)
{
	ms_skip *sk;
	ASSERT_EQ(ms_skip_new(" my_alloc, pool::get ,arena_*,,", &sk), 0);
	EXPECT_TRUE(ms_skip_frame(sk, "my_alloc", nullptr));
	EXPECT_FALSE(ms_skip_frame(sk, "my_alloc2", nullptr));
	EXPECT_TRUE(ms_skip_frame(sk, "pool::get(unsigned long)", nullptr));
	EXPECT_TRUE(ms_skip_frame(sk, "arena_new", nullptr));
	EXPECT_TRUE(ms_skip_frame(sk, "arena_", nullptr));
	EXPECT_FALSE(ms_skip_frame(sk, "my_arena_new", nullptr));
	EXPECT_TRUE(ms_skip_frame(sk, "xmalloc", nullptr)); // built-ins still hold
	ms_skip_free(sk);

	for (const char *bad : { "*", "f(int)", "vector<int>", "a*b" }) {
		EXPECT_EQ(ms_skip_new(bad, &sk), -EINVAL) << bad;
		EXPECT_EQ(sk, nullptr);
	}
	ASSERT_EQ(ms_skip_new("", &sk), 0);
	EXPECT_FALSE(ms_skip_frame(sk, "my_alloc", nullptr));
	ms_skip_free(sk);
}

} // namespace
