/* init.c: constructor, lazy thread start, fork and exit handling (see boot/init.h). */
#include "boot/init.h"
#include "boot/sinks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/libnghttp2.h"
#include "base/log.h"
#include "base/owned_fds.h"
#include "base/stats.h"
#include "base/ticks.h"
#include "emit/caps.h"
#include "emit/continuous.h"
#include "emit/endpoint.h"
#include "emit/export.h"
#include "emit/profile_dir.h"
#include "emit/stats_file.h"
#include "emit/worker.h"
#include "profile/symbols.h"
#include "sample/cputimer.h"
#include "sample/heap_sampler.h"
#include "sample/prering.h"
#include "sample/process_cpu.h"
#include "sample/sampler.h"
#include "sample/shim_threads.h"
#include "sample/thread.h"
#include "sample/thread_capture.h"
#include "sample/thread_registry.h"
#include "sample/unwind.h"
#include "sample/unwind_memcheck.h"
#include "track/conn.h"
#include "track/handoff.h"
#include "track/request.h"
#include "track/waits.h"
#include "track/watchdog.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic int ready;          /* configuration loaded, tables made, enabled */
static _Atomic int threads_up;     /* watchdog and worker started in this process */
static _Atomic int forked;         /* this process is a fork child */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;

/* Lock order, here as everywhere: start_mu, then the connection list (the watchdog
 * holds it while posting to the worker), then the worker's queue, then the heap
 * sampler's tables and the thread registry (taken by free() and pthread_create
 * anywhere, holding nothing else meanwhile). */
static void fork_prepare(void)
{
	pthread_mutex_lock(&start_mu);
	rt_conn_fork_prepare();
	rt_worker_fork_prepare();
	rt_heap_fork_prepare();
	rt_thread_registry_fork_prepare();
}

static void fork_parent(void)
{
	rt_thread_registry_fork_parent();
	rt_heap_fork_parent();
	rt_worker_fork_parent();
	rt_conn_fork_parent();
	pthread_mutex_unlock(&start_mu);
}

/* The forking thread holds every lock fork_prepare took, and it alone lives on in the
 * child: it releases them first, as in the parent (re-initializing a locked mutex is
 * undefined, and ThreadSanitizer still sees it held), before the handlers below run
 * (they free memory, which takes the heap sampler's locks). Locks other threads held
 * are the modules' to make anew. */
static void fork_child(void)
{
	rt_thread_registry_fork_parent();
	rt_heap_fork_parent();
	rt_worker_fork_parent();
	rt_conn_fork_parent();
	rt_owned_fd_fork_child();
	rt_thread_registry_fork_child();
	rt_unwind_memcheck_fork_child();
	rt_shim_threads_fork_child();
	rt_thread_capture_fork_child();
	rt_process_cpu_fork_child();
	rt_symbols_fork_child();
	rt_conn_fork_child();
	rt_handoff_fork_child();
	rt_worker_fork_child();
	rt_thread_after_fork_child();
	rt_stats_reset();
	rt_dir_fork_child();
	rt_caps_fork_child();
	rt_stats_file_fork_child();
	rt_export_fork_child();
	rt_req_fork_child();
	pthread_mutex_unlock(&start_mu);
	atomic_store(&forked, 1);
	atomic_store(&threads_up, 0);
}

static void init_runtime(void)
{
	int saved = rt_tls_depth;
	rt_tls_depth = 1; /* nothing we call here may be reported as a host event */
	rt_cfg_load();
	if (!rt_cfg.enabled)
		goto out;
	/* A setuid/setgid program must not be steered by its caller's environment. */
	if (getauxval(AT_SECURE)) {
		rt_log(RT_LOG_WARN, "secure-execution mode (setuid/setgid): disabled");
		goto out;
	}
	if (rt_conn_init() != 0) {
		rt_log(RT_LOG_ERROR, "cannot allocate the connection table; disabled");
		goto out;
	}
	rt_thread_init();
	rt_libnghttp2_resolve(); /* before any connection: it may load the library */
	rt_sinks_install();
	rt_cputimer_init(rt_cfg.cpu_route_timer);
	rt_process_cpu_set_route(rt_cfg.process_cpu_timer);
	/* The timer route stands for a host refusing perf: no ring before the threshold. */
	rt_prering_init(!rt_cfg.cpu_route_timer, rt_cfg.cpu_hz, rt_cfg.slow_ms);
	rt_sampler_init();
	rt_unwind_locate_self();
	rt_ticks_mark();
	rt_heap_init(rt_cfg.heap_sample_bytes);
	rt_thread_capture_init((int)rt_cfg.threads_signal);
	rt_export_init();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	atomic_store(&ready, 1);
	rt_endpoint_start();
	rt_continuous_start(0);
out:
	rt_tls_depth = saved;
}

static void start_threads(void)
{
	pthread_mutex_lock(&start_mu);
	if (!atomic_load(&threads_up)) {
		rt_waits_enable(0); /* before the first request, when start-up was 10 ms ago */
		rt_worker_start();
		rt_watchdog_start();
		rt_export_start();
		/* A pre-fork worker profiles itself; the /debug/pprof endpoint stays with the
		 * process that bound its port (doc/REFERENCE.md, "The /debug/pprof endpoint"). */
		if (atomic_load(&forked))
			rt_continuous_start(1);
		atomic_store(&threads_up, 1);
	}
	pthread_mutex_unlock(&start_mu);
}

int rt_init_ensure(void)
{
	if (__builtin_expect(!atomic_load_explicit(&ready, memory_order_acquire), 0)) {
		if (rt_tls_depth)
			return 0;
		pthread_once(&init_once, init_runtime);
		if (!atomic_load(&ready))
			return 0;
	}
	if (__builtin_expect(!atomic_load_explicit(&threads_up, memory_order_acquire), 0)) {
		if (rt_tls_depth)
			return 0;
		rt_tls_depth = 1;
		start_threads();
		rt_tls_depth = 0;
	}
	return 1;
}

int rt_init_ready(void)
{
	return atomic_load_explicit(&ready, memory_order_acquire);
}

__attribute__((constructor(102))) static void rt_ctor(void)
{
	pthread_once(&init_once, init_runtime);
}

/* The exit flush, once per process: from our destructor, or earlier from the atexit
 * handler rt_init_flush_before_atexit registers (whichever runs first). */
static _Atomic int flushed_pid;

static void exit_flush(void)
{
	if (!atomic_load(&ready) || !atomic_load(&threads_up))
		return;
	int me = (int)getpid();
	if (atomic_exchange(&flushed_pid, me) == me)
		return;
	int saved = rt_tls_depth;
	rt_tls_depth = 1;
	rt_worker_shutdown(); /* first: it hands slow requests' spans to the exporter */
	rt_export_shutdown();
	rt_stats_file_final();
	rt_tls_depth = saved;
}

void rt_init_flush_before_atexit(void)
{
	static _Atomic int registered;
	if (!atomic_exchange(&registered, 1))
		atexit(exit_flush);
}

__attribute__((destructor)) static void rt_dtor(void)
{
	exit_flush();
}

