/* wall_profile.h: a slow request's wall-clock profile: where its serving thread spent
 * the time from the request's first byte to its last, on CPU (the thread's CPU samples,
 * weighted by CPU time) and off it (its waits, track/waits.h, each at the service's
 * stack where it blocked). The values add up to the request's duration: time neither
 * accounts for is shown as one pseudo-frame per state, never spread over stacks.
 * Context: the worker. */
#ifndef RT_WALL_PROFILE_H
#define RT_WALL_PROFILE_H

#include <stdint.h>

#include "emit/file_names.h"
#include "emit/samples.h"
#include "profile/profile.h"
#include "track/request.h"

/* What the index line and the span say of it. */
typedef struct rt_wall_summary {
	uint64_t on_cpu_ns, off_cpu_ns;
	uint64_t waited_ns;            /* off-CPU time inside timed calls */
	const char *top_wait;          /* the call that took most, NULL if none */
	char top_peer[80];
	uint64_t top_ns;
} rt_wall_summary_t;

/* The wall profile of r from its CPU samples and r->waits; sum gets its totals.
 * NULL on allocation failure. */
rt_profile_t *rt_wall_profile_build(const rt_req_t *r, const rt_samples_t *cpu,
				    const rt_ids_hex_t *id, rt_wall_summary_t *sum);

#endif
