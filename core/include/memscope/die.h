/* The one fatal-error path of memscope. */
#ifndef MEMSCOPE_DIE_H
#define MEMSCOPE_DIE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Writes "memscope: fatal: FILE:LINE: MSG" to stderr with write(2) (no
 * stdio, no allocation) and aborts. Async-signal-safe. */
__attribute__((noreturn)) void ms_die_at(const char *file, int line, const char *msg);

#define ms_die(msg) ms_die_at(__FILE__, __LINE__, (msg))

#ifdef __cplusplus
}
#endif

#endif
