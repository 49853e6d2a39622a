/* h2_conn.c: streams of an HTTP/2 connection as requests (see track/h2_conn.h). The
 * frame parser says what happened; this file keeps the table of streams in flight and
 * drives each stream's request through track/request.c, as track/conn.c does for an
 * HTTP/1.x connection's queue. */
#include "track/h2_conn.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfg.h"
#include "base/stats.h"
#include "track/h2.h"
#include "track/request.h"
#include "track/sink.h"

typedef struct stream {
	uint32_t sid;
	rt_req_t *r;
} stream_t;

struct rt_h2_conn {
	rt_h2_t p;
	struct sockaddr_storage peer;
	uint16_t local_port;
	uint8_t tls;                  /* over TLS: its streams' url.scheme is https */
	uint32_t last_sid;            /* highest client stream id opened */
	size_t mem_counted;           /* p.mem as last added to h2_bytes */
	rt_req_t *spare;              /* a finished request kept for reuse */
	int n;                        /* streams[0..n) are in flight, unordered */
	stream_t streams[RT_H2_STREAMS_MAX];
};

static _Atomic size_t h2_bytes;

size_t rt_h2_conn_bytes(void)
{
	return atomic_load_explicit(&h2_bytes, memory_order_relaxed);
}

static void account(size_t more, size_t less)
{
	atomic_fetch_add_explicit(&h2_bytes, more, memory_order_relaxed);
	atomic_fetch_sub_explicit(&h2_bytes, less, memory_order_relaxed);
}

rt_h2_conn_t *rt_h2_conn_new(const struct sockaddr_storage *peer, uint16_t local_port)
{
	rt_h2_conn_t *h = malloc(sizeof *h);
	if (!h)
		return NULL;
	if (rt_h2_init(&h->p) != 0) {
		free(h);
		return NULL;
	}
	h->peer = *peer;
	h->local_port = local_port;
	h->tls = 0;
	h->last_sid = 0;
	h->spare = NULL;
	h->n = 0;
	h->mem_counted = h->p.mem_used;
	account(sizeof *h + h->p.mem_used, 0);
	return h;
}

static stream_t *find(rt_h2_conn_t *h, uint32_t sid)
{
	for (int i = 0; i < h->n; i++)
		if (h->streams[i].sid == sid)
			return &h->streams[i];
	return NULL;
}

static void forget(rt_h2_conn_t *h, stream_t *s)
{
	*s = h->streams[--h->n];
}

static void keep_or_free(rt_h2_conn_t *h, rt_req_t *r)
{
	if (!r)
		return; /* a slow request: the worker has it */
	if (!h->spare) {
		h->spare = r;
		account(sizeof *r, 0);
	} else {
		rt_req_recycle(r);
	}
}

/* The stream is over: its request ends (counted) with what the server said. */
static void end_stream(rt_h2_conn_t *h, stream_t *s)
{
	rt_req_t *r = s->r;
	forget(h, s);
	account(0, sizeof *r);
	keep_or_free(h, rt_req_end(r, r->status != 0));
}

/* A client's header block: a new stream (or its trailers, which change nothing). */
static int stream_open(rt_h2_conn_t *h, uint32_t sid)
{
	if (sid <= h->last_sid)
		return 0; /* trailers, or a stream already over or never tracked */
	h->last_sid = sid;
	if (h->n == RT_H2_STREAMS_MAX) {
		rt_stat_add(RT_STAT_H2_STREAMS_UNTRACKED, 1);
		return 0;
	}
	rt_req_t *spare = h->spare;
	if (spare)
		account(0, sizeof *spare);
	h->spare = NULL;
	rt_req_t *r = rt_req_begin(spare);
	if (!r)
		return -1;
	rt_req_head(r, &h->p.req, rt_cfg.record_query);
	r->multiplexed = 1;
	r->tls = h->tls;
	if (rt_sink_wants_spans()) {
		r->peer = h->peer;
		r->local_port = h->local_port;
	}
	h->streams[h->n].sid = sid;
	h->streams[h->n].r = r;
	h->n++;
	account(sizeof *r, 0);
	return 0;
}

/* The server's header block on a stream: its status, a gRPC status, maybe its end. */
static void stream_answered(rt_h2_conn_t *h, stream_t *s)
{
	if (h->p.status >= 200)
		s->r->status = h->p.status; /* 1xx heads are interim */
	if (h->p.grpc_status >= 0) {
		s->r->has_grpc_status = 1;
		s->r->grpc_status = (uint8_t)h->p.grpc_status;
	}
	if (h->p.ev_end_stream)
		end_stream(h, s);
}

/* A GOAWAY from the server: streams above its last id were refused unprocessed. */
static void refused_above(rt_h2_conn_t *h, uint32_t last)
{
	for (int i = 0; i < h->n;) {
		if (h->streams[i].sid > last) {
			rt_req_t *r = h->streams[i].r;
			forget(h, &h->streams[i]);
			account(0, sizeof *r);
			rt_req_discard(r);
		} else {
			i++;
		}
	}
}

static int on_event(rt_h2_conn_t *h, int dir, int ev)
{
	stream_t *s;
	switch (ev) {
	case RT_H2_EV_HEADERS:
		if (dir == RT_H2_CLIENT)
			return stream_open(h, h->p.ev_sid);
		if ((s = find(h, h->p.ev_sid)) != NULL)
			stream_answered(h, s);
		return 0;
	case RT_H2_EV_END_STREAM:
		/* the client's END_STREAM ends its half only; the request ends with the answer */
		if (dir == RT_H2_SERVER && (s = find(h, h->p.ev_sid)) != NULL)
			end_stream(h, s);
		return 0;
	case RT_H2_EV_RST:
		if ((s = find(h, h->p.ev_sid)) != NULL)
			end_stream(h, s);
		return 0;
	case RT_H2_EV_GOAWAY:
		if (dir == RT_H2_SERVER)
			refused_above(h, h->p.ev_sid);
		return 0;
	case RT_H2_EV_ERROR:
		return -1;
	}
	return 0;
}

static int feed(rt_h2_conn_t *h, int dir, const char *p, size_t n)
{
	int rc = 0;
	while (n > 0 && rc == 0) {
		int ev = RT_H2_EV_NONE;
		size_t used = rt_h2_feed(&h->p, dir, p, n, &ev);
		if (p)
			p += used;
		n -= used;
		if (ev == RT_H2_EV_NONE && n > 0)
			rc = -1; /* cannot happen: the parser stops only at an event */
		else
			rc = on_event(h, dir, ev);
	}
	if (h->p.mem_used != h->mem_counted) {
		account(h->p.mem_used, h->mem_counted);
		h->mem_counted = h->p.mem_used;
	}
	if (rc != 0)
		rt_stat_add(RT_STAT_H2_DROPPED, 1);
	return rc;
}

int rt_h2_conn_read(rt_h2_conn_t *h, const char *p, size_t n)
{
	if (!p) { /* bytes we could not see: the framing is lost */
		rt_stat_add(RT_STAT_H2_DROPPED, 1);
		return -1;
	}
	return feed(h, RT_H2_CLIENT, p, n);
}

int rt_h2_conn_wrote(rt_h2_conn_t *h, const char *p, size_t n)
{
	return feed(h, RT_H2_SERVER, p, n);
}

uint64_t rt_h2_conn_oldest(const rt_h2_conn_t *h)
{
	uint64_t oldest = 0;
	for (int i = 0; i < h->n; i++) {
		const rt_req_t *r = h->streams[i].r;
		if (!r->slow && (oldest == 0 || r->start_mono_ns < oldest))
			oldest = r->start_mono_ns;
	}
	return oldest;
}

struct rt_req *rt_h2_conn_current(const rt_h2_conn_t *h)
{
	const stream_t *best = NULL;
	for (int i = 0; i < h->n; i++)
		if (!best || h->streams[i].sid > best->sid)
			best = &h->streams[i];
	return best ? best->r : NULL;
}

void rt_h2_conn_scan(rt_h2_conn_t *h, uint64_t now, uint64_t slow_ns, rt_thread_t *t)
{
	for (int i = 0; i < h->n; i++) {
		rt_req_t *r = h->streams[i].r;
		if (!r->slow && r->start_mono_ns <= now && now - r->start_mono_ns >= slow_ns)
			rt_req_mark_slow(r, t, now);
	}
}

void rt_h2_conn_fork_child(rt_h2_conn_t *h)
{
	for (int i = 0; i < h->n; i++) {
		rt_req_t *r = h->streams[i].r;
		r->slow = 0;
		r->thread = NULL;
		r->cpu_route = 0;
	}
}

void rt_h2_conn_free(rt_h2_conn_t *h, int count)
{
	while (h->n > 0) {
		stream_t *s = &h->streams[h->n - 1];
		if (count) {
			end_stream(h, s);
		} else {
			rt_req_t *r = s->r;
			forget(h, s);
			account(0, sizeof *r);
			rt_req_discard(r);
		}
	}
	if (h->spare) {
		account(0, sizeof *h->spare);
		free(h->spare);
	}
	account(0, sizeof *h + h->mem_counted);
	rt_h2_free(&h->p);
	free(h);
}

void rt_h2_conn_set_tls(rt_h2_conn_t *h)
{
	h->tls = 1;
}
