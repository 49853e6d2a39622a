/* waits.h: where a request's serving thread waited. The interposers time the calls a
 * thread makes while it serves a request (rt.h, rt_on_wait); the ones that took at
 * least RT_WAIT_MIN_NS land here, in a table of the thread's own, grouped by call site
 * (what was called, from where, on which descriptor), each with the service's stack at
 * the call and the descriptor's peer. When a slow request ends, its thread's table is
 * copied into the request (rt_waits_take) for its wall-clock profile.
 * Context: rt_waits_record runs on the waiting thread, inside the reentrancy guard but
 * possibly inside a lock the service or its allocator holds: it never allocates, locks
 * or signals. Only the owning thread touches its table. */
#ifndef RT_WAITS_H
#define RT_WAITS_H

#include <stdint.h>

#include "sample/thread.h"

#define RT_WAIT_MIN_NS   50000ull    /* shorter calls are not waits (~a syscall's own work) */
#define RT_WAIT_STACK_NS 1000000ull  /* a wait this long gets its whole stack at once */
#define RT_WAIT_DEPTH    64          /* frames kept per wait */
#define RT_WAIT_SITES    24          /* call sites kept per request; more are summed */
#define RT_WAIT_PEER_MAX 80

/* One call site's waits within one request, in nanoseconds. */
typedef struct rt_wait {
	uint8_t kind;                 /* enum rt_wait_kind */
	uint8_t npcs;
	uint8_t whole;                /* pcs is the whole stack (else: the call site only) */
	uint32_t count;
	uint64_t ns;
	char peer[RT_WAIT_PEER_MAX];  /* "ip:port", "unix:path", a file's path, or "" */
	uintptr_t pcs[RT_WAIT_DEPTH]; /* innermost first: the service's caller of `kind` */
} rt_wait_t;

/* A finished slow request's waits (rt_waits_take); owned by the request. */
typedef struct rt_req_waits {
	uint32_t n;
	uint64_t total_ns;            /* all its waits, the summed ones included */
	uint64_t other_ns;            /* waits at sites beyond RT_WAIT_SITES */
	uint32_t other_count;
	rt_wait_t w[];
} rt_req_waits_t;

/* Turns timing on (rt_wait_min_ticks) once the tick rate is known (base/ticks.h):
 * at the first accepted connection, normally long after start-up (may_sleep 0: a host
 * thread), else by the worker as it starts (may_sleep 1: it waits out the rest). */
void rt_waits_enable(int may_sleep);
/* Gives t a table, if it has none. Host thread, inside the guard, outside any of the
 * service's locks (may allocate). */
void rt_waits_ensure(rt_thread_t *t);
/* t (the calling thread) waited in kind on fd (-1: none) from tick t0 to t1. */
void rt_waits_record(rt_thread_t *t, int kind, int fd, uint64_t t0, uint64_t t1,
		     const void *site, const void *sp);
/* A copy of t's waits for request serial (NULL when t recorded none for it, or on
 * allocation failure). t is the calling thread's own state; free() the result. */
rt_req_waits_t *rt_waits_take(rt_thread_t *t, uint64_t serial);

/* The wait label for kind: the call's name ("recv", "pthread_mutex_lock", ...). */
const char *rt_wait_name(int kind);

#endif
