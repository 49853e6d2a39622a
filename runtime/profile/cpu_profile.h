/* cpu_profile.h: the whole-process CPU profile (endpoint and continuous mode) built
 * from sample/process_cpu's samples: sample types samples/count and cpu/nanoseconds,
 * period 1/hz, trace_id and span_id labels on samples taken while a thread served a
 * traced request, and one "[otshim thread: name]" frame for each sample of ours.
 * Context: one thread that may allocate (the endpoint's or the continuous thread). */
#ifndef RT_CPU_PROFILE_H
#define RT_CPU_PROFILE_H

#include "profile/profile.h"

/* Profiles every thread for `seconds` at `hz`. Returns 0 and the profile, -1 on
 * failure, -2 when another profile is running, -3 when the service owns SIGPROF. */
int rt_cpu_profile_collect(unsigned seconds, unsigned hz, rt_profile_t **out);

#endif
