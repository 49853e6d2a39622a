/* handoff.c: requests that move between threads (see track/handoff.h).
 * Every access is a relaxed atomic: a race blurs one attribution, never corrupts.
 * The table costs a few loads and, when something changed, a few stores per post and
 * per wait; the wait and post themselves are the service's and untouched. */
#include "track/handoff.h"

#include <stdatomic.h>

#include "base/cfg.h"
#include "base/guard.h"
#include "sample/cputimer.h"
#include "sample/thread.h"

#define SLOT_BITS 11
#define SLOW_MAX 256      /* slow requests in flight that pool threads are sampled for */
#define POOL_ARMED_MAX 64 /* pool threads sampled at once (each may hold a perf fd) */
#define SCORE_MIN -8      /* how far an object's score goes either way */
#define SCORE_MAX 8

#define RLX memory_order_relaxed

/* What is known of one waitable object. */
typedef struct slot {
	_Atomic uintptr_t obj;     /* its address; another object's claim resets the rest */
	_Atomic uint64_t posted;   /* request of the thread that posted it last, 0 = none */
	_Atomic uint64_t waiter;   /* own request of the last thread with one to wait on it */
	_Atomic int shared;        /* a thread with a request of its own waited on it */
	_Atomic int pool_waited;   /* a thread without one waited on it */
	_Atomic int score;         /* jobs begun on it that went back to their poster's
	                              request, minus those that went to another's */
} slot_t;

static slot_t slots[1u << SLOT_BITS];
static _Atomic uint64_t slow[SLOW_MAX];
/* Entries of slow in use, and pool threads armed after the worker's last pass: while
 * both are 0 (nearly always) its pass is two loads, not a walk of every slot and
 * thread each time it wakes. */
static _Atomic int n_slow;
static int armed_last; /* the worker's own */

static slot_t *slot_of(const void *obj)
{
	uintptr_t a = (uintptr_t)obj;
	return &slots[((a >> 3) * 0x9E3779B97F4A7C15ull) >> (64 - SLOT_BITS)];
}

/* obj's slot, taken over (and forgotten) if it held another object. */
static slot_t *slot_claim(const void *obj)
{
	slot_t *s = slot_of(obj);
	if (atomic_load_explicit(&s->obj, RLX) != (uintptr_t)obj) {
		atomic_store_explicit(&s->posted, 0, RLX);
		atomic_store_explicit(&s->waiter, 0, RLX);
		atomic_store_explicit(&s->shared, 0, RLX);
		atomic_store_explicit(&s->pool_waited, 0, RLX);
		atomic_store_explicit(&s->score, 0, RLX);
		atomic_store_explicit(&s->obj, (uintptr_t)obj, RLX);
	}
	return s;
}

void rt_handoff_init(const void *obj)
{
	slot_t *s = slot_of(obj);
	if (atomic_load_explicit(&s->obj, RLX) == (uintptr_t)obj)
		atomic_store_explicit(&s->obj, 0, RLX); /* the next claim starts afresh */
}

/* Store only what changes: a hot lock's slot is written by every thread. */
static void set_u64(_Atomic uint64_t *p, uint64_t v)
{
	if (atomic_load_explicit(p, RLX) != v)
		atomic_store_explicit(p, v, RLX);
}

/* A job begun on a wake-up from obj, for request posted, went back to request serial.
 * A queue's jobs go back to the request that posted them; a lock that only pool
 * threads wait on (Python's GIL hand-over, while it is forced) hands the thread
 * between requests' threads mid-job, and its "jobs" go back elsewhere. */
static void score(uintptr_t obj, uint64_t posted, uint64_t serial)
{
	slot_t *s = slot_of((const void *)obj);
	if (!obj || atomic_load_explicit(&s->obj, RLX) != obj)
		return;
	int v = atomic_load_explicit(&s->score, RLX) + (posted == serial ? 1 : -1);
	atomic_store_explicit(&s->score, v < SCORE_MIN ? SCORE_MIN : v > SCORE_MAX ? SCORE_MAX : v, RLX);
}

/* h's thread ends its segment: it handed work back to the thread serving request
 * serial (0: to no one we know), so that segment was serial's. The record is written
 * before the segment moves on: a reader that sees the new segment sees the record. */
static void end_segment(rt_thread_handoff_t *h, uint64_t serial)
{
	uint32_t seg = atomic_load_explicit(&h->segment, RLX);
	if (serial) {
		score(atomic_load_explicit(&h->seg_obj, RLX), atomic_load_explicit(&h->borrowed, RLX),
		      serial);
		uint32_t n = atomic_load_explicit(&h->ndone, RLX);
		atomic_store_explicit(&h->done[n % RT_HANDOFF_DONE_MAX].segment, seg, RLX);
		atomic_store_explicit(&h->done[n % RT_HANDOFF_DONE_MAX].serial, serial, RLX);
		atomic_store_explicit(&h->ndone, n + 1, memory_order_release);
		if (!atomic_load_explicit(&h->pool, RLX))
			atomic_store_explicit(&h->pool, 1, RLX);
	}
	atomic_store_explicit(&h->segment, seg + 1, memory_order_release);
	atomic_store_explicit(&h->borrowed, 0, RLX);
	atomic_store_explicit(&h->seg_obj, 0, RLX);
}

void rt_handoff_posted(const void *obj)
{
	if (rt_tls_depth) /* the shim's own threads, or a post made inside the runtime */
		return;
	rt_thread_t *t = rt_thread_peek();
	uint64_t own = t ? atomic_load_explicit(&t->cur_serial, RLX) : 0;
	uint64_t borrowed = t ? atomic_load_explicit(&t->handoff.borrowed, RLX) : 0;
	slot_t *s = slot_claim(obj);
	set_u64(&s->posted, own ? own : borrowed);
	if (!t || own)
		return;
	/* A thread of no request of its own wakes an object that only a request's thread
	 * waits on (its result, not a lock everyone takes): it hands that work back. */
	uint64_t waiter = atomic_load_explicit(&s->waiter, RLX);
	if (waiter && !atomic_load_explicit(&s->pool_waited, RLX))
		end_segment(&t->handoff, waiter);
}

void rt_handoff_wait_begin(const void *obj)
{
	if (rt_tls_depth)
		return;
	/* A thread the service created after we loaded has its state from its start
	 * (sample/thread_registry.c); here, with the caller holding who knows what lock,
	 * none is made. */
	rt_thread_t *t = rt_thread_peek();
	if (!t)
		return;
	uint64_t own = atomic_load_explicit(&t->cur_serial, RLX);
	slot_t *s = slot_claim(obj);
	if (own) {
		if (!atomic_load_explicit(&s->shared, RLX))
			atomic_store_explicit(&s->shared, 1, RLX);
		set_u64(&s->waiter, own);
	} else if (!atomic_load_explicit(&s->pool_waited, RLX)) {
		atomic_store_explicit(&s->pool_waited, 1, RLX);
	}
}

void rt_handoff_wait_end(const void *obj, int woken)
{
	if (!woken || rt_tls_depth)
		return;
	rt_thread_t *t = rt_thread_peek();
	if (!t || atomic_load_explicit(&t->cur_serial, RLX))
		return;
	slot_t *s = slot_of(obj);
	if (atomic_load_explicit(&s->obj, RLX) != (uintptr_t)obj ||
	    atomic_load_explicit(&s->shared, RLX) || atomic_load_explicit(&s->score, RLX) < 0)
		return;
	/* Woken on a queue only pool threads wait on: a job begins, for the request whose
	 * thread posted it (0: a post of no request's). Unless the thread is inside a job
	 * begun on another queue and not yet handed back: then this was a wait within
	 * that job (Python's forced GIL hand-over among pool threads, a lock of the job's
	 * own), and the job goes on. */
	rt_thread_handoff_t *h = &t->handoff;
	uintptr_t in_job = atomic_load_explicit(&h->seg_obj, RLX);
	if (in_job && in_job != (uintptr_t)obj)
		return;
	uint64_t posted = atomic_load_explicit(&s->posted, RLX);
	if (!posted && !atomic_load_explicit(&h->pool, RLX))
		return; /* not a pool thread, and nothing handed over */
	end_segment(h, 0);
	atomic_store_explicit(&h->borrowed, posted, RLX);
	atomic_store_explicit(&h->seg_obj, (uintptr_t)obj, RLX);
	if (posted && !atomic_load_explicit(&h->pool, RLX))
		atomic_store_explicit(&h->pool, 1, RLX);
}

/* ---- slow requests, and sampling the threads that act for them ---- */

void rt_handoff_slow(uint64_t serial)
{
	for (size_t i = 0; i < SLOW_MAX; i++) {
		uint64_t expect = 0;
		if (atomic_compare_exchange_strong(&slow[i], &expect, serial)) {
			atomic_fetch_add_explicit(&n_slow, 1, RLX);
			return;
		}
	}
	/* Full: this request's helpers are not sampled (its own thread still is). */
}

void rt_handoff_ended(uint64_t serial)
{
	for (size_t i = 0; i < SLOW_MAX; i++) {
		uint64_t expect = serial;
		if (atomic_compare_exchange_strong(&slow[i], &expect, 0)) {
			atomic_fetch_sub_explicit(&n_slow, 1, RLX);
			return;
		}
	}
}

void rt_handoff_sync(void)
{
	int any_slow = 0, armed = 0;
	if (atomic_load_explicit(&n_slow, RLX) == 0 && armed_last == 0)
		return;
	for (size_t i = 0; i < SLOW_MAX && !any_slow; i++)
		any_slow = atomic_load_explicit(&slow[i], RLX) != 0;
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		rt_thread_handoff_t *h = &t->handoff;
		int want = any_slow && armed < POOL_ARMED_MAX && atomic_load_explicit(&t->in_use, RLX) &&
			   atomic_load_explicit(&h->pool, RLX);
		if (h->armed && !want) {
			rt_cputimer_release(t, h->armed_gen);
			h->armed = 0;
		}
		uint32_t gen = atomic_load(&t->gen);
		if (!h->armed && want && rt_cputimer_arm(t, rt_cfg.cpu_hz) != RT_CPU_ROUTE_NONE) {
			h->armed = 1;
			h->armed_gen = gen;
		}
		armed += h->armed;
	}
	armed_last = armed;
}

void rt_handoff_fork_child(void)
{
	for (size_t i = 0; i < SLOW_MAX; i++)
		atomic_store_explicit(&slow[i], 0, RLX);
	atomic_store_explicit(&n_slow, 0, RLX);
}
