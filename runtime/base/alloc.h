/* alloc.h: the allocator behind the interposed malloc family, and the shim's own
 * memory. OTSHIM_ALLOCATOR=jemalloc (default) serves memory from jemalloc;
 * =system from the next malloc in link order (normally glibc's). The choice is made
 * at the first allocation of the process, which may come before main and before our
 * constructor, so it reads the environment directly. OTSHIM_ENABLED=0 and setuid
 * programs get the system allocator.
 *
 * Every entry of rt_alloc is always callable: entries start as boot functions that
 * resolve the table on first use. While resolution runs (dlsym may itself allocate),
 * requests are served by jemalloc's mallocx in jemalloc mode, or from a small static
 * arena in system mode; the system-mode free/realloc/usable-size wrappers recognise
 * arena blocks and never pass them on.
 *
 * Calling rt_alloc.* directly bypasses the interposers: no sampling, no counting. The
 * runtime uses it for memory it must not see as the host's (the heap sampler's own
 * tables). Context: any thread; not async-signal-safe. */
#ifndef RT_ALLOC_H
#define RT_ALLOC_H

#include <stddef.h>

typedef struct rt_allocator {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*usable_size)(void *);
} rt_allocator_t;

extern rt_allocator_t rt_alloc;

/* "jemalloc" or "system": the allocator in use (resolving it if needed). */
const char *rt_alloc_name(void);

#endif
