/* pool_samples.h: the CPU samples of pool threads, held until the request they worked
 * for is known (track/handoff.h). A pool thread's sample carries the segment of work it
 * was in; a segment's request becomes known when the thread hands its result back (the
 * hand-back record in sample/thread.h), or, for a segment that ended without one, is
 * taken to be the request that woke the thread (the sample's own label). Held samples
 * are bounded per thread (8,192; the oldest go first, counted as lost).
 * Context: the worker only. */
#ifndef RT_POOL_SAMPLES_H
#define RT_POOL_SAMPLES_H

#include <stdint.h>

#include "sample/ring.h"
#include "sample/thread.h"

/* Where a sample goes once its request is known: serial's samples, if collected. */
typedef void (*rt_pool_give_fn)(uint64_t serial, int32_t tid, uint64_t weight_ns,
				const uintptr_t *pcs, uint32_t npcs);

/* Holds s, a sample of pool thread t (s->segment != 0). */
void rt_pool_samples_hold(rt_thread_t *t, const rt_sample_t *s);
/* Gives away every held sample of t whose request is now known. */
void rt_pool_samples_settle(rt_thread_t *t, rt_pool_give_fn give);
/* Samples never given (cap reached, no memory), for the stats. */
uint64_t rt_pool_samples_lost(void);

#endif
