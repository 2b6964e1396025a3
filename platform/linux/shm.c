/* Shared-memory segments and raw pages on Linux. Segments are plain files in
 * a tmpfs directory rather than shm_open() names, so that a test or a user
 * can point memscope at a private directory (MEMSCOPE_DIR). */
#define _GNU_SOURCE
#include <memscope/platform.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ms_shm_dir(void)
{
	const char *dir = getenv("MEMSCOPE_DIR");

	return (dir != NULL && dir[0] != '\0') ? dir : "/dev/shm";
}

int ms_shm_create(const char *path, size_t size, void **addr)
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
	close(fd);
	*addr = map;
	return 0;
fail:
	err = errno;
	close(fd);
	unlink(path);
	return -err;
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
