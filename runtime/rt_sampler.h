/* rt_sampler.h: the SIGPROF handler. It weights each sample by the thread CPU time
 * measured since the previous one, unwinds from the signal's context and pushes the
 * stack into the thread's ring, labelled with the request current on that thread.
 * Turning the signal source on and off is rt_cputimer.c; consuming rings is rt_worker.c.
 * Context: the handler runs in signal context. No locks, no allocation, no stdio. */
#ifndef RT_SAMPLER_H
#define RT_SAMPLER_H

#define RT_SAMPLER_TIMER_MAGIC 0x07517f0f

/* Installs the handler if SIGPROF is unclaimed (default disposition). If the service
 * already has a SIGPROF handler the shim stays out of CPU profiling and says so once.
 * Normal context, once. */
void rt_sampler_init(void);

/* True while our handler is the installed SIGPROF handler. A service that installs
 * its own later wins: we notice here (at arm time) and stop arming, saying so once. */
int rt_sampler_owns_sigprof(void);

#endif
