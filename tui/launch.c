#define _GNU_SOURCE
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memscope/platform.h>
#include <memscope/sessions.h>
#include <memscope/snapshot.h>
#include <memscope/stream.h>

static int exe_dir(char *dir, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL || (size_t)(slash - exe) >= len)
		return -ENOENT;
	*slash = '\0';
	strcpy(dir, exe);
	return 0;
}

/* The first of dir/candidates[i] that exists. */
static int first_existing(const char *const *candidates, const char *name, char *path, size_t len)
{
	char dir[PATH_MAX];

	if (exe_dir(dir, sizeof(dir)) != 0)
		return -ENOENT;
	for (size_t i = 0; candidates[i] != NULL; i++) {
		int n = snprintf(path, len, "%s/%s%s", dir, candidates[i], name);

		if (n > 0 && (size_t)n < len && access(path, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int ms_find_hook_library(char *path, size_t len)
{
	static const char *const where[] = { "../hooks/", "", "../lib/memscope/", NULL };
	const char *env = getenv("MEMSCOPE_LIB");

	if (env != NULL && env[0] != '\0') {
		if (env[0] != '/' || strlen(env) >= len || access(env, R_OK) != 0)
			return -ENOENT;
		strcpy(path, env);
		return 0;
	}
	return first_existing(where, "libmemscope.so", path, len);
}

int ms_find_sibling(const char *name, char *path, size_t len)
{
	static const char *const where[] = { "", "../libexec/memscope/", NULL };

	return first_existing(where, name, path, len);
}

int ms_launch_output_file(char *buf, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd, n;

	n = snprintf(buf, len, "%s/memscope-output-XXXXXX", dir != NULL && dir[0] ? dir : "/tmp");
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	fd = mkstemp(buf);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* In the child: the program's output to the file, no terminal input. */
static void detach_from_terminal(const char *output)
{
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open(output, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (in < 0 || out < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(out, STDERR_FILENO) < 0) {
		fprintf(stderr, "memscope-top: cannot redirect the program's output to %s: %s\n",
			output, strerror(errno));
		_exit(127);
	}
	setpgid(0, 0);
}

pid_t ms_launch(char *const argv[], const char *hook_path, const char *output,
		int stdout_to_stderr, int events_fd)
{
	char keeper[24];
	pid_t pid;

	snprintf(keeper, sizeof(keeper), "%d", (int)getpid());
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		const char *old = getenv("LD_PRELOAD");
		char *preload;

		if (old != NULL && old[0] != '\0') {
			if (asprintf(&preload, "%s:%s", hook_path, old) < 0)
				_exit(127);
		} else {
			preload = (char *)hook_path;
		}
		setenv("LD_PRELOAD", preload, 1);
		setenv("MEMSCOPE_KEEPER", keeper, 1);
		if (events_fd >= 0) {
			char fd[16];

			snprintf(fd, sizeof(fd), "%d", events_fd);
			fcntl(events_fd, F_SETFD, 0); /* the program's to keep */
			setenv(MS_STREAM_ENV, fd, 1);
		}
		if (output != NULL)
			detach_from_terminal(output);
		else if (stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "memscope-top: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

void ms_launch_cleanup(pid_t child)
{
	ms_session_entry *list;
	int n = ms_session_list(ms_shm_dir(), &list);
	pid_t me = getpid();

	for (int i = 0; i < n; i++) {
		ms_reader r;
		ms_snapshot s;
		int ours;

		if (list[i].pid == child) {
			unlink(list[i].path);
			continue;
		}
		if (ms_reader_open(&r, list[i].path) != 0)
			continue;
		if (ms_snapshot_take(&r, &s) == 0) {
			ours = s.keeper_pid == me && s.state != MS_SESSION_RUNNING;
			ms_snapshot_release(&s);
			if (ours)
				unlink(list[i].path);
		}
		ms_reader_close(&r);
	}
	free(list);
}
