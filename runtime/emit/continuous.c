/* rt_continuous.c: continuous profiling (see rt_continuous.h). It shares the one
 * whole-process CPU profiler with the pprof endpoint: while an on-demand profile runs,
 * a period waits for it rather than run beside it. */
#include "emit/continuous.h"

#include <pthread.h>
#include <time.h>

#include "base/cfg.h"
#include "profile/cpu_profile.h"
#include "sample/process_cpu.h"
#include "sample/heap_sampler.h"
#include "profile/heap_profile.h"
#include "base/log.h"
#include "sample/thread.h"
#include "sample/thread_capture.h"
#include "base/util.h"
#include "emit/writer.h"

#define CONTINUOUS_HZ 100

static void *continuous_main(void *arg)
{
	int forked = arg != NULL;
	rt_tls_mark_internal();
	rt_thread_capture_mark_internal();
	pthread_setname_np(pthread_self(), "otshim-contin");
	unsigned period = rt_cfg.continuous_sec;
	int warned = 0;
	for (;;) {
		rt_profile_t *cpu = NULL, *heap = NULL;
		int rc = rt_cpu_profile_collect(period, CONTINUOUS_HZ, &cpu);
		if (rc == -2) { /* an on-demand profile is running */
			rt_nap_ms(200);
			continue;
		}
		if (rc == -3) /* the service has SIGPROF (said once, by rt_sigprof.c) */
			rt_nap_ms((long)period * 1000);
		rt_heap_snapshot_t snap;
		if (rt_heap_rate() > 0 && rt_heap_snapshot(&snap) == 0) {
			heap = rt_heap_profile_build(&snap, NULL, NULL, "inuse_space");
			rt_heap_snapshot_free(&snap);
		}
		if (rt_writer_continuous(cpu, heap, (uint64_t)time(NULL), forked) != 0 && !warned) {
			warned = 1;
			rt_log(RT_LOG_WARN, "continuous mode: cannot write to %s (periods are dropped)",
			       rt_cfg.profile_dir);
		}
		rt_profile_free(cpu);
		rt_profile_free(heap);
	}
	return NULL;
}

void rt_continuous_start(int forked)
{
	static const char in_child; /* its address: the thread's "forked" argument */
	if (rt_cfg.continuous_sec == 0)
		return;
	if (rt_spawn_detached(continuous_main, forked ? (void *)&in_child : NULL) != 0)
		rt_log(RT_LOG_WARN, "cannot start the continuous-mode thread");
}
