/* prering.h: what a thread did on CPU before its request was known to be slow. A
 * thread that serves requests gets a perf_event ring of its own: task-clock in user mode
 * at OTSHIM_CPU_HZ, each sample its time (CLOCK_MONOTONIC, the request clock), the
 * event's count (thread CPU time, for weights), user registers and the top of the user
 * stack. No signal: the kernel fills the ring and nothing of ours runs until it is read.
 * A request's first byte remembers where the ring's writer is and lets the kernel reuse
 * what is before it (one load and one store on the ring's control page:
 * rt_prering_mark). When the request turns slow the watchdog asks for that stretch
 * (rt_prering_want); the worker copies it out, unwinds each sample from its registers
 * (sample/unwind_regs.h) and hands the stacks over with weights that add up to the
 * thread's CPU time (rt_prering_collect).
 * A ring rests disabled. A sampling task-clock event costs its thread at every context
 * switch (the kernel stops and starts its timer, and a timer sooner than the tick
 * reprograms the clock device: in a virtual machine, an exit to the hypervisor each
 * way), which a thread-per-connection service pays on every request; a disabled one
 * costs next to nothing. So the worker, each round, enables the ring of a thread whose
 * current request has been in flight RT_PRERING_ENABLE_AFTER_NS or more, and the thread
 * disables it again as that request ends (rt_prering_request_end: one load, and a
 * system call only when it was enabled). A slow request is thus covered from a few
 * milliseconds after its first byte, and the CPU it spent before is left out (its
 * thread's clock is not read on a request's path), except on a thread's first request.
 * Making a ring costs about a millisecond (the kernel allocates and locks its pages), so
 * it is never made on a request's path: a thread's first request asks for one (a store),
 * and the worker makes it when it finds the thread serving a request
 * RT_PRERING_OPEN_AFTER_NS or more after it asked (a thread that lives through one short
 * request never gets one), at most RT_PRERING_OPENS_PER_S a second.
 * Rings are budgeted (RT_PRERING_BUDGET bytes of locked memory per process, the kernel's
 * perf_event_mlock_kb and RLIMIT_MEMLOCK besides): a thread that cannot get one, or a
 * process where perf_event_open is refused, has its slow requests sampled from the
 * threshold on only (counted in the stats file).
 * Context: rt_prering_mark and rt_prering_request_end on the request path of the thread
 * itself (inside the runtime guard); want from the watchdog; tick and collect from the
 * worker; close at thread exit. */
#ifndef RT_PRERING_H
#define RT_PRERING_H

#include <linux/perf_event.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample/cputimer.h"
#include "sample/thread.h"

#define RT_PRERING_NOPOS UINT64_MAX   /* no ring: nothing kept before the threshold */
#define RT_PRERING_BUDGET (4u << 20)  /* bytes of rings per process, all threads */
#define RT_PRERING_MAX 64             /* rings per process */

typedef struct rt_prering {
	struct perf_event_mmap_page *page; /* the control page, then the data pages */
	/* The rest is sample/prering.c's, under its lock. */
	int fd;
	uint64_t id;                  /* the event's PERF_EVENT_IOC_ID */
	size_t map_len, data_len;
	pid_t tid;
	uint64_t opened_ns;           /* CLOCK_MONOTONIC when opened */
	/* The worker's last enabling: when, the event's count and the thread's CPU clock
	 * then (0 = unknown), which turn a later count into the clock. */
	uint64_t enabled_ns, count_at_enable, cpu_at_enable_ns;
	_Atomic int on;               /* enabled: set by the worker, cleared by its thread */
	_Atomic int open;
	_Atomic int orphan;           /* its thread exited: the worker closes it */
} rt_prering_t;

#define RT_PRERING_OPEN_AFTER_NS (10 * 1000000ull)
#define RT_PRERING_ENABLE_AFTER_NS (2 * 1000000ull)
#define RT_PRERING_OPENS_PER_S 20

/* A request begins on the calling thread t: the ring position its samples start at,
 * or RT_PRERING_NOPOS (no ring yet: the thread's first one asks for it). The writer's
 * position is read and the kernel told it may reuse everything before it. The ring
 * used goes to *ring. The request that asks also reads its thread's CPU clock into
 * *cpu_ns (one system call per thread life; else 0): its ring, made and
 * enabled while it runs, then tells how much CPU came before. */
static inline uint64_t rt_prering_mark(rt_thread_t *t, uint64_t now_ns, rt_prering_t **ring,
				       uint64_t *cpu_ns)
{
	rt_prering_t *p = atomic_load_explicit(&t->prering, memory_order_acquire);
	*ring = p;
	*cpu_ns = 0;
	if (__builtin_expect(p != NULL, 1)) {
		uint64_t head = __atomic_load_n(&p->page->data_head, __ATOMIC_ACQUIRE);
		__atomic_store_n(&p->page->data_tail, head, __ATOMIC_RELAXED);
		return head;
	}
	if (!t->prering_asked) {
		t->prering_asked = 1;
		*cpu_ns = rt_cputimer_thread_ns(t->tid);
		atomic_store_explicit(&t->prering_want_ns, now_ns, memory_order_relaxed);
	}
	return RT_PRERING_NOPOS;
}

/* The calling thread t's request ends: its ring, if the worker enabled it, is
 * disabled. */
void rt_prering_disable(rt_prering_t *p);
static inline void rt_prering_request_end(rt_thread_t *t)
{
	rt_prering_t *p = atomic_load_explicit(&t->prering, memory_order_acquire);
	if (__builtin_expect(p != NULL, 1) && atomic_load_explicit(&p->on, memory_order_relaxed))
		rt_prering_disable(p);
}

/* Watchdog: the ring a request that began at start_ns on thread t, with no ring then
 * (ring NULL), can be read from: t's ring if it was made after start_ns, from its
 * beginning (*pos 0). NULL if none. */
rt_prering_t *rt_prering_made_since(rt_thread_t *t, uint64_t start_ns, uint64_t *pos);

/* Worker, every round: makes the rings asked for, gives back those of exited threads. */
void rt_prering_tick(void);

/* A request's stretch from its first byte to its threshold, as the watchdog asks for
 * it. */
typedef struct rt_prering_stretch {
	uint64_t serial;
	rt_prering_t *ring;
	uint64_t pos;             /* the ring's writer at the first byte (0: made since) */
	pid_t tid;                /* the thread serving it */
	uint64_t start_ns;        /* its first byte, CLOCK_MONOTONIC */
	uint64_t slow_ns;         /* its threshold */
	uint64_t cpu_at_begin_ns; /* the thread's CPU clock at the first byte, 0 = not read */
	uint64_t cpu_at_slow_ns;  /* and at the threshold, 0 = unknown */
} rt_prering_stretch_t;

/* Watchdog: the samples of stretch s are wanted. Returns 1 if they will be collected,
 * 0 when there is nothing to collect (no ring then, another ring now, or no room in
 * the queue). */
int rt_prering_want(const rt_prering_stretch_t *s);

/* Worker: what rt_prering_collect does with each wanted request. */
typedef struct rt_prering_sink {
	/* Whether the worker collects serial yet (its watch may not be in place). */
	int (*known)(uint64_t serial, void *arg);
	/* One sample before the threshold, innermost pc first. */
	void (*sample)(uint64_t serial, pid_t tid, uint64_t weight_ns, const uintptr_t *pcs,
		       uint32_t npcs, void *arg);
	/* All of serial's are given: cpu_ns of thread CPU from its first byte to the
	 * threshold, complete 0 when some samples were lost. The thread's clock may show
	 * more than the samples weigh (CPU before its ring was enabled, samples a full ring
	 * dropped): cpu_ns then says so. */
	void (*done)(uint64_t serial, uint64_t cpu_ns, int complete, void *arg);
	void *arg;
} rt_prering_sink_t;
void rt_prering_collect(const rt_prering_sink_t *sink);

/* Thread exit (the thread itself): its ring is let go (the worker unmaps it). */
void rt_prering_close(rt_thread_t *t);
/* Fork child: rings and their mappings are the parent's; each thread opens its own
 * again on its next request. */
void rt_prering_fork_child(void);

/* Start-up: sample at hz; off (no thread gets a ring) when !on. */
void rt_prering_init(int on, uint32_t hz, uint32_t slow_ms);

/* For tests and the stats: bytes of rings mapped now, and the stack bytes per sample. */
size_t rt_prering_bytes(void);
uint32_t rt_prering_stack_bytes(void);
size_t rt_prering_ring_bytes(void);

#endif
