/* cputimer.h: starts and stops SIGPROF delivery to one thread at a rate measured in
 * that thread's CPU time: perf_event_open task-clock with the signal routed to the
 * thread where the kernel permits it, else a POSIX timer on the thread's CPU clock
 * with SIGEV_THREAD_ID. Arming is reference-counted per thread (several slow requests
 * can share an event-loop thread). What the handler does is sample/sampler.c.
 * Context: any non-signal thread, never while holding a connection lock of the target
 * thread... (locks: rt_thread_t.arm_mu only). */
#ifndef RT_CPUTIMER_H
#define RT_CPUTIMER_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "sample/thread.h"

/* Adds one reference; on the first, starts sampling t at hz. Returns the route in use,
 * or RT_CPU_ROUTE_NONE (no reference taken) when sampling is impossible. */
int rt_cputimer_arm(rt_thread_t *t, uint32_t hz);
/* Drops one reference taken when t->gen was gen; on the last, stops sampling. A
 * reference from an earlier life of a recycled state is ignored. */
void rt_cputimer_release(rt_thread_t *t, uint32_t gen);
/* Thread exit: stops sampling whatever the count. */
void rt_cputimer_release_all(rt_thread_t *t);
/* Stops every thread's source, whatever its count (the service claimed SIGPROF; see
 * sample/sigprof_owner.c). Writes the tids that had one to tids (at most max); returns how many
 * had one. Normal context; takes each arm_mu in turn. */
size_t rt_cputimer_stop_all(pid_t *tids, size_t max);
/* After fork in the child: timers were not inherited; perf fds were, and are closed. */
void rt_cputimer_forget(rt_thread_t *t);

/* CPU time consumed so far by thread tid (any thread of this process), ns; 0 on error. */
uint64_t rt_cputimer_thread_ns(pid_t tid);

/* The two kinds of source, for other samplers (sample/process_cpu.c) too; each signals SIGPROF
 * to thread tid per 1/hz of its CPU time. rt_cputimer_perf_open returns a perf_event
 * fd set up but disabled (PERF_EVENT_IOC_ENABLE starts it), or -1;
 * rt_cputimer_timer_create a timer whose signals carry value (0, or -1), started
 * by rt_cputimer_timer_start. */
int rt_cputimer_perf_open(pid_t tid, uint32_t hz);
/* The same, signalling sig every period_ns of tid's CPU time. With exclude_kernel the
 * kernel samples only in user mode, so the signal reaches the thread on its way back to
 * user code, never inside a system call: it cannot make one fail with EINTR. */
int rt_cputimer_perf_open_sig(pid_t tid, uint64_t period_ns, int sig);
int rt_cputimer_timer_create(pid_t tid, union sigval value, timer_t *out);
int rt_cputimer_timer_start(timer_t timer, uint32_t hz);

/* Route override for tests: OTSHIM_CPU_ROUTE=timer forces the fallback. */
void rt_cputimer_init(int force_timer);

#endif
