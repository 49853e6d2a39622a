/* cputimer.c: per-thread CPU-time SIGPROF sources (see sample/cputimer.h). The
 * perf_event route samples at the requested rate; the POSIX-timer route is capped by
 * the kernel at CONFIG_HZ, which is why rt_sampler weights every sample by measured
 * thread CPU time rather than trusting the period. */
#include "sample/cputimer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "base/owned_fds.h"
#include "base/util.h"
#include "sample/sampler.h"
#include "sample/sigprof_owner.h"

static int force_timer;
static _Atomic int perf_unavailable; /* set after perf_event_open refused us once */

void rt_cputimer_init(int force)
{
	force_timer = force;
}

/* The kernel's encoding of "the CPU clock of thread tid" (what pthread_getcpuclockid
 * returns), usable from any thread of the process. */
static clockid_t thread_clock(pid_t tid)
{
	return (clockid_t)((~(unsigned)tid << 3) | 6);
}

uint64_t rt_cputimer_thread_ns(pid_t tid)
{
	struct timespec ts;
	if (clock_gettime(thread_clock(tid), &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int rt_cputimer_perf_open(pid_t tid, uint32_t hz)
{
	return rt_cputimer_perf_open_sig(tid, 1000000000ull / hz, SIGPROF);
}

int rt_cputimer_perf_open_sig(pid_t tid, uint64_t period_ns, int sig)
{
	struct perf_event_attr pe;
	memset(&pe, 0, sizeof pe);
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof pe;
	pe.config = PERF_COUNT_SW_TASK_CLOCK;
	pe.sample_period = period_ns;
	pe.disabled = 1;
	/* perf_event_paranoid 2 (the usual default) allows user-only events. Kernel time
	 * still advances the clock; it is credited to the next user-mode sample. */
	pe.exclude_kernel = 1;
	pe.exclude_hv = 1;
	pe.wakeup_events = 1;
	int fd = RT_OWNED_FD_OPEN((int)syscall(SYS_perf_event_open, &pe, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
	if (fd < 0)
		return -1;
	struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = tid };
	if (fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK) != 0 || fcntl(fd, F_SETSIG, sig) != 0 ||
	    fcntl(fd, F_SETOWN_EX, &owner) != 0 || ioctl(fd, PERF_EVENT_IOC_RESET, 0) != 0) {
		rt_owned_fd_close(fd);
		return -1;
	}
	return fd;
}

int rt_cputimer_timer_create(pid_t tid, union sigval value, timer_t *out)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = tid; /* sigev_notify_thread_id */
	sev.sigev_value = value;
	return timer_create(thread_clock(tid), &sev, out);
}

int rt_cputimer_timer_start(timer_t timer, uint32_t hz)
{
	long period = 1000000000L / (long)hz;
	struct itimerspec its = {
		.it_interval = { period / 1000000000L, period % 1000000000L },
		.it_value = { period / 1000000000L, period % 1000000000L },
	};
	return timer_settime(timer, 0, &its, NULL);
}

/* The event is registered as the shim's (base/owned_fds.c), so a service closing every
 * descriptor leaves it open; but a service's dup2 onto its number makes the number
 * the service's, and then its id cannot be asked (an ioctl on the service's file).
 * The id still guards the rest: a number that no longer holds our event is only
 * forgotten, never closed. */
static void perf_close(int fd, uint64_t id)
{
	uint64_t now = 0;
	if (!rt_owned_fd_usable(fd) || ioctl(fd, PERF_EVENT_IOC_ID, &now) != 0 || now != id) {
		rt_owned_fd_forget(fd);
		return;
	}
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	rt_owned_fd_close(fd);
}

static int perf_start(rt_thread_t *t, uint32_t hz)
{
	int fd = rt_cputimer_perf_open(t->tid, hz);
	if (fd < 0)
		return -1;
	if (rt_fd_scarce(fd)) {
		/* A service near its descriptor limit needs this one more: the timer
		 * route takes none. */
		rt_owned_fd_close(fd);
		errno = EMFILE;
		return -1;
	}
	if (ioctl(fd, PERF_EVENT_IOC_ID, &t->perf_id) != 0) {
		rt_owned_fd_close(fd);
		return -1;
	}
	t->perf_fd = fd;
	if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		t->perf_fd = -1;
		rt_owned_fd_close(fd);
		return -1;
	}
	return 0;
}

static int timer_start(rt_thread_t *t, uint32_t hz)
{
	union sigval v = { .sival_int = RT_SAMPLER_TIMER_MAGIC };
	if (rt_cputimer_timer_create(t->tid, v, &t->timer) != 0)
		return -1;
	if (rt_cputimer_timer_start(t->timer, hz) != 0) {
		timer_delete(t->timer);
		return -1;
	}
	return 0;
}

static void source_stop(rt_thread_t *t)
{
	atomic_store_explicit(&t->armed, 0, memory_order_release);
	if (t->route == RT_CPU_ROUTE_PERF && t->perf_fd >= 0) {
		perf_close(t->perf_fd, t->perf_id);
		t->perf_fd = -1;
	} else if (t->route == RT_CPU_ROUTE_TIMER) {
		timer_delete(t->timer);
	}
	t->route = RT_CPU_ROUTE_NONE;
}

static int source_start(rt_thread_t *t, uint32_t hz)
{
	if (!t->ring && !(t->ring = rt_ring_new()))
		return RT_CPU_ROUTE_NONE;
	t->last_cpu_ns = rt_cputimer_thread_ns(t->tid);
	if (t->last_cpu_ns == 0)
		return RT_CPU_ROUTE_NONE; /* the thread is gone */
	/* The handler checks route and source before recording, so both are set
	 * before the source can fire. */
	atomic_store_explicit(&t->armed, 1, memory_order_release);
	if (!force_timer && !atomic_load(&perf_unavailable)) {
		t->route = RT_CPU_ROUTE_PERF;
		if (perf_start(t, hz) == 0)
			return RT_CPU_ROUTE_PERF;
		if (errno == EACCES || errno == EPERM || errno == ENOSYS || errno == ENOENT) {
			atomic_store(&perf_unavailable, 1);
			rt_log(RT_LOG_INFO, "perf_event_open refused (%s); using POSIX CPU timers, "
			       "capped at the kernel tick", strerror(errno));
		}
	}
	t->route = RT_CPU_ROUTE_TIMER;
	if (timer_start(t, hz) == 0)
		return RT_CPU_ROUTE_TIMER;
	t->route = RT_CPU_ROUTE_NONE;
	atomic_store_explicit(&t->armed, 0, memory_order_release);
	return RT_CPU_ROUTE_NONE;
}

int rt_cputimer_arm(rt_thread_t *t, uint32_t hz)
{
	int route;
	if (!rt_sampler_owns_sigprof())
		return RT_CPU_ROUTE_NONE;
	pthread_mutex_lock(&t->arm_mu);
	if (t->arm_count > 0) {
		route = t->route;
	} else if (rt_sigprof_out()) {
		/* Checked again under arm_mu: rt_cputimer_stop_all sets "out" before it takes
		 * each thread's lock, so no source starts after its sweep. */
		route = RT_CPU_ROUTE_NONE;
	} else {
		route = source_start(t, hz);
	}
	if (route != RT_CPU_ROUTE_NONE)
		t->arm_count++;
	pthread_mutex_unlock(&t->arm_mu);
	return route;
}

void rt_cputimer_release(rt_thread_t *t, uint32_t gen)
{
	pthread_mutex_lock(&t->arm_mu);
	if (atomic_load(&t->gen) == gen && t->arm_count > 0 && --t->arm_count == 0)
		source_stop(t);
	pthread_mutex_unlock(&t->arm_mu);
}

void rt_cputimer_release_all(rt_thread_t *t)
{
	pthread_mutex_lock(&t->arm_mu);
	if (t->arm_count > 0)
		source_stop(t);
	t->arm_count = 0;
	pthread_mutex_unlock(&t->arm_mu);
}

/* arm_mu, taken from a thread that may be the one holding it (a service calling
 * sigaction from a signal handler that interrupted our release): a bounded wait. */
static int lock_bounded(pthread_mutex_t *mu)
{
	for (int i = 0; i < 2000; i++) {
		if (pthread_mutex_trylock(mu) == 0)
			return 0;
		struct timespec ts = { 0, 10000L };
		nanosleep(&ts, NULL);
	}
	return -1;
}

size_t rt_cputimer_stop_all(pid_t *tids, size_t max)
{
	size_t n = 0;
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		if (lock_bounded(&t->arm_mu) != 0) {
			atomic_store_explicit(&t->armed, 0, memory_order_release);
			continue;
		}
		if (t->route != RT_CPU_ROUTE_NONE) {
			if (n < max)
				tids[n] = t->tid;
			n++;
			source_stop(t); /* arm_count stays: its releases find nothing to stop */
		}
		pthread_mutex_unlock(&t->arm_mu);
	}
	return n;
}

void rt_cputimer_forget(rt_thread_t *t)
{
	atomic_store(&t->armed, 0);
	if (t->route == RT_CPU_ROUTE_PERF && t->perf_fd >= 0)
		perf_close(t->perf_fd, t->perf_id);
	t->perf_fd = -1;
	t->route = RT_CPU_ROUTE_NONE;
	t->arm_count = 0;
	if (t->ring)
		rt_ring_reset(t->ring);
}
