/*
 * Listing the caller's sessions (memscope/sessions.h). Reader side only:
 * it allocates and reads directories.
 */
#define _GNU_SOURCE
#include <memscope/sessions.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memscope/grow.h>

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
			ms_session_entry *more = ms_grow(list, &cap, count + 1, sizeof(*more), 16);

			if (more == NULL) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = more;
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
