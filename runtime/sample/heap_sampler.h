/* heap_sampler.h: allocation sampling. Every allocation counts its bytes down a thread-local
 * countdown; when it crosses zero (on average every OTSHIM_HEAP_SAMPLE_BYTES bytes, the
 * gaps drawn from an exponential distribution, so sampling is a Poisson process over
 * bytes) the allocation is recorded with its stack and a label naming the request the
 * thread was serving (sample/heap_labels.h). Recorded blocks live in a table until
 * free/realloc retires them; a retired block still counts towards the alloc_* totals
 * of its stack and label. The same countdown gives each thread an exact count of the
 * bytes it allocated, for alloc_bytes.
 *
 * The hot paths are inline here: the allocation side is a subtraction and a branch
 * on the thread's own countdown; the free side compares the address with the range
 * sampled blocks live in (base/alloc.h: a recorded block is always served from there,
 * and nothing else is), two words written once. Neither touches shared state.
 * Everything else is cold, in sample/heap_sampler.c. The sampler's own memory comes from rt_alloc
 * directly, so it is never sampled or counted, and never recurses.
 * Context: host threads (allocation paths); the snapshot is for the worker. */
#ifndef RT_HEAP_H
#define RT_HEAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rt.h"
#include "base/alloc.h"
#include "sample/heap_labels.h"

typedef struct rt_heap_tls {
	int64_t countdown;   /* bytes until the next sample; negative: crossed */
	int64_t interval;    /* the value countdown was last reset to */
	uint64_t counted;    /* bytes allocated before that reset */
	uint64_t rng;        /* xorshift state, 0 until the thread's first slow path */
	int busy;            /* inside the sampler: allocations here are not sampled */
	int drawn;           /* interval was drawn at the sampling mean (not a thread's
	                        start, nor a wait for the configuration) */
	void *last_stack;    /* the stack this thread interned last (sample/heap_sampler.c) */
} rt_heap_tls_t;

extern __thread rt_heap_tls_t rt_heap_tls __attribute__((tls_model("initial-exec")));

/* Slow paths (sample/heap_sampler.c); all preserve errno.
 * rt_heap_cross: the countdown was crossed: resets it and says whether this request
 * is to be recorded. If so, the caller serves it with rt_heap_take, which allocates
 * the block among the sampled ones and records it (NULL: it could not; the caller
 * then allocates as usual, unrecorded). rt_heap_crossed(p, n) records a block served
 * elsewhere when the crossing says so (only tests: its free is not seen).
 * rt_heap_retire: a sampled block is about to be freed; rt_heap_free_sampled retires
 * and frees it. */
RT_API int rt_heap_cross(void);
RT_API void *rt_heap_take(size_t align, size_t n, int zero);
RT_API void rt_heap_crossed(void *p, size_t n);
RT_API void rt_heap_retire(void *p);
RT_API void rt_heap_free_sampled(void *p);

/* n bytes are about to be requested. Returns 1 when they cross the countdown: the
 * caller must then call rt_heap_cross(). Counting before the call lets an
 * interposer end in a tail call; a failed request still counts (rare). */
static inline int rt_heap_count(size_t n)
{
	return __builtin_expect((rt_heap_tls.countdown -= (int64_t)n) < 0, 0);
}

/* p is about to be freed (or reallocated): 1 when it is a sampled block, which must
 * go through rt_heap_free_sampled (or be retired before it is reallocated). */
static inline int rt_heap_is_sampled(const void *p)
{
	return __builtin_expect(rt_alloc_is_sampled(p), 0);
}

/* Bytes the calling thread has allocated since it started. */
static inline uint64_t rt_heap_thread_allocated(void)
{
	return rt_heap_tls.counted + (uint64_t)(rt_heap_tls.interval - rt_heap_tls.countdown);
}

/* An identity of the calling thread for pairing two rt_heap_thread_allocated() reads. */
static inline const void *rt_heap_thread_key(void) { return &rt_heap_tls; }

/* Turns sampling on at the configured mean (0: off). Until then nothing is recorded. */
void rt_heap_init(uint64_t mean_bytes);
uint64_t rt_heap_rate(void);

/* ---- snapshot, for the worker ---- */

typedef struct rt_heap_stack {
	uint32_t npcs;
	const uintptr_t *pcs;   /* into the snapshot's own copy */
	double freed_objects;   /* unbiased estimates of blocks and bytes allocated here */
	double freed_bytes;     /* and already freed, outside any request (or unlabelled) */
} rt_heap_stack_t;

typedef struct rt_heap_block {
	size_t size;
	uint32_t stack;         /* index into stacks */
	uint32_t label;         /* the request being served: 1 + index into labels, 0 none */
} rt_heap_block_t;

/* Allocated at a stack while a request was served, and already freed. */
typedef struct rt_heap_freed {
	uint32_t stack, label;  /* as in rt_heap_block_t; label never 0 */
	double objects, bytes;  /* unbiased estimates */
} rt_heap_freed_t;

typedef struct rt_heap_snapshot {
	rt_heap_stack_t *stacks;
	size_t nstacks;
	rt_heap_block_t *blocks;
	size_t nblocks;
	rt_heap_freed_t *freed;
	size_t nfreed;
	rt_heap_ids_t *labels;  /* the requests named by blocks and freed */
	size_t nlabels;
	uintptr_t *pcs;
	uint64_t rate;
} rt_heap_snapshot_t;

/* Copies the live blocks, the freed totals and the labels they name. 0, or -1 on
 * allocation failure. */
int rt_heap_snapshot(rt_heap_snapshot_t *s);
void rt_heap_snapshot_free(rt_heap_snapshot_t *s);

/* Go's unbiasing: a block of size bytes sampled at mean rate stands for this many. */
double rt_heap_scale(size_t size, uint64_t rate);

/* Live recorded blocks. */
size_t rt_heap_live_count(void);

/* Bounds of the label tables (sample/heap_labels.h): labels, (stack, label) freed
 * entries. Only before the first labelled sample (tests); later calls change nothing. */
void rt_heap_set_label_limits(uint32_t max_labels, uint32_t max_freed);

/* fork: prepare takes every lock, parent releases them; so does the child's forking
 * thread (boot/init.c), the only one left to hold them. */
void rt_heap_fork_prepare(void);
void rt_heap_fork_parent(void);

#endif
