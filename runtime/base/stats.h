/* stats.h: every counter the shim keeps, and the stats document that reports them
 * (otshim-stats-<pid>.json; emit/stats_file.c writes it every 10 s and at exit).
 * Counters are process-wide relaxed atomics, bumped off the common request path (a
 * slow request, a drop, an error). Counts that every request touches are kept per
 * thread (sample/thread.h: requests, non_http) and summed by the caller of
 * rt_stats_json, with the other values read from their owners at that moment. */
#ifndef RT_STATS_H
#define RT_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/json.h"

typedef enum rt_stat_id {
	RT_STAT_SLOW,            /* slow requests handled (written or dropped) */
	RT_STAT_WRITTEN,         /* profile sets written */
	RT_STAT_DROPPED,         /* profile sets dropped, the sum of the four below */
	RT_STAT_DROPPED_RATE,    /*   over OTSHIM_MAX_PROFILES_PER_MIN */
	RT_STAT_DROPPED_DISK,    /*   over OTSHIM_MAX_DISK_MB */
	RT_STAT_DROPPED_FDS,     /*   too close to the descriptor limit */
	RT_STAT_DROPPED_IO,      /*   the directory or the first file could not be written */
	RT_STAT_ERRORS,          /* files not written, other failures */
	RT_STAT_CONN_ERRORS,     /* served connections given up on (bad framing, no memory) */
	RT_STAT_SPANS_EXPORTED,
	RT_STAT_SPANS_DROPPED,
	RT_STAT_PROFILES_EXPORTED,       /* profile files delivered, one per destination */
	RT_STAT_PROFILES_EXPORT_DROPPED, /* profile files a destination never got */
	RT_STAT_HEAP_UNLABELLED,         /* heap samples taken in a request, left unlabelled */
	RT_STAT_HEAP_FREED_UNLABELLED,   /* freed (stack, request) totals that lost the request */
	RT_STAT_HEAP_DROPPED,            /* heap samples not recorded (no sampled range, no memory) */
	RT_STAT_H2_CONNECTIONS,          /* connections that began with the HTTP/2 preface */
	RT_STAT_H2_DROPPED,              /* of those, given up on (bad frames, over a limit) */
	RT_STAT_H2_STREAMS_UNTRACKED,    /* streams over the per-connection table's size */
	RT_STAT_PRE_RING_OPENED,         /* threads given a CPU ring kept before the threshold */
	RT_STAT_PRE_RING_ENABLED,        /* rings enabled for a request that ran a while */
	RT_STAT_PRE_RING_REFUSED,        /* threads that could not get one */
	RT_STAT_PRE_INCOMPLETE,          /* slow requests whose part before it was not read whole */
	RT_STAT_PRE_SHARED,              /* slow requests whose thread served others before it */
	RT_STAT_TLS_UNSEEN,              /* TLS connections whose plaintext no SSL_* call showed */
	RT_STAT_OUT_CONNS,               /* outbound connections tracked (connect) */
	RT_STAT_OUT_CALLS,               /* calls on them: HTTP requests, other exchanges */
	RT_STAT_OUT_INJECTED,            /* traceparent headers written into outbound heads */
	RT_STAT_OUT_INJECT_SKIPPED,      /* outbound heads passed untouched that wanted one */
	RT_STAT_SYMBOLS_LOADED,          /* times the symboliser was (re)opened */
	RT_STAT_COUNT
} rt_stat_id_t;

extern _Atomic uint64_t rt_stats[RT_STAT_COUNT];

static inline void rt_stat_add(rt_stat_id_t id, uint64_t n)
{
	atomic_fetch_add_explicit(&rt_stats[id], n, memory_order_relaxed);
}

static inline uint64_t rt_stat_get(rt_stat_id_t id)
{
	return atomic_load_explicit(&rt_stats[id], memory_order_relaxed);
}

/* A profile set dropped for reason why (one of the RT_STAT_DROPPED_* ids). */
static inline void rt_stat_drop(rt_stat_id_t why)
{
	rt_stat_add(why, 1);
	rt_stat_add(RT_STAT_DROPPED, 1);
}

/* The values counted elsewhere, read when the document is made. */
typedef struct rt_stats_gauges {
	uint64_t requests;        /* requests completed, summed over threads */
	uint64_t non_http;        /* connections dropped as non-HTTP */
	size_t tracked_conns, tracked_conn_bytes;
	long long symbols_kb;     /* the symboliser's memory now; -1 when unknown */
} rt_stats_gauges_t;

/* Appends the stats document (one JSON line, newline-terminated) to b. */
void rt_stats_json(rt_json_t *b, int pid, const rt_stats_gauges_t *g);

/* In a fork child: the counts are per process. */
void rt_stats_reset(void);

#endif
