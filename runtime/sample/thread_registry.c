/* thread_registry.c: the thread registry (see sample/thread_registry.h). A live list under one
 * mutex, held only for list surgery, never across a call out. The trampoline wraps the
 * service's start routine in a cleanup handler, which runs on return, pthread_exit and
 * cancellation alike. */
#include "sample/thread_registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sample/process_cpu.h"
#include "sample/shim_threads.h"
#include "sample/thread.h"
#include "sample/unwind.h"

struct rt_thread_registry_entry {
	struct rt_thread_registry_entry *next, *prev;
	void *(*start)(void *);
	void *arg;
	pid_t tid;
	uint64_t created_real_ns;
	uint64_t creator_request;     /* the request its creator was serving, 0 = none */
	uint32_t npcs;
	uintptr_t pcs[RT_TREG_STACK_MAX];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rt_thread_registry_entry_t *live, *pool;
static size_t nlive;

static rt_thread_registry_entry_t *entry_get(void)
{
	if (!pool) {
		enum { CHUNK = 64 };
		rt_thread_registry_entry_t *c = rt_alloc.malloc(CHUNK * sizeof *c);
		if (!c)
			return NULL;
		for (size_t i = 0; i < CHUNK; i++) {
			c[i].next = pool;
			pool = &c[i];
		}
	}
	rt_thread_registry_entry_t *e = pool;
	pool = e->next;
	return e;
}

static void unlink_live(rt_thread_registry_entry_t *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		live = e->next;
	if (e->next)
		e->next->prev = e->prev;
	nlive--;
	e->next = pool;
	pool = e;
}

/* A sanitizer runtime (ASan, TSan) wraps pthread_create and calls the next one, ours,
 * with its own start routine, which must be the first code the new thread runs: our
 * trampoline would run before the sanitizer knows the thread. So under one, threads
 * are not registered (they are still counted and profiled through /proc). */
static int sanitizer_present(void)
{
	static int known, present; /* a race here only repeats the same lookup */
	if (!__atomic_load_n(&known, __ATOMIC_ACQUIRE)) {
		int p = dlsym(RTLD_DEFAULT, "__tsan_init") || dlsym(RTLD_DEFAULT, "__asan_init");
		__atomic_store_n(&present, p, __ATOMIC_RELAXED);
		__atomic_store_n(&known, 1, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&present, __ATOMIC_RELAXED);
}

/* The request the calling thread serves, or works for. */
static uint64_t creator_request(void)
{
	rt_thread_t *self = rt_thread_peek();
	if (!self)
		return 0;
	uint64_t own = atomic_load_explicit(&self->cur_serial, memory_order_relaxed);
	return own ? own : atomic_load_explicit(&self->handoff.borrowed, memory_order_relaxed);
}

rt_thread_registry_entry_t *rt_thread_registry_prepare(void *(*start)(void *), void *arg)
{
	uintptr_t pcs[RT_TREG_STACK_MAX + 8];
	struct timespec ts;
	if (rt_tls_depth)
		return NULL; /* the shim's own threads are not the service's */
	rt_tls_depth = 1;
	if (sanitizer_present()) {
		rt_tls_depth = 0;
		return NULL;
	}
	/* The creator's stack, without our own frames (this function, the interposer),
	 * which a constructor running before ours would not know yet. */
	rt_unwind_locate_self();
	size_t n = rt_unwind_here(pcs, RT_TREG_STACK_MAX + 8, 0);
	size_t k = rt_unwind_own_prefix(pcs, n);
	n -= k;
	if (n > RT_TREG_STACK_MAX)
		n = RT_TREG_STACK_MAX;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&mu);
	rt_thread_registry_entry_t *e = entry_get();
	if (e) {
		e->start = start;
		e->arg = arg;
		e->tid = 0;
		e->created_real_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		e->creator_request = creator_request();
		e->npcs = (uint32_t)n;
		memcpy(e->pcs, pcs + k, n * sizeof *pcs);
		e->prev = NULL;
		e->next = live;
		if (live)
			live->prev = e;
		live = e;
		nlive++;
	}
	pthread_mutex_unlock(&mu);
	rt_tls_depth = 0;
	return e;
}

void rt_thread_registry_abandon(rt_thread_registry_entry_t *e)
{
	pthread_mutex_lock(&mu);
	unlink_live(e);
	pthread_mutex_unlock(&mu);
}

static void retire(void *arg)
{
	int saved = errno;
	rt_process_cpu_thread_ended(__atomic_load_n(&((rt_thread_registry_entry_t *)arg)->tid,
						    __ATOMIC_RELAXED));
	rt_thread_registry_abandon(arg);
	errno = saved;
}

/* ---- the shim's own threads' threads ---- */

typedef struct internal_box {
	void *(*start)(void *);
	void *arg;
} internal_box_t;

static void internal_done(void *unused)
{
	(void)unused;
	rt_shim_thread_unmark();
}

static void *internal_trampoline(void *p)
{
	internal_box_t b = *(internal_box_t *)p;
	void *ret;
	rt_alloc.free(p);
	rt_tls_mark_internal();
	rt_shim_thread_mark();
	pthread_cleanup_push(internal_done, NULL);
	ret = b.start(b.arg);
	pthread_cleanup_pop(1);
	return ret;
}

int rt_thread_registry_wrap_internal(void *(**start)(void *), void **arg)
{
	if (!rt_tls_depth || sanitizer_present())
		return 0;
	internal_box_t *b = rt_alloc.malloc(sizeof *b);
	if (!b)
		return 0;
	b->start = *start;
	b->arg = *arg;
	*start = internal_trampoline;
	*arg = b;
	return 1;
}

void rt_thread_registry_unwrap_internal(void *arg)
{
	rt_alloc.free(arg);
}

void *rt_thread_registry_trampoline(void *arg)
{
	rt_thread_registry_entry_t *e = arg;
	void *(*start)(void *) = e->start;
	void *start_arg = e->arg, *ret;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	__atomic_store_n(&e->tid, tid, __ATOMIC_RELAXED);
	rt_process_cpu_thread_began(tid);
	/* Its runtime state now, while it holds no lock: it may become a pool thread that
	 * acts for requests (track/handoff.h), which must not allocate when it wakes. */
	if (rt_tls_enter() == 0) {
		rt_thread_t *t = rt_thread_self();
		/* A pool that grows on demand makes its thread for the job at hand: a thread
		 * made while a request was served starts as a pool thread working for it. */
		if (t && e->creator_request)
			rt_thread_work_for(t, e->creator_request);
		rt_tls_leave();
	}
	pthread_cleanup_push(retire, e);
	ret = start(start_arg);
	pthread_cleanup_pop(1);
	return ret;
}

size_t rt_thread_registry_live(void)
{
	pthread_mutex_lock(&mu);
	size_t n = nlive;
	pthread_mutex_unlock(&mu);
	return n;
}

int rt_thread_registry_snapshot(rt_thread_info_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&mu);
	rt_thread_info_t *a = rt_alloc.malloc((nlive ? nlive : 1) * sizeof *a);
	if (!a) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	size_t k = 0;
	for (const rt_thread_registry_entry_t *e = live; e; e = e->next, k++) {
		a[k].tid = __atomic_load_n(&e->tid, __ATOMIC_RELAXED);
		a[k].created_real_ns = e->created_real_ns;
		a[k].start_routine = (uintptr_t)e->start;
		a[k].npcs = e->npcs;
		memcpy(a[k].pcs, e->pcs, e->npcs * sizeof *e->pcs);
	}
	pthread_mutex_unlock(&mu);
	*out = a;
	*n = k;
	return 0;
}

void rt_thread_registry_fork_prepare(void) { pthread_mutex_lock(&mu); }
void rt_thread_registry_fork_parent(void) { pthread_mutex_unlock(&mu); }

void rt_thread_registry_fork_child(void) /* mu: released by the forking thread (boot/init.c) */
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	for (rt_thread_registry_entry_t *e = live, *next; e; e = next) {
		next = e->next;
		if (e->tid != self)
			unlink_live(e);
	}
}
