/*
 * mmaps: the program's own anonymous private mappings, with known figures.
 *   map_ten:    10 mappings of 1 MiB (peak 10 MiB), then
 *               - 4 unmapped whole;
 *               - the second half of the fifth unmapped;
 *               - a 256 KiB hole punched in the sixth, then the rest of it
 *                 unmapped (its two pieces: the mapping ends once);
 *               - the seventh grown to 3 MiB by mremap (it may move).
 *               So: 10 mappings, 5 ended, 12 MiB mapped in all (2 MiB by
 *               the growth), 6.5 MiB live, peak 10 MiB.
 *   big_malloc: one malloc of 8 MiB, kept: the allocator maps it itself,
 *               so it counts as heap only, once.
 *   Not counted: a shared anonymous mapping and a private file mapping,
 *               both unmapped again.
 * Exits 1 if a call fails.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char *maps[10];

__attribute__((noinline)) static char *map_ten(void)
{
	return mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* site: map_ten */
}

__attribute__((noinline)) static void *big_malloc(void)
{
	return malloc(8 * MIB); /* site: big_malloc */
}

static int unmap(void *p, size_t len)
{
	return munmap(p, len) != 0;
}

int main(void)
{
	int bad = 0, fd;
	void *p;

	for (int i = 0; i < 10; i++) {
		maps[i] = map_ten();
		bad |= maps[i] == MAP_FAILED;
	}
	for (int i = 0; i < 4; i++)
		bad |= unmap(maps[i], MIB);
	bad |= unmap(maps[4] + MIB / 2, MIB / 2);
	bad |= unmap(maps[5] + MIB / 4, MIB / 4);
	bad |= unmap(maps[5], MIB / 4);
	bad |= unmap(maps[5] + MIB / 2, MIB / 2);
	bad |= mremap(maps[6], MIB, 3 * MIB, MREMAP_MAYMOVE) == MAP_FAILED;

	p = big_malloc();
	bad |= p == NULL;

	p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bad |= p == MAP_FAILED || unmap(p, MIB);
	fd = open("/proc/self/exe", O_RDONLY);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	bad |= fd < 0 || p == MAP_FAILED || unmap(p, 4096);
	close(fd);

	printf("mmaps %s\n", bad ? "failed" : "done");
	return bad;
}
