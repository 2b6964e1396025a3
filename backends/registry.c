#include <memscope/backends.h>

#include <string.h>

static const ms_backend_ops *const backends[] = {
	&ms_backend_core,
	&ms_backend_async,
};

const ms_backend_ops *ms_backend_find(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return backends[0];
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
