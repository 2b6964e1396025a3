/*
 * The caller's sessions in the segment directory, listed and found.
 *
 * Runs: readers only (memscope-top, memscope-report, tests): allocates and
 * reads directories.
 */
#ifndef MEMSCOPE_SESSIONS_H
#define MEMSCOPE_SESSIONS_H

#include <memscope/session.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ms_session_entry {
	pid_t pid;
	unsigned gen;
	char path[MS_SESSION_PATH_MAX];
} ms_session_entry;

/* Lists the caller's sessions in dir, sorted by pid then generation. *out is
 * malloc'ed (free it). Returns the count or -errno. */
int ms_session_list(const char *dir, ms_session_entry **out);

/* Finds the newest generation of pid's sessions. Returns 0 and fills path,
 * or -ENOENT. */
int ms_session_find(const char *dir, pid_t pid, char *path, size_t len);

#ifdef __cplusplus
}
#endif

#endif
