#define _GNU_SOURCE
#include <memscope/session.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char prefix[] = "memscope-";

static size_t put_str(char *buf, size_t len, size_t n, const char *s)
{
	while (*s != '\0') {
		if (n + 1 < len)
			buf[n] = *s;
		n++;
		s++;
	}
	return n;
}

static size_t put_uint(char *buf, size_t len, size_t n, unsigned long v)
{
	char rev[24];
	size_t r = 0;

	do {
		rev[r++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (r > 0) {
		if (n + 1 < len)
			buf[n] = rev[r - 1];
		n++;
		r--;
	}
	return n;
}

int ms_session_path(char *buf, size_t len, const char *dir, uid_t uid, pid_t pid, unsigned gen)
{
	size_t n = 0;

	if (len == 0)
		return -ENAMETOOLONG;
	n = put_str(buf, len, n, dir);
	n = put_str(buf, len, n, "/");
	n = put_str(buf, len, n, prefix);
	n = put_uint(buf, len, n, (unsigned long)uid);
	n = put_str(buf, len, n, "-");
	n = put_uint(buf, len, n, (unsigned long)pid);
	n = put_str(buf, len, n, "-");
	n = put_uint(buf, len, n, gen);
	buf[n < len ? n : len - 1] = '\0';
	return n < len ? 0 : -ENAMETOOLONG;
}

/* Parses decimal digits up to `stop`; at most 10 digits, value <= max. */
static int parse_field(const char **p, char stop, unsigned long max, unsigned long *out)
{
	const char *s = *p;
	unsigned long v = 0;
	int digits = 0;

	while (*s >= '0' && *s <= '9') {
		if (++digits > 10)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		s++;
	}
	if (digits == 0 || *s != stop || v > max)
		return -EINVAL;
	*p = stop == '\0' ? s : s + 1;
	*out = v;
	return 0;
}

int ms_session_parse_name(const char *name, uid_t *uid, pid_t *pid, unsigned *gen)
{
	unsigned long u, p, g;
	const char *s = name;

	if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
		return -EINVAL;
	s += sizeof(prefix) - 1;
	if (parse_field(&s, '-', 0xffffffffUL, &u) != 0 ||
	    parse_field(&s, '-', 0x7fffffffUL, &p) != 0 ||
	    parse_field(&s, '\0', 0xffffUL, &g) != 0 || p == 0)
		return -EINVAL;
	*uid = (uid_t)u;
	*pid = (pid_t)p;
	*gen = (unsigned)g;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const ms_session_entry *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

int ms_session_list(const char *dir, ms_session_entry **out)
{
	ms_session_entry *list = NULL;
	size_t count = 0, cap = 0;
	uid_t me = geteuid();
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		ms_session_entry e;
		uid_t uid;

		if (ms_session_parse_name(de->d_name, &uid, &e.pid, &e.gen) != 0 || uid != me)
			continue;
		if (ms_session_path(e.path, sizeof(e.path), dir, uid, e.pid, e.gen) != 0)
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			ms_session_entry *n = realloc(list, ncap * sizeof(*n));

			if (n == NULL) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = n;
			cap = ncap;
		}
		list[count++] = e;
	}
	closedir(d);
	if (count > 0)
		qsort(list, count, sizeof(*list), entry_cmp);
	*out = list;
	return (int)count;
}

int ms_session_find(const char *dir, pid_t pid, char *path, size_t len)
{
	ms_session_entry *list;
	int n = ms_session_list(dir, &list), found = -ENOENT;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (list[i].pid != pid)
			continue;
		if (strlen(list[i].path) >= len) {
			found = -ENAMETOOLONG;
			continue;
		}
		strcpy(path, list[i].path); /* sorted: the last match is the newest */
		found = 0;
	}
	free(list);
	return found;
}
