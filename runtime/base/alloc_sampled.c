/* alloc_sampled.c: the home of sampled blocks (see base/alloc.h).
 *
 * A jemalloc arena of its own, created at the first sampled allocation, whose extent
 * hooks carve memory from one range of address space reserved for it (PROT_NONE,
 * made readable and writable as jemalloc takes it). Every block the arena hands out,
 * and nothing else, lies in that range, so free() tells a sampled block from any
 * other by comparing its address with two words, and never touches a shared table
 * for the others. The arena is used without the thread cache, so its blocks never
 * mix with the thread's own; jemalloc keeps the extents it no longer needs (retain)
 * and purges their pages through our hooks.
 *
 * The reservation takes address space only: 64 GiB, or a 64th of RLIMIT_AS when one
 * is set (a limited service keeps its address space); below 64 MiB, or when the
 * mapping or the arena cannot be had, sampled allocations are served as usual and
 * go unrecorded (counted by the sampler). */
#include "base/alloc.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define SPAN_MAX ((size_t)1 << 36)
#define SPAN_MIN ((size_t)64 << 20)
#define PAGE 4096

/* Until the range exists, a base no user address is within SPAN_MAX of (the span may
 * be seen before the base). */
uintptr_t rt_alloc_sampled_base = (uintptr_t)0 - 2 * SPAN_MAX;
size_t rt_alloc_sampled_span;

enum { NONE, MAKING, READY, FAILED };
static _Atomic int state;
static unsigned arena;
static _Atomic uintptr_t next; /* the first address no extent has been carved from */
static uintptr_t end;

static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t align, bool *zero,
			bool *commit, unsigned ind)
{
	(void)h, (void)ind;
	if (new_addr || size == 0)
		return NULL; /* growing in place: no */
	if (align < PAGE)
		align = PAGE;
	uintptr_t cur = atomic_load_explicit(&next, memory_order_relaxed), start;
	do {
		start = (cur + align - 1) & ~(uintptr_t)(align - 1);
		if (start < cur || start > end || end - start < size)
			return NULL;
	} while (!atomic_compare_exchange_weak(&next, &cur, start + size));
	if (mprotect((void *)start, size, PROT_READ | PROT_WRITE) != 0)
		return NULL; /* that stretch of the range stays unused */
	*zero = true; /* never touched before */
	*commit = true;
	return (void *)start;
}

/* Opting out of giving extents back: jemalloc retains them for reuse. */
static bool hook_dalloc(extent_hooks_t *h, void *a, size_t n, bool committed, unsigned ind)
{
	(void)h, (void)a, (void)n, (void)committed, (void)ind;
	return true;
}

static void hook_destroy(extent_hooks_t *h, void *a, size_t n, bool committed, unsigned ind)
{
	(void)h, (void)committed, (void)ind;
	madvise(a, n, MADV_DONTNEED);
}

/* Memory is always committed (its pages cost nothing until touched). */
static bool hook_commit(extent_hooks_t *h, void *a, size_t n, size_t off, size_t len, unsigned ind)
{
	(void)h, (void)a, (void)n, (void)off, (void)len, (void)ind;
	return false;
}

static bool hook_decommit(extent_hooks_t *h, void *a, size_t n, size_t off, size_t len, unsigned ind)
{
	(void)h, (void)a, (void)n, (void)off, (void)len, (void)ind;
	return true; /* not supported: jemalloc purges instead */
}

static bool hook_purge(extent_hooks_t *h, void *a, size_t n, size_t off, size_t len, unsigned ind)
{
	(void)h, (void)n, (void)ind;
	return madvise((char *)a + off, len, MADV_DONTNEED) != 0;
}

/* One contiguous range: any split or merge is fine. */
static bool hook_split(extent_hooks_t *h, void *a, size_t n, size_t na, size_t nb, bool c, unsigned ind)
{
	(void)h, (void)a, (void)n, (void)na, (void)nb, (void)c, (void)ind;
	return false;
}

static bool hook_merge(extent_hooks_t *h, void *a, size_t na, void *b, size_t nb, bool c, unsigned ind)
{
	(void)h, (void)a, (void)na, (void)b, (void)nb, (void)c, (void)ind;
	return false;
}

static extent_hooks_t hooks = {
	.alloc = hook_alloc,
	.dalloc = hook_dalloc,
	.destroy = hook_destroy,
	.commit = hook_commit,
	.decommit = hook_decommit,
	.purge_lazy = NULL,
	.purge_forced = hook_purge,
	.split = hook_split,
	.merge = hook_merge,
};

static size_t span_allowed(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		return rl.rlim_cur / 64 < SPAN_MAX ? (size_t)(rl.rlim_cur / 64) & ~(size_t)(PAGE - 1) : SPAN_MAX;
	return SPAN_MAX;
}

static void make(void)
{
	size_t span = span_allowed();
	void *r = span >= SPAN_MIN ? mmap(NULL, span, PROT_NONE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
				   : MAP_FAILED;
	if (r == MAP_FAILED) {
		atomic_store(&state, FAILED);
		return;
	}
	atomic_store(&next, (uintptr_t)r);
	end = (uintptr_t)r + span;
	/* The range is known before the arena can hand out a block in it. */
	__atomic_store_n(&rt_alloc_sampled_span, span, __ATOMIC_RELAXED);
	__atomic_store_n(&rt_alloc_sampled_base, (uintptr_t)r, __ATOMIC_RELEASE);
	extent_hooks_t *hp = &hooks;
	unsigned ind;
	size_t sz = sizeof ind;
	if (mallctl("arenas.create", &ind, &sz, &hp, sizeof hp) != 0) {
		atomic_store(&state, FAILED);
		return;
	}
	arena = ind;
	atomic_store_explicit(&state, READY, memory_order_release);
}

static int ready(void)
{
	int s = atomic_load_explicit(&state, memory_order_acquire);
	if (s == READY)
		return 1;
	if (s != NONE)
		return 0; /* failed, or another thread is making it: this sample goes */
	int expect = NONE;
	if (!atomic_compare_exchange_strong(&state, &expect, MAKING))
		return 0;
	int saved = errno;
	make();
	errno = saved;
	return atomic_load_explicit(&state, memory_order_acquire) == READY;
}

void *rt_alloc_sampled(size_t align, size_t n, int zero)
{
	if (!ready())
		return NULL;
	int saved = errno;
	int flags = (int)MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
	if (zero)
		flags |= MALLOCX_ZERO;
	if (align > 16)
		flags |= MALLOCX_ALIGN(align);
	void *p = mallocx(n ? n : 1, flags);
	errno = saved;
	return p;
}

void rt_alloc_sampled_free(void *p)
{
	dallocx(p, MALLOCX_TCACHE_NONE);
}

size_t rt_alloc_sampled_size(void *p)
{
	return sallocx(p, 0);
}
