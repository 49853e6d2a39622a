/* shim.h: what the interposers share. They reach the runtime through its door
 * (runtime/rt.h: the events a forwarded call reports), the real libc functions through
 * runtime/base/libc.h (OpenSSL's through runtime/base/libssl.h), and for the malloc family the allocator and the sampler's
 * inline hot paths (base/alloc.h, sample/heap_sampler.h), and for pthread_create the
 * thread registry (sample/thread_registry.h); scripts/check-layers holds them to that. Every interposer has one
 * shape: take what the runtime needs before the call (a token, a check), call the real
 * function, report what happened if the call succeeded, and return the real result
 * with errno as the real call left it. Policy lives in runtime/. */
#ifndef SHIM_H
#define SHIM_H

#include <errno.h>

#include "../runtime/base/libc.h"
#include "../runtime/base/ticks.h"
#include "../runtime/rt.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* A call that may have blocked (kind, on fd or -1) ran from tick t0 until now on a
 * thread serving a request (rt_wait_timed): reported when it took long enough to be a
 * wait, with the service's return address `site`. errno is kept. */
static inline void shim_waited(int kind, int fd, uint64_t t0, const void *site)
{
	uint64_t t1 = rt_ticks();
	if (t1 > t0 && t1 - t0 >= __atomic_load_n(&rt_wait_min_ticks, __ATOMIC_RELAXED)) {
		int saved = errno;
		rt_on_wait(kind, fd, t0, t1, site, &t1);
		errno = saved;
	}
}

#endif
