#include "tests/support/blocks.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

namespace mstest {

namespace {

constexpr size_t kRegion = size_t(1) << 30;

char *region()
{
	static char *base = [] {
		void *p = mmap(nullptr, kRegion, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			abort();
		return static_cast<char *>(p);
	}();
	return base;
}

} // namespace

void *fake(uint64_t i)
{
	if (i >= kRegion / 32 - 1)
		abort();
	return region() + 32 + i * 32;
}

void alloc(ms_capture *c, void *p, size_t size, const uint64_t *frames, uint32_t depth)
{
	ms_capture_alloc(c, p, size, MS_BLOCK_HEAD, frames, depth);
}

void free_block(ms_capture *c, void *p)
{
	ms_block_info b;

	if (ms_block_get(p, &b) == 0)
		ms_capture_free(c, p, &b);
	else
		ms_capture_untracked_free(c);
	memset(static_cast<char *>(p) - MS_BLOCK_HEAD, 0, MS_BLOCK_HEAD);
}

void realloc_begin(ms_capture *c, void *old, ms_claim *claim)
{
	ms_block_info b;

	if (old == nullptr) {
		ms_capture_realloc_begin(c, nullptr, nullptr, claim);
		return;
	}
	ms_capture_realloc_begin(c, old, ms_block_get(old, &b) == 0 ? &b : nullptr, claim);
}

void realloc_end(ms_capture *c, const ms_claim *claim, void *p, size_t size,
		 const uint64_t *frames, uint32_t depth)
{
	ms_capture_realloc_end(c, claim, p, size, MS_BLOCK_HEAD, frames, depth);
}

} // namespace mstest
