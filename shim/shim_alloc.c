/* shim_alloc.c: the malloc family. Each interposer asks the allocator table (rt_alloc:
 * jemalloc or the system malloc) for the memory, then tells the heap sampler: a
 * successful allocation counts its bytes down the thread's countdown (rt_heap_on_alloc,
 * a subtraction and a branch); a block about to be freed is looked up in the sampler's
 * filter (rt_heap_on_free, one load). Retiring comes before the real free, so the
 * address cannot be handed out again while its old record still stands.
 * C++ new/delete reach us through libstdc++, which calls malloc, free and
 * aligned_alloc. errno is whatever the allocator left; the sampler's slow paths save
 * and restore it. */
#include "shim.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "../runtime/rt_alloc.h"
#include "../runtime/rt_heap.h"

SHIM_EXPORT void *malloc(size_t n)
{
	void *p = rt_alloc.malloc(n);
	if (p)
		rt_heap_on_alloc(p, n);
	return p;
}

SHIM_EXPORT void free(void *p)
{
	rt_heap_on_free(p);
	rt_alloc.free(p);
}

SHIM_EXPORT void *calloc(size_t a, size_t b)
{
	void *p = rt_alloc.calloc(a, b);
	if (p)
		rt_heap_on_alloc(p, a * b); /* no overflow: the allocation succeeded */
	return p;
}

SHIM_EXPORT void *realloc(void *old, size_t n)
{
	if (old)
		rt_heap_on_free(old);
	void *p = rt_alloc.realloc(old, n);
	if (p)
		rt_heap_on_alloc(p, n);
	else if (n)
		errno = ENOMEM; /* jemalloc leaves errno alone when the size is impossible */
	return p;
}

SHIM_EXPORT void *reallocarray(void *old, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n);
}

SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	int rc = rt_alloc.posix_memalign(out, align, n);
	if (rc == 0)
		rt_heap_on_alloc(*out, n);
	return rc;
}

SHIM_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	void *p = rt_alloc.aligned_alloc(align, n);
	if (p)
		rt_heap_on_alloc(p, n);
	return p;
}

SHIM_EXPORT void *memalign(size_t align, size_t n)
{
	void *p = rt_alloc.memalign(align, n);
	if (p)
		rt_heap_on_alloc(p, n);
	return p;
}

SHIM_EXPORT void *valloc(size_t n)
{
	void *p = rt_alloc.valloc(n);
	if (p)
		rt_heap_on_alloc(p, n);
	return p;
}

SHIM_EXPORT void *pvalloc(size_t n)
{
	void *p = rt_alloc.pvalloc(n);
	if (p)
		rt_heap_on_alloc(p, n);
	return p;
}

SHIM_EXPORT size_t malloc_usable_size(void *p)
{
	return rt_alloc.usable_size(p);
}
