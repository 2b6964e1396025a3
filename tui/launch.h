/* Starting a program under the hook. */
#ifndef MEMSCOPE_TUI_LAUNCH_H
#define MEMSCOPE_TUI_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

/* Finds a file that ships with memscope-top: MEMSCOPE_LIB for the hook
 * library, else next to this executable, in the bazel-bin layout
 * (../hooks/, for the hook) or under an installed prefix (../lib/memscope/).
 * Returns 0 and the absolute path, or -ENOENT. */
int ms_find_hook_library(char *path, size_t len);
int ms_find_sibling(const char *name, char *path, size_t len);

/* Forks and execs argv with the hook preloaded and this process as the
 * session's keeper. Returns the child's pid or -errno. A child that cannot
 * exec says so on stderr and exits with 127.
 * output: NULL to leave stdin and stderr as they are; else the child's
 * stdout and stderr go to that file (created), its stdin is /dev/null, and
 * it gets a process group of its own, so that neither its output nor the
 * terminal's signals get in the way of the screen.
 * stdout_to_stderr (with output NULL): the child's stdout is our stderr,
 * so that none of its bytes land among the frames we print on stdout.
 * events_fd: -1, or the socket the hook sends the event stream to. */
pid_t ms_launch(char *const argv[], const char *hook_path, const char *output,
		int stdout_to_stderr, int events_fd);

/* After a launched program ended: removes the sessions this process kept,
 * those of the program (all its exec generations) and of its descendants
 * (which inherited the keeper), once they are no longer running. */
void ms_launch_cleanup(pid_t child);

/* Makes a file for a launched program's output; returns its path in buf. */
int ms_launch_output_file(char *buf, size_t len);

#endif
