/* The in-band block header's secret (memscope/block.h). Hook path. */
#include <memscope/block.h>

#include <string.h>
#include <sys/auxv.h>

uint64_t ms_block_secret;

void ms_block_init(void)
{
	const unsigned char *random = (const unsigned char *)getauxval(AT_RANDOM);
	uint64_t s = 0;

	if (__atomic_load_n(&ms_block_secret, __ATOMIC_RELAXED) != 0)
		return;
	/* 16 random bytes the kernel gives every process image (the C
	 * library derives its guards from them too: mixed, so that no header
	 * says anything of those). */
	if (random != NULL) {
		uint64_t a, b;

		memcpy(&a, random, sizeof(a));
		memcpy(&b, random + 8, sizeof(b));
		s = ms_block_mix(a ^ ms_block_mix(b ^ 0x6d656d73636f7065ull));
	}
	if (s == 0)
		s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&ms_block_secret;
	__atomic_store_n(&ms_block_secret, s, __ATOMIC_RELAXED);
}
