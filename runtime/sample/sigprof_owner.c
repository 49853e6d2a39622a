/* sigprof_owner.c: SIGPROF ownership and stepping out (see sample/sigprof_owner.h); the events the
 * signal interposers report (rt.h). */
#include "sample/sigprof_owner.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/owned_fds.h"
#include "rt.h"
#include "sample/cputimer.h"
#include "sample/process_cpu.h"
#include "sample/thread.h"

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

/* ---- the shim's own threads ---- */

static __thread int on_shim __attribute__((tls_model("initial-exec")));
static const char block_tag; /* its address marks the step-out's "block SIGPROF" */
static _Atomic int block_acks;
/* The shim threads that took SIGPROF, for the step-out to ask (kept here rather than
 * asked of sample/shim_threads.c, so this file stays low in the link order). */
#define SHIM_MAX 32
static _Atomic pid_t shim_tids[SHIM_MAX];

static void sigprof_mask(int how)
{
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGPROF);
	pthread_sigmask(how, &one, NULL);
}

void rt_sigprof_shim_begin(void)
{
	pid_t me = (pid_t)syscall(SYS_gettid);
	on_shim = 1;
	if (!atomic_load(&installed) || atomic_load(&out))
		return;
	for (int i = 0; i < SHIM_MAX; i++) {
		pid_t expect = 0;
		if (atomic_load(&shim_tids[i]) == me ||
		    atomic_compare_exchange_strong(&shim_tids[i], &expect, me))
			break;
		if (i == SHIM_MAX - 1)
			return; /* no room to be asked later: keep SIGPROF blocked */
	}
	sigprof_mask(SIG_UNBLOCK);
	/* A step-out that began meanwhile listed us (we are registered already), and its
	 * request is delivered now; blocking here as well only makes sure. */
	if (atomic_load(&out))
		sigprof_mask(SIG_BLOCK);
}

void rt_sigprof_shim_end(void)
{
	pid_t me = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < SHIM_MAX; i++) {
		pid_t expect = me;
		if (atomic_compare_exchange_strong(&shim_tids[i], &expect, 0))
			return;
	}
}

void rt_sigprof_shim_fork_child(void)
{
	for (int i = 0; i < SHIM_MAX; i++)
		atomic_store(&shim_tids[i], 0);
}

int rt_sigprof_on_shim(void)
{
	return on_shim;
}

int rt_sigprof_shim_signal(const siginfo_t *si, void *uc)
{
	if (!on_shim)
		return 0;
	int req = si->si_code == SI_QUEUE && si->si_pid == getpid() &&
		  si->si_value.sival_ptr == (void *)&block_tag;
	if (!req && !rt_sigprof_out())
		return 0;
	/* The mask the thread returns to is the one saved in its context. Under TSan the
	 * handler runs deferred, outside the signal's frame, where only the call holds
	 * (natively the return overwrites what it set: harmless). */
	sigaddset(&((ucontext_t *)uc)->uc_sigmask, SIGPROF);
	sigprof_mask(SIG_BLOCK);
	if (req)
		atomic_fetch_add(&block_acks, 1);
	return 1;
}

/* Every shim thread blocks SIGPROF again (each handles a tagged SIGPROF with ours
 * still installed), waiting 100 ms at most for their answers. */
static void block_shim_threads(void)
{
	pid_t pid = getpid(), me = (pid_t)syscall(SYS_gettid);
	int sent = 0;
	struct sigaction cur;
	/* Only our handler knows the tag: with the service's in already (a raw system
	 * call, then setitimer), the request would reach its handler instead. */
	if (sys_sigaction(SIGPROF, NULL, &cur) != 0 || !(cur.sa_flags & SA_SIGINFO) ||
	    cur.sa_sigaction != ours)
		return;
	atomic_store(&block_acks, 0);
	for (int i = 0; i < SHIM_MAX; i++) {
		pid_t tid = atomic_load(&shim_tids[i]);
		if (!tid || tid == me)
			continue;
		sent += rt_signal_thread(pid, tid, SIGPROF, (void *)&block_tag) == 0;
	}
	for (int i = 0; i < 100 && atomic_load(&block_acks) < sent; i++) {
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* ---- stepping out ---- */

/* Whether the status file at path says SIGPROF is pending in the field (SigPnd: the
 * thread's own queue, ShdPnd: the process's). Unreadable: not pending. */
static int pending_in(const char *path, const char *field)
{
	char buf[2048];
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return 0;
	ssize_t n = REAL(read)(fd, buf, sizeof buf - 1);
	rt_owned_fd_close(fd);
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
		int shared = rt_process_cpu_stop();
		size_t n = rt_cputimer_stop_all(tids, DRAIN_MAX);
		if (wait && (n > 0 || shared))
			drain(tids, n < DRAIN_MAX ? n : DRAIN_MAX, shared);
		if (wait) /* our handler is still in: the service's goes in after we return */
			block_shim_threads();
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
