/*
 * Where sessions live and what they are called. A session is one segment,
 * named memscope-UID-PID-GEN in the segment directory (platform.h:
 * ms_shm_dir()). GEN counts the images of one process: an exec starts a new
 * one. Reader side, except ms_session_path() which is hook-safe.
 */
#ifndef MEMSCOPE_SESSION_H
#define MEMSCOPE_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes DIR/memscope-UID-PID-GEN into buf. Hook-safe (no stdio). Returns 0,
 * or -ENAMETOOLONG. */
int ms_session_path(char *buf, size_t len, const char *dir, uid_t uid, pid_t pid, unsigned gen);

/* Parses a file name (no directory) of that form. Returns 0 or -EINVAL. */
int ms_session_parse_name(const char *name, uid_t *uid, pid_t *pid, unsigned *gen);

typedef struct ms_session_entry {
	pid_t pid;
	unsigned gen;
	char path[512];
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
