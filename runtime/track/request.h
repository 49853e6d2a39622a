/* request.h: one HTTP request's life: begin (first request byte read), head (ids and
 * fields known), slow (the watchdog saw it cross OTSHIM_SLOW_MS and armed sampling of
 * its thread), end (last response byte written). A finished slow request is handed to
 * the worker, which owns it from then on. Parsing is track/http.c; connections track/conn.c;
 * sampling sample/cputimer.c/sample/sampler.c; files emit/writer.c.
 * Context: host threads, under the owning connection's lock, except where noted. */
#ifndef RT_REQ_H
#define RT_REQ_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "sample/prering.h"
#include "sample/thread.h"
#include "track/call.h"
#include "track/http.h"
#include "track/traceparent.h"

#define RT_REQ_DS_MAX 6 /* downstream peers kept per request; more are not counted */

/* Time a request spent in calls to one peer (track/conn.c adds it as calls end). */
typedef struct rt_req_ds {
	uint64_t ns;
	uint32_t calls;
	uint8_t peer_len;
	char peer[RT_CALL_PEER_MAX];
} rt_req_ds_t;

/* What a slow request left in the profile directory, for its span (rt_writer fills it;
 * names only, "" when that file was not written). */
typedef struct rt_req_files {
	char cpu[128], wall[128], heap[128], threads[128];
	int nthreads;                 /* threads in the capture, -1 when unknown */
	char downstream[512];         /* the index line's "downstream" array, "" when none */
} rt_req_files_t;

typedef struct rt_req {
	struct rt_req *next;          /* connection's queue, then the worker's queue */
	uint64_t serial;              /* process-unique, never 0 */
	uint64_t start_mono_ns, end_mono_ns;
	uint64_t start_real_ns;       /* wall clock at start; set when the request is handed on */
	int head_done;                /* the request head was parsed */
	int ids_ready;                /* trace and span ids made (rt_req_ensure_ids) */
	rt_req_files_t *files;        /* a slow request's files, for its span; owned */
	uint8_t n_ds;                 /* entries of ds in use */

	rt_trace_ctx_t ctx;           /* trace id; parent id valid when has_parent */
	int has_parent;
	uint8_t span_id[8];
	uint8_t multiplexed;          /* an HTTP/2 stream: its connection and thread serve others */
	uint8_t has_grpc_status, grpc_status; /* gRPC: the grpc-status the server ended with */

	char method[RT_HTTP_METHOD_MAX];
	uint8_t method_len;
	uint8_t is_head, http_minor, path_truncated;
	uint8_t tls;                  /* read over TLS: url.scheme is https */
	char path[RT_HTTP_PATH_MAX];
	uint16_t path_len;
	char query[RT_HTTP_QUERY_MAX];
	uint16_t query_len;
	char user_agent[RT_HTTP_UA_MAX];
	uint8_t user_agent_len;
	uint16_t status;

	struct sockaddr_storage peer; /* copied from the connection for spans */
	uint16_t local_port;

	/* slow-request sampling, set by the watchdog under the connection lock */
	int slow;
	int cpu_route;                /* RT_CPU_ROUTE_* or NONE when sampling failed */
	rt_thread_t *thread;          /* the thread sampled */
	uint32_t thread_gen;
	pid_t tid;
	uint64_t slow_mono_ns;        /* when it crossed the threshold */
	uint64_t cpu_at_slow_ns, cpu_at_end_ns; /* thread CPU clock at arm and at end */
	/* Before the threshold: the perf ring of the thread that read the first byte and
	 * its position then (sample/prering.h); the CPU the worker found there. */
	rt_prering_t *pre_ring;
	uint64_t pre_pos;
	uint64_t cpu_at_begin_ns;     /* thread CPU clock at the first byte: first request only */
	uint64_t pre_requests;        /* that thread's completed requests then */
	int pre_alone;                /* the watchdog saw no other request on its thread */
	uint64_t cpu_pre_ns;

	/* bytes allocated by the thread that read the first byte, from then until the end
	 * (-1: the request ended on another thread, so the count is unknown) */
	const void *alloc_key;
	uint64_t alloc_at_begin;
	int64_t alloc_bytes;

	/* where its thread waited (track/waits.h): a slow request's, taken as it ends */
	struct rt_req_waits *waits;
	rt_req_ds_t ds[RT_REQ_DS_MAX]; /* downstream time by peer (n_ds of them) */
} rt_req_t;

/* A new request whose first byte was just read, in reuse if given (a request that
 * rt_req_end returned). Returns NULL on allocation failure (the connection then stops
 * being tracked). */
rt_req_t *rt_req_begin(rt_req_t *reuse);
/* The head is parsed: copy fields, continue or create the trace context. */
void rt_req_head(rt_req_t *r, const rt_http_req_t *p, int record_query);
/* Watchdog: the request crossed the threshold; arm CPU sampling of thread t. */
void rt_req_mark_slow(rt_req_t *r, rt_thread_t *t, uint64_t now_mono);
/* The response's last byte was written, or the connection closed. Counts the request
 * (if its head was seen) on the calling thread and stops sampling. A slow request goes
 * to the worker (NULL is returned); any other is returned for reuse or free() (its
 * span, when spans are exported, was copied to the exporter's queue). */
rt_req_t *rt_req_end(rt_req_t *r, int status_known);
/* A request rt_req_end returned, not kept elsewhere: kept for the calling thread's
 * next rt_req_begin, or freed. NULL does nothing. */
void rt_req_recycle(rt_req_t *r);
/* Makes the trace id (unless continued from traceparent) and span id. Any thread that
 * owns r; allocation-free. */
void rt_req_ensure_ids(rt_req_t *r);
/* A fresh random span id (never all zeros), from the same per-thread pool. Any host
 * thread; allocation-free. */
void rt_req_new_span_id(uint8_t out[8]);
/* ns of calls to peer (text, len bytes) were made for r. */
void rt_req_add_downstream(rt_req_t *r, const char *peer, size_t len, uint32_t calls, uint64_t ns);
/* In a fork child (its only thread): ids are never the parent's. */
void rt_req_fork_child(void);
/* The wall-clock time at which r began. */
uint64_t rt_req_start_real_ns(const rt_req_t *r);
/* The CPU time r's thread spent on it, as far as it was measured (0 when unknown):
 * what its ring kept before the threshold, then its thread clock to the end. */
static inline uint64_t rt_req_cpu_ns(const rt_req_t *r)
{
	return r->cpu_pre_ns +
	       (r->cpu_at_end_ns > r->cpu_at_slow_ns ? r->cpu_at_end_ns - r->cpu_at_slow_ns : 0);
}
/* Frees r and what it owns. */
void rt_req_free(rt_req_t *r);
/* Drops r without counting it (a connection found not to be HTTP). */
void rt_req_discard(rt_req_t *r);


#endif
