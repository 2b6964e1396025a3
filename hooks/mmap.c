/*
 * The interposed mmap family: the program's anonymous private mappings,
 * counted apart from the heap (memscope/capture.h, core/target/maps.c).
 *
 * Which calls are seen. Only the program's own calls through the dynamic
 * linker: glibc's malloc maps its large blocks with an internal call, so
 * a large malloc is counted once, as heap; nor are thread stacks or the
 * loader's mappings counted (glibc's own too), nor programs that make the
 * system call themselves (Go's runtime). Lengths count as whole pages, as
 * the kernel maps them.
 *
 * The real call is the system call itself: glibc's wrappers add nothing to
 * it on Linux (the kernel checks an offset's alignment), and reaching them
 * through dlsym from here could recurse into the loader. memscope's own
 * mappings are made under the busy flag, and pass straight through.
 *
 * MEMSCOPE_MMAP=0 turns the counting off (the calls pass through).
 *
 * Runs: the hook path (the program's threads).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "unwind.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

struct call {
	void *addr;
	size_t len, new_len;
	int prot, flags, fd;
	off_t off;
	void *new_addr;
	int err; /* the call's errno */
};

static void *real_mmap(void *ctx)
{
	struct call *a = ctx;
	long r = syscall(SYS_mmap, a->addr, a->len, a->prot, a->flags, a->fd, a->off);

	a->err = errno;
	return (void *)r;
}

static int real_munmap(void *ctx)
{
	struct call *a = ctx;
	int r = (int)syscall(SYS_munmap, a->addr, a->len);

	a->err = errno;
	return r;
}

static void *real_mremap(void *ctx)
{
	struct call *a = ctx;
	long r = syscall(SYS_mremap, a->addr, a->len, a->new_len, a->flags, a->new_addr);

	a->err = errno;
	return (void *)r;
}

/* Whole pages, as the kernel maps them. */
static uint64_t pages(size_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return ((uint64_t)len + page - 1) & ~(page - 1);
}

static int page_aligned(const void *addr)
{
	return ((uintptr_t)addr & ((uintptr_t)sysconf(_SC_PAGESIZE) - 1)) == 0;
}

/* Whether the calls are to be counted now (not inside the hook, not
 * before the engine runs, not turned off). */
static int counting(void)
{
	return !ms_hook_busy && __atomic_load_n(&ms_hook_ready, __ATOMIC_ACQUIRE) && ms_hook_mmap;
}

/* errno after a call: the call's when it failed, else as it was before
 * (the engine's work on the way leaves nothing behind). */
static void set_errno(int failed, const struct call *a, int before)
{
	errno = failed ? a->err : before;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct call a = { .addr = addr, .len = len, .prot = prot, .flags = flags, .fd = fd,
			  .off = off };
	uint64_t frames[MS_UNWIND_BUFFER];
	int counted, before = errno;
	uint32_t depth = 0;
	void *p;

	if (!counting() || len == 0)
		return real_mmap(&a);
	counted = (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE;
	ms_hook_busy = 1;
	if (counted)
		depth = ms_unwind(frames);
	p = ms_capture_mmap(&ms_hook_capture, pages(len), counted, frames, depth, real_mmap, &a);
	ms_hook_busy = 0;
	set_errno(p == MAP_FAILED, &a, before);
	return p;
}

/* The same function under its large-file name (one and the same on 64-bit
 * systems). */
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t len)
{
	struct call a = { .addr = addr, .len = len };
	int before = errno, r;

	if (!counting() || len == 0 || !page_aligned(addr))
		return real_munmap(&a);
	ms_hook_busy = 1;
	r = ms_capture_munmap(&ms_hook_capture, (uint64_t)(uintptr_t)addr, pages(len), real_munmap,
			      &a);
	ms_hook_busy = 0;
	set_errno(r != 0, &a, before);
	return r;
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	struct call a = { .addr = old, .len = old_len, .new_len = new_len, .flags = flags };
	int before = errno;
	void *p;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		a.new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (!counting() || old_len == 0 || !page_aligned(old))
		return real_mremap(&a);
	ms_hook_busy = 1;
	p = ms_capture_mremap(&ms_hook_capture, (uint64_t)(uintptr_t)old, pages(old_len),
			      pages(new_len), real_mremap, &a);
	ms_hook_busy = 0;
	set_errno(p == MAP_FAILED, &a, before);
	return p;
}
