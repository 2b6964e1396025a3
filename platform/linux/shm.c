/* Shared-memory segments and raw pages on Linux. Segments are plain files in
 * a tmpfs directory rather than shm_open() names, so that a test or a user
 * can point memscope at a private directory (MEMSCOPE_DIR). */
#define _GNU_SOURCE
#include <memscope/platform.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *ms_shm_dir(void)
{
	const char *dir = getenv("MEMSCOPE_DIR");

	return (dir != NULL && dir[0] != '\0') ? dir : "/dev/shm";
}

int ms_shm_create(const char *path, size_t size, void **addr, int *fd_out)
{
	void *map;
	int fd, err;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* fchmod: the umask must not widen or narrow owner-only access. */
	if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0)
		goto fail;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	if (fd_out != NULL)
		*fd_out = fd;
	else
		close(fd);
	*addr = map;
	return 0;
fail:
	err = errno;
	close(fd);
	unlink(path);
	return -err;
}

int ms_shm_reserve(int fd, uint64_t off, uint64_t len)
{
	int err;

	do {
		err = fallocate(fd, 0, (off_t)off, (off_t)len);
	} while (err != 0 && errno == EINTR);
	return err == 0 ? 0 : -errno;
}

static int map_existing(const char *path, int writable, void **addr, size_t *size)
{
	struct stat st;
	void *map;
	int fd, err;

	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		err = -EINVAL;
		goto out;
	}
	if (st.st_uid != geteuid()) {
		err = -EPERM;
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	*addr = map;
	*size = (size_t)st.st_size;
	err = 0;
out:
	close(fd);
	return err;
}

int ms_shm_map_readonly(const char *path, const void **addr, size_t *size)
{
	void *map;
	int err = map_existing(path, 0, &map, size);

	if (err == 0)
		*addr = map;
	return err;
}

int ms_shm_map_readwrite(const char *path, void **addr, size_t *size)
{
	return map_existing(path, 1, addr, size);
}

void ms_shm_unmap(const void *addr, size_t size)
{
	if (addr != NULL)
		munmap((void *)addr, size);
}

void *ms_pages_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void ms_pages_free(void *addr, size_t size)
{
	if (addr != NULL)
		munmap(addr, size);
}

/* The kernel's directory record (getdents64(2)). */
struct dirent64_record {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

int ms_dir_scan(const char *dir, int (*cb)(void *ctx, const char *name), void *ctx)
{
	char buf[4096] __attribute__((aligned(8)));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return -errno;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long at = 0; at < n;) {
			const struct dirent64_record *d = (const void *)(buf + at);

			if (d->reclen == 0 || at + d->reclen > n)
				break;
			at += d->reclen;
			if (cb(ctx, d->name) != 0) {
				close(fd);
				return 0;
			}
		}
	}
	close(fd);
	return n < 0 ? -errno : 0;
}
