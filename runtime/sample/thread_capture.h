/* thread_capture.h: thread profiles, the goroutine profile for native services. A
 * capture lists /proc/self/task; a thread asleep in a system call has its stack walked
 * where it sleeps, never signalled; a running one gets the configured real-time signal
 * (OTSHIM_THREADS_SIGNAL) from a one-shot perf event that fires only in user code, and
 * its handler unwinds the interrupted stack into a slot that is never freed. No call
 * of the service ever fails with EINTR for it. A thread that does not answer within
 * RT_THREAD_CAPTURE_WAIT_MS is reported with its name and no stack. Where perf is
 * refused, a running thread is signalled directly, unless its /proc state says the
 * signal could make its call fail (sample/eintr_safe.h): then it is reported with a
 * one-frame stack and says why in its "stack" label. The shim's own threads are
 * reported without being asked. Also builds the "threadcreate" profile from the
 * registry's creation stacks.
 * Context: rt_thread_capture_capture and the builders run on the worker (or any one
 * thread that may allocate; captures are serialised internally). */
#ifndef RT_THREAD_CAPTURE_H
#define RT_THREAD_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample/ring.h"

#define RT_THREAD_CAPTURE_WAIT_MS 100

/* Why a service thread was not signalled (rt_thread_stack_t.held_back). */
enum {
	RT_THREAD_CAPTURE_SIGNALLED = 0,
	RT_THREAD_CAPTURE_ASLEEP,     /* in a call SA_RESTART does not restart: pcs[0] is its pc */
	RT_THREAD_CAPTURE_UNKNOWN,    /* its /proc syscall file could not be read: no stack */
	RT_THREAD_CAPTURE_BLOCKS,     /* it blocks the capture's signal: no stack */
};

/* The "stack" label's value on such a thread's sample (NULL for RT_THREAD_CAPTURE_SIGNALLED). */
const char *rt_thread_capture_held_back_why(int held_back);

typedef struct rt_thread_stack {
	pid_t tid;
	char name[16];           /* /proc/self/task/<tid>/comm */
	int answered;            /* the handler ran; 0: no stack (blocked, busy or ours) */
	int internal;            /* one of the shim's own threads, not signalled */
	int held_back;           /* RT_THREAD_CAPTURE_*: not signalled, for its service's sake */
	uint64_t serial;         /* request the thread was serving, or 0 */
	int asleep;              /* walked while asleep in system call nr (not signalled) */
	long nr;
	uintptr_t sp, pc;        /* where it slept: a later capture reuses the walk */
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
void rt_thread_capture_init(int signo);
int rt_thread_capture_enabled(void);


/* Every thread of the process, with stacks where they answered. 0, or -1. prev (or
 * NULL): an earlier capture whose walks may be reused for threads still asleep in the
 * same call at the same place (a whole-process wall profile captures many times a
 * second; most threads sleep on). */
int rt_thread_capture_take(rt_thread_capture_t *c, const rt_thread_capture_t *prev);
void rt_thread_capture_free(rt_thread_capture_t *c);

void rt_thread_capture_fork_child(void);

/* tid's name (/proc/self/task/<tid>/comm) into name, "" when it cannot be read. */
void rt_thread_read_name(pid_t tid, char name[16]);

#endif
