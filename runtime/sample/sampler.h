/* sampler.h: the SIGPROF handler. It weights each sample by the thread CPU time
 * measured since the previous one, unwinds from the signal's context and pushes the
 * stack into the thread's ring, labelled with the request current on that thread (or
 * the one it acts for, track/handoff.h).
 * Turning the signal source on and off is sample/cputimer.c; consuming rings is emit/worker.c.
 * Context: the handler runs in signal context. No locks, no allocation, no stdio. */
#ifndef RT_SAMPLER_H
#define RT_SAMPLER_H

#define RT_SAMPLER_TIMER_MAGIC 0x07517f0f

/* Installs the handler, unless the service has SIGPROF (sample/sigprof_owner.c decides, and
 * says so once). Normal context, once. */
void rt_sampler_init(void);

/* True while our handler is installed and the service has not claimed SIGPROF
 * (rt_sigprof_owned: a handler replaced behind our back is noticed here, at arm time). */
int rt_sampler_owns_sigprof(void);

#endif
