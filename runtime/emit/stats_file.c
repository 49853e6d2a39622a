/* stats_file.c: see stats_file.h. */
#include "emit/stats_file.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/stats.h"
#include "emit/file_names.h"
#include "emit/profile_dir.h"
#include "profile/symbols.h"
#include "sample/thread.h"
#include "track/conn.h"

static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;

/* The stats document into b; -1 when out of memory. */
static int stats_doc(rt_json_t *b)
{
	rt_stats_gauges_t g = { 0 };
	g.tracked_conn_bytes = rt_conn_tracked(&g.tracked_conns);
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		g.requests += atomic_load(&t->requests);
		g.non_http += atomic_load(&t->non_http);
	}
	g.symbols_kb = rt_symbols_kb();
	rt_stats_json(b, (int)getpid(), &g);
	return b->oom ? -1 : 0;
}

/* 0 when the stats file now holds b. stats_mu held. */
static int stats_put(const rt_json_t *b)
{
	char name[RT_FILE_NAME_MAX];
	rt_file_name_stats(name, (int)getpid());
	/* No descriptor reserve here: one descriptor for a moment every 10 s, and the
	 * counts matter most when the service is short of them. */
	if (rt_dir_ensure() != 0) {
		rt_dir_fault(NULL, errno);
		return -1;
	}
	if (rt_dir_replace(name, b->p, b->len) != 0) {
		rt_dir_fault(name, errno ? errno : EIO);
		return -1;
	}
	return 0;
}

void rt_stats_file_write(void)
{
	rt_json_t b = { 0 };
	if (stats_doc(&b) == 0) {
		pthread_mutex_lock(&stats_mu);
		stats_put(&b);
		pthread_mutex_unlock(&stats_mu);
	}
	rt_json_free(&b);
}

void rt_stats_file_final(void)
{
	rt_json_t b = { 0 };
	if (stats_doc(&b) == 0) {
		pthread_mutex_lock(&stats_mu);
		if (stats_put(&b) != 0) {
			/* The counts must reach someone: stderr, where the fault was reported. */
			b.p[strcspn(b.p, "\n")] = 0;
			rt_log(RT_LOG_WARN, "no stats file could be written; the final stats: %s", b.p);
		}
		pthread_mutex_unlock(&stats_mu);
	}
	rt_json_free(&b);
}

void rt_stats_file_fork_child(void)
{
	pthread_mutex_init(&stats_mu, NULL);
}
