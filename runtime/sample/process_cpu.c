/* process_cpu.c: whole-process CPU sampling (see sample/process_cpu.h); the profile is
 * built from these samples by profile/cpu_profile.c.
 *
 * The sample buffer is linear: a handler claims the next slot with one atomic add and
 * publishes it with a ready flag, so any number of threads can write at once without
 * a lock; once full, samples are counted as dropped. The collector reads only slots
 * marked ready, after it has stopped the timers and waited a little, and clears the
 * flags before the next profile. A sample taken while its thread was working on a
 * request carries that request's trace and span ids (kept with the thread by track/conn.c
 * while a profile runs), so whole-process profiles link to spans and slow requests.
 *
 * Two routes (process_cpu.h): one timer on the process's CPU clock, or one timer per
 * thread on that thread's own CPU clock, each signalling only its thread; the
 * per-thread timers are kept in a table sorted by thread id. */
#include "sample/process_cpu.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "sample/cputimer.h"
#include "sample/sampler.h"
#include "sample/sigprof_owner.h"
#include "sample/thread.h"
#include "sample/unwind.h"

#define MAX_SAMPLES 32768
#define MAX_THREAD_TIMERS 4096

typedef struct sample {
	_Atomic int ready;
	uint32_t npcs;
	uint64_t weight_ns;
	int has_ids;
	int shim;               /* taken on a shim thread: no stack, its name instead */
	char name[16];
	uint8_t trace_id[16], span_id[8];
	uintptr_t pcs[RT_STACK_MAX];
} sample_t;

static sample_t *samples;       /* MAX_SAMPLES, mapped once */
_Atomic int rt_process_cpu_active;
static _Atomic size_t claimed;
static _Atomic int busy;
static _Atomic uint64_t last_cpu_ns; /* process CPU time at the previous sample */
/* The timer's signals carry this address, which is how the handler knows them from a
 * slow request's per-thread sources and from anyone else's SIGPROF. */
static const char timer_tag;
/* The running profile's timer, deleted by the collector or by rt_process_cpu_stop,
 * whichever comes first (a deleted timer's id may be reused, by the service too). */
static pthread_mutex_t timer_mu = PTHREAD_MUTEX_INITIALIZER;
static timer_t timer;
static int timer_live;
/* The per-thread route: its timers, sorted by tid (timer_mu held); the sampling
 * period; whether the running profile takes this route. */
typedef struct thread_timer {
	pid_t tid;
	timer_t id;
} thread_timer_t;
static thread_timer_t thread_timers[MAX_THREAD_TIMERS];
static size_t n_thread_timers, max_thread_timers;
static _Atomic uint64_t period_ns;
static _Atomic int per_thread;
static int route = RT_PROCESS_CPU_THREADS; /* decided once, at initialisation */

/* ---- the handler's part ---- */

static uint64_t process_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int rt_process_cpu_on_signal(const siginfo_t *si, void *uc)
{
	if (si->si_code != SI_TIMER || si->si_value.sival_ptr != (void *)&timer_tag)
		return 0;
	if (!atomic_load_explicit(&rt_process_cpu_active, memory_order_acquire))
		return 1; /* a tick that was in flight when the profile ended */
	/* Each sample stands for the process CPU spent since the previous one, whichever
	 * thread that was: the signal comes to the thread that was running at the tick
	 * that expired its timer, so who gets it is itself the sample. */
	uint64_t now = process_cpu_ns();
	uint64_t prev = atomic_load_explicit(&last_cpu_ns, memory_order_relaxed);
	if (atomic_load_explicit(&per_thread, memory_order_relaxed)) {
		/* A thread's own timer goes off at each tick that finds the thread running:
		 * a sample is taken at the first one once a period of the process's CPU
		 * has passed since the last. */
		if (now < prev + atomic_load_explicit(&period_ns, memory_order_relaxed) ||
		    !atomic_compare_exchange_strong_explicit(&last_cpu_ns, &prev, now,
							    memory_order_relaxed,
							    memory_order_relaxed))
			return 1;
	} else {
		prev = atomic_exchange_explicit(&last_cpu_ns, now, memory_order_relaxed);
	}
	uint64_t weight = now > prev ? now - prev : 0;
	size_t i = atomic_fetch_add_explicit(&claimed, 1, memory_order_relaxed);
	if (i >= MAX_SAMPLES)
		return 1; /* full: dropped (claimed keeps counting them) */
	sample_t *s = &samples[i];
	s->weight_ns = weight;
	s->shim = rt_sigprof_on_shim();
	if (s->shim) {
		/* The shim's own CPU, honestly counted: one frame for the thread, no unwinding
		 * (PR_GET_NAME copies the kernel's 16-byte comm; no lock, no allocation). */
		s->name[0] = 0;
		prctl(PR_GET_NAME, s->name, 0, 0, 0);
		s->name[sizeof s->name - 1] = 0;
		s->has_ids = 0;
		s->npcs = 0;
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		return 1;
	}
	rt_thread_t *t = rt_thread_peek();
	s->has_ids = t && rt_thread_get_ids(t, s->trace_id, s->span_id);
	s->npcs = (uint32_t)rt_unwind_from_ucontext(uc, s->pcs, RT_STACK_MAX);
	atomic_store_explicit(&s->ready, 1, memory_order_release);
	return 1;
}

void rt_process_cpu_fork_child(void)
{
	atomic_store(&rt_process_cpu_active, 0);
	atomic_store(&busy, 0);
	timer_live = 0;       /* timers are not inherited */
	n_thread_timers = 0;
}

/* ---- the collector ---- */

static int map_once(void)
{
	if (!samples) {
		void *b = mmap(NULL, MAX_SAMPLES * sizeof(sample_t), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return -1;
		samples = b;
	}
	return 0;
}

/* ---- the process route ---- */

/* A CPU-time timer for the whole process, whose SIGPROF goes to the thread running
 * when it fires (a process-directed signal: from Linux 6.4 the kernel prefers the
 * current thread; our own threads take it too, sample/sigprof_owner.h). */
static int start_timer(unsigned hz, timer_t *out)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGPROF;
	sev.sigev_value.sival_ptr = (void *)&timer_tag;
	if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, out) != 0)
		return -1;
	if (rt_cputimer_timer_start(*out, hz) != 0) {
		timer_delete(*out);
		return -1;
	}
	return 0;
}

/* ---- the per-thread route (timer_mu held) ---- */

/* Where tid is, or would go, in the sorted table. */
static size_t thread_slot(pid_t tid)
{
	size_t lo = 0, hi = n_thread_timers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (thread_timers[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void thread_disarm(pid_t tid)
{
	size_t i = thread_slot(tid);
	if (i == n_thread_timers || thread_timers[i].tid != tid)
		return;
	timer_delete(thread_timers[i].id);
	memmove(&thread_timers[i], &thread_timers[i + 1],
		(n_thread_timers - i - 1) * sizeof thread_timers[0]);
	n_thread_timers--;
}

/* A thread's timer goes off every microsecond of its CPU: it is due at each tick that
 * finds the thread running, however little it ran since the last. The kernel looks at
 * it only at ticks; a due timer signals once, the expiries in between counted as
 * overruns (not used: a sample weighs the process's CPU). */
#define THREAD_TIMER_NS 1000L

/* Starts tid's own timer, unless it has one (fresh: a new thread whose number was an
 * ended one's gets a new timer). */
static void thread_arm(pid_t tid, int fresh)
{
	size_t i = thread_slot(tid);
	int have = i < n_thread_timers && thread_timers[i].tid == tid;
	if (have && !fresh)
		return;
	if (have)
		thread_disarm(tid); /* tid's slot is still i */
	if (n_thread_timers >= max_thread_timers)
		return; /* its ticks are not seen: its CPU weighs the others' samples */
	struct itimerspec its = {
		.it_interval = { 0, THREAD_TIMER_NS },
		.it_value = { 0, THREAD_TIMER_NS },
	};
	timer_t id;
	union sigval v = { .sival_ptr = (void *)&timer_tag };
	if (rt_cputimer_timer_create(tid, v, &id) != 0)
		return; /* gone already, or no more timers for this user */
	if (timer_settime(id, 0, &its, NULL) != 0) {
		timer_delete(id);
		return;
	}
	memmove(&thread_timers[i + 1], &thread_timers[i],
		(n_thread_timers - i) * sizeof thread_timers[0]);
	thread_timers[i] = (thread_timer_t){ tid, id };
	n_thread_timers++;
}

/* Each timer holds a queued signal of the user's RLIMIT_SIGPENDING, which the
 * service's own queued signals draw on too: the timers take at most a quarter. */
static size_t timers_allowed(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_SIGPENDING, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur / 4 >= MAX_THREAD_TIMERS)
		return MAX_THREAD_TIMERS;
	return (size_t)(rl.rlim_cur / 4);
}

/* The number of links /proc/self/task had at the last look (threads + 2). */
static nlink_t task_links;

/* Every thread /proc/self/task lists now gets a timer if it has none. */
static void thread_arm_all(void)
{
	struct stat st;
	if (stat("/proc/self/task", &st) == 0)
		task_links = st.st_nlink;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end == 0 && tid > 0)
			thread_arm((pid_t)tid, 0);
	}
	closedir(d);
}

static void thread_disarm_all(void)
{
	for (size_t i = 0; i < n_thread_timers; i++)
		timer_delete(thread_timers[i].id);
	n_thread_timers = 0;
}

/* A thread began (its timer is made) or ended (its timer goes), while a profile on
 * this route runs. */
static void thread_came_or_went(pid_t tid, int came)
{
	if (!atomic_load_explicit(&rt_process_cpu_active, memory_order_relaxed) ||
	    !atomic_load_explicit(&per_thread, memory_order_relaxed))
		return;
	int saved = errno; /* the service's thread, starting or ending */
	pthread_mutex_lock(&timer_mu);
	if (timer_live && came)
		thread_arm(tid, 1);
	else if (timer_live)
		thread_disarm(tid);
	pthread_mutex_unlock(&timer_mu);
	errno = saved;
}

void rt_process_cpu_thread_began(pid_t tid)
{
	thread_came_or_went(tid, 1);
}

void rt_process_cpu_thread_ended(pid_t tid)
{
	thread_came_or_went(tid, 0);
}

/* ---- either route ---- */

/* Before Linux 6.4 the kernel gave a process timer's signal to the main thread
 * whenever that thread did not block it, running or asleep: every sample would be the
 * main thread's, and its sleeping calls would be interrupted. */
static int kernel_prefers_current(void)
{
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major > 6 || (major == 6 && minor >= 4);
}

void rt_process_cpu_set_route(int asked)
{
	route = asked;
	if (asked == RT_PROCESS_CPU_PROCESS && !kernel_prefers_current()) {
		route = RT_PROCESS_CPU_THREADS;
		rt_log(RT_LOG_INFO, "OTSHIM_PROCESS_CPU_TIMER=process needs Linux 6.4 or later (this "
		       "kernel gives a process timer's signals to the main thread): using threads");
	}
}

int rt_process_cpu_route(void)
{
	return route;
}

/* Starts the timers unless the shim is out (checked under timer_mu, which
 * rt_process_cpu_stop takes after setting "out": no timer starts after it). */
static int timer_begin(unsigned hz)
{
	int rc = -1;
	int threads = rt_process_cpu_route() == RT_PROCESS_CPU_THREADS;
	pthread_mutex_lock(&timer_mu);
	atomic_store_explicit(&per_thread, threads, memory_order_relaxed);
	atomic_store_explicit(&period_ns, 1000000000ull / hz, memory_order_relaxed);
	if (rt_sigprof_out()) {
		rc = -1;
	} else if (threads) {
		timer_live = 1;
		max_thread_timers = timers_allowed();
		thread_arm_all();
		rc = 0;
	} else if (start_timer(hz, &timer) == 0) {
		timer_live = 1;
		rc = 0;
	}
	pthread_mutex_unlock(&timer_mu);
	return rc;
}

/* The per-thread route's look for threads it has not met (made with a bare clone, or
 * by a library before ours was loaded): when the number of threads changed, and once
 * a second whatever it is (one thread may have ended as another began). */
static void timer_newcomers(int whatever)
{
	struct stat st;
	if (!whatever && stat("/proc/self/task", &st) == 0 && st.st_nlink == task_links)
		return;
	pthread_mutex_lock(&timer_mu);
	if (timer_live && atomic_load_explicit(&per_thread, memory_order_relaxed))
		thread_arm_all();
	pthread_mutex_unlock(&timer_mu);
}

static int timer_end(void)
{
	pthread_mutex_lock(&timer_mu);
	int was = timer_live;
	if (timer_live && atomic_load_explicit(&per_thread, memory_order_relaxed))
		thread_disarm_all();
	else if (timer_live)
		timer_delete(timer);
	timer_live = 0;
	pthread_mutex_unlock(&timer_mu);
	return was;
}

int rt_process_cpu_stop(void)
{
	return timer_end();
}

int rt_process_cpu_run(unsigned seconds, unsigned hz)
{
	int expect = 0;
	if (!rt_sampler_owns_sigprof())
		return -3;
	if (!atomic_compare_exchange_strong(&busy, &expect, 1))
		return -2;
	if (map_once() != 0) {
		atomic_store(&busy, 0);
		return -1;
	}
	size_t prev = atomic_load(&claimed);
	for (size_t i = 0; i < prev && i < MAX_SAMPLES; i++)
		atomic_store(&samples[i].ready, 0);
	atomic_store(&claimed, 0);
	atomic_store(&last_cpu_ns, process_cpu_ns());
	atomic_store_explicit(&rt_process_cpu_active, 1, memory_order_release);
	if (timer_begin(hz) != 0) {
		atomic_store(&rt_process_cpu_active, 0);
		atomic_store(&busy, 0);
		return rt_sigprof_out() ? -3 : -1;
	}
	/* In short naps, so a profile stopped early (the service claimed SIGPROF) ends.
	 * Threads made through pthread_create get their timers as they start; the rest
	 * are looked for between naps. */
	for (long left = (long)seconds * 1000, nap = 1; left > 0 && !rt_sigprof_out();
	     left -= 100, nap++) {
		rt_nap_ms(left < 100 ? left : 100);
		timer_newcomers(nap % 10 == 0);
	}
	timer_end();
	rt_nap_ms(20); /* handlers already running finish */
	atomic_store_explicit(&rt_process_cpu_active, 0, memory_order_release);
	if (rt_sigprof_out()) {
		atomic_store(&busy, 0);
		return -3;
	}
	return 0;
}

void rt_process_cpu_each(void (*fn)(const rt_process_cpu_sample_t *s, void *arg), void *arg)
{
	size_t total = atomic_load(&claimed), kept = total < MAX_SAMPLES ? total : MAX_SAMPLES;
	for (size_t i = 0; i < kept; i++) {
		sample_t *s = &samples[i];
		if (!atomic_load_explicit(&s->ready, memory_order_acquire) ||
		    (s->npcs == 0 && !s->shim))
			continue;
		rt_process_cpu_sample_t view = {
			.pcs = s->pcs, .npcs = s->npcs, .weight_ns = s->weight_ns,
			.shim = s->shim, .name = s->name, .has_ids = s->has_ids,
			.trace_id = s->trace_id, .span_id = s->span_id,
		};
		fn(&view, arg);
	}
}

void rt_process_cpu_done(void)
{
	atomic_store(&busy, 0);
}
