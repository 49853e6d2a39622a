/* continuous.c: continuous profiling (see emit/continuous.h). It shares the one
 * whole-process CPU profiler with the pprof endpoint: while an on-demand profile runs,
 * a period waits for it rather than run beside it. The wall profile of each period is
 * taken beside it, on a thread of its own (profile/wall_process.h). */
#include "emit/continuous.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/log.h"
#include "base/owned_fds.h"
#include "base/util.h"
#include "emit/file_names.h"
#include "emit/profile_dir.h"
#include "emit/profile_export.h"
#include "profile/cpu_profile.h"
#include "profile/heap_profile.h"
#include "profile/wall_process.h"
#include "sample/heap_sampler.h"
#include "sample/process_cpu.h"
#include "sample/shim_threads.h"
#include "sample/thread.h"
#include "sample/thread_capture.h"

#define CONTINUOUS_HZ 100
#define CONTINUOUS_WALL_HZ 10 /* captures of every thread per second */

/* The oldest continuous file (names carry the unix time; cpu and heap of one period
 * sort together), into oldest[cap]; 0 when there is none. */
static int oldest_continuous(char *oldest, size_t cap)
{
	DIR *d = rt_owned_fd_opendir(rt_cfg.profile_dir);
	struct dirent *e;
	uint64_t best = 0, when;
	oldest[0] = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (!rt_file_name_is_continuous(e->d_name, &when))
			continue;
		if (!oldest[0] || when < best) {
			best = when;
			snprintf(oldest, cap, "%s", e->d_name);
		}
	}
	rt_owned_fd_closedir(d);
	return oldest[0] != 0;
}

static int write_profile(rt_profile_t *p, const char *kind, int pid, uint64_t unix_s)
{
	char name[RT_FILE_NAME_MAX], path[RT_CFG_PATH_MAX + RT_FILE_NAME_MAX + 2];
	if (!p)
		return 0;
	rt_file_name_continuous(name, kind, pid, unix_s);
	rt_dir_path(path, sizeof path, name);
	rt_profile_about_t about = {
		.kind = kind, .source = "continuous",
		.start_real_ns = (unix_s - rt_cfg.continuous_sec) * 1000000000ull,
		.end_real_ns = unix_s * 1000000000ull,
	};
	return rt_profile_save(p, path, &about);
}

/* Writes one period's profiles (either may be NULL), then deletes the oldest
 * continuous files while the directory is over OTSHIM_MAX_DISK_MB: a rolling
 * history. 0, or -1 when a file could not be written. */
static int write_period(rt_profile_t *cpu, rt_profile_t *heap, uint64_t unix_s, int forked)
{
	char name[256]; /* any directory entry's name */
	int rc = 0;
	if (rt_fd_headroom() != 0) {
		rt_dir_fault("a continuous profile", errno);
		return -1;
	}
	if (rt_dir_ensure() != 0) {
		rt_dir_fault(NULL, errno);
		return -1;
	}
	int pid = forked ? (int)getpid() : 0;
	if (write_profile(cpu, "cpu", pid, unix_s) != 0)
		rc = -1;
	if (write_profile(heap, "heap", pid, unix_s) != 0)
		rc = -1;
	if (rc == 0)
		rt_dir_fault_over();
	else
		rt_dir_fault("a continuous profile", errno ? errno : EIO);
	uint64_t cap = rt_cfg.max_disk_mb * 1024 * 1024;
	while (rt_dir_bytes() > cap && oldest_continuous(name, sizeof name))
		if (rt_dir_remove(name) != 0)
			break;
	return rc;
}

static void *continuous_main(void *arg)
{
	int forked = arg != NULL;
	rt_tls_mark_internal();
	rt_shim_thread_mark();
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
		if (rc == -3) /* the service has SIGPROF (said once, by sample/sigprof_owner.c) */
			rt_nap_ms((long)period * 1000);
		rt_heap_snapshot_t snap;
		if (rt_heap_rate() > 0 && rt_heap_snapshot(&snap) == 0) {
			heap = rt_heap_profile_build(&snap, "inuse_space");
			rt_heap_snapshot_free(&snap);
		}
		if (write_period(cpu, heap, (uint64_t)time(NULL), forked) != 0 && !warned) {
			warned = 1;
			rt_log(RT_LOG_WARN, "continuous mode: cannot write to %s (periods are dropped)",
			       rt_cfg.profile_dir);
		}
		rt_profile_free(cpu);
		rt_profile_free(heap);
	}
	return NULL;
}

/* continuous-wall-<unix>.pb.gz, period after period, while thread captures are on. */
static void *continuous_wall_main(void *arg)
{
	int forked = arg != NULL;
	rt_tls_mark_internal();
	rt_shim_thread_mark();
	pthread_setname_np(pthread_self(), "otshim-contwall");
	unsigned period = rt_cfg.continuous_sec;
	while (rt_thread_capture_enabled()) {
		rt_profile_t *wall = rt_wall_process_collect(period, CONTINUOUS_WALL_HZ);
		if (!wall)
			break;
		/* Its file is pruned with the others by the CPU thread's next period. */
		if (write_profile(wall, "wall", forked ? (int)getpid() : 0, (uint64_t)time(NULL)) != 0)
			rt_dir_fault("a continuous profile", errno ? errno : EIO);
		rt_profile_free(wall);
	}
	return NULL;
}

void rt_continuous_start(int forked)
{
	static const char in_child; /* its address: the thread's "forked" argument */
	if (rt_cfg.continuous_sec == 0)
		return;
	if (rt_spawn_detached(continuous_main, forked ? (void *)&in_child : NULL) != 0 ||
	    (rt_thread_capture_enabled() &&
	     rt_spawn_detached(continuous_wall_main, forked ? (void *)&in_child : NULL) != 0))
		rt_log(RT_LOG_WARN, "cannot start the continuous-mode threads");
}
