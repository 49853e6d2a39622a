/* shim_thread.c: pthread_create. The new thread starts in the registry's trampoline,
 * which registers it and retires it however it ends; the service's start routine and
 * argument travel in the registry entry. A failing create returns exactly what the real
 * one returned, with errno as the caller left it. */
#include "shim.h"

#include <errno.h>

#include "../runtime/sample/thread_registry.h"

SHIM_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			       void *(*start)(void *), void *arg)
{
	int saved = errno;
	rt_thread_registry_entry_t *e = rt_thread_registry_prepare(start, arg);
	if (!e) {
		int ours = rt_thread_registry_wrap_internal(&start, &arg);
		errno = saved;
		int rc = REAL(pthread_create)(thread, attr, start, arg);
		if (rc != 0 && ours) {
			saved = errno;
			rt_thread_registry_unwrap_internal(arg);
			errno = saved;
		}
		return rc;
	}
	errno = saved;
	int rc = REAL(pthread_create)(thread, attr, rt_thread_registry_trampoline, e);
	if (rc != 0) {
		saved = errno;
		rt_thread_registry_abandon(e);
		errno = saved;
	}
	return rc;
}
