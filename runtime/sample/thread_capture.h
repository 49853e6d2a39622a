/* rt_threadprof.h: thread profiles, the goroutine profile for native services. A
 * capture lists /proc/self/task, sends each thread the configured real-time signal
 * (OTSHIM_THREADS_SIGNAL) and lets its handler unwind the interrupted stack into a
 * slot that is never freed; a thread that has the signal blocked, or does not answer
 * within RT_THREADPROF_WAIT_MS, is reported with its name and no stack. A thread whose
 * current call a signal could make fail with EINTR, even under SA_RESTART (asleep in
 * poll, nanosleep, ...: rt_restart.h), is not signalled either: it is reported with a
 * one-frame stack, the pc its call returns to, and says why in its "stack" label. The
 * shim's own threads are reported without being signalled. Also builds the
 * "threadcreate" profile from the registry's creation stacks.
 * Context: rt_threadprof_capture and the builders run on the worker (or any one
 * thread that may allocate; captures are serialised internally). */
#ifndef RT_THREADPROF_H
#define RT_THREADPROF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profile/profile.h"
#include "base/ring.h"

#define RT_THREADPROF_WAIT_MS 100

/* Why a service thread was not signalled (rt_thread_stack_t.held_back). */
enum {
	RT_THREADPROF_SIGNALLED = 0,
	RT_THREADPROF_ASLEEP,     /* in a call SA_RESTART does not restart: pcs[0] is its pc */
	RT_THREADPROF_UNKNOWN,    /* its /proc syscall file could not be read: no stack */
	RT_THREADPROF_BLOCKS,     /* it blocks the capture's signal: no stack */
};

/* The "stack" label's value on such a thread's sample (NULL for RT_THREADPROF_SIGNALLED). */
const char *rt_threadprof_held_back_why(int held_back);

typedef struct rt_thread_stack {
	pid_t tid;
	char name[16];           /* /proc/self/task/<tid>/comm */
	int answered;            /* the handler ran; 0: no stack (blocked, busy or ours) */
	int internal;            /* one of the shim's own threads, not signalled */
	int held_back;           /* RT_THREADPROF_*: not signalled, for its service's sake */
	uint64_t serial;         /* request the thread was serving, or 0 */
	uint32_t npcs;
	uintptr_t pcs[RT_STACK_MAX];
} rt_thread_stack_t;

typedef struct rt_thread_capture {
	rt_thread_stack_t *threads;
	size_t n;
	uint64_t elapsed_ns;     /* from the first signal to the last answer or the bound */
} rt_thread_capture_t;

/* Installs the handler for signo (0: thread profiles off). Called once at start-up;
 * refuses, with one warning, a signal that is not real-time or that the service
 * handles itself. */
void rt_threadprof_init(int signo);
int rt_threadprof_enabled(void);

/* Our own threads call this once: they are never signalled by a capture, and they
 * take SIGPROF while ours holds it (rt_sigprof_shim_begin). A short-lived one unmarks
 * itself before it ends. */
void rt_threadprof_mark_internal(void);
void rt_threadprof_unmark_internal(void);
int rt_threadprof_is_internal(pid_t tid);

/* Every thread of the process, with stacks where they answered. 0, or -1. */
int rt_threadprof_capture(rt_thread_capture_t *c);
void rt_threadprof_capture_free(rt_thread_capture_t *c);

/* Labeller for the trace_id/span_id of a request serial (see rt_heap_profile.h). */
typedef int (*rt_threadprof_labeller_t)(uint64_t serial, const char **trace, const char **span,
					void *arg);

/* threads/count, one sample per thread: labels thread_name, thread_id and, for a
 * thread serving a request the labeller knows, trace_id and span_id. */
rt_profile_t *rt_threadprof_build(const rt_thread_capture_t *c, rt_threadprof_labeller_t l,
				  void *arg);
/* threadcreate: one sample per live registered thread, at its creator's stack. */
rt_profile_t *rt_threadprof_build_create(void);

void rt_threadprof_fork_child(void);

#endif
