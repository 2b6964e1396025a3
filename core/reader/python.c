#define _GNU_SOURCE
#include <memscope/python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memscope/grow.h>
#include <memscope/platform.h>

/* An environment larger than this is not read (PYTHONMALLOC unknown). */
#define ENV_MAX (4u << 20)

int ms_python_path(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base != NULL ? base + 1 : path;
	if (strncmp(base, "libpython", 9) == 0)
		return 1;
	if (strncmp(base, "python", 6) != 0)
		return 0;
	/* python3.11, and the ABI letters of debug (d), free-threaded (t) and
	 * old pymalloc (m) builds; not python3-config and the like. */
	return base[6 + strspn(base + 6, "0123456789.dmt")] == '\0';
}

/* The value of name in a NUL-separated environment, or NULL. */
static const char *env_value(const char *env, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);

	for (size_t at = 0; at < len;) {
		const char *e = env + at;
		const char *end = memchr(e, '\0', len - at);
		size_t elen = end != NULL ? (size_t)(end - e) : len - at;

		if (elen > nlen && memcmp(e, name, nlen) == 0 && e[nlen] == '=') {
			*vlen = elen - nlen - 1;
			return e + nlen + 1;
		}
		at += elen + 1;
	}
	return NULL;
}

int ms_python_env_own_allocator(const char *env, size_t len)
{
	static const char *const own[] = { "pymalloc", "pymalloc_debug", "debug", "mimalloc",
					   "mimalloc_debug" };
	size_t vlen = 0;
	const char *v = env_value(env, len, "PYTHONMALLOC", &vlen);

	if (v == NULL || vlen == 0)
		return 1; /* the default: pymalloc (pymalloc_debug in debug builds) */
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (vlen == strlen(own[i]) && memcmp(v, own[i], vlen) == 0)
			return 1;
	return 0;
}

/* The argument at *p (NUL-terminated, or ended by end), moving *p past
 * it; NULL when none is left. */
static const char *next_arg(const char **p, const char *end, size_t *alen)
{
	const char *a = *p, *nul;

	if (a >= end)
		return NULL;
	nul = memchr(a, '\0', (size_t)(end - a));
	*alen = nul != NULL ? (size_t)(nul - a) : (size_t)(end - a);
	*p = a + *alen + 1;
	return a;
}

int ms_python_args_ignore_env(const char *args, size_t len)
{
	const char *p = args, *end = args + len, *a;
	size_t alen;

	if (next_arg(&p, end, &alen) == NULL) /* argv[0] */
		return 0;
	while ((a = next_arg(&p, end, &alen)) != NULL) {
		if (alen < 2 || a[0] != '-')
			return 0; /* the script, or "-" (stdin): no more options */
		if (a[1] == '-') {
			if (alen == 2)
				return 0; /* "--" */
			if (alen == 23 && memcmp(a, "--check-hash-based-pycs", 23) == 0)
				next_arg(&p, end, &alen); /* its value */
			continue;
		}
		/* One-letter options, several in one argument (-IB). */
		for (size_t i = 1; i < alen; i++) {
			if (a[i] == 'E' || a[i] == 'I')
				return 1;
			if (a[i] == 'c' || a[i] == 'm')
				return 0; /* the rest is the program's */
			if (a[i] == 'W' || a[i] == 'X') {
				if (i + 1 == alen) /* its value is the next argument */
					next_arg(&p, end, &alen);
				break;
			}
		}
	}
	return 0;
}

/* Reads a whole /proc file of pid (malloc'ed, *len bytes), or NULL. */
static char *read_proc(pid_t pid, const char *leaf, size_t *len)
{
	char path[64];
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, leaf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *more = cap < ENV_MAX ? ms_grow(buf, &cap, n + 1, 1, 16384) : NULL;

			if (more == NULL)
				goto fail;
			buf = more;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto fail;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int ms_python_own_allocator(pid_t pid, uint64_t start_ticks, const ms_module_entry *mods,
			    size_t nmods)
{
	char exe_link[64], exe[PATH_MAX];
	char *env, *args;
	size_t env_len = 0, args_len = 0;
	int python_exe = 0, python = 0, own;
	ssize_t n;

	if (!ms_proc_alive(pid, start_ticks))
		return 0;
	snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", (int)pid);
	n = readlink(exe_link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		python = python_exe = ms_python_path(exe);
	}
	for (size_t i = 0; i < nmods && !python; i++)
		python = ms_python_path(mods[i].path);
	if (!python)
		return 0;
	env = read_proc(pid, "environ", &env_len);
	if (env == NULL)
		return 0;
	own = ms_python_env_own_allocator(env, env_len);
	free(env);
	/* python -E or -I ignores PYTHONMALLOC: the default allocator. Only
	 * python's own arguments say so, not those of a program embedding it. */
	if (!own && python_exe) {
		args = read_proc(pid, "cmdline", &args_len);
		if (args != NULL)
			own = ms_python_args_ignore_env(args, args_len);
		free(args);
	}
	/* Gone meanwhile (a zombie's environment reads empty): no answer. */
	return own && ms_proc_alive(pid, start_ticks);
}
