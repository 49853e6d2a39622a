/* shim_wait.c: the calls in which a thread waits without moving bytes -- poll, select
 * and epoll, the sleeps, and locking a mutex -- timed while the thread serves a request
 * (rt.h, rt_wait_timed), so the request's wall-clock profile can say where it waited.
 * Each forwards to the real call with its arguments, result and errno untouched; a
 * thread serving nothing pays two thread-local loads and a branch. Nothing here
 * signals a thread: a wait is known because the call returns through us. */
#include "shim.h"

#include <errno.h>

#define COLD static __attribute__((noinline, cold))
#define SITE __builtin_return_address(0)

#define TIMED(type, kind, fd, call)             \
	do {                                    \
		uint64_t t0_ = rt_ticks();      \
		type r_ = call;                 \
		shim_waited(kind, fd, t0_, site);    \
		return r_;                      \
	} while (0)

/* poll on a single descriptor names it (its peer is the wait's); several name none. */
COLD int timed_poll(struct pollfd *f, nfds_t n, int t, const void *site)
{
	TIMED(int, RT_WAIT_POLL, n == 1 ? f[0].fd : -1, REAL(poll)(f, n, t));
}

COLD int timed_ppoll(struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *m,
		     const void *site)
{
	TIMED(int, RT_WAIT_PPOLL, n == 1 ? f[0].fd : -1, REAL(ppoll)(f, n, t, m));
}

COLD int timed_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t, const void *site)
{
	TIMED(int, RT_WAIT_SELECT, -1, REAL(select)(n, r, w, e, t));
}

COLD int timed_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
		       const sigset_t *m, const void *site)
{
	TIMED(int, RT_WAIT_PSELECT, -1, REAL(pselect)(n, r, w, e, t, m));
}

COLD int timed_epoll_wait(int fd, struct epoll_event *ev, int n, int t, const void *site)
{
	TIMED(int, RT_WAIT_EPOLL_WAIT, -1, REAL(epoll_wait)(fd, ev, n, t));
}

COLD int timed_epoll_pwait(int fd, struct epoll_event *ev, int n, int t, const sigset_t *m,
			   const void *site)
{
	TIMED(int, RT_WAIT_EPOLL_PWAIT, -1, REAL(epoll_pwait)(fd, ev, n, t, m));
}

COLD int timed_nanosleep(const struct timespec *req, struct timespec *rem, const void *site)
{
	TIMED(int, RT_WAIT_NANOSLEEP, -1, REAL(nanosleep)(req, rem));
}

COLD int timed_clock_nanosleep(clockid_t c, int flags, const struct timespec *req,
			       struct timespec *rem, const void *site)
{
	TIMED(int, RT_WAIT_CLOCK_NANOSLEEP, -1, REAL(clock_nanosleep)(c, flags, req, rem));
}

COLD unsigned int timed_sleep(unsigned int s, const void *site)
{
	TIMED(unsigned int, RT_WAIT_SLEEP, -1, REAL(sleep)(s));
}

COLD int timed_usleep(useconds_t u, const void *site)
{
	TIMED(int, RT_WAIT_USLEEP, -1, REAL(usleep)(u));
}

/* A free mutex is taken with no clock read. trylock answers as lock would for every
 * kind of mutex except one already held (by anyone, or by this thread when it is an
 * error-checking one): then the real lock runs and says what it says. */
COLD int timed_mutex_lock(pthread_mutex_t *m, const void *site)
{
	int rc = pthread_mutex_trylock(m);
	if (rc != EBUSY)
		return rc;
	TIMED(int, RT_WAIT_MUTEX_LOCK, -1, REAL(pthread_mutex_lock)(m));
}

SHIM_EXPORT int poll(struct pollfd *f, nfds_t n, int t)
{
	if (rt_wait_timed())
		return timed_poll(f, n, t, SITE);
	return REAL(poll)(f, n, t);
}

SHIM_EXPORT int ppoll(struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *m)
{
	if (rt_wait_timed())
		return timed_ppoll(f, n, t, m, SITE);
	return REAL(ppoll)(f, n, t, m);
}

SHIM_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	if (rt_wait_timed())
		return timed_select(n, r, w, e, t, SITE);
	return REAL(select)(n, r, w, e, t);
}

SHIM_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
			const sigset_t *m)
{
	if (rt_wait_timed())
		return timed_pselect(n, r, w, e, t, m, SITE);
	return REAL(pselect)(n, r, w, e, t, m);
}

SHIM_EXPORT int epoll_wait(int fd, struct epoll_event *ev, int n, int t)
{
	if (rt_wait_timed())
		return timed_epoll_wait(fd, ev, n, t, SITE);
	return REAL(epoll_wait)(fd, ev, n, t);
}

SHIM_EXPORT int epoll_pwait(int fd, struct epoll_event *ev, int n, int t, const sigset_t *m)
{
	if (rt_wait_timed())
		return timed_epoll_pwait(fd, ev, n, t, m, SITE);
	return REAL(epoll_pwait)(fd, ev, n, t, m);
}

SHIM_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (rt_wait_timed())
		return timed_nanosleep(req, rem, SITE);
	return REAL(nanosleep)(req, rem);
}

SHIM_EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec *req,
				struct timespec *rem)
{
	if (rt_wait_timed())
		return timed_clock_nanosleep(c, flags, req, rem, SITE);
	return REAL(clock_nanosleep)(c, flags, req, rem);
}

/* glibc's sleep and usleep reach the kernel through its own nanosleep, which no
 * interposer sees: they are timed here, once. */
SHIM_EXPORT unsigned int sleep(unsigned int s)
{
	if (rt_wait_timed())
		return timed_sleep(s, SITE);
	return REAL(sleep)(s);
}

SHIM_EXPORT int usleep(useconds_t u)
{
	if (rt_wait_timed())
		return timed_usleep(u, SITE);
	return REAL(usleep)(u);
}

SHIM_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (rt_wait_timed())
		return timed_mutex_lock(m, SITE);
	return REAL(pthread_mutex_lock)(m);
}
