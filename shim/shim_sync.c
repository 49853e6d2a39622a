/* shim_sync.c: the calls by which one thread wakes another -- condition variables and
 * POSIX semaphores -- so a request handed from the thread that read it to a pool
 * thread can be followed (track/handoff.h). Each reports the object when it is made,
 * before a wait, after it (woken or not) and on a post, and otherwise forwards the call
 * untouched:
 * the result and errno are the real call's. Nothing here allocates, locks or blocks
 * beyond the real call; sem_post stays async-signal-safe. */
#include "shim.h"

#include <errno.h>

/* A thread serving a request also times its waits (rt.h): where the request waited,
 * for its wall-clock profile. */
static inline uint64_t wait_start(void)
{
	return rt_wait_timed() ? rt_ticks() : 0;
}

static inline void wait_done(int kind, uint64_t t0, const void *site)
{
	if (t0)
		shim_waited(kind, -1, t0, site);
}

SHIM_EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	rt_on_sync_init(c);
	return REAL(pthread_cond_init)(c, a);
}

SHIM_EXPORT int sem_init(sem_t *s, int pshared, unsigned int value)
{
	rt_on_sync_init(s);
	return REAL(sem_init)(s, pshared, value);
}

SHIM_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	rt_on_wake(c);
	return REAL(pthread_cond_signal)(c);
}

SHIM_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	rt_on_wake(c);
	return REAL(pthread_cond_broadcast)(c);
}

SHIM_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	rt_on_wait_begin(c);
	uint64_t t0 = wait_start();
	int rc = REAL(pthread_cond_wait)(c, m);
	wait_done(RT_WAIT_COND_WAIT, t0, __builtin_return_address(0));
	rt_on_wait_end(c, rc == 0);
	return rc;
}

SHIM_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				       const struct timespec *abstime)
{
	rt_on_wait_begin(c);
	uint64_t t0 = wait_start();
	int rc = REAL(pthread_cond_timedwait)(c, m, abstime);
	wait_done(RT_WAIT_COND_TIMEDWAIT, t0, __builtin_return_address(0));
	rt_on_wait_end(c, rc == 0);
	return rc;
}

SHIM_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
				       const struct timespec *abstime)
{
	rt_on_wait_begin(c);
	uint64_t t0 = wait_start();
	int rc = REAL(pthread_cond_clockwait)(c, m, clock, abstime);
	wait_done(RT_WAIT_COND_CLOCKWAIT, t0, __builtin_return_address(0));
	rt_on_wait_end(c, rc == 0);
	return rc;
}

SHIM_EXPORT int sem_post(sem_t *s)
{
	rt_on_wake(s);
	return REAL(sem_post)(s);
}

/* The semaphore waits report errno: it is kept as the real call left it. */
#define SEM_WAIT(kind, call)                    \
	do {                                    \
		rt_on_wait_begin(s);            \
		uint64_t t0_ = kind ? wait_start() : 0; \
		int rc_ = call;                 \
		wait_done(kind, t0_, __builtin_return_address(0)); \
		int saved_ = errno;             \
		rt_on_wait_end(s, rc_ == 0);    \
		errno = saved_;                 \
		return rc_;                     \
	} while (0)

SHIM_EXPORT int sem_wait(sem_t *s)
{
	SEM_WAIT(RT_WAIT_SEM_WAIT, REAL(sem_wait)(s));
}

SHIM_EXPORT int sem_trywait(sem_t *s)
{
	SEM_WAIT(0, REAL(sem_trywait)(s));
}

SHIM_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	SEM_WAIT(RT_WAIT_SEM_TIMEDWAIT, REAL(sem_timedwait)(s, abstime));
}

SHIM_EXPORT int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
	SEM_WAIT(RT_WAIT_SEM_CLOCKWAIT, REAL(sem_clockwait)(s, clock, abstime));
}
