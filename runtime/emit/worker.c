/* worker.c: the background worker (see emit/worker.h). Sole consumer of the sample
 * rings and sole caller of rt_writer's profile path. Host threads reach it only
 * through a short mutex-protected message queue. */
#include "emit/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"
#include "emit/export.h"
#include "emit/pool_samples.h"
#include "emit/stats_file.h"
#include "emit/writer.h"
#include "profile/symbols.h"
#include "sample/prering.h"
#include "sample/shim_threads.h"
#include "sample/thread.h"
#include "sample/thread_capture.h"
#include "track/handoff.h"
#include "track/waits.h"

#define DRAIN_INTERVAL_NS (10 * 1000000ull)
#define STATS_INTERVAL_NS (10 * 1000000000ull)

enum { MSG_WATCH, MSG_UNWATCH, MSG_DONE };

typedef struct msg {
	struct msg *next;
	int kind;
	uint64_t serial;
	rt_req_t *req;
} msg_t;

/* A request being collected. */
typedef struct watch {
	struct watch *next;
	uint64_t serial;
	rt_samples_t samples;
	char thread_name[16];  /* its thread's, read while it runs ("" until a sample) */
	uint64_t cpu_pre_ns;   /* its thread's CPU before the threshold, from its ring */
} watch_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static msg_t *inbox_head, *inbox_tail;
static int running, stopping, idle;
static pthread_t worker_thread;

static watch_t *watches; /* worker-only */

/* ---- host side ---- */

static void post(int kind, uint64_t serial, rt_req_t *r)
{
	msg_t *m = malloc(sizeof *m);
	if (!m) {
		if (r)
			free(r);
		return;
	}
	m->next = NULL;
	m->kind = kind;
	m->serial = serial;
	m->req = r;
	pthread_mutex_lock(&mu);
	if (inbox_tail)
		inbox_tail->next = m;
	else
		inbox_head = m;
	inbox_tail = m;
	/* A finished request wakes the worker; a watch can wait for the next drain. */
	if (kind == MSG_DONE)
		pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

void rt_worker_watch(uint64_t serial) { post(MSG_WATCH, serial, NULL); }
void rt_worker_unwatch(uint64_t serial) { post(MSG_UNWATCH, serial, NULL); }
void rt_worker_submit(rt_req_t *r) { post(MSG_DONE, r->serial, r); }

/* ---- worker side ---- */

static watch_t *watch_find(uint64_t serial, watch_t ***link)
{
	watch_t **pp = &watches;
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->serial == serial) {
			if (link)
				*link = pp;
			return *pp;
		}
	return NULL;
}

static void watch_drop(uint64_t serial)
{
	watch_t **link;
	watch_t *w = watch_find(serial, &link);
	if (!w)
		return;
	*link = w->next;
	rt_samples_free(&w->samples);
	free(w);
}

/* A sample whose request is known: kept if that request is being collected. */
static void give_sample(uint64_t serial, int32_t tid, uint64_t weight_ns, const uintptr_t *pcs,
			uint32_t npcs)
{
	watch_t *w = serial ? watch_find(serial, NULL) : NULL;
	if (w)
		rt_samples_add(&w->samples, weight_ns, tid, pcs, npcs);
}

static void drain_rings(void)
{
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		const rt_sample_t *s;
		if (!t->ring)
			continue;
		while ((s = rt_ring_peek(t->ring)) != NULL) {
			/* A pool thread's sample waits until its job's request is known. */
			if (s->segment && atomic_load_explicit(&t->handoff.pool, memory_order_relaxed)) {
				rt_pool_samples_hold(t, s);
			} else {
				watch_t *w = s->serial ? watch_find(s->serial, NULL) : NULL;
				/* Atomic: a recycled record gets its new thread's id meanwhile
				 * (sample/thread.c, rt_thread_self). */
				pid_t tid = __atomic_load_n(&t->tid, __ATOMIC_RELAXED);
				if (w)
					rt_samples_add(&w->samples, s->weight_ns, tid, s->pcs, s->npcs);
				if (w && !w->thread_name[0])
					rt_thread_read_name(tid, w->thread_name);
			}
			rt_ring_pop(t->ring);
		}
		rt_pool_samples_settle(t, give_sample);
	}
}

/* ---- the part before the threshold (sample/prering.h) ---- */

static int pre_known(uint64_t serial, void *arg)
{
	(void)arg;
	return watch_find(serial, NULL) != NULL;
}

static void pre_sample(uint64_t serial, pid_t tid, uint64_t weight_ns, const uintptr_t *pcs,
		       uint32_t npcs, void *arg)
{
	(void)arg;
	watch_t *w = watch_find(serial, NULL);
	if (!w)
		return;
	if (rt_samples_add(&w->samples, weight_ns, tid, pcs, npcs) == 0)
		rt_samples_mark_before(&w->samples);
	if (!w->thread_name[0])
		rt_thread_read_name(tid, w->thread_name);
}

static void pre_done(uint64_t serial, uint64_t cpu_ns, int complete, void *arg)
{
	(void)complete;
	(void)arg;
	watch_t *w = watch_find(serial, NULL);
	if (w)
		w->cpu_pre_ns = cpu_ns;
}

static const rt_prering_sink_t pre_sink = {
	.known = pre_known, .sample = pre_sample, .done = pre_done, .arg = NULL,
};

/* Gathers what an admitted slow request's set is made of, as the request ends: the
 * heap's sampled blocks and every thread's stack (the capture signals each thread:
 * done here, by the one thread that drives the pipeline, and only for a set that will
 * be written), then hands it all to the writer. */
static void write_set(rt_req_t *r, const rt_samples_t *samples, const char *thread_name)
{
	rt_request_evidence_t ev = { .cpu = samples, .thread_name = thread_name };
	rt_heap_snapshot_t heap;
	rt_thread_capture_t threads;
	ev.heap_wanted = rt_heap_rate() > 0;
	if (ev.heap_wanted && rt_heap_snapshot(&heap) == 0)
		ev.heap = &heap;
	ev.threads_wanted = rt_thread_capture_enabled();
	if (ev.threads_wanted && rt_thread_capture_take(&threads, NULL) == 0)
		ev.threads = &threads;
	rt_writer_slow_request(r, &ev, r->files);
	if (ev.heap)
		rt_heap_snapshot_free(&heap);
	if (ev.threads)
		rt_thread_capture_free(&threads);
}

static void finish(rt_req_t *r)
{
	watch_t **link;
	watch_t *w = watch_find(r->serial, &link);
	rt_samples_t none;
	memset(&none, 0, sizeof none);
	rt_req_ensure_ids(r);
	r->cpu_pre_ns = w ? w->cpu_pre_ns : 0;
	if (r->head_done) {
		/* The span names the files: the writer says which it wrote. */
		if (rt_export_enabled())
			r->files = calloc(1, sizeof *r->files);
		if (rt_writer_admit())
			write_set(r, w ? &w->samples : &none, w ? w->thread_name : "");
	}
	/* Counted once its files are written or dropped: the exit-time stats, taken
	 * while this thread may still be writing, then still add up. */
	rt_stat_add(RT_STAT_SLOW, 1);
	if (w)
		watch_drop(r->serial);
	if (r->head_done)
		rt_export_offer(r);
	rt_req_free(r);
}

/* Takes the inbox; watches are applied at once, finished requests are returned so
 * they are written only after the rings were drained of their last samples. */
static msg_t *take_inbox(void)
{
	pthread_mutex_lock(&mu);
	msg_t *m = inbox_head;
	inbox_head = inbox_tail = NULL;
	pthread_mutex_unlock(&mu);
	msg_t *done = NULL, **tail = &done;
	while (m) {
		msg_t *next = m->next;
		if (m->kind == MSG_WATCH && !watch_find(m->serial, NULL)) {
			watch_t *w = calloc(1, sizeof *w);
			if (w) {
				w->serial = m->serial;
				w->next = watches;
				watches = w;
			}
		}
		if (m->kind == MSG_UNWATCH)
			watch_drop(m->serial);
		if (m->kind == MSG_DONE) {
			m->next = NULL;
			*tail = m;
			tail = &m->next;
		} else {
			free(m);
		}
		m = next;
	}
	return done;
}

static int work_once(void)
{
	msg_t *done = take_inbox();
	rt_handoff_sync();
	rt_prering_tick();
	rt_prering_collect(&pre_sink);
	drain_rings();
	rt_symbols_let_go_if_idle(rt_mono_ns());
	int n = 0;
	while (done) {
		msg_t *next = done->next;
		finish(done->req);
		free(done);
		done = next;
		n++;
	}
	return n;
}

static void *worker_main(void *arg)
{
	(void)arg;
	rt_tls_mark_internal();
	rt_shim_thread_mark();
	pthread_setname_np(pthread_self(), "otshim-worker"); /* so thread profiles say whose it is */
	rt_waits_enable(1); /* unless start_threads could, then requests' waits are timed */
	/* A service stopped by a signal runs no exit handlers: the stats file is written
	 * at once, then every 10 s and whenever profiles were written, so it is never
	 * staler than that. */
	uint64_t next_stats = 0;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += (long)DRAIN_INTERVAL_NS;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		if (!inbox_head)
			pthread_cond_timedwait(&cv, &mu, &dl);
		pthread_mutex_unlock(&mu);
		int finished = work_once();
		if (finished || rt_mono_ns() >= next_stats) {
			rt_stats_file_write();
			next_stats = rt_mono_ns() + STATS_INTERVAL_NS;
		}
		pthread_mutex_lock(&mu);
		idle = inbox_head == NULL;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int rt_worker_start(void)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	sigset_t all, old;
	sigfillset(&all);
	/* Our threads must never receive the service's signals (SIGPROF: sample/sigprof_owner.h). */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&worker_thread, &attr, worker_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		rt_log(RT_LOG_ERROR, "cannot start the worker thread (%s); no profiles will be written",
		       strerror(rc));
		return -1;
	}
	pthread_detach(worker_thread); /* it ends on its own at shutdown */
	running = 1;
	return 0;
}

void rt_worker_shutdown(void)
{
	if (running) {
		/* Wait (bounded) until the worker has emptied its inbox once more. */
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += 2;
		pthread_mutex_lock(&mu);
		idle = 0;
		pthread_cond_broadcast(&cv);
		while (!idle && !stopping)
			if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT)
				break;
		stopping = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
}

void rt_worker_fork_prepare(void)
{
	pthread_mutex_lock(&mu);
}

void rt_worker_fork_parent(void)
{
	pthread_mutex_unlock(&mu);
}

/* The worker did not survive the fork. Its queue belonged to the parent's requests. */
void rt_worker_fork_child(void) /* mu: released by the forking thread (boot/init.c) */
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	msg_t *m = inbox_head;
	while (m) {
		msg_t *next = m->next;
		if (m->req)
			rt_req_free(m->req);
		free(m);
		m = next;
	}
	inbox_head = inbox_tail = NULL;
	while (watches)
		watch_drop(watches->serial);
	running = stopping = 0;
}
