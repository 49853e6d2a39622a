/* request.c: request lifecycle (see track/request.h). Parsing is in track/http.c, connections in
 * track/conn.c, slow detection in track/watchdog.c, sampling in sample/cputimer.c and
 * sample/sampler.c; finished slow requests go to emit/worker.c. */
#include "track/request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/cfg.h"
#include "base/stats.h"
#include "sample/cputimer.h"
#include "sample/heap_sampler.h"
#include "track/handoff.h"
#include "track/sink.h"
#include "track/waits.h"

static _Atomic uint64_t next_serial = 1;

/* Serials are taken by each thread in blocks, so that a request's begin touches no
 * line shared with other threads; a fork child starts a block afresh (the parent's
 * thread may have serials left in the block it shared with the child). */
#define SERIAL_BLOCK 4096
static __thread struct {
	uint64_t next, end;
} serials __attribute__((tls_model("initial-exec")));

static uint64_t new_serial(void)
{
	if (__builtin_expect(serials.next == serials.end, 0)) {
		serials.next = atomic_fetch_add_explicit(&next_serial, SERIAL_BLOCK,
							 memory_order_relaxed);
		serials.end = serials.next + SERIAL_BLOCK;
	}
	return serials.next++;
}

/* ---- ids ----
 * Ids cost randomness, so they are made when first needed (a slow request's files,
 * later a span), not for every request: rt_req_ensure_ids(). */

/* getrandom costs a system call; ids come from a per-thread buffer of its output, so
 * the kernel is asked once per 16 requests that need ids. */
static __thread struct {
	uint8_t buf[384];
	uint16_t used;
} id_pool __attribute__((tls_model("initial-exec")));

static void random_bytes(uint8_t *out, size_t n)
{
	if (id_pool.used == 0 || id_pool.used + n > sizeof id_pool.buf) {
		rt_random_id(id_pool.buf, sizeof id_pool.buf);
		id_pool.used = 0;
	}
	memcpy(out, id_pool.buf + id_pool.used, n);
	id_pool.used += (uint16_t)n;
	static const uint8_t zero[16];
	if (memcmp(out, zero, n) == 0)
		out[n - 1] = 1; /* all-zero ids are invalid in W3C trace context */
}

void rt_req_new_span_id(uint8_t out[8])
{
	random_bytes(out, 8);
}

void rt_req_add_downstream(rt_req_t *r, const char *peer, size_t len, uint32_t calls, uint64_t ns)
{
	for (int i = 0; i < r->n_ds; i++) {
		rt_req_ds_t *d = &r->ds[i];
		if (d->peer_len == len && memcmp(d->peer, peer, len) == 0) {
			d->ns += ns;
			d->calls += calls;
			return;
		}
	}
	if (r->n_ds == RT_REQ_DS_MAX || len > sizeof r->ds[0].peer)
		return;
	rt_req_ds_t *d = &r->ds[r->n_ds++];
	memcpy(d->peer, peer, len);
	d->peer_len = (uint8_t)len;
	d->calls = calls;
	d->ns = ns;
}

void rt_req_fork_child(void)
{
	id_pool.used = 0; /* the parent's next ids must not be the child's too */
	serials.next = serials.end = 0;
}

void rt_req_ensure_ids(rt_req_t *r)
{
	if (r->ids_ready)
		return;
	if (!r->has_parent) {
		random_bytes(r->ctx.trace_id, sizeof r->ctx.trace_id);
		memset(r->ctx.parent_id, 0, sizeof r->ctx.parent_id);
		r->ctx.flags = 1;
	}
	random_bytes(r->span_id, sizeof r->span_id);
	r->ids_ready = 1;
}

/* ---- lifecycle ---- */

/* The calling thread's kept request, taken; NULL when it has none. */
static rt_req_t *take_kept(void)
{
	rt_thread_t *self = rt_thread_peek();
	rt_req_t *r = self ? self->req_spare : NULL;
	if (r)
		self->req_spare = NULL;
	return r;
}

rt_req_t *rt_req_begin(rt_req_t *reuse)
{
	rt_req_t *r = reuse ? reuse : take_kept();
	if (!r && !(r = malloc(sizeof *r)))
		return NULL;
	/* Only the fixed part needs clearing; strings carry their lengths. */
	memset(r, 0, offsetof(rt_req_t, method));
	r->method_len = 0;
	r->path_len = r->query_len = 0;
	r->user_agent_len = 0;
	r->status = 0;
	r->local_port = 0;
	r->peer.ss_family = AF_UNSPEC;
	r->slow = 0;
	r->cpu_route = RT_CPU_ROUTE_NONE;
	r->thread = NULL;
	r->waits = NULL;
	r->serial = new_serial();
	r->start_mono_ns = rt_mono_ns();
	r->alloc_key = rt_heap_thread_key();
	r->alloc_at_begin = rt_heap_thread_allocated();
	r->alloc_bytes = -1;
	rt_thread_t *self = rt_thread_peek();
	if (self) {
		r->pre_pos = rt_prering_mark(self, r->start_mono_ns, &r->pre_ring,
					     &r->cpu_at_begin_ns);
		r->pre_requests = atomic_load_explicit(&self->requests, memory_order_relaxed);
	} else {
		r->pre_ring = NULL;
		r->pre_pos = RT_PRERING_NOPOS;
		r->cpu_at_begin_ns = 0;
	}
	return r;
}

uint64_t rt_req_start_real_ns(const rt_req_t *r)
{
	/* Wall time is needed only for a slow request's files: derived from the
	 * monotonic start instead of read for every request. */
	uint64_t now_real = rt_real_ns(), now_mono = rt_mono_ns();
	return now_real - (now_mono - r->start_mono_ns);
}

void rt_req_head(rt_req_t *r, const rt_http_req_t *p, int record_query)
{
	r->head_done = 1;
	memcpy(r->method, p->method, p->method_len);
	r->method_len = p->method_len;
	r->is_head = p->is_head;
	r->http_minor = p->http_minor;
	memcpy(r->path, p->path, p->path_len);
	r->path_len = p->path_len;
	r->path_truncated = p->path_truncated;
	r->query_len = 0;
	if (record_query) {
		memcpy(r->query, p->query, p->query_len);
		r->query_len = p->query_len;
	}
	/* Only a span reports the User-Agent. */
	r->user_agent_len = 0;
	if (rt_sink_wants_spans()) {
		memcpy(r->user_agent, p->user_agent, p->user_agent_len);
		r->user_agent_len = p->user_agent_len;
	}
	r->has_parent = p->traceparent_len > 0 && !p->traceparent_overlong &&
			rt_traceparent_parse(p->traceparent, p->traceparent_len, &r->ctx) == 0;
}

void rt_req_mark_slow(rt_req_t *r, rt_thread_t *t, uint64_t now_mono)
{
	r->slow = 1;
	r->slow_mono_ns = now_mono;
	r->thread = t;
	if (!t)
		return;
	r->thread_gen = atomic_load(&t->gen);
	r->tid = t->tid;
	/* The worker must be collecting this serial before the first sample lands. */
	rt_req_sink->slow(r->serial);
	rt_handoff_slow(r->serial); /* threads acting for it get sampled too */
	/* What its thread's ring kept from its first byte to now (the worker reads it),
	 * if the thread worked for this request alone meanwhile: an event loop's other
	 * requests' CPU must not be counted as this one's (then: from the threshold on). */
	r->cpu_pre_ns = 0;
	r->cpu_at_slow_ns = rt_cputimer_thread_ns(r->tid);
	if (!r->pre_ring) /* its thread's ring may have been made since its first byte */
		r->pre_ring = rt_prering_made_since(t, r->start_mono_ns, &r->pre_pos);
	if (r->pre_ring && r->pre_pos != RT_PRERING_NOPOS) {
		if (r->pre_alone &&
		    atomic_load_explicit(&t->requests, memory_order_relaxed) == r->pre_requests)
			rt_prering_want(&(rt_prering_stretch_t){
				.serial = r->serial, .ring = r->pre_ring, .pos = r->pre_pos,
				.tid = r->tid, .start_ns = r->start_mono_ns, .slow_ns = now_mono,
				.cpu_at_begin_ns = r->cpu_at_begin_ns,
				.cpu_at_slow_ns = r->cpu_at_slow_ns });
		else
			rt_stat_add(RT_STAT_PRE_SHARED, 1);
	}
	r->cpu_route = rt_cputimer_arm(t, rt_cfg.cpu_hz);
}

rt_req_t *rt_req_end(rt_req_t *r, int status_known)
{
	rt_thread_t *self = rt_thread_self();
	if (self)
		rt_prering_request_end(self); /* a ring enabled for a long request rests again */
	if (!status_known)
		r->status = 0;
	/* Only this thread writes its count: a load and a store, no locked add. */
	if (r->head_done && self)
		atomic_store_explicit(&self->requests,
				      atomic_load_explicit(&self->requests, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	if (!r->slow) {
		if (!r->head_done || !rt_sink_wants_spans())
			return r; /* the caller may reuse it for the next request */
		rt_req_ensure_ids(r);
		/* One clock read here; the exporter derives the wall-clock start (0 = not yet). */
		r->end_mono_ns = rt_mono_ns();
		r->start_real_ns = 0;
		rt_req_sink->ended(r);
		return r;
	}
	rt_handoff_ended(r->serial);
	/* Bytes are counted per thread: known when one thread began and ended it. */
	if (r->alloc_key == rt_heap_thread_key())
		r->alloc_bytes = (int64_t)(rt_heap_thread_allocated() - r->alloc_at_begin);
	if (r->thread && r->cpu_route != RT_CPU_ROUTE_NONE) {
		r->cpu_at_end_ns = rt_cputimer_thread_ns(r->tid);
		rt_cputimer_release(r->thread, r->thread_gen);
	}
	if (self)
		r->waits = rt_waits_take(self, r->serial);
	r->end_mono_ns = rt_mono_ns();
	r->start_real_ns = rt_req_start_real_ns(r);
	rt_req_sink->slow_ended(r);
	return NULL;
}

void rt_req_recycle(rt_req_t *r)
{
	rt_thread_t *self = rt_thread_peek();
	if (r && self && !self->req_spare)
		self->req_spare = r;
	else
		free(r);
}

void rt_req_free(rt_req_t *r)
{
	free(r->waits);
	free(r->files);
	free(r);
}

void rt_req_discard(rt_req_t *r)
{
	if (r->slow && r->thread && r->cpu_route != RT_CPU_ROUTE_NONE)
		rt_cputimer_release(r->thread, r->thread_gen);
	if (r->slow) {
		rt_handoff_ended(r->serial);
		rt_req_sink->slow_dropped(r->serial);
	}
	rt_req_free(r);
}
