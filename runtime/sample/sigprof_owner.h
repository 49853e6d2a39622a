/* sigprof_owner.h: who holds SIGPROF. At start-up the shim installs its handler
 * (sample/sampler.c) if SIGPROF is unclaimed; the moment the service claims the signal it
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
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Installs handler for SIGPROF unless the service already has a disposition other than
 * SIG_DFL (then we are out from the start). Normal context, once, at start-up. */
void rt_sigprof_install(void (*handler)(int, siginfo_t *, void *));

/* 1 while our handler is installed and the service has not claimed SIGPROF. Checks the
 * kernel's action; finding it replaced steps out. Normal context. */
int rt_sigprof_owned(void);

/* 1 once the shim has stepped out (or never got in). One relaxed load; any context. */
int rt_sigprof_out(void);

/* Sends sig to thread tid of process pid as a queued signal (SI_QUEUE, si_pid our
 * pid) carrying value: how our handlers tell a request of ours from any other signal.
 * 0, or -1 (the thread is gone). Inline, so no module depends on another for it. */
static inline int rt_signal_thread(pid_t pid, pid_t tid, int sig, void *value)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_uid = getuid();
	si.si_value.sival_ptr = value;
	return syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si) == 0 ? 0 : -1;
}

/* ---- the shim's own threads ----
 * They start with every signal blocked, so that none of the service's signals ever
 * runs on them. SIGPROF is the exception while our handler holds it: a whole-process
 * profile's timer sends its signal to the thread whose CPU tick expired it, and if
 * that thread blocks SIGPROF the kernel picks another, maybe a service thread asleep
 * in poll (EINTR). Taken on a shim thread, the tick becomes a one-frame sample named
 * for the thread (sample/process_cpu.c), so the shim's own CPU shows in the profile. When the
 * shim steps out, every shim thread blocks SIGPROF again before the service's handler
 * goes in (a tagged SIGPROF each, whose handling adds it to the mask the thread returns
 * to): the service's handler never runs on a shim thread. Not so when the service
 * replaced our handler with a raw system call, which we learn of only afterwards. */

/* A shim thread calls begin once, as it starts, and end before it ends (through
 * rt_shim_thread_mark / _unmark, sample/shim_threads.c). In a fork child, fork_child forgets
 * the parent's. Normal context. */
void rt_sigprof_shim_begin(void);
void rt_sigprof_shim_end(void);
void rt_sigprof_shim_fork_child(void);

/* 1 on a shim thread. Signal-safe (one initial-exec TLS load). */
int rt_sigprof_on_shim(void);

/* From the SIGPROF handler, before anything else: 1 when the signal was handled here
 * (the step-out's request to block SIGPROF, or any SIGPROF reaching a shim thread
 * after the step-out: SIGPROF is blocked when the handler returns). */
int rt_sigprof_shim_signal(const siginfo_t *si, void *uc);

#endif
