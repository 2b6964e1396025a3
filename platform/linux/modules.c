/* Loaded objects, from the dynamic loader (dl_iterate_phdr). */
#define _GNU_SOURCE
#include <memscope/platform.h>

#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

struct scan {
	int (*cb)(void *ctx, const ms_module_info *m);
	void *ctx;
	char exe[512];
	int first;
};

static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *scan = data;
	ms_module_info m = { .base = info->dlpi_addr, .lo = UINT64_MAX, .hi = 0 };

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (lo < m.lo)
			m.lo = lo;
		if (lo + ph->p_memsz > m.hi)
			m.hi = lo + ph->p_memsz;
	}
	if (m.lo >= m.hi)
		return 0;
	/* The loader lists the executable first, with an empty name. */
	m.path = info->dlpi_name;
	if ((m.path == NULL || m.path[0] == '\0') && scan->first)
		m.path = scan->exe;
	scan->first = 0;
	return scan->cb(scan->ctx, &m);
}

int ms_modules_scan(int (*cb)(void *ctx, const ms_module_info *m), void *ctx)
{
	struct scan scan = { .cb = cb, .ctx = ctx, .first = 1 };
	ssize_t n = readlink("/proc/self/exe", scan.exe, sizeof(scan.exe) - 1);

	scan.exe[n > 0 ? n : 0] = '\0';
	return dl_iterate_phdr(visit, &scan);
}

struct counts {
	uint64_t adds, subs;
};

static int read_counts(struct dl_phdr_info *info, size_t size, void *data)
{
	struct counts *c = data;

	/* dlpi_adds and dlpi_subs exist when the structure is this large. */
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		c->adds = info->dlpi_adds;
		c->subs = info->dlpi_subs;
	}
	return 1; /* the first object tells it all */
}

void ms_modules_counts(uint64_t *adds, uint64_t *subs)
{
	struct counts c = { 0, 0 };

	dl_iterate_phdr(read_counts, &c);
	*adds = c.adds;
	*subs = c.subs;
}
