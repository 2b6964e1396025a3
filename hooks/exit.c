/*
 * _exit and _Exit: the ways out of a program that run no destructors, so
 * the session would never hear of the end (runtime.c ends it in the
 * library's destructor) and would read "gone", as if the program had been
 * killed, and stay in the segment directory with no one to remove it. dash
 * ends `sh -c` and every subshell it forks this way.
 *
 * exit() reaches the kernel through glibc's internal _exit, not this one:
 * it has run the destructor by then.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static void (*real_exit)(int);

/* Resolved at start: in a vfork child, dlsym (which may allocate and takes
 * the loader's lock) must not run. */
__attribute__((constructor(102))) static void exit_init(void)
{
	ms_hook_busy = 1; /* dlsym's own allocations are not the program's */
	real_exit = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
	ms_hook_busy = 0;
}

static _Noreturn void leave(int status)
{
	ms_runtime_exit();
	if (real_exit != NULL)
		real_exit(status);
	for (;;)
		syscall(SYS_exit_group, status);
}

EXPORT void _exit(int status)
{
	leave(status);
}

EXPORT void _Exit(int status)
{
	leave(status);
}
