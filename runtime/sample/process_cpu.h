/* rt_cpuprof.h: the whole-process CPU profile behind /debug/pprof/profile and
 * continuous mode. For the duration asked, one timer on the process's CPU clock sends
 * SIGPROF to whichever thread is running when it fires (as ITIMER_PROF does for
 * gperftools), so threads born and gone during the profile count like the others; the
 * SIGPROF handler hands these signals here first (rt_cpuprof_on_signal), so a slow
 * request's sampling of its thread, from its own source, goes on undisturbed. Samples
 * land in a buffer that is mapped once and never freed; each is weighted by the
 * process CPU time since the previous sample.
 * Context: rt_cpuprof_collect on the endpoint's thread (one profile at a time);
 * rt_cpuprof_on_signal in the SIGPROF handler (no locks, no allocation). */
#ifndef RT_CPUPROF_H
#define RT_CPUPROF_H

#include <signal.h>

#include "profile/profile.h"

/* Profiles every thread for `seconds` at `hz`. Returns 0 and the profile, -1 on
 * failure, -2 when another profile is running, -3 when the service owns SIGPROF. */
int rt_cpuprof_collect(unsigned seconds, unsigned hz, rt_profile_t **out);

/* Deletes the running profile's timer, if any (the service claimed SIGPROF; the
 * collector then returns -3). Returns 1 if there was one. Normal context. */
int rt_cpuprof_stop(void);

/* A whole-process profile is being collected (one relaxed load; any context). */
int rt_cpuprof_running(void);

/* In a fork child: a profile the parent was collecting is not the child's (its timer
 * is not inherited), so the child starts with none running. */
void rt_cpuprof_fork_child(void);

/* From the SIGPROF handler: 1 when the signal came from one of our sources and was
 * taken, 0 when it is not ours. */
int rt_cpuprof_on_signal(const siginfo_t *si, void *uc);

#endif
