/* rt_sigprof.h: who holds SIGPROF. At start-up the shim installs its handler
 * (rt_sampler.c) if SIGPROF is unclaimed; the moment the service claims the signal it
 * steps out of CPU profiling for good, and says so once on stderr. The service claims
 * it by installing a handler of its own or SIG_IGN (seen by the sigaction and signal
 * interposers, shim/shim_signal.c, before the kernel is told), by arming ITIMER_PROF
 * (the setitimer interposer), or behind our back with a raw system call (noticed the
 * next time a sampler would start: rt_sigprof_owned). Stepping out stops every source
 * of ours (per-thread samplers, the whole-process timer) and waits, bounded, until the
 * ticks they already queued have reached our handler, which drops them: the service's
 * handler gets its own signals only.
 * Context: rt_sigprof_out anywhere (signal handler too); the rest normal context. */
#ifndef RT_SIGPROF_H
#define RT_SIGPROF_H

#include <signal.h>

/* Installs handler for SIGPROF unless the service already has a disposition other than
 * SIG_DFL (then we are out from the start). Normal context, once, at start-up. */
void rt_sigprof_install(void (*handler)(int, siginfo_t *, void *));

/* 1 while our handler is installed and the service has not claimed SIGPROF. Checks the
 * kernel's action; finding it replaced steps out. Normal context. */
int rt_sigprof_owned(void);

/* 1 once the shim has stepped out (or never got in). One relaxed load; any context. */
int rt_sigprof_out(void);

#endif
