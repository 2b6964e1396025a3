// Blocks for driving the capture engine directly, without the hook: the
// engine writes and reads in-band headers (memscope/block.h), so every
// address a test uses has real memory for its header in front of it.
#ifndef MEMSCOPE_TESTS_SUPPORT_BLOCKS_H
#define MEMSCOPE_TESTS_SUPPORT_BLOCKS_H

#include <cstddef>
#include <cstdint>

#include <memscope/capture.h>

namespace mstest {

// The block address number i (i < 2^25): 32 bytes apart in one region of
// memory that is zero until written, so an address never allocated reads
// as a block that is not ours.
void *fake(uint64_t i);

// What the hook does around the real calls, on a fake block.
void alloc(ms_capture *c, void *p, size_t size, const uint64_t *frames = nullptr,
	   uint32_t depth = 0);
// Counts the free of p (tracked or not, as its header says), then wipes
// the header as a real free overwrites it.
void free_block(ms_capture *c, void *p);
void realloc_begin(ms_capture *c, void *old, ms_claim *claim);
void realloc_end(ms_capture *c, const ms_claim *claim, void *p, size_t size,
		 const uint64_t *frames = nullptr, uint32_t depth = 0);

} // namespace mstest

#endif
