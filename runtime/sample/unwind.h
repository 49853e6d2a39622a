/* unwind.h: stack walking with libunwind, from a signal's ucontext into a fixed
 * array. Caching policy and libunwind's lazy set-up happen in rt_unwind_init(), never
 * in the handler.
 * Context: rt_unwind_from_ucontext runs in signal context. Must not allocate or lock. */
#ifndef RT_UNWIND_H
#define RT_UNWIND_H

#include <stddef.h>
#include <stdint.h>

/* Normal context, once, before any timer is armed. */
void rt_unwind_init(void);
/* Normal context, once per thread that may be sampled, before it is. */
void rt_unwind_warm(void);

/* Writes the interrupted instruction address to pcs[0] and the return addresses of the
 * callers after it; returns the number written (>= 1 when uc is valid). A thread
 * interrupted while it holds the dynamic loader's lock gets pcs[0] only (walking
 * would deadlock; see sample/unwind.c). */
size_t rt_unwind_from_ucontext(void *uc, uintptr_t *pcs, size_t max);

/* The calling thread's own stack (return addresses, innermost first, at most
 * RT_UNWIND_HERE_MAX frames in all), skipping `skip` innermost frames. Normal context. */
#define RT_UNWIND_HERE_MAX 128
size_t rt_unwind_here(uintptr_t *pcs, size_t max, size_t skip);

/* Finds this library's code and the loader's lock (normal context; at start-up, and
 * before the first pthread_create if a constructor that ran before ours makes a
 * thread; then a no-op). */
void rt_unwind_locate_self(void);
/* How many of the innermost frames of pcs are this library's own (interposers and
 * samplers), to be dropped from stacks shown to the user. Any context. */
size_t rt_unwind_own_prefix(const uintptr_t *pcs, size_t n);
/* Whether pc is in libunwind's code: a wait there (its lock) must not be walked, as the
 * walk would take that lock again. Any context. */
int rt_unwind_is_unwinder(uintptr_t pc);
/* Whether pc is in the allocator's code (rt_alloc: jemalloc, or libc's malloc). A walk
 * that starts while the allocator holds one of its locks can deadlock: the walk waits
 * for the loader's lock, and a thread in dlclose holds that while it frees. Any
 * context. */
int rt_unwind_is_allocator(uintptr_t pc);

#endif
