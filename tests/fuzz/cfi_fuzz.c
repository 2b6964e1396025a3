/* libFuzzer target: the hook's unwind-rule parser (hooks/cfi.c) on
 * arbitrary bytes taken as a loaded segment holding .eh_frame_hdr and
 * .eh_frame. Input: a signed 64-bit offset of the code address from the
 * segment's start, a 32-bit offset of .eh_frame_hdr in the segment, then
 * the segment. The parser must stay inside the segment (ASan reports any
 * read outside the copy) and answer one of its three kinds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/cfi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t pc_off;
	uint32_t hdr_off;
	uint8_t *seg;
	size_t n;
	ms_cfi_rule r;

	if (size < 12)
		return 0;
	memcpy(&pc_off, data, 8);
	memcpy(&hdr_off, data + 8, 4);
	n = size - 12;
	seg = malloc(n + 1); /* never 0 bytes */
	if (seg == NULL)
		return 0;
	memcpy(seg, data + 12, n);
	r = ms_cfi_parse(seg + (hdr_off % (n + 1)), (uintptr_t)seg, (uintptr_t)seg + n,
			 (uint64_t)((uintptr_t)seg + (uint64_t)pc_off));
	if (ms_cfi_kind_of(r) != MS_CFI_STANDARD && ms_cfi_kind_of(r) != MS_CFI_END &&
	    ms_cfi_kind_of(r) != MS_CFI_OTHER)
		abort();
	free(seg);
	return 0;
}
