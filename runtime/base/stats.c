/* stats.c: see stats.h. The document's field names are part of the user contract
 * (doc/REFERENCE.md, "otshim-stats-<pid>.json"). */
#include "base/stats.h"

_Atomic uint64_t rt_stats[RT_STAT_COUNT];

void rt_stats_json(rt_json_t *b, int pid, const rt_stats_gauges_t *g)
{
#define N(id) (unsigned long long)rt_stat_get(id)
	rt_json_putf(b, "{\"pid\":%d,\"requests\":%llu,\"slow\":%llu,\"profiles_written\":%llu,"
		     "\"profiles_dropped\":%llu,\"non_http_connections\":%llu,\"errors\":%llu,"
		     "\"spans_exported\":%llu,\"spans_dropped\":%llu",
		     pid, (unsigned long long)g->requests, N(RT_STAT_SLOW), N(RT_STAT_WRITTEN),
		     N(RT_STAT_DROPPED), (unsigned long long)g->non_http,
		     N(RT_STAT_ERRORS) + N(RT_STAT_CONN_ERRORS), N(RT_STAT_SPANS_EXPORTED),
		     N(RT_STAT_SPANS_DROPPED));
	rt_json_putf(b, ",\"dropped_rate_limit\":%llu,\"dropped_disk_cap\":%llu,"
		     "\"dropped_fd_limit\":%llu,\"dropped_write_failed\":%llu,"
		     "\"profiles_exported\":%llu,\"profiles_export_dropped\":%llu,"
		     "\"heap_samples_unlabelled\":%llu,\"heap_freed_unlabelled\":%llu,"
		     "\"cpu_pre_rings_opened\":%llu,\"cpu_pre_rings_enabled\":%llu,"
		     "\"cpu_pre_rings_refused\":%llu,"
		     "\"cpu_pre_incomplete\":%llu,\"cpu_pre_shared\":%llu,"
		     "\"tracked_connections\":%zu,\"tracked_connection_bytes\":%zu",
		     N(RT_STAT_DROPPED_RATE), N(RT_STAT_DROPPED_DISK), N(RT_STAT_DROPPED_FDS),
		     N(RT_STAT_DROPPED_IO), N(RT_STAT_PROFILES_EXPORTED),
		     N(RT_STAT_PROFILES_EXPORT_DROPPED), N(RT_STAT_HEAP_UNLABELLED),
		     N(RT_STAT_HEAP_FREED_UNLABELLED), N(RT_STAT_PRE_RING_OPENED),
		     N(RT_STAT_PRE_RING_ENABLED), N(RT_STAT_PRE_RING_REFUSED), N(RT_STAT_PRE_INCOMPLETE), N(RT_STAT_PRE_SHARED),
		     g->tracked_conns, g->tracked_conn_bytes);
	rt_json_putf(b, ",\"h2_connections\":%llu,\"h2_connections_dropped\":%llu,"
		     "\"h2_streams_untracked\":%llu,\"tls_unseen_connections\":%llu",
		     N(RT_STAT_H2_CONNECTIONS), N(RT_STAT_H2_DROPPED), N(RT_STAT_H2_STREAMS_UNTRACKED),
		     N(RT_STAT_TLS_UNSEEN));
	rt_json_putf(b, ",\"outbound_connections\":%llu,\"outbound_calls\":%llu,"
		     "\"traceparent_injected\":%llu,\"traceparent_skipped\":%llu,"
		     "\"heap_samples_dropped\":%llu,\"symbols_loaded\":%llu",
		     N(RT_STAT_OUT_CONNS), N(RT_STAT_OUT_CALLS), N(RT_STAT_OUT_INJECTED),
		     N(RT_STAT_OUT_INJECT_SKIPPED), N(RT_STAT_HEAP_DROPPED), N(RT_STAT_SYMBOLS_LOADED));
	if (g->symbols_kb >= 0)
		rt_json_putf(b, ",\"symbols_kb\":%lld}\n", g->symbols_kb);
	else
		rt_json_putf(b, ",\"symbols_kb\":null}\n");
#undef N
}

void rt_stats_reset(void)
{
	for (int i = 0; i < RT_STAT_COUNT; i++)
		atomic_store_explicit(&rt_stats[i], 0, memory_order_relaxed);
}
