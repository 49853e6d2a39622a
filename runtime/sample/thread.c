/* thread.c: the per-thread state registry (see sample/thread.h). Registration happens
 * on a thread's first tracked event; retirement in the pthread key destructor that runs
 * when the thread exits. Arming and the sampler's use of the state are elsewhere. */
#include "sample/thread.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sample/cputimer.h"
#include "sample/unwind.h"

__thread rt_thread_t *rt_tls_self __attribute__((tls_model("initial-exec")));
__thread _Atomic uint64_t *rt_tls_serving __attribute__((tls_model("initial-exec")));

static _Atomic(rt_thread_t *) registry;
static pthread_key_t exit_key;
static int exit_key_ok;

rt_thread_t *rt_thread_first(void)
{
	return atomic_load_explicit(&registry, memory_order_acquire);
}

/* ---- current request ids (a sequence lock) ---- */

void rt_thread_set_ids(rt_thread_t *t, uint64_t serial, const uint8_t *trace_id,
		       const uint8_t *span_id)
{
	if (atomic_load_explicit(&t->ids_serial, memory_order_relaxed) == serial)
		return;
	uint32_t seq = atomic_load_explicit(&t->ids_seq, memory_order_relaxed);
	if ((seq & 1) || !atomic_compare_exchange_strong(&t->ids_seq, &seq, seq + 1))
		return;
	atomic_thread_fence(memory_order_release);
	uint64_t w[3] = { 0, 0, 0 };
	if (serial) {
		memcpy(w, trace_id, 16);
		memcpy(w + 2, span_id, 8);
	}
	for (int i = 0; i < 3; i++)
		atomic_store_explicit(&t->ids[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&t->ids_serial, serial, memory_order_relaxed);
	atomic_store_explicit(&t->ids_seq, seq + 2, memory_order_release);
}

int rt_thread_get_ids(rt_thread_t *t, uint8_t *trace_id, uint8_t *span_id)
{
	/* Ids stay with a thread after it moved on (they are cleared only while a
	 * whole-process profile runs): the request they belong to must be the current one. */
	uint64_t cur = atomic_load_explicit(&t->cur_serial, memory_order_relaxed);
	uint32_t seq = atomic_load_explicit(&t->ids_seq, memory_order_acquire);
	if (seq & 1 || !cur || atomic_load_explicit(&t->ids_serial, memory_order_relaxed) != cur)
		return 0;
	uint64_t w[3];
	for (int i = 0; i < 3; i++)
		w[i] = atomic_load_explicit(&t->ids[i], memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&t->ids_seq, memory_order_relaxed) != seq)
		return 0;
	memcpy(trace_id, w, 16);
	memcpy(span_id, w + 2, 8);
	return 1;
}

static _Atomic(rt_thread_ids_source_t) ids_source;

void rt_thread_set_ids_source(rt_thread_ids_source_t source)
{
	atomic_store_explicit(&ids_source, source, memory_order_release);
}

int rt_thread_make_ids(rt_thread_t *t)
{
	rt_thread_ids_source_t source = atomic_load_explicit(&ids_source, memory_order_acquire);
	uint64_t serial = atomic_load_explicit(&t->cur_serial, memory_order_relaxed);
	if (!source || !serial || rt_tls_enter() != 0)
		return 0;
	int rc = source(t, serial);
	rt_tls_leave();
	return rc;
}

/* Runs at thread exit (not for the main thread, whose exit is the process's). */
static void thread_retire(void *arg)
{
	rt_thread_t *t = arg;
	int saved = rt_tls_depth;
	rt_tls_depth = 1;
	rt_cputimer_release_all(t);
	atomic_store(&t->cur_serial, 0);
	atomic_store(&t->cur_owner, NULL);
	atomic_store(&t->handoff.borrowed, 0);
	atomic_store(&t->handoff.pool, 0);
	rt_thread_set_ids(t, 0, NULL, NULL);
	rt_tls_self = NULL;
	rt_tls_serving = NULL;
	atomic_store_explicit(&t->in_use, 0, memory_order_release);
	rt_tls_depth = saved;
}

static rt_thread_t *thread_claim_recycled(void)
{
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		int expect = 0;
		if (atomic_load_explicit(&t->in_use, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&t->in_use, &expect, 1))
			return t;
	}
	return NULL;
}

static rt_thread_t *thread_alloc(void)
{
	rt_thread_t *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	pthread_mutex_init(&t->arm_mu, NULL);
	t->perf_fd = -1;
	atomic_store(&t->in_use, 1);
	rt_thread_t *head = atomic_load(&registry);
	do
		t->next = head;
	while (!atomic_compare_exchange_weak(&registry, &head, t));
	return t;
}

rt_thread_t *rt_thread_self(void)
{
	rt_thread_t *t = rt_tls_self;
	if (t)
		return t;
	t = thread_claim_recycled();
	if (!t)
		t = thread_alloc();
	if (!t)
		return NULL;
	atomic_fetch_add(&t->gen, 1);
	/* Atomic: the worker reads it while matching thread ids (sample/thread_capture.c). */
	__atomic_store_n(&t->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELAXED);
	atomic_store(&t->cur_serial, 0);
	atomic_store(&t->cur_owner, NULL);
	atomic_store(&t->handoff.borrowed, 0);
	atomic_fetch_add(&t->handoff.segment, 1); /* a new life, a new segment */
	rt_tls_self = t;
	rt_tls_serving = &t->cur_serial;
	if (exit_key_ok)
		pthread_setspecific(exit_key, t);
	rt_unwind_warm(); /* this thread may be sampled: its unwind cache is set up now */
	return t;
}

void rt_thread_work_for(rt_thread_t *t, uint64_t serial)
{
	atomic_fetch_add(&t->handoff.segment, 1);
	atomic_store(&t->handoff.seg_obj, 0);
	atomic_store(&t->handoff.borrowed, serial);
	atomic_store(&t->handoff.pool, 1);
}

void rt_thread_after_fork_child(void)
{
	rt_thread_t *self = rt_tls_self;
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		pthread_mutex_init(&t->arm_mu, NULL);
		rt_cputimer_forget(t);
		if (t != self)
			atomic_store(&t->in_use, 0);
		atomic_store(&t->cur_serial, 0);
		atomic_store(&t->cur_owner, NULL);
		atomic_store(&t->handoff.borrowed, 0);
		t->handoff.armed = 0;
		/* Stats are per process: the child starts from zero. */
		atomic_store(&t->requests, 0);
		atomic_store(&t->non_http, 0);
	}
	if (self)
		self->tid = (pid_t)syscall(SYS_gettid);
}

void rt_thread_init(void)
{
	if (pthread_key_create(&exit_key, thread_retire) == 0)
		exit_key_ok = 1;
}
