/* thread.h: per-thread runtime state (the reentrancy guard is base/guard.h). Each host thread
 * that touches a tracked connection, and each the service creates after the library
 * loaded (as it starts), gets an rt_thread_t, found through an initial-exec
 * TLS pointer (no allocation on access, safe in a signal handler once set). States live
 * in a registry that is only ever appended to; a state whose thread exited is recycled
 * by the next new thread, so a pointer to one always points at valid memory.
 * CPU-timer fields are owned by sample/cputimer.c; the current request by track/conn.c,
 * the hand-off fields by track/handoff.c (and, the worker's part, emit/), the waits by
 * track/waits.c. */
#ifndef RT_THREAD_H
#define RT_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/guard.h"
#include "sample/ring.h"

enum { RT_CPU_ROUTE_NONE = 0, RT_CPU_ROUTE_PERF = 1, RT_CPU_ROUTE_TIMER = 2 };

#define RT_HANDOFF_DONE_MAX 8

struct rt_prering;

/* A pool thread's work, in segments: one begins each time it is woken for a job (or
 * hands one back), and a segment that ends by handing work back to the thread serving
 * request R is known to have been R's. Written by the thread itself (track/handoff.c),
 * read by the worker, which keeps a pool thread's samples until their segment is known
 * (emit/pool_samples.c). */
typedef struct rt_thread_handoff {
	_Atomic uint64_t borrowed;    /* request it was woken for, 0 = none */
	_Atomic uintptr_t seg_obj;    /* what it was woken on, 0: its segment began otherwise */
	_Atomic uint32_t segment;     /* its current segment (from 1) */
	_Atomic int pool;             /* it has taken work handed over: sample it while a
	                                 request is slow */
	_Atomic uint32_t ndone;       /* segments ended by a hand-back, ever ... */
	struct {
		_Atomic uint32_t segment;
		_Atomic uint64_t serial;
	} done[RT_HANDOFF_DONE_MAX];  /* ... the last few: segment -> request */
	/* The worker's own. */
	int armed;                    /* it holds a sampling reference on this thread */
	uint32_t armed_gen;
	void *pending;                /* samples waiting for their segment's request */
} rt_thread_handoff_t;

typedef struct rt_thread {
	struct rt_thread *next;       /* registry link; immutable once published */
	_Atomic int in_use;
	pid_t tid;
	_Atomic uint32_t gen;         /* bumped each time the state is recycled */
	_Atomic uint64_t cur_serial;  /* request this thread is working on, 0 = none */
	_Atomic uint64_t cur_start_ns; /* its first byte, CLOCK_MONOTONIC (sample/prering.c) */
	_Atomic(void *) cur_owner;    /* track/'s handle on that request, for its ids source */
	/* On a thread with none of its own: the request it acts for (track/handoff.c). */
	rt_thread_handoff_t handoff;
	/* ...and the trace and span ids of its current request, kept while a whole-process
	 * CPU profile runs and once a heap sample needed them (rt_thread_set_ids), so
	 * samples can carry them: a sequence lock, odd while being written, guards three
	 * words that the SIGPROF handler copies. */
	_Atomic uint32_t ids_seq;
	_Atomic uint64_t ids_serial;  /* the request they belong to, 0 = none */
	_Atomic uint64_t ids[3];      /* trace id (16 bytes), span id (8), as stored */
	_Atomic uint64_t requests;    /* requests completed on this thread (stats) */
	_Atomic uint64_t non_http;    /* connections dropped as non-HTTP */

	/* CPU sampling (sample/cputimer.c / sample/sampler.c) */
	pthread_mutex_t arm_mu;       /* serialises arm/release; never taken in a handler */
	int arm_count;                /* slow requests wanting this thread sampled */
	_Atomic int armed;            /* handler records samples only while set */
	/* Written under arm_mu, read by the handler and the worker: atomics. */
	_Atomic int route;            /* RT_CPU_ROUTE_* in use */
	_Atomic int perf_fd;
	uint64_t perf_id;             /* its PERF_EVENT_IOC_ID: still ours when we close it? */
	timer_t timer;
	uint64_t last_cpu_ns;         /* set before armed (release), then handler-owned */
	_Atomic(rt_ring_t *) ring;    /* made on first arm, kept for the state's life */

	/* Its waits within its current request (track/waits.c; made when it first serves
	 * one, kept for the state's life). Only this thread touches them. */
	struct rt_waits *waits;

	/* The perf ring kept before the threshold (sample/prering.c): asked for by the
	 * thread at its first request (once per life: prering_asked, its own), opened by
	 * the worker once that thread has served a request for a while, given back as the
	 * thread exits. */
	_Atomic(struct rt_prering *) prering;
	int prering_asked;
	_Atomic uint64_t prering_want_ns; /* when it asked; 0: not asked, or answered */

	/* A finished request's memory kept for this thread's next one (track/request.c),
	 * so a request costs no malloc; only this thread touches it, and it stays with
	 * the state from one thread's life to the next (one per state, never more). */
	void *req_spare;
} rt_thread_t;

/* The calling thread's state, or NULL. Signal-safe. */
extern __thread rt_thread_t *rt_tls_self __attribute__((tls_model("initial-exec")));
static inline rt_thread_t *rt_thread_peek(void) { return rt_tls_self; }

/* The calling thread's state, registering it on first use. Host-thread context inside
 * the guard (may allocate). NULL on allocation failure. */
rt_thread_t *rt_thread_self(void);

/* Records that t works on request serial with these ids (trace_id 16 bytes, span_id 8;
 * serial 0 clears). Any thread; lock-free. A writer that finds another one writing the
 * same state gives up (the ids are best effort: a missing label, never a wrong one). */
void rt_thread_set_ids(rt_thread_t *t, uint64_t serial, const uint8_t *trace_id,
		       const uint8_t *span_id);
/* Signal-safe: copies the ids of the request t is working on now into trace_id[16] and
 * span_id[8]. Returns 1, or 0 when t has none for it (ids kept for an earlier request
 * do not count) or they were being written. */
int rt_thread_get_ids(rt_thread_t *t, uint8_t *trace_id, uint8_t *span_id);

/* Where ids come from when no whole-process CPU profile runs: track/ installs a source
 * that makes the ids of request serial, which t is working on (the same ids its span
 * and files will carry), and keeps them with t (rt_thread_set_ids). It returns 0 when
 * it could not (the request has no ids yet: its head is still being read). */
typedef int (*rt_thread_ids_source_t)(rt_thread_t *t, uint64_t serial);
void rt_thread_set_ids_source(rt_thread_ids_source_t source);
/* Asks the source for the ids of t's current request; 0 without a source, or when it
 * could not. Read them with rt_thread_get_ids. t is the calling thread's own state;
 * from a host thread outside the runtime that holds no runtime lock (the source takes
 * the request's connection lock). Allocation-free; rare (a heap sample). */
int rt_thread_make_ids(rt_thread_t *t);

/* t (the calling thread, just started) is a pool thread beginning a job for request
 * serial (track/handoff.h): made by a thread serving it. */
void rt_thread_work_for(rt_thread_t *t, uint64_t serial);

/* First registered state (then ->next); for the worker and the stats writer. */
rt_thread_t *rt_thread_first(void);

/* After fork, in the child: every state but the caller's belongs to a thread that no
 * longer exists. */
void rt_thread_after_fork_child(void);

void rt_thread_init(void);

#endif
