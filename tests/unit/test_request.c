/* test_request.c: a request's life (track/request.c) with a test sink installed through
 * track/sink.h in place of the worker and the exporter. rt_req_begin: serials,
 * start time, a reused request fully reset. rt_req_head: method, path, user agent,
 * HTTP version, HEAD, truncated paths copied from the parser; the query only with
 * record_query. Ids: a valid traceparent is continued (trace id kept, its span id the
 * parent, a new span id), an invalid one is not; fresh ids are never all zero, all
 * distinct, 32/16 lowercase hex, made once. rt_req_end: status kept or zeroed, the
 * thread's request count, sink.ended only for a request whose head was seen while
 * spans are wanted (and the request stays the caller's). rt_req_mark_slow: sink.slow
 * gets the serial; the end of a slow request hands it to sink.slow_ended (which owns
 * it: ASan checks it is freed once), with its allocation count known only on the
 * thread that began it; rt_req_discard of a slow request calls sink.slow_dropped with
 * its serial, of any other nothing. */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "t.h"
#include "base/hex.h"
#include "sample/thread.h"
#include "track/http.h"
#include "track/request.h"
#include "track/sink.h"

/* ---- a sink that records what it is given ---- */

static struct {
	int slow, slow_dropped, slow_ended, ended;
	uint64_t slow_serial, dropped_serial, ended_serial;
	rt_req_t *slow_ended_req, *ended_req;
} got;

static void s_slow(uint64_t serial) { got.slow++; got.slow_serial = serial; }
static void s_slow_dropped(uint64_t serial) { got.slow_dropped++; got.dropped_serial = serial; }
static void s_slow_ended(rt_req_t *r) { got.slow_ended++; got.slow_ended_req = r; }
static int s_ended(rt_req_t *r)
{
	got.ended++;
	got.ended_req = r;
	got.ended_serial = r->serial;
	return 0;
}
static int s_call(const struct rt_call *c) { (void)c; return 0; }
static const rt_req_sink_t test_sink = { s_slow, s_slow_dropped, s_slow_ended, s_ended, s_call };

static void reset_got(void)
{
	memset(&got, 0, sizeof got);
}

/* ---- helpers ---- */

/* Parses a whole request head into p; 0 when the head was complete. */
static int parse(rt_http_req_t *p, const char *text)
{
	size_t n = strlen(text);
	rt_http_req_init(p);
	for (;;) { /* until NONE: a BEGIN may owe its HEAD to a call with no bytes */
		int ev = RT_HTTP_EV_NONE;
		size_t used = rt_http_req_feed(p, text, n, &ev);
		text += used;
		n -= used;
		if (ev == RT_HTTP_EV_HEAD)
			return 0;
		if (ev == RT_HTTP_EV_ERROR || ev == RT_HTTP_EV_UPGRADE || ev == RT_HTTP_EV_NONE)
			return -1;
	}
}

/* r began and its head text was parsed; NULL on failure. */
static rt_req_t *req_with(rt_req_t *reuse, const char *head, int record_query)
{
	static rt_http_req_t p;
	rt_req_t *r = rt_req_begin(reuse);
	if (!r)
		return NULL;
	if (parse(&p, head) != 0) {
		rt_req_free(r);
		return NULL;
	}
	rt_req_head(r, &p, record_query);
	return r;
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int lower_hex(const char *s, size_t want)
{
	if (strlen(s) != want)
		return 0;
	for (size_t i = 0; i < want; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static char *field(const char *s, size_t n)
{
	static char buf[4][1024];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, sizeof buf[0], "%.*s", (int)n, s);
	return b;
}

#define TP_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_SPAN "00f067aa0ba902b7"
#define TP "00-" TP_TRACE "-" TP_SPAN "-01"

/* ---- begin and head ---- */

static void test_begin(void)
{
	uint64_t t0 = rt_mono_ns();
	rt_req_t *a = rt_req_begin(NULL), *b = rt_req_begin(NULL);
	uint64_t t1 = rt_mono_ns();
	if (!ok(a && b, "rt_req_begin")) {
		free(a);
		free(b);
		return;
	}
	ok(a->serial != 0 && b->serial > a->serial, "serials are never 0 and increase (%llu, %llu)",
	   (unsigned long long)a->serial, (unsigned long long)b->serial);
	ok(a->start_mono_ns >= t0 && a->start_mono_ns <= t1, "start is the monotonic time of the call");
	ok(!a->head_done && !a->ids_ready && !a->slow && !a->has_parent && a->files == NULL &&
		   a->status == 0 && a->method_len == 0 && a->path_len == 0 && a->alloc_bytes == -1 &&
		   a->peer.ss_family == AF_UNSPEC && a->cpu_route == RT_CPU_ROUTE_NONE,
	   "a new request has no head, ids, status or sampling yet");
	rt_req_free(a);
	rt_req_free(b);
}

static void test_head(void)
{
	rt_req_t *r = req_with(NULL,
			       "POST /api/v1/items?limit=10&x=%20y HTTP/1.0\r\n"
			       "Host: example\r\nUser-Agent: curl/8.5.0\r\nContent-Length: 0\r\n\r\n",
			       0);
	if (!ok(r != NULL, "head parsed"))
		return;
	ok(r->head_done, "head_done");
	is_str(field(r->method, r->method_len), "POST", "method copied");
	is_str(field(r->path, r->path_len), "/api/v1/items", "path copied, without the query");
	is_int(r->query_len, 0, "no query kept without record_query");
	is_int(r->user_agent_len, 0, "no user agent kept while spans are off (only a span reports it)");
	is_int(r->http_minor, 0, "HTTP/1.0");
	ok(!r->is_head && !r->path_truncated, "not HEAD, path whole");
	ok(!r->has_parent, "no traceparent: no parent");

	rt_req_t *q = req_with(NULL, "GET /s?limit=10&x=%20y HTTP/1.1\r\nHost: h\r\n\r\n", 1);
	if (ok(q != NULL, "another head, with record_query")) {
		is_str(field(q->query, q->query_len), "limit=10&x=%20y", "query kept, as sent");
		is_int(q->http_minor, 1, "HTTP/1.1");
		is_int(q->user_agent_len, 0, "no user agent");
		rt_req_free(q);
	}

	char longreq[2048];
	char longpath[RT_HTTP_PATH_MAX + 100];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = 0;
	snprintf(longreq, sizeof longreq, "HEAD %s HTTP/1.1\r\nHost: h\r\n\r\n", longpath);
	q = req_with(NULL, longreq, 1);
	if (ok(q != NULL, "a HEAD request with a long path")) {
		ok(q->is_head, "is_head");
		ok(q->path_truncated && q->path_len <= RT_HTTP_PATH_MAX && q->path_len > 0 &&
			   memcmp(q->path, longpath, q->path_len) == 0,
		   "path truncated to at most %d bytes, a prefix of the path (%u)", RT_HTTP_PATH_MAX,
		   q->path_len);
		rt_req_free(q);
	}

	/* Reuse: everything of the last request is gone. */
	rt_req_t *same = rt_req_begin(r);
	ok(same == r, "rt_req_begin reuses the request given");
	ok(!same->head_done && same->method_len == 0 && same->path_len == 0 &&
		   same->user_agent_len == 0 && same->query_len == 0 && same->status == 0,
	   "a reused request is reset");
	rt_req_free(same);
}

static void test_head_user_agent(void)
{
	rt_sink_set_wants_spans(1);
	rt_req_t *r = req_with(NULL, "GET / HTTP/1.1\r\nUser-Agent: curl/8.5.0\r\n\r\n", 0);
	rt_sink_set_wants_spans(0);
	if (!ok(r != NULL, "head parsed (spans on)"))
		return;
	is_str(field(r->user_agent, r->user_agent_len), "curl/8.5.0", "user agent copied when spans are on");
	rt_req_free(r);
}

/* ---- ids ---- */

static void test_ids(void)
{
	char hex[33];
	rt_req_t *r = req_with(NULL, "GET / HTTP/1.1\r\ntraceparent: " TP "\r\n\r\n", 0);
	if (!ok(r != NULL, "a request with a traceparent"))
		return;
	ok(r->has_parent, "traceparent continued");
	rt_req_ensure_ids(r);
	rt_hex_encode(r->ctx.trace_id, 16, hex);
	is_str(hex, TP_TRACE, "its trace id is kept");
	rt_hex_encode(r->ctx.parent_id, 8, hex);
	is_str(hex, TP_SPAN, "its span id is the parent");
	is_int(r->ctx.flags, 1, "its flags kept");
	ok(!all_zero(r->span_id, 8) && memcmp(r->span_id, r->ctx.parent_id, 8) != 0,
	   "a new span id of our own");
	uint8_t span[8];
	memcpy(span, r->span_id, 8);
	rt_req_ensure_ids(r);
	ok(memcmp(span, r->span_id, 8) == 0 && r->ids_ready, "ids are made once");

	/* Reused for a request without one: nothing of the parent survives. */
	rt_req_t *s = req_with(r, "GET / HTTP/1.1\r\n\r\n", 0);
	if (ok(s != NULL, "reused for a request without a traceparent")) {
		rt_req_ensure_ids(s);
		rt_hex_encode(s->ctx.trace_id, 16, hex);
		ok(!s->has_parent && strcmp(hex, TP_TRACE) != 0 && all_zero(s->ctx.parent_id, 8),
		   "fresh trace id, no parent (%s)", hex);
		rt_req_free(s);
	}

	static const char *const bad[] = {
		"00-" "4BF92F3577B34DA6A3CE929D0E0E4736" "-" TP_SPAN "-01",  /* uppercase */
		"00-00000000000000000000000000000000-" TP_SPAN "-01",        /* zero trace id */
		"00-" TP_TRACE "-0000000000000000-01",                        /* zero parent */
		"ff-" TP_TRACE "-" TP_SPAN "-01",                             /* version ff */
		"00-" TP_TRACE "-" TP_SPAN,                                   /* no flags */
	};
	int rejected = 1;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char head[256];
		snprintf(head, sizeof head, "GET / HTTP/1.1\r\ntraceparent: %s\r\n\r\n", bad[i]);
		rt_req_t *b = req_with(NULL, head, 0);
		if (!b) {
			rejected = 0;
			continue;
		}
		rt_req_ensure_ids(b);
		rt_hex_encode(b->ctx.trace_id, 16, hex);
		if (b->has_parent || all_zero(b->ctx.trace_id, 16) || !strcmp(hex, TP_TRACE)) {
			rejected = 0;
			diag("traceparent '%s' was taken", bad[i]);
		}
		rt_req_free(b);
	}
	ok(rejected, "invalid traceparents are not continued: fresh ids");

	/* Many fresh ids, across several refills of the per-thread pool. */
	enum { N = 2000 };
	static uint8_t traces[N][16], spans[N][8];
	int zero = 0, shape = 1, flags = 1;
	for (int i = 0; i < N; i++) {
		rt_req_t *f = rt_req_begin(NULL);
		if (!f)
			continue;
		f->head_done = 1;
		rt_req_ensure_ids(f);
		memcpy(traces[i], f->ctx.trace_id, 16);
		memcpy(spans[i], f->span_id, 8);
		zero += all_zero(traces[i], 16) + all_zero(spans[i], 8);
		char t[33], sp[17];
		rt_hex_encode(traces[i], 16, t);
		rt_hex_encode(spans[i], 8, sp);
		shape &= lower_hex(t, 32) && lower_hex(sp, 16);
		flags &= f->ctx.flags == 1 && all_zero(f->ctx.parent_id, 8);
		rt_req_free(f);
	}
	is_int(zero, 0, "no all-zero trace or span id in 2000");
	ok(shape, "ids render as 32 and 16 lowercase hex digits");
	ok(flags, "fresh ids: sampled flag, no parent");
	int dup = 0;
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			dup += !memcmp(traces[i], traces[j], 16) + !memcmp(spans[i], spans[j], 8);
	is_int(dup, 0, "all 2000 trace ids distinct, all span ids distinct");
	rt_req_fork_child();
	rt_req_t *f = rt_req_begin(NULL);
	if (f) {
		rt_req_ensure_ids(f);
		int seen = 0;
		for (int i = 0; i < N; i++)
			seen += !memcmp(traces[i], f->ctx.trace_id, 16);
		is_int(seen, 0, "after rt_req_fork_child, ids are new ones");
		rt_req_free(f);
	}
}

/* ---- end, slow, discard ---- */

static void test_end(void)
{
	rt_thread_t *self = rt_thread_self();
	if (!ok(self != NULL, "this thread has a runtime state"))
		return;

	reset_got();
	rt_sink_set_wants_spans(0);
	uint64_t before = atomic_load(&self->requests);
	rt_req_t *r = req_with(NULL, "GET /a HTTP/1.1\r\n\r\n", 0);
	if (!r)
		return;
	r->status = 404;
	rt_req_t *back = rt_req_end(r, 1);
	ok(back == r, "a request that was not slow comes back for reuse");
	is_int(r->status, 404, "status kept when known");
	is_int(got.ended, 0, "spans not wanted: the sink is not told");
	is_int(atomic_load(&self->requests) - before, 1, "the thread counts one request");

	rt_sink_set_wants_spans(1);
	uint64_t t0 = rt_mono_ns();
	r = req_with(back, "GET /b HTTP/1.1\r\n\r\n", 0);
	r->status = 200;
	back = rt_req_end(r, 0);
	ok(back == r, "spans wanted: still comes back");
	is_int(got.ended, 1, "sink.ended called once");
	ok(got.ended_req == r && got.ended_serial == r->serial, "with the request");
	is_int(r->status, 0, "status unknown: 0");
	ok(r->ids_ready && !all_zero(r->ctx.trace_id, 16) && !all_zero(r->span_id, 8),
	   "ids made for its span");
	ok(r->end_mono_ns >= t0 && r->end_mono_ns >= r->start_mono_ns && r->start_real_ns == 0,
	   "end time set, wall start left to the exporter");

	/* No head seen: not counted, not a span. */
	r = rt_req_begin(back);
	before = atomic_load(&self->requests);
	back = rt_req_end(r, 1);
	ok(back == r && got.ended == 1, "a request without a head is not handed on");
	is_int(atomic_load(&self->requests) - before, 0, "nor counted");
	rt_req_free(back);
	rt_sink_set_wants_spans(0);
}

static void *end_elsewhere(void *arg)
{
	return rt_req_end(arg, 1);
}

static void test_slow(void)
{
	rt_thread_t *self = rt_thread_self();
	if (!self)
		return;
	reset_got();
	rt_req_t *r = req_with(NULL, "GET /slow HTTP/1.1\r\n\r\n", 0);
	if (!r)
		return;
	uint64_t now = rt_mono_ns();
	rt_req_mark_slow(r, self, now);
	is_int(got.slow, 1, "mark_slow: sink.slow called");
	is_int(got.slow_serial, r->serial, "with the request's serial");
	ok(r->slow && r->slow_mono_ns == now && r->thread == self, "marked slow, when, on which thread");
	is_int(r->tid, syscall(SYS_gettid), "the thread's tid");
	/* Sampling is not set up in this test (nothing owns SIGPROF): no route. */
	is_int(r->cpu_route, RT_CPU_ROUTE_NONE, "no CPU route without the sampler");
	r->status = 503;
	uint64_t real0 = rt_real_ns();
	rt_req_t *back = rt_req_end(r, 1);
	ok(back == NULL, "a slow request is not returned at its end");
	is_int(got.slow_ended, 1, "sink.slow_ended called once");
	ok(got.slow_ended_req == r, "with the request (the sink owns it now)");
	is_int(got.ended, 0, "and not sink.ended");
	ok(r->end_mono_ns >= r->start_mono_ns && r->start_real_ns != 0 &&
		   r->start_real_ns <= rt_real_ns() && r->start_real_ns + 10000000000ull > real0,
	   "end and wall-clock start set");
	is_int(r->status, 503, "status kept");
	ok(r->alloc_bytes >= 0, "ended on the thread that began it: allocation count known (%lld)",
	   (long long)r->alloc_bytes);
	rt_req_free(got.slow_ended_req);

	/* Ended on another thread: allocations unknown. */
	reset_got();
	r = req_with(NULL, "GET /slow2 HTTP/1.1\r\n\r\n", 0);
	rt_req_mark_slow(r, self, rt_mono_ns());
	pthread_t th;
	void *res = (void *)1;
	if (pthread_create(&th, NULL, end_elsewhere, r) == 0)
		pthread_join(th, &res);
	ok(res == NULL && got.slow_ended == 1 && got.slow_ended_req == r, "ended on another thread: handed on");
	is_int(r->alloc_bytes, -1, "allocation count unknown (-1)");
	rt_req_free(r);

	/* Discarded while slow: the sink forgets the serial. */
	reset_got();
	r = rt_req_begin(NULL);
	uint64_t serial = r->serial;
	rt_req_mark_slow(r, self, rt_mono_ns());
	rt_req_discard(r);
	is_int(got.slow_dropped, 1, "discarding a slow request: sink.slow_dropped");
	is_int(got.dropped_serial, serial, "with its serial");
	ok(got.slow_ended == 0 && got.ended == 0, "and nothing ended");

	reset_got();
	r = req_with(NULL, "GET /fast HTTP/1.1\r\n\r\n", 0);
	rt_req_discard(r);
	ok(got.slow_dropped == 0 && got.slow_ended == 0 && got.ended == 0 && got.slow == 0,
	   "discarding any other request tells the sink nothing");
}

int main(void)
{
	rt_thread_init();
	rt_req_sink_install(&test_sink);
	test_begin();
	test_head();
	test_head_user_agent();
	test_ids();
	test_end();
	test_slow();
	return done_testing();
}
