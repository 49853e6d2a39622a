/* sink.h: where tracking hands requests on. Tracking finds requests and their ends; what
 * becomes of them (samples collected, profiles written, spans exported) is decided
 * above it. boot/sinks.c installs the one sink at start-up, before the first event;
 * until then hand-offs go nowhere (no request can have begun).
 * Context: host threads, under the owning connection's lock. */
#ifndef RT_SINK_H
#define RT_SINK_H

#include <stdatomic.h>
#include <stdint.h>

struct rt_req;
struct rt_call;

typedef struct rt_req_sink {
	/* A request turned slow: its thread's samples labelled serial are wanted from now
	 * on (called before sampling is armed, so no sample is missed). */
	void (*slow)(uint64_t serial);
	/* A slow request was discarded (its connection vanished): forget serial. */
	void (*slow_dropped)(uint64_t serial);
	/* A slow request ended: the sink owns r from now on. */
	void (*slow_ended)(struct rt_req *r);
	/* A request that never turned slow ended, while spans are wanted: the sink copies
	 * what it needs; r stays the caller's. */
	int (*ended)(struct rt_req *r);
	/* An outbound call made for a request ended (track/call.h), while spans are
	 * wanted: the sink copies what it needs. */
	int (*call_ended)(const struct rt_call *c);
} rt_req_sink_t;

extern const rt_req_sink_t *rt_req_sink;
void rt_req_sink_install(const rt_req_sink_t *s);

/* Whether every request's ids and addresses are wanted (a span is made of each): one
 * relaxed load on the request path. The span exporter turns it on once its queue is
 * ready, and off when it stops. */
extern _Atomic int rt_sink_spans_on;
static inline int rt_sink_wants_spans(void)
{
	return atomic_load_explicit(&rt_sink_spans_on, memory_order_relaxed);
}
static inline void rt_sink_set_wants_spans(int on)
{
	atomic_store_explicit(&rt_sink_spans_on, on, memory_order_release);
}

#endif
