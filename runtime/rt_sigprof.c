/* rt_sigprof.c: SIGPROF ownership and stepping out (see rt_sigprof.h); the events the
 * signal interposers report (rt.h). */
#include "rt_sigprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "rt_cpuprof.h"
#include "rt_cputimer.h"
#include "rt_log.h"
#include "rt_thread.h"

/* Our own calls go to libc's sigaction, not to our interposer (which would take our
 * installing a handler for the service claiming SIGPROF). Under ThreadSanitizer (whose
 * build has no sigaction interposer) they go to TSan's, which must wrap every handler:
 * it runs ours at a point where its own per-thread state is consistent. A handler put
 * past it can interrupt a thread TSan is still creating, or TSan itself, and fault on
 * its first instrumented instruction (seen: python's http.server under a whole-process
 * profile). The price is TSan's alone: a deferred sample is taken a little after its
 * tick, so under TSan a stack above the leaf may be stale. */
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn sys_sigaction = sigaction;

static void (*ours)(int, siginfo_t *, void *);
static struct sigaction before;  /* SIGPROF's action when ours went in: what the service sees */
static _Atomic int installed;
static _Atomic int out;
static _Atomic int said;
static pthread_mutex_t step_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the one message ---- */

static void say_once(const char *why)
{
	if (!atomic_exchange(&said, 1))
		rt_log(RT_LOG_WARN, "the service %s: the shim stays out of CPU profiling (no CPU "
		       "profiles for slow requests, /debug/pprof/profile or continuous mode; heap "
		       "and threads profiles still work)", why);
}

/* ---- installation ---- */

void rt_sigprof_install(void (*handler)(int, siginfo_t *, void *))
{
	struct sigaction old, sa;
#ifndef __SANITIZE_THREAD__
	sigaction_fn f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (f)
		sys_sigaction = f;
#endif
	if (sys_sigaction(SIGPROF, NULL, &old) != 0)
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
		atomic_store(&out, 1);
		say_once(old.sa_handler == SIG_IGN ? "ignores SIGPROF" : "has its own SIGPROF handler");
		return;
	}
	before = old;
	ours = handler;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	/* SA_RESTART: what the kernel can restart after our handler, it does; the calls it
	 * cannot (signal(7)) are never interrupted by our sources in practice: a thread's
	 * CPU clock only fires while the thread runs (perf: in user mode). The full mask
	 * keeps our handler unnested. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sys_sigaction(SIGPROF, &sa, NULL) == 0)
		atomic_store(&installed, 1);
}

int rt_sigprof_out(void)
{
	return atomic_load_explicit(&out, memory_order_relaxed);
}

/* ---- stepping out ---- */

/* Whether the status file at path says SIGPROF is pending in the field (SigPnd: the
 * thread's own queue, ShdPnd: the process's). Unreadable: not pending. */
static int pending_in(const char *path, const char *field)
{
	char buf[2048];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = strstr(buf, field);
	if (!p)
		return 0;
	unsigned long long mask = strtoull(p + strlen(field), NULL, 16);
	return (mask >> (SIGPROF - 1)) & 1;
}

/* Our sources are stopped, but a tick each may still be queued: a thread that was
 * preempted right after its timer fired takes it when it next runs. Wait until those
 * have been delivered (to our handler, which drops them now), 200 ms at most: a thread
 * that blocks SIGPROF meanwhile keeps its tick, which its handler may see later. */
static void drain(const pid_t *tids, size_t n, int shared)
{
	char path[64];
	for (int round = 0; round < 200; round++) {
		int busy = shared && pending_in("/proc/self/status", "ShdPnd:");
		for (size_t i = 0; i < n && !busy; i++) {
			snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tids[i]);
			busy = pending_in(path, "SigPnd:");
		}
		if (!busy)
			return;
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL); /* our own pending tick, if any, lands here */
	}
}

enum { DRAIN_MAX = 256 };

/* For good, once: no more sampling, our sources stopped; with wait, their queued ticks
 * delivered before we return. Serialised, so a second claimant waits for the first. */
static void step_out(const char *why, int wait)
{
	pid_t tids[DRAIN_MAX];
	int depth = rt_tls_depth;
	rt_tls_depth = 1; /* what we call here is never a host event */
	pthread_mutex_lock(&step_mu);
	if (!atomic_exchange(&out, 1)) {
		say_once(why);
		int shared = rt_cpuprof_stop();
		size_t n = rt_cputimer_stop_all(tids, DRAIN_MAX);
		if (wait && (n > 0 || shared))
			drain(tids, n < DRAIN_MAX ? n : DRAIN_MAX, shared);
	}
	pthread_mutex_unlock(&step_mu);
	rt_tls_depth = depth;
}

int rt_sigprof_owned(void)
{
	struct sigaction cur;
	if (!atomic_load(&installed) || atomic_load(&out))
		return 0;
	if (sys_sigaction(SIGPROF, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == ours)
		return 1;
	step_out("replaced our SIGPROF handler", 0);
	return 0;
}

/* ---- what the interposers report (rt.h) ---- */

int rt_on_sigprof_set(void (*handler)(int))
{
	int saved = errno;
	int absorb = 0;
	if (!atomic_load(&installed)) {
		/* Before our start-up (or disabled): rt_sigprof_install judges what it finds. */
	} else if (handler == SIG_DFL) {
		/* The default is what the service sees while ours stands in for it (a service
		 * resetting every signal at start-up keeps its profiles); once we are out, the
		 * service's SIG_DFL goes to the kernel. */
		absorb = !atomic_load(&out);
	} else {
		step_out(handler == SIG_IGN ? "ignores SIGPROF" : "installed its own SIGPROF handler", 1);
	}
	errno = saved;
	return absorb;
}

void rt_on_sigprof_old(struct sigaction *old)
{
	/* signal() hands us its result as sa_handler: compare the pointer alone. */
	if (ours && (void *)old->sa_sigaction == (void *)ours)
		*old = before;
}

void rt_on_prof_itimer(void)
{
	int saved = errno;
	/* Our handler stays installed (and drops every tick): restoring SIG_DFL would let a
	 * straggler of ours terminate the process. A service arms ITIMER_PROF after its
	 * handler, or just before installing it. */
	if (atomic_load(&installed))
		step_out("arms ITIMER_PROF", 1);
	errno = saved;
}
