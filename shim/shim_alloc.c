/* shim_alloc.c: the malloc family. Each interposer counts the request down the
 * thread's sampling countdown (rt_heap_count: a subtraction and a branch) and, unless
 * that crossed zero, ends in a tail call to the allocator table (rt_alloc: jemalloc or
 * the system malloc), so the common path has no frame of ours. A crossing takes the
 * cold path: when the sampler records this request, the block comes from the range of
 * sampled blocks (rt_heap_take), else from the allocator as usual. free() compares
 * the address with that range (rt_heap_is_sampled: two words, no shared table); a
 * sampled block is retired before it is freed, so the address cannot be handed out
 * again while its record still stands. C++ new/delete reach us through libstdc++,
 * which calls malloc, free and aligned_alloc. errno is whatever the allocator left;
 * the sampler's slow paths save and restore it. */
#include "shim.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../runtime/base/alloc.h"
#include "../runtime/sample/heap_sampler.h"

#define COLD static __attribute__((noinline, cold))

/* ---- cold paths: this request crossed the countdown ---- */

/* The block for a recorded request of n bytes at alignment align (0: malloc's), or
 * NULL when the request is not recorded or the sampled range could not serve it. */
static inline void *take(size_t align, size_t n, int zero)
{
	return rt_heap_cross() ? rt_heap_take(align, n, zero) : NULL;
}

COLD void *sampled_malloc(size_t n)
{
	void *p = take(0, n, 0);
	return p ? p : rt_alloc.malloc(n);
}

COLD void *sampled_calloc(size_t a, size_t b)
{
	size_t n;
	void *p = take(0, __builtin_mul_overflow(a, b, &n) ? 0 : n, 1);
	return p ? p : rt_alloc.calloc(a, b);
}

/* Alignments the sampled range serves as the allocator would: powers of two. Others
 * (errors, or glibc's rounding of odd ones) go to the allocator, unrecorded. */
static int plain_alignment(size_t al) { return al && (al & (al - 1)) == 0 && al <= (1u << 20); }

COLD void *sampled_memalign(size_t al, size_t n)
{
	int rec = rt_heap_cross();
	void *p = rec && plain_alignment(al) ? rt_heap_take(al, n, 0) : NULL;
	return p ? p : rt_alloc.memalign(al, n);
}

COLD void *sampled_aligned_alloc(size_t al, size_t n)
{
	int rec = rt_heap_cross();
	void *p = rec && plain_alignment(al) ? rt_heap_take(al, n, 0) : NULL;
	return p ? p : rt_alloc.aligned_alloc(al, n);
}

COLD int sampled_posix_memalign(void **out, size_t al, size_t n)
{
	int rec = rt_heap_cross();
	void *p = rec && plain_alignment(al) && al % sizeof(void *) == 0 ? rt_heap_take(al, n, 0) : NULL;
	if (!p)
		return rt_alloc.posix_memalign(out, al, n);
	*out = p;
	return 0;
}

COLD void *sampled_valloc(size_t n)
{
	void *p = take((size_t)sysconf(_SC_PAGESIZE), n, 0);
	return p ? p : rt_alloc.valloc(n);
}

COLD void *sampled_pvalloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int rec = rt_heap_cross();
	void *p = rec && n <= SIZE_MAX - page ? rt_heap_take(page, n ? (n + page - 1) & ~(page - 1) : page, 0)
					      : NULL;
	return p ? p : rt_alloc.pvalloc(n);
}

COLD void free_sampled(void *p) { rt_heap_free_sampled(p); }

/* A request of n bytes through the interposer's path, for realloc. */
static void *alloc_counted(size_t n)
{
	if (rt_heap_count(n))
		return sampled_malloc(n);
	return rt_alloc.malloc(n);
}

/* realloc of a sampled block: a new block (sampled or not, as any request), the
 * contents copied, the old one retired and freed. realloc(p, 0) frees, as glibc's and
 * jemalloc's do. On failure the old block stays, still recorded. */
COLD void *realloc_sampled(void *old, size_t n)
{
	if (n == 0) {
		rt_heap_free_sampled(old);
		return NULL;
	}
	void *p = alloc_counted(n);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	size_t had = rt_alloc_sampled_size(old);
	memcpy(p, old, had < n ? had : n);
	rt_heap_free_sampled(old);
	return p;
}

/* realloc of an ordinary block (or NULL) whose request crossed the countdown. */
COLD void *sampled_realloc(void *old, size_t n)
{
	void *p = n ? take(0, n, 0) : (rt_heap_cross(), NULL);
	if (!p) {
		p = rt_alloc.realloc(old, n);
		if (!p && n)
			errno = ENOMEM; /* as below */
		return p;
	}
	if (old) {
		size_t had = rt_alloc.usable_size(old);
		memcpy(p, old, had < n ? had : n);
		rt_alloc.free(old);
	}
	return p;
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
	if (rt_heap_is_sampled(p))
		return free_sampled(p);
	/* jemalloc's free(NULL) looks NULL up in its address map: ~50 instructions, against
	 * glibc's 5. OpenSSL frees every field it clears, set or not: ~65 a TLS request. */
	if (p)
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
	if (rt_heap_is_sampled(old))
		return realloc_sampled(old, n);
	if (rt_heap_count(n))
		return sampled_realloc(old, n);
	void *p = rt_alloc.realloc(old, n);
	if (!p && n)
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

/* A block malloc serves is aligned for any object of its size (C's fundamental
 * alignment: 16 bytes for 16 bytes or more here). jemalloc's aligned path costs ~110
 * instructions more than its malloc, and nginx asks for 16 with every pool it makes. */
static inline int malloc_aligns(size_t align, size_t n)
{
	return (align == 8 || align == 16) && n >= 16;
}

static inline int malloc_for_memalign(void **out, size_t n)
{
	void *p = rt_alloc.malloc(n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (rt_heap_count(n))
		return sampled_posix_memalign(out, align, n);
	if (malloc_aligns(align, n))
		return malloc_for_memalign(out, n);
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
	if (rt_heap_is_sampled(p))
		return rt_alloc_sampled_size(p);
	return rt_alloc.usable_size(p);
}
