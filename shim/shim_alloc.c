/* shim_alloc.c: the malloc family. Each interposer counts the request down the
 * thread's sampling countdown (rt_heap_count: a subtraction and a branch) and, unless
 * that crossed zero, ends in a tail call to the allocator table (rt_alloc: jemalloc or
 * the system malloc), so the common path has no frame of ours. A crossing takes the
 * cold path, which makes the call and hands the block to the sampler. free() first
 * looks the block up in the sampler's filter (rt_heap_on_free, one load); retiring
 * comes before the real free, so the address cannot be handed out again while its old
 * record still stands. C++ new/delete reach us through libstdc++, which calls malloc,
 * free and aligned_alloc. errno is whatever the allocator left; the sampler's slow
 * paths save and restore it. */
#include "shim.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "../runtime/base/alloc.h"
#include "../runtime/sample/heap_sampler.h"

#define COLD static __attribute__((noinline, cold))

/* ---- cold paths: this request crossed the countdown ---- */

COLD void *sampled(void *p, size_t n)
{
	rt_heap_crossed(p, n);
	return p;
}

COLD void *sampled_malloc(size_t n) { return sampled(rt_alloc.malloc(n), n); }
COLD void *sampled_calloc(size_t a, size_t b) { return sampled(rt_alloc.calloc(a, b), a * b); }
COLD void *sampled_memalign(size_t al, size_t n) { return sampled(rt_alloc.memalign(al, n), n); }
COLD void *sampled_valloc(size_t n) { return sampled(rt_alloc.valloc(n), n); }
COLD void *sampled_pvalloc(size_t n) { return sampled(rt_alloc.pvalloc(n), n); }

COLD void *sampled_aligned_alloc(size_t al, size_t n)
{
	return sampled(rt_alloc.aligned_alloc(al, n), n);
}

COLD int sampled_posix_memalign(void **out, size_t align, size_t n)
{
	int rc = rt_alloc.posix_memalign(out, align, n);
	rt_heap_crossed(rc == 0 ? *out : NULL, n);
	return rc;
}

/* ---- interposers ---- */

SHIM_EXPORT void *malloc(size_t n)
{
	if (rt_heap_count(n))
		return sampled_malloc(n);
	return rt_alloc.malloc(n);
}

SHIM_EXPORT void free(void *p)
{
	rt_heap_on_free(p);
	rt_alloc.free(p);
}

SHIM_EXPORT void *calloc(size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n))
		n = 0; /* the allocator fails it with ENOMEM; nothing to count */
	if (rt_heap_count(n))
		return sampled_calloc(a, b);
	return rt_alloc.calloc(a, b);
}

SHIM_EXPORT void *realloc(void *old, size_t n)
{
	if (old)
		rt_heap_on_free(old);
	int crossed = rt_heap_count(n);
	void *p = rt_alloc.realloc(old, n);
	if (!p && n)
		errno = ENOMEM; /* jemalloc leaves errno alone when the size is impossible */
	if (crossed)
		return sampled(p, n);
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
	if (rt_heap_count(n))
		return sampled_posix_memalign(out, align, n);
	return rt_alloc.posix_memalign(out, align, n);
}

SHIM_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (rt_heap_count(n))
		return sampled_aligned_alloc(align, n);
	return rt_alloc.aligned_alloc(align, n);
}

SHIM_EXPORT void *memalign(size_t align, size_t n)
{
	if (rt_heap_count(n))
		return sampled_memalign(align, n);
	return rt_alloc.memalign(align, n);
}

SHIM_EXPORT void *valloc(size_t n)
{
	if (rt_heap_count(n))
		return sampled_valloc(n);
	return rt_alloc.valloc(n);
}

SHIM_EXPORT void *pvalloc(size_t n)
{
	if (rt_heap_count(n))
		return sampled_pvalloc(n);
	return rt_alloc.pvalloc(n);
}

SHIM_EXPORT size_t malloc_usable_size(void *p)
{
	return rt_alloc.usable_size(p);
}
