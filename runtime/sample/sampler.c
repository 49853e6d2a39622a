/* sampler.c: the SIGPROF handler (see sample/sampler.h); who may install it is
 * sample/sigprof_owner.c.
 * Context: signal or host thread. Must not allocate or lock. */
#include "sample/sampler.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "sample/process_cpu.h"
#include "sample/sigprof_owner.h"
#include "sample/thread.h"
#include "sample/unwind.h"

/* Only signals from a source we armed on this thread count; anything else (a stray
 * SIGPROF, a late one after disarm) is ignored. */
static int from_our_source(const rt_thread_t *t, const siginfo_t *si)
{
	if (si->si_code == SI_TIMER)
		return t->route == RT_CPU_ROUTE_TIMER && si->si_value.sival_int == RT_SAMPLER_TIMER_MAGIC;
	if (si->si_code == POLL_IN || si->si_code == POLL_HUP || si->si_code == POLL_MSG)
		return t->route == RT_CPU_ROUTE_PERF && si->si_fd == t->perf_fd;
	return 0;
}

static void on_sigprof(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	rt_thread_t *t = rt_thread_peek();
	(void)sig;
	/* On a shim thread: the step-out's request to block SIGPROF, or a tick after it. */
	if (rt_sigprof_shim_signal(si, uc))
		goto out;
	/* Once the service has SIGPROF nothing of ours runs: ticks of ours still queued
	 * when it claimed the signal, and its own before its handler is in, end here. */
	if (rt_sigprof_out())
		goto out;
	/* A whole-process profile's signal; a slow request's own source is separate. */
	if (rt_process_cpu_on_signal(si, uc))
		goto out;
	if (!t || !atomic_load_explicit(&t->armed, memory_order_acquire) || !from_our_source(t, si))
		goto out;
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		goto out;
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t weight = now > t->last_cpu_ns ? now - t->last_cpu_ns : 0;
	t->last_cpu_ns = now;
	rt_sample_t *s = rt_ring_reserve(t->ring);
	if (!s)
		goto out;
	s->serial = atomic_load_explicit(&t->cur_serial, memory_order_relaxed);
	s->segment = 0;
	if (!s->serial) { /* perhaps a pool thread acting for a request another thread read */
		s->serial = atomic_load_explicit(&t->handoff.borrowed, memory_order_relaxed);
		s->segment = atomic_load_explicit(&t->handoff.segment, memory_order_relaxed);
	}
	s->weight_ns = weight;
	s->npcs = (uint32_t)rt_unwind_from_ucontext(uc, s->pcs, RT_STACK_MAX);
	if (s->npcs > 0)
		rt_ring_commit(t->ring);
out:
	errno = saved;
}

void rt_sampler_init(void)
{
	rt_sigprof_install(on_sigprof);
	rt_unwind_init();
}

int rt_sampler_owns_sigprof(void)
{
	return rt_sigprof_owned();
}
