#include <memscope/backends.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <memscope/atomic.h>

#define MAX_CUSTOM 8

/* The first is the default: unified, which memscope-bench shows as fast as
 * async where threads allocate hard (churn in 2-8 threads: about 33x where
 * core takes 53x; python3) and as cheap as core where they allocate now and
 * then (sparse: 1.2x the program's CPU time, where async's drain takes 6x). */
static const ms_backend_ops *const shipped[] = {
	&ms_backend_unified,
	&ms_backend_async,
	&ms_backend_core,
	&ms_backend_lockfree,
};

/* Registered ones: written under the lock, published by the count. */
static const ms_backend_ops *custom[MAX_CUSTOM];
static uint32_t ncustom;
static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;

int ms_backend_register(const ms_backend_ops *ops)
{
	int err = 0;

	if (ops == NULL || ops->name == NULL || ops->name[0] == '\0' || ops->open == NULL ||
	    ops->close == NULL || ops->record == NULL || ops->fork_prepare == NULL ||
	    ops->fork_parent == NULL || ops->fork_child == NULL)
		return -EINVAL;
	pthread_mutex_lock(&custom_lock);
	if (ms_backend_find(ops->name) != NULL)
		err = -EEXIST;
	else if (ncustom == MAX_CUSTOM)
		err = -ENOSPC;
	else {
		custom[ncustom] = ops;
		ms_atomic_store_release_u32(&ncustom, ncustom + 1);
	}
	pthread_mutex_unlock(&custom_lock);
	return err;
}

const ms_backend_ops *ms_backend_find(const char *name)
{
	uint32_t n = ms_atomic_load_acquire_u32(&ncustom);

	if (name == NULL || name[0] == '\0')
		return shipped[0];
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++)
		if (strcmp(shipped[i]->name, name) == 0)
			return shipped[i];
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(custom[i]->name, name) == 0)
			return custom[i];
	return NULL;
}
