/* heap_profile.h: the heap profile from a sampler snapshot: sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes
 * (default inuse_space), period space/bytes = the sampling mean, values unbiased the
 * way Go scales its heap profile. What was allocated while a request was being served,
 * live or freed, carries that request's trace_id and span_id labels.
 * Context: worker thread (or any thread that may allocate freely). */
#ifndef RT_HEAP_PROFILE_H
#define RT_HEAP_PROFILE_H

#include "profile/profile.h"
#include "sample/heap_sampler.h"

/* A new profile (caller frees), or NULL on allocation failure. default_type is the
 * sample type pprof shows first: "inuse_space" for a heap profile, "alloc_space" for
 * Go's allocs. */
rt_profile_t *rt_heap_profile_build(const rt_heap_snapshot_t *s, const char *default_type);

#endif
