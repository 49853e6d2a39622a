/* thread_profile.h: the "threads" (alias goroutine) and "threadcreate" profiles, built
 * from a capture of every thread (sample/thread_capture.c) and from the registry of
 * creation stacks (sample/thread_registry.c).
 * Context: one thread that may allocate (worker, endpoint). */
#ifndef RT_THREAD_PROFILE_H
#define RT_THREAD_PROFILE_H

#include "profile/profile.h"
#include "sample/thread_capture.h"

/* Labeller for the trace_id/span_id of a request serial (see heap_profile.h). */
typedef int (*rt_thread_profile_labeller_t)(uint64_t serial, const char **trace, const char **span,
					void *arg);

/* threads/count, one sample per thread: labels thread_name, thread_id and, for a
 * thread serving a request the labeller knows, trace_id and span_id. */
rt_profile_t *rt_thread_profile_build(const rt_thread_capture_t *c, rt_thread_profile_labeller_t l,
				  void *arg);
/* threadcreate: one sample per live registered thread, at its creator's stack. */
rt_profile_t *rt_thread_profile_build_create(void);

#endif
