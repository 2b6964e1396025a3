/*
 * Where sessions live and what they are called. A session is one segment,
 * named memscope-UID-PID-GEN in the segment directory (platform.h:
 * ms_shm_dir()). GEN counts the images of one process: an exec starts a new
 * one.
 *
 * Runs: anywhere (the hook path, memscope's threads in the program, the
 * readers): no allocation, no stdio. Listing sessions is the readers'
 * (memscope/sessions.h).
 */
#ifndef MEMSCOPE_SESSION_H
#define MEMSCOPE_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Room for the segment directory's path and for a session's path (the
 * directory and memscope-UID-PID-GEN), their NULs included. */
#define MS_SESSION_DIR_MAX 256u
#define MS_SESSION_PATH_MAX 512u

#ifdef __cplusplus
extern "C" {
#endif

/* Writes DIR/memscope-UID-PID-GEN into buf. Returns 0 or -ENAMETOOLONG. */
int ms_session_path(char *buf, size_t len, const char *dir, uid_t uid, pid_t pid, unsigned gen);

/* Parses a file name (no directory) of that form. Returns 0 or -EINVAL. */
int ms_session_parse_name(const char *name, uid_t *uid, pid_t *pid, unsigned *gen);

#ifdef __cplusplus
}
#endif

#endif
