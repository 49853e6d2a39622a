/* rt_cpuprof.c: whole-process CPU profiles (see rt_cpuprof.h).
 *
 * The sample buffer is linear: a handler claims the next slot with one atomic add and
 * publishes it with a ready flag, so any number of threads can write at once without
 * a lock; once full, samples are counted as dropped. The collector reads only slots
 * marked ready, after it has stopped every source and waited a little, and clears
 * the flags before the next profile. A sample taken while its thread was working on a
 * request carries that request's trace and span ids (kept with the thread by rt_conn
 * while a profile runs), so whole-process profiles link to spans and slow requests. */
#include "rt_cpuprof.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rt_cputimer.h"
#include "rt_sampler.h"
#include "rt_thread.h"
#include "rt_threadprof.h"
#include "rt_traceparent.h"
#include "rt_unwind.h"
#include "rt_util.h"

#define MAX_THREADS 4096
#define MAX_SAMPLES 32768

typedef struct source {
	_Atomic int live;        /* set up and armed: the handler may use it */
	pid_t tid;
	int fd;                  /* perf route, or -1 */
	int has_timer;
	timer_t timer;
	uint64_t last_cpu_ns;    /* written by the sampled thread's handler only */
} source_t;

typedef struct sample {
	_Atomic int ready;
	uint32_t npcs;
	uint64_t weight_ns;
	int has_ids;
	uint8_t trace_id[16], span_id[8];
	uintptr_t pcs[RT_STACK_MAX];
} sample_t;

static source_t *sources;       /* MAX_THREADS, mapped once */
static sample_t *samples;       /* MAX_SAMPLES, mapped once */
static _Atomic int nclaimed;    /* sources[0..nclaimed) may be live */
static _Atomic int active;
static _Atomic int stopping;    /* no new thread may arm itself any more */
static _Atomic int arming;      /* threads setting up their own source right now */
static _Atomic size_t claimed;
static _Atomic int busy;

/* ---- the handler's part ---- */

static source_t *source_of(const siginfo_t *si)
{
	int n = atomic_load_explicit(&nclaimed, memory_order_acquire);
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	if (si->si_code == SI_TIMER) {
		uintptr_t p = (uintptr_t)si->si_value.sival_ptr, base = (uintptr_t)sources;
		if (sources && p >= base && p < base + (size_t)n * sizeof(source_t) &&
		    (p - base) % sizeof(source_t) == 0 &&
		    atomic_load_explicit(&((source_t *)p)->live, memory_order_acquire))
			return (source_t *)p;
		return NULL;
	}
	if (si->si_code == POLL_IN || si->si_code == POLL_HUP || si->si_code == POLL_MSG)
		for (int i = 0; i < n; i++)
			if (atomic_load_explicit(&sources[i].live, memory_order_acquire) &&
			    sources[i].fd >= 0 && sources[i].fd == si->si_fd)
				return &sources[i];
	return NULL;
}

int rt_cpuprof_on_signal(const siginfo_t *si, void *uc)
{
	if (!atomic_load_explicit(&active, memory_order_acquire))
		return 0;
	source_t *src = source_of(si);
	if (!src)
		return 0;
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 1;
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t weight = now > src->last_cpu_ns ? now - src->last_cpu_ns : 0;
	src->last_cpu_ns = now;
	size_t i = atomic_fetch_add_explicit(&claimed, 1, memory_order_relaxed);
	if (i >= MAX_SAMPLES)
		return 1; /* full: dropped (claimed keeps counting them) */
	sample_t *s = &samples[i];
	s->weight_ns = weight;
	rt_thread_t *t = rt_thread_peek();
	s->has_ids = t && rt_thread_get_ids(t, s->trace_id, s->span_id);
	s->npcs = (uint32_t)rt_unwind_from_ucontext(uc, s->pcs, RT_STACK_MAX);
	atomic_store_explicit(&s->ready, 1, memory_order_release);
	return 1;
}

int rt_cpuprof_running(void)
{
	return atomic_load_explicit(&active, memory_order_relaxed);
}

/* ---- sources ---- */

static void start_source(source_t *s, unsigned hz)
{
	if (s->fd >= 0)
		ioctl(s->fd, PERF_EVENT_IOC_ENABLE, 0);
	else if (s->has_timer)
		rt_cputimer_timer_start(s->timer, hz);
}

static void stop_source(source_t *s)
{
	if (s->fd >= 0) {
		ioctl(s->fd, PERF_EVENT_IOC_DISABLE, 0);
		close(s->fd);
	} else if (s->has_timer) {
		timer_delete(s->timer);
	}
}

/* ---- the collector ---- */

static int map_once(void)
{
	if (!sources) {
		void *a = mmap(NULL, MAX_THREADS * sizeof(source_t), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		void *b = mmap(NULL, MAX_SAMPLES * sizeof(sample_t), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (a == MAP_FAILED || b == MAP_FAILED) {
			if (a != MAP_FAILED)
				munmap(a, MAX_THREADS * sizeof(source_t));
			if (b != MAP_FAILED)
				munmap(b, MAX_SAMPLES * sizeof(sample_t));
			return -1;
		}
		samples = b;
		sources = a; /* published last: the handler tests it */
	}
	return 0;
}

/* Sets up and starts a source for tid in the next free slot. 0, or -1. */
static int arm_thread(pid_t tid, unsigned hz)
{
	int i = atomic_fetch_add(&nclaimed, 1);
	if (i >= MAX_THREADS)
		return -1;
	source_t *s = &sources[i];
	s->tid = tid;
	s->fd = -1;
	s->has_timer = 0;
	s->last_cpu_ns = rt_cputimer_thread_ns(tid);
	/* A per-thread perf event costs every context switch of its thread (measured: a
	 * server doing 150k requests/s lost a quarter of its throughput with one on each
	 * thread), while a CPU-clock timer costs only its ticks. At 100 Hz the timer's
	 * CONFIG_HZ ceiling does not matter, so it comes first here; the slow-request
	 * sampler, which wants 1 kHz on one thread for a short while, prefers perf. */
	union sigval v = { .sival_ptr = s };
	if (rt_cputimer_timer_create(tid, v, &s->timer) == 0)
		s->has_timer = 1;
	else if ((s->fd = rt_cputimer_perf_open(tid, hz)) < 0)
		return -1; /* the slot stays unused (live is 0) */
	atomic_store_explicit(&s->live, 1, memory_order_release);
	start_source(s, hz);
	return 0;
}

/* Arms every thread of the process but the caller and the shim's own (which block
 * every signal). */
static void arm_all(unsigned hz)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	pid_t me = (pid_t)syscall(SYS_gettid);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atol(e->d_name);
		if (tid > 0 && tid != me && !rt_threadprof_is_internal(tid))
			arm_thread(tid, hz);
	}
	closedir(d);
}

static unsigned active_hz;

void rt_cpuprof_thread_started(void)
{
	if (!atomic_load_explicit(&active, memory_order_acquire))
		return;
	atomic_fetch_add(&arming, 1);
	if (atomic_load(&active) && !atomic_load(&stopping))
		arm_thread((pid_t)syscall(SYS_gettid), active_hz);
	atomic_fetch_sub(&arming, 1);
}

int rt_cpuprof_collect(unsigned seconds, unsigned hz, rt_profile_t **out)
{
	int expect = 0;
	*out = NULL;
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
	for (int i = 0; i < MAX_THREADS; i++)
		atomic_store(&sources[i].live, 0);
	atomic_store(&nclaimed, 0);
	atomic_store(&stopping, 0);
	active_hz = hz;
	atomic_store_explicit(&active, 1, memory_order_release);
	arm_all(hz);
	rt_nap_ms((long)seconds * 1000);
	/* Threads started meanwhile armed themselves; wait for any still doing so. */
	atomic_store(&stopping, 1);
	while (atomic_load(&arming))
		rt_nap_ms(1);
	int n = atomic_load(&nclaimed);
	for (int i = 0; i < n && i < MAX_THREADS; i++)
		if (atomic_load(&sources[i].live))
			stop_source(&sources[i]);
	rt_nap_ms(20); /* handlers already running finish */
	atomic_store_explicit(&active, 0, memory_order_release);

	static const rt_value_type_t types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	rt_profile_t *p = rt_profile_new(types, 2, "cpu");
	if (p) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		rt_profile_set_period(p, "cpu", "nanoseconds", 1000000000LL / hz);
		rt_profile_set_time(p, ((int64_t)now.tv_sec - seconds) * 1000000000LL + now.tv_nsec,
				    (int64_t)seconds * 1000000000LL);
		size_t total = atomic_load(&claimed), kept = total < MAX_SAMPLES ? total : MAX_SAMPLES;
		for (size_t i = 0; i < kept; i++) {
			sample_t *s = &samples[i];
			if (!atomic_load_explicit(&s->ready, memory_order_acquire) || s->npcs == 0)
				continue;
			int64_t v[2] = { 1, (int64_t)s->weight_ns };
			char trace[33], span[17];
			rt_label_t labels[2] = { { "trace_id", trace, 0 }, { "span_id", span, 0 } };
			if (s->has_ids) {
				rt_hex_encode(s->trace_id, 16, trace);
				rt_hex_encode(s->span_id, 8, span);
			}
			rt_profile_add_sample(p, s->pcs, s->npcs, 1, v, labels, s->has_ids ? 2 : 0);
		}
	}
	atomic_store(&busy, 0);
	*out = p;
	return p ? 0 : -1;
}
