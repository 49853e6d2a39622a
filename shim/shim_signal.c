/* shim_signal.c: sigaction, signal (under its BSD and System V names too) and
 * setitimer. Only SIGPROF and ITIMER_PROF concern us: the runtime must hear that the
 * service claims SIGPROF before the kernel does, so that no tick of ours reaches the
 * service's handler, and a query must show the service what it would see without us
 * (sample/sigprof_owner.c decides both). Every other signal and timer is forwarded untouched. */
/* Not under ThreadSanitizer or AddressSanitizer: their runtimes take the next library's sigaction, ours,
 * for the real one and call it while they initialise, before instrumented code may
 * run. The sanitizer builds check the shim (tsan.sh, process.sh) without it. */
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#include "shim.h"

#include <errno.h>

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig != SIGPROF)
		return REAL(sigaction)(sig, act, old);
	if (act && rt_on_sigprof_set(act->sa_handler))
		act = NULL; /* absorbed: only the old action is read */
	int rc = REAL(sigaction)(sig, act, old);
	if (rc == 0 && old)
		rt_on_sigprof_old(old); /* leaves errno alone */
	return rc;
}

/* The signal() family: each keeps its own semantics (BSD or System V flags). */
static sighandler_t shim_signal(sighandler_t (*real)(int, sighandler_t), int sig, sighandler_t h)
{
	if (sig != SIGPROF)
		return real(sig, h);
	struct sigaction o = { 0 };
	if (rt_on_sigprof_set(h)) {
		if (REAL(sigaction)(sig, NULL, &o) != 0)
			return SIG_ERR;
	} else if ((o.sa_handler = real(sig, h)) == SIG_ERR) {
		return SIG_ERR;
	}
	rt_on_sigprof_old(&o);
	return o.sa_handler;
}

/* Not declared by glibc's headers under _GNU_SOURCE, still exported by libc. */
sighandler_t bsd_signal(int sig, sighandler_t h);

SHIM_EXPORT sighandler_t signal(int sig, sighandler_t h) { return shim_signal(REAL(signal), sig, h); }
SHIM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) { return shim_signal(REAL(bsd_signal), sig, h); }
SHIM_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h) { return shim_signal(REAL(sysv_signal), sig, h); }
SHIM_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h) { return shim_signal(REAL(__sysv_signal), sig, h); }

SHIM_EXPORT int setitimer(__itimer_which_t which, const struct itimerval *nv, struct itimerval *ov)
{
	if (which == ITIMER_PROF && nv && (nv->it_value.tv_sec || nv->it_value.tv_usec))
		rt_on_prof_itimer(); /* leaves errno alone */
	return REAL(setitimer)(which, nv, ov);
}

#endif
