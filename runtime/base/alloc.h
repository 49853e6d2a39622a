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

/* Hidden: the interposers reach the table (and the sampled range below) with one
 * PC-relative access, no GOT load. */
#define RT_ALLOC_LOCAL __attribute__((visibility("hidden")))

extern RT_ALLOC_LOCAL rt_allocator_t rt_alloc;

/* Sampled blocks (base/alloc_sampled.c): the heap sampler serves the allocations it
 * records from a jemalloc arena of their own, in one reserved range of addresses, so
 * that free() knows one by its address alone. rt_alloc_sampled returns NULL when the
 * range or the arena cannot be had (the caller then allocates as usual) and leaves
 * errno alone; align 0 means malloc's. Their blocks must go back through
 * rt_alloc_sampled_free (rt_alloc.free also takes them). */
#include <stdint.h>

extern RT_ALLOC_LOCAL uintptr_t rt_alloc_sampled_base;
extern RT_ALLOC_LOCAL size_t rt_alloc_sampled_span;

/* Both words are written once, each alone, by the thread that makes the range; a
 * reader that sees either one new and the other old still sees no address in range.
 * On x86-64 a relaxed load is a plain load, which the compiler folds into the
 * subtraction and the comparison (as atomics it would not): only TSan needs to be
 * told. */
static inline int rt_alloc_is_sampled(const void *p)
{
#if defined(__SANITIZE_THREAD__) || !defined(__x86_64__)
	return (uintptr_t)p - __atomic_load_n(&rt_alloc_sampled_base, __ATOMIC_RELAXED) <
	       __atomic_load_n(&rt_alloc_sampled_span, __ATOMIC_RELAXED);
#else
	return (uintptr_t)p - rt_alloc_sampled_base < rt_alloc_sampled_span;
#endif
}

void *rt_alloc_sampled(size_t align, size_t n, int zero);
void rt_alloc_sampled_free(void *p);
size_t rt_alloc_sampled_size(void *p);

/* "jemalloc" or "system": the allocator in use (resolving it if needed). */
const char *rt_alloc_name(void);

#endif
