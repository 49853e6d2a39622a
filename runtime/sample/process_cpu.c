/* process_cpu.c: whole-process CPU sampling (see sample/process_cpu.h); the profile is
 * built from these samples by profile/cpu_profile.c.
 *
 * The sample buffer is linear: a handler claims the next slot with one atomic add and
 * publishes it with a ready flag, so any number of threads can write at once without
 * a lock; once full, samples are counted as dropped. The collector reads only slots
 * marked ready, after it has stopped the timer and waited a little, and clears the
 * flags before the next profile. A sample taken while its thread was working on a
 * request carries that request's trace and span ids (kept with the thread by track/conn.c
 * while a profile runs), so whole-process profiles link to spans and slow requests. */
#include "sample/process_cpu.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "sample/cputimer.h"
#include "sample/sampler.h"
#include "sample/sigprof_owner.h"
#include "sample/thread.h"
#include "sample/unwind.h"

#define MAX_SAMPLES 32768

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
	 * thread that was: the kernel sends a process timer's signal to the thread that
	 * was running when it expired, so who gets the signal is itself the sample. */
	uint64_t now = process_cpu_ns();
	uint64_t prev = atomic_exchange_explicit(&last_cpu_ns, now, memory_order_relaxed);
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

/* A CPU-time timer for the whole process, whose SIGPROF goes to the thread running
 * when it fires (a process-directed signal: the kernel prefers the current thread;
 * our own threads take it too, sample/sigprof_owner.h, so it need not go to a sleeping one).
 * One timer covers threads that start and
 * end during the profile, however short their lives: a thread-per-request server's
 * threads each use far less than one period of their own CPU clock, and per-thread
 * timers saw a fifth of such a process's CPU. */
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

/* Starts the timer unless the shim is out (checked under timer_mu, which
 * rt_process_cpu_stop takes after setting "out": no timer starts after it). */
static int timer_begin(unsigned hz)
{
	int rc = -1;
	pthread_mutex_lock(&timer_mu);
	if (!rt_sigprof_out() && start_timer(hz, &timer) == 0) {
		timer_live = 1;
		rc = 0;
	}
	pthread_mutex_unlock(&timer_mu);
	return rc;
}

static int timer_end(void)
{
	pthread_mutex_lock(&timer_mu);
	int was = timer_live;
	if (timer_live)
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
	/* In short naps, so a profile stopped early (the service claimed SIGPROF) ends. */
	for (long left = (long)seconds * 1000; left > 0 && !rt_sigprof_out(); left -= 100)
		rt_nap_ms(left < 100 ? left : 100);
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
