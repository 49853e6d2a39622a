/* watchdog.c: slow-request detection thread (see track/watchdog.h). */
#include "track/watchdog.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "base/cfg.h"
#include "base/log.h"
#include "sample/shim_threads.h"
#include "sample/thread.h"
#include "track/conn.h"
#include "track/request.h"

#define MIN_SLEEP_NS 1000000ull /* 1 ms: never spin */

static void sleep_until(uint64_t when)
{
	struct timespec ts = { (time_t)(when / 1000000000ull), (long)(when % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static void *watchdog_main(void *arg)
{
	(void)arg;
	rt_tls_mark_internal();
	rt_shim_thread_mark();
	pthread_setname_np(pthread_self(), "otshim-watch"); /* so thread profiles say whose it is */
	uint64_t slow = (uint64_t)rt_cfg.slow_ms * 1000000ull;
	for (;;) {
		uint64_t now = rt_mono_ns();
		uint64_t next = rt_conn_scan(now, slow);
		uint64_t latest = now + slow;
		if (next == 0 || next > latest)
			next = latest;
		if (next < now + MIN_SLEEP_NS)
			next = now + MIN_SLEEP_NS;
		sleep_until(next);
	}
	return NULL;
}

int rt_watchdog_start(void)
{
	pthread_t th;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&th, NULL, watchdog_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rt_log(RT_LOG_ERROR, "cannot start the watchdog thread (%s); no slow-request profiles",
		       strerror(rc));
		return -1;
	}
	pthread_detach(th);
	return 0;
}
