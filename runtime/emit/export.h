/* export.h: the span exporter (OpenTelemetry's batch span processor): the
 * request path offers each finished request to a bounded queue (rt_spanq) and goes on;
 * one thread of ours takes batches of up to OTEL_BSP_MAX_EXPORT_BATCH_SIZE every
 * OTEL_BSP_SCHEDULE_DELAY (sooner when a batch is full), encodes them (rt_span) and
 * POSTs them (rt_otlp_http), retrying with exponential backoff on no answer and on
 * 429/502/503/504 (honouring Retry-After) for at most OTEL_BSP_EXPORT_TIMEOUT. A full
 * queue or a batch given up on is counted in spans_dropped; an unreachable collector
 * costs one warning per outage. Active only with OTEL_TRACES_EXPORTER=otlp.
 * The same thread sends profiles (emit/profile_export.h) when they are exported: it
 * wakes for them as they come and gives spans their turn on schedule. */
#ifndef RT_EXPORT_H
#define RT_EXPORT_H

#include <stdatomic.h>
#include <stdint.h>

#include "track/call.h"
#include "track/request.h"

/* From initialisation: makes the queue when export is on. */
void rt_export_init(void);
/* Starts the exporter thread (lazily, with the runtime's other threads) when spans or
 * profiles are exported. */
void rt_export_start(void);

/* Any host thread (or the worker, for slow requests); lock-free, and allocation-free
 * unless r's strings are unusually long. r is finished, its ids made and its times
 * stamped; what its span needs is copied (r->files is taken), r stays the caller's.
 * Returns 1 when queued, 0 when not: export is off, the trace is not sampled (a
 * traceparent with the sampled flag clear, as OpenTelemetry's default parent-based
 * sampler does), or the queue is full (counted as dropped). */
int rt_export_offer(rt_req_t *r);

/* The same for an outbound call made for a request: a client span, its parent's
 * sampled flag deciding. */
int rt_export_offer_call(const rt_call_t *c);

/* Export is on for this process. */
int rt_export_enabled(void);

/* At exit: export what is queued, waiting at most a bounded time. */
void rt_export_shutdown(void);
/* In a fork child: the queued spans are the parent's (dropped, not exported twice);
 * the thread is started again with the child's resource (its pid). */
void rt_export_fork_child(void);

#endif
