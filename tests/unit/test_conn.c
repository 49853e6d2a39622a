/* test_conn.c: connection tracking (track/conn.c with track/request.c) over real
 * loopback TCP connections. The server side's reads and writes are reported the way
 * boot/events.c reports an interposed call (token taken before the call, bytes after
 * it), straight to rt_conn_* after rt_conn_init; finished requests reach a test sink
 * installed through track/sink.h, spans wanted so that every request is handed on.
 * Covered: a request begins at the read of its first byte and ends at the write of the
 * last response byte; its fields (method, path, query, status, peer and local port);
 * keep-alive; pipelining (three requests in one read, responses one and two per
 * write); Content-Length and chunked responses ending exactly at their last byte,
 * HEAD/204/304 at their head, close-delimited ones at the close; a request body;
 * scattered reads and writes, and sendfile's unseen body bytes; a traceparent
 * continued (its trace id kept, its span the parent); a 101 upgrade; a non-HTTP first
 * line (SSH) or a server speaking first drops the connection (counted as
 * non-HTTP); TLS: a ClientHello with no libssl loaded is dropped and counted as unseen,
 * plaintext reported through an SSL session is parsed (url.scheme https) while the
 * socket's ciphertext is not, plaintext that is not HTTP counts as non-HTTP, and
 * freeing the session ends the connection only if it is the one whose plaintext was
 * parsed; a framing error after a served request counts an error; bytes that
 * cannot be seen on the read side stop tracking; close and close_range end tracking,
 * a request pending at the close is counted with status 0, one not yet whole is not;
 * a number reused after a close gets none of the old connection's bytes (token
 * check), and a number closed behind our back and reopened as another file drops its
 * pending request at the close; the watchdog's scan marks the oldest request slow
 * once (sink.slow), hands it to sink.slow_ended at its end, and a slow request dropped
 * before its head calls sink.slow_dropped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t.h"
#include "rt.h"
#include "base/cfg.h"
#include "base/clock.h"
#include "base/hex.h"
#include "base/libnghttp2.h"
#include "base/stats.h"
#include "sample/thread.h"
#include "track/conn.h"
#include "track/request.h"
#include "track/sink.h"
#include "track/tls.h"

/* ---- the test sink ---- */

typedef struct rec {
	int slow;                     /* 1: came through slow_ended */
	uint64_t serial, start, end;
	char method[RT_HTTP_METHOD_MAX + 1], path[RT_HTTP_PATH_MAX + 1], query[RT_HTTP_QUERY_MAX + 1];
	int status, has_parent;
	char trace[33], parent[17], span[17];
	int peer_family, peer_port, local_port;
	int tls;
} rec_t;

#define MAXREC 256
static rec_t recs[MAXREC];
static int nrecs, nslow, ndropped;
static uint64_t slow_serial, dropped_serial;

static void record(rt_req_t *r, int slow)
{
	if (nrecs >= MAXREC)
		return;
	rec_t *e = &recs[nrecs++];
	memset(e, 0, sizeof *e);
	e->slow = slow;
	e->serial = r->serial;
	e->start = r->start_mono_ns;
	e->end = r->end_mono_ns;
	snprintf(e->method, sizeof e->method, "%.*s", r->method_len, r->method);
	snprintf(e->path, sizeof e->path, "%.*s", r->path_len, r->path);
	snprintf(e->query, sizeof e->query, "%.*s", r->query_len, r->query);
	e->status = r->status;
	e->has_parent = r->has_parent;
	rt_req_ensure_ids(r);
	rt_hex_encode(r->ctx.trace_id, 16, e->trace);
	rt_hex_encode(r->ctx.parent_id, 8, e->parent);
	rt_hex_encode(r->span_id, 8, e->span);
	e->peer_family = r->peer.ss_family;
	if (r->peer.ss_family == AF_INET)
		e->peer_port = ntohs(((struct sockaddr_in *)&r->peer)->sin_port);
	e->local_port = r->local_port;
	e->tls = r->tls;
}

static void s_slow(uint64_t serial) { nslow++; slow_serial = serial; }
static void s_dropped(uint64_t serial) { ndropped++; dropped_serial = serial; }
static void s_slow_ended(rt_req_t *r)
{
	record(r, 1);
	rt_req_free(r); /* the sink owns it */
}
static int s_ended(rt_req_t *r)
{
	record(r, 0);
	return 0;
}
/* Outbound calls that ended (test_outbound's cases here use the real table). */
static rt_call_t calls_seen[64];
static int ncalls_seen;
static int s_call(const rt_call_t *c)
{
	if (ncalls_seen < 64)
		calls_seen[ncalls_seen++] = *c;
	return 1;
}
static const rt_req_sink_t test_sink = { s_slow, s_dropped, s_slow_ended, s_ended, s_call };

/* ---- sockets, and the events a preloaded shim would report ---- */

static int listener = -1;
static int listen_port;

typedef struct pair {
	int srv, cli;
	int cli_port;
} pair_t;

static int make_listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof a;
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(listener, 16) != 0 || getsockname(listener, (struct sockaddr *)&a, &n) != 0)
		return -1;
	listen_port = ntohs(a.sin_port);
	return 0;
}

/* Connects a client and accepts it without telling the runtime. */
static int connect_raw(pair_t *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)listen_port) };
	socklen_t n = sizeof a;
	/* The client's descriptor goes high, so that the server's accept gets the lowest
	 * free number (the one a test just closed, when it wants it reused). */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	p->cli = s < 0 ? -1 : fcntl(s, F_DUPFD_CLOEXEC, 200);
	if (s >= 0)
		close(s);
	if (p->cli < 0 || connect(p->cli, (struct sockaddr *)&a, sizeof a) != 0)
		return -1;
	int one = 1;
	setsockopt(p->cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (getsockname(p->cli, (struct sockaddr *)&a, &n) != 0)
		return -1;
	p->cli_port = ntohs(a.sin_port);
	p->srv = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	return p->srv < 0 ? -1 : 0;
}

/* accept(2) as the shim reports it. */
static int open_pair(pair_t *p)
{
	if (connect_raw(p) != 0)
		return -1;
	rt_conn_accepted(p->srv);
	return 0;
}

static uint64_t token(int fd)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	return c ? rt_conn_token(c) : 0;
}

/* The server reads exactly n bytes (the client sent them), in reads of at most chunk,
 * each reported as read(2) is. */
static int srv_read(pair_t *p, size_t n, size_t chunk)
{
	char buf[8192];
	while (n > 0) {
		size_t want = n < chunk ? n : chunk;
		if (want > sizeof buf)
			want = sizeof buf;
		uint64_t tok = token(p->srv);
		ssize_t k = read(p->srv, buf, want);
		if (k <= 0)
			return -1;
		rt_conn_t *c = rt_conn_lookup(p->srv);
		if (c) {
			struct iovec v = { buf, (size_t)k };
			rt_conn_read(c, p->srv, tok, &v, 1, (size_t)k);
		}
		n -= (size_t)k;
	}
	return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, s, n);
		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The client sends text; the server reads it in reads of at most chunk bytes. */
static int request(pair_t *p, const char *text, size_t chunk)
{
	size_t n = strlen(text);
	if (write_all(p->cli, text, n) != 0)
		return -1;
	return srv_read(p, n, chunk);
}

/* The client's side of the response is drained so the socket never fills. */
static void drain(pair_t *p)
{
	char buf[8192];
	while (recv(p->cli, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

/* The server writes n bytes with one write(2), reported with the token taken before. */
static int srv_write_n(pair_t *p, const char *s, size_t n)
{
	uint64_t tok = token(p->srv);
	if (write_all(p->srv, s, n) != 0)
		return -1;
	rt_conn_t *c = rt_conn_lookup(p->srv);
	if (c) {
		struct iovec v = { (void *)s, n };
		rt_conn_wrote(c, p->srv, tok, &v, 1, n);
	}
	drain(p);
	return 0;
}

static int srv_write(pair_t *p, const char *s)
{
	return srv_write_n(p, s, strlen(s));
}

/* close(2) as the shim reports it: the event first, then the real close. */
static void srv_close(pair_t *p)
{
	rt_conn_t *c = rt_conn_lookup(p->srv);
	if (c)
		rt_conn_closing(c, p->srv);
	close(p->srv);
	p->srv = -1;
}

static void close_pair(pair_t *p)
{
	if (p->srv >= 0)
		srv_close(p);
	if (p->cli >= 0)
		close(p->cli);
	p->cli = -1;
}

static const rec_t *last(void)
{
	static const rec_t none;
	return nrecs ? &recs[nrecs - 1] : &none;
}

#define OK200 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#define TP_TRACE "0af7651916cd43dd8448eb211c80319c"
#define TP_SPAN "b7ad6b7169203331"

/* ---- begin and end, fields ---- */

static void test_basic(void)
{
	pair_t p;
	if (!ok(open_pair(&p) == 0, "a loopback connection accepted"))
		return;
	ok(rt_fd_tracked(p.srv), "accepted: tracked");
	int before = nrecs;
	const char *req = "GET /basic/path?a=1&b=2 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
	/* The first byte alone, then the rest. */
	write_all(p.cli, req, strlen(req));
	uint64_t t0 = rt_mono_ns();
	srv_read(&p, 1, 1);
	uint64_t t1 = rt_mono_ns();
	srv_read(&p, strlen(req) - 1, 7);
	/* The response, all but its last byte, then that byte. */
	const char *resp = "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello";
	srv_write_n(&p, resp, strlen(resp) - 1);
	is_int(nrecs - before, 0, "not ended before the response's last byte");
	uint64_t t2 = rt_mono_ns();
	srv_write_n(&p, resp + strlen(resp) - 1, 1);
	uint64_t t3 = rt_mono_ns();
	if (!ok(nrecs - before == 1, "ended by the last response byte")) {
		close_pair(&p);
		return;
	}
	const rec_t *e = last();
	ok(e->start >= t0 && e->start <= t1, "began at the read of its first byte");
	ok(e->end >= t2 && e->end <= t3, "ended at the write of its last response byte");
	ok(!e->slow, "not slow");
	is_str(e->method, "GET", "method");
	is_str(e->path, "/basic/path", "path");
	is_str(e->query, "", "query not kept (record_query off)");
	is_int(e->status, 201, "status");
	is_int(e->peer_family, AF_INET, "peer address family");
	is_int(e->peer_port, p.cli_port, "peer port is the client's");
	is_int(e->local_port, listen_port, "local port is the listener's");
	ok(!e->has_parent && strcmp(e->trace, "00000000000000000000000000000000") != 0 &&
		   strcmp(e->span, "0000000000000000") != 0,
	   "no traceparent: fresh ids (%s %s)", e->trace, e->span);
	ok(rt_fd_tracked(p.srv), "still tracked after the response (keep-alive)");

	/* record_query on: the query is kept. */
	rt_cfg.record_query = 1;
	request(&p, "GET /q?x=1 HTTP/1.1\r\n\r\n", 4096);
	srv_write(&p, OK200);
	rt_cfg.record_query = 0;
	is_str(last()->query, "x=1", "query kept with record_query");
	int fd = p.srv;
	close_pair(&p);
	ok(!rt_fd_tracked(fd), "closed: no longer tracked");
}

static void test_keepalive(void)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	request(&p, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n", 4096);
	srv_write(&p, OK200);
	request(&p, "PUT /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 4096);
	srv_write(&p, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	if (!ok(nrecs - before == 2, "keep-alive: two requests, two ends")) {
		close_pair(&p);
		return;
	}
	const rec_t *a = &recs[before], *b = &recs[before + 1];
	ok(!strcmp(a->path, "/one") && a->status == 200, "the first: /one, 200");
	ok(!strcmp(b->method, "PUT") && !strcmp(b->path, "/two") && b->status == 404,
	   "the second (with a body): PUT /two, 404");
	ok(b->serial > a->serial && b->start >= a->end, "in order, the second began after the first ended");
	ok(strcmp(a->trace, b->trace) != 0 && strcmp(a->span, b->span) != 0, "each its own ids");
	close_pair(&p);
}

static void test_pipelining(void)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	uint64_t t0 = rt_mono_ns();
	request(&p,
		"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST /p2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
		"GET /p3 HTTP/1.1\r\nHost: x\r\n\r\n",
		8192);
	uint64_t t1 = rt_mono_ns();
	is_int(nrecs - before, 0, "three requests read in one read: none ended yet");
	srv_write(&p, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
	ok(nrecs - before == 1 && !strcmp(last()->path, "/p1") && last()->status == 200,
	   "the first response ends the first request");
	srv_write(&p, "HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\n2"
		      "HTTP/1.1 203 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n3\r\n0\r\n\r\n");
	if (!ok(nrecs - before == 3, "two responses in one write end the other two")) {
		close_pair(&p);
		return;
	}
	const rec_t *a = &recs[before], *b = &recs[before + 1], *c = &recs[before + 2];
	ok(!strcmp(b->path, "/p2") && b->status == 202 && !strcmp(c->path, "/p3") && c->status == 203,
	   "in order, each with its own status");
	ok(a->start >= t0 && b->start >= t0 && c->start >= t0 && a->start <= t1 && b->start <= t1 &&
		   c->start <= t1,
	   "each began when its bytes were read (the one read)");
	ok(a->serial < b->serial && b->serial < c->serial, "serials in order");
	ok(rt_fd_tracked(p.srv), "still tracked");

	/* HEAD then GET then a chunked POST, answered in one write: the HEAD's response
	 * has no body whatever it says, an empty one ends at its head. */
	before = nrecs;
	request(&p,
		"HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n"
		"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		8192);
	srv_write(&p, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
		      "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n"
		      "HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n");
	ok(nrecs - before == 3 && !strcmp(recs[before].path, "/h") && recs[before].status == 200 &&
		   !strcmp(recs[before + 1].path, "/g") && recs[before + 1].status == 201 &&
		   !strcmp(recs[before + 2].path, "/c") && recs[before + 2].status == 202,
	   "HEAD, GET and a chunked POST pipelined, three bodiless responses in one write");
	ok(rt_fd_tracked(p.srv), "still tracked");
	close_pair(&p);
}

/* The response written one byte at a time: ends at its last byte, not before. */
static void byte_by_byte(const char *reqtext, const char *resp, int want_status, const char *name)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	request(&p, reqtext, 4096);
	size_t n = strlen(resp);
	int early = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		srv_write_n(&p, resp + i, 1);
		early |= nrecs != before;
	}
	ok(!early, "%s: not ended before the last byte", name);
	srv_write_n(&p, resp + n - 1, 1);
	ok(nrecs - before == 1 && last()->status == want_status, "%s: ended by the last byte, status %d",
	   name, want_status);
	/* And the connection is ready for the next request. */
	request(&p, "GET /next HTTP/1.1\r\n\r\n", 4096);
	srv_write(&p, OK200);
	ok(nrecs - before == 2 && !strcmp(last()->path, "/next"), "%s: the next request is tracked",
	   name);
	close_pair(&p);
}

static void test_framing(void)
{
	byte_by_byte("GET /cl HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
		     200, "Content-Length");
	byte_by_byte("GET /ch HTTP/1.1\r\n\r\n",
		     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n",
		     200, "chunked (extension, trailer)");
	byte_by_byte("HEAD /h HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 200,
		     "HEAD: the head ends it whatever Content-Length says");
	byte_by_byte("GET /204 HTTP/1.1\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n", 204, "204");
	byte_by_byte("GET /304 HTTP/1.1\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
		     304, "304");
	byte_by_byte("GET /100 HTTP/1.1\r\n\r\n",
		     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 200,
		     "an interim 100 first");

	/* Scattered reads and writes; the body sent by sendfile (bytes not seen). */
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	const char *req = "GET /scatter HTTP/1.1\r\nHost: x\r\n\r\n";
	write_all(p.cli, req, strlen(req));
	char buf[256];
	ssize_t k = recv(p.srv, buf, strlen(req), MSG_WAITALL);
	struct iovec rv[3] = { { buf, 5 }, { buf + 5, 10 }, { buf + 15, sizeof buf - 15 } };
	rt_conn_t *c = rt_conn_lookup(p.srv);
	if (c && k > 0)
		rt_conn_read(c, p.srv, rt_conn_token(c), rv, 3, (size_t)k);
	const char *h1 = "HTTP/1.1 200 OK\r\n", *h2 = "Content-Length: 100\r\n\r\n";
	struct iovec wv[2] = { { (void *)h1, strlen(h1) }, { (void *)h2, strlen(h2) } };
	if (c)
		rt_conn_wrote(c, p.srv, rt_conn_token(c), wv, 2, strlen(h1) + strlen(h2));
	is_int(nrecs - before, 0, "scattered head written: not ended (body to come)");
	if (c)
		rt_conn_wrote(c, p.srv, rt_conn_token(c), NULL, 0, 60);
	is_int(nrecs - before, 0, "60 body bytes by sendfile: not yet");
	if (c)
		rt_conn_wrote(c, p.srv, rt_conn_token(c), NULL, 0, 40);
	ok(nrecs - before == 1 && !strcmp(last()->path, "/scatter") && last()->status == 200,
	   "the last 40 by sendfile end it (a request read scattered)");
	ok(rt_fd_tracked(p.srv), "still tracked");
	/* Bytes read that we cannot see: framing is lost, tracking stops. */
	c = rt_conn_lookup(p.srv);
	if (c)
		rt_conn_read(c, p.srv, rt_conn_token(c), NULL, 0, 10);
	ok(!rt_fd_tracked(p.srv), "unseen bytes read: no longer tracked");
	close_pair(&p);
}

static void test_traceparent(void)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	request(&p,
		"GET /tp HTTP/1.1\r\nHost: x\r\ntraceparent: 00-" TP_TRACE "-" TP_SPAN "-01\r\n\r\n",
		4096);
	srv_write(&p, OK200);
	if (ok(nrecs - before == 1, "a request with a traceparent ended")) {
		const rec_t *e = last();
		ok(e->has_parent, "traceparent continued");
		is_str(e->trace, TP_TRACE, "the trace id is the caller's");
		is_str(e->parent, TP_SPAN, "the parent is the caller's span");
		ok(strcmp(e->span, TP_SPAN) != 0 && strcmp(e->span, "0000000000000000") != 0,
		   "a span id of its own (%s)", e->span);
	}
	/* The next request on the connection has none: fresh ids. */
	request(&p, "GET /tp2 HTTP/1.1\r\nHost: x\r\n\r\n", 4096);
	srv_write(&p, OK200);
	ok(nrecs - before == 2 && !last()->has_parent && strcmp(last()->trace, TP_TRACE) != 0,
	   "the next request on the connection starts a trace of its own");
	close_pair(&p);
}

static void test_upgrade(void)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	uint64_t errors = rt_stat_get(RT_STAT_CONN_ERRORS);
	request(&p, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 4096);
	srv_write(&p, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	ok(nrecs - before == 1 && last()->status == 101 && !strcmp(last()->path, "/ws"),
	   "101: the request ends with status 101");
	ok(!rt_fd_tracked(p.srv), "and the connection is no longer tracked");
	srv_write(&p, "\x81\x05hello"); /* a websocket frame: nobody looks */
	is_int(rt_stat_get(RT_STAT_CONN_ERRORS) - errors, 0, "an upgrade is not an error");
	close_pair(&p);
}

/* ---- not HTTP ---- */

static void not_http(const char *first, size_t n, const char *name)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	rt_thread_t *self = rt_thread_self();
	uint64_t non_http = self ? atomic_load(&self->non_http) : 0;
	int before = nrecs;
	write_all(p.cli, first, n);
	srv_read(&p, n, 4096);
	ok(!rt_fd_tracked(p.srv), "%s: no longer tracked", name);
	ok(self && atomic_load(&self->non_http) - non_http == 1, "%s: counted as non-HTTP", name);
	srv_write(&p, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	is_int(nrecs - before, 0, "nothing ended");
	close_pair(&p);
}

static void test_not_http(void)
{
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
	static const char pri[] = "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"; /* not quite the preface */
	not_http(ssh, sizeof ssh - 1, "an SSH banner");
	not_http(pri, sizeof pri - 1, "a preface that goes wrong at byte 18");

	/* A server that speaks first (SMTP) is not HTTP either. */
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	srv_write(&p, "220 mail.example ESMTP\r\n");
	ok(!rt_fd_tracked(p.srv), "a server speaking first: no longer tracked");
	close_pair(&p);

	/* After a request was served, garbage is a framing error. */
	if (open_pair(&p) != 0)
		return;
	uint64_t errors = rt_stat_get(RT_STAT_CONN_ERRORS);
	int before = nrecs;
	request(&p, "GET /fine HTTP/1.1\r\n\r\n", 4096);
	srv_write(&p, OK200);
	request(&p, "GET /pending HTTP/1.1\r\n\r\n\x01\x02\x03 junk\r\n\r\n", 4096);
	ok(!rt_fd_tracked(p.srv), "garbage after a served request: no longer tracked");
	is_int(rt_stat_get(RT_STAT_CONN_ERRORS) - errors, 1, "counted as an error, not as non-HTTP");
	ok(nrecs - before == 2 && !strcmp(last()->path, "/pending") && last()->status == 0,
	   "the request read before the garbage is counted, status unknown");
	close_pair(&p);
}

/* ---- TLS ---- */

/* Plaintext through an SSL session, as boot/events.c reports SSL_read / SSL_write. */
static void tls_read(pair_t *p, const void *ssl, const char *s)
{
	rt_conn_t *c = rt_conn_lookup(p->srv);
	if (c)
		rt_conn_tls_read(c, p->srv, token(p->srv), ssl, s, strlen(s));
}

static void tls_wrote(pair_t *p, const void *ssl, const char *s)
{
	rt_conn_t *c = rt_conn_lookup(p->srv);
	if (c)
		rt_conn_tls_wrote(c, p->srv, token(p->srv), ssl, s, strlen(s));
}

static void test_tls(void)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x1b";
	static const char record[] = "\x17\x03\x03\x00\x08GET junk";
	static char ssl, other_ssl; /* stand-ins: only their addresses are used */
	rt_thread_t *self = rt_thread_self();
	pair_t p;

	/* No libssl in this process: a handshake's plaintext can never be seen. */
	if (rt_tls_lib_loaded()) {
		skip("a ClientHello with no libssl loaded is dropped, counted unseen", "a libssl is loaded in this test process");
	} else if (open_pair(&p) == 0) {
		uint64_t unseen = rt_stat_get(RT_STAT_TLS_UNSEEN);
		uint64_t non_http = self ? atomic_load(&self->non_http) : 0;
		write_all(p.cli, hello, sizeof hello - 1);
		srv_read(&p, sizeof hello - 1, 4096);
		ok(!rt_fd_tracked(p.srv), "a ClientHello with no libssl loaded: no longer tracked");
		is_int(rt_stat_get(RT_STAT_TLS_UNSEEN) - unseen, 1, "  counted as a TLS connection unseen");
		ok(self && atomic_load(&self->non_http) == non_http, "  and not as non-HTTP");
		close_pair(&p);
	}

	/* The plaintext is parsed, the ciphertext around it is not. */
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	uint64_t unseen = rt_stat_get(RT_STAT_TLS_UNSEEN);
	tls_read(&p, &ssl, "GET /secure HTTP/1.1\r\n");
	write_all(p.cli, record, sizeof record - 1);
	srv_read(&p, sizeof record - 1, 4096); /* libssl reading the next record */
	ok(rt_fd_tracked(p.srv), "TLS: ciphertext read on the socket is not parsed (still tracked)");
	tls_read(&p, &ssl, "Host: x\r\n\r\n");
	srv_write(&p, "\x17\x03\x03\x00\x02HT"); /* libssl writing a record */
	is_int(nrecs - before, 0, "  nor is ciphertext written: no response ended");
	tls_wrote(&p, &ssl, OK200);
	ok(nrecs - before == 1 && !strcmp(last()->path, "/secure") && last()->status == 200 &&
	   last()->tls, "  the plaintext request ends with its response, marked TLS");
	/* every byte its own record: SSL_read returns one byte at a time */
	const char *req = "GET /bytes HTTP/1.1\r\n\r\n";
	for (const char *b = req; *b; b++) {
		char one[2] = { *b, 0 };
		tls_read(&p, &ssl, one);
	}
	tls_wrote(&p, &ssl, OK200);
	ok(nrecs - before == 2 && !strcmp(last()->path, "/bytes"), "  a request read one byte per call");
	rt_conn_t *c = rt_conn_lookup(p.srv);
	if (c)
		rt_conn_tls_free(c, p.srv, token(p.srv), &other_ssl);
	ok(rt_fd_tracked(p.srv), "  freeing another SSL (its socket closed, the number reused) changes nothing");
	tls_read(&p, &ssl, "GET /pending HTTP/1.1\r\n\r\n");
	if ((c = rt_conn_lookup(p.srv)) != NULL)
		rt_conn_tls_free(c, p.srv, token(p.srv), &ssl);
	ok(!rt_fd_tracked(p.srv), "  freeing its own SSL ends the connection");
	ok(nrecs - before == 3 && !strcmp(last()->path, "/pending") && last()->status == 0,
	   "  the request pending then is counted, status unknown");
	close_pair(&p);
	is_int(rt_stat_get(RT_STAT_TLS_UNSEEN) - unseen, 0, "  a TLS connection seen is not counted unseen");

	/* Plaintext that is not HTTP is a non-HTTP connection, as on a plain socket. */
	if (open_pair(&p) != 0)
		return;
	uint64_t non_http = self ? atomic_load(&self->non_http) : 0;
	tls_read(&p, &ssl, "\x01\x02 not http\r\n\r\n");
	ok(!rt_fd_tracked(p.srv), "TLS plaintext that is not HTTP: no longer tracked");
	ok(self && atomic_load(&self->non_http) - non_http == 1, "  counted as non-HTTP");
	close_pair(&p);

	is_int(rt_tls_record_start(&(struct iovec){ (void *)"\x16", 1 }, 1, 1), 1,
	       "one byte 0x16 starts a TLS record");
	is_int(rt_tls_record_start(&(struct iovec){ (void *)"\x16\x01", 2 }, 1, 2), 0,
	       "0x16 0x01 does not");
	is_int(rt_tls_record_start(&(struct iovec){ (void *)"GET", 3 }, 1, 3), 0, "GET does not");
}

/* ---- HTTP/2 ---- */

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SETTINGS0 "\0\0\0\4\0\0\0\0\0"

static int cli_send(pair_t *p, const char *s, size_t n, size_t chunk)
{
	if (write_all(p->cli, s, n) != 0)
		return -1;
	return srv_read(p, n, chunk);
}

static void test_h2(void)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	uint64_t conns = rt_stat_get(RT_STAT_H2_CONNECTIONS), dropped = rt_stat_get(RT_STAT_H2_DROPPED);
	int before = nrecs;
	/* The server's SETTINGS first, as nghttpd and node send it. */
	srv_write_n(&p, SETTINGS0, 9);
	ok(rt_fd_tracked(p.srv), "h2: a SETTINGS frame written first keeps the connection");
	/* The preface in reads of 5 bytes (held back until it is whole), then a GET on
	 * stream 1 (:method GET, :path /, :scheme http, then a literal :path) and stream 3. */
	cli_send(&p, H2_PREFACE SETTINGS0, 24 + 9, 5);
	static const char get1[] = "\0\0\x0b\1\5\0\0\0\1\x82\x86\x04\x07/h2/one";
	static const char get3[] = "\0\0\x03\1\5\0\0\0\3\x82\x84\x86";
	cli_send(&p, get1, sizeof get1 - 1, 4096);
	cli_send(&p, get3, sizeof get3 - 1, 4096);
	/* Stream 3 answered first (404, END_STREAM on HEADERS), then stream 1 (200, DATA). */
	srv_write_n(&p, "\0\0\1\1\5\0\0\0\3\x8d", 10);
	is_int(nrecs - before, 1, "h2: stream 3 ended first");
	ok(nrecs > before && !strcmp(last()->path, "/") && last()->status == 404, "h2: / answered 404");
	srv_write_n(&p, "\0\0\1\1\4\0\0\0\1\x88" "\0\0\2\0\1\0\0\0\1ok", 10 + 11);
	is_int(nrecs - before, 2, "h2: then stream 1");
	ok(nrecs > before + 1 && !strcmp(last()->path, "/h2/one") && last()->status == 200 &&
	   !strcmp(last()->method, "GET"), "h2: GET /h2/one answered 200");
	is_int(rt_stat_get(RT_STAT_H2_CONNECTIONS) - conns, 1, "h2: counted as an HTTP/2 connection");
	/* A frame breaking the rules (a 5-byte PING) stops tracking, counted. */
	cli_send(&p, "\0\0\5\6\0\0\0\0\0" "12345", 14, 4096);
	ok(!rt_fd_tracked(p.srv), "h2: a bad frame length stops tracking");
	is_int(rt_stat_get(RT_STAT_H2_DROPPED) - dropped, 1, "h2: counted as dropped");
	close_pair(&p);

	/* A request in flight when the connection closes is counted, status unknown. */
	if (open_pair(&p) != 0)
		return;
	before = nrecs;
	cli_send(&p, H2_PREFACE SETTINGS0, 24 + 9, 4096);
	cli_send(&p, get1, sizeof get1 - 1, 4096);
	close_pair(&p);
	ok(nrecs - before == 1 && last()->status == 0, "h2: a stream in flight at close is counted");

	/* "P" then "OST": held back as a possible preface, then replayed as HTTP/1.x. */
	if (open_pair(&p) != 0)
		return;
	before = nrecs;
	request(&p, "P", 4096);
	request(&p, "OST /replayed HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 4096);
	srv_write(&p, OK200);
	ok(nrecs - before == 1 && !strcmp(last()->path, "/replayed") && !strcmp(last()->method, "POST"),
	   "a request starting like the preface is HTTP/1.x after all");
	close_pair(&p);
}

/* ---- close ---- */

static void test_close(void)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs;
	request(&p, "GET /unanswered HTTP/1.1\r\n\r\n", 4096);
	int fd = p.srv;
	srv_close(&p);
	ok(!rt_fd_tracked(fd), "close ends tracking");
	ok(nrecs - before == 1 && !strcmp(last()->path, "/unanswered") && last()->status == 0,
	   "a request read and unanswered is counted at the close, status 0");
	close_pair(&p);

	/* A body delimited by the close ends with it. */
	if (open_pair(&p) != 0)
		return;
	before = nrecs;
	request(&p, "GET /eof HTTP/1.0\r\n\r\n", 4096);
	srv_write(&p, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close");
	is_int(nrecs - before, 0, "a close-delimited body: not ended by its bytes");
	srv_close(&p);
	ok(nrecs - before == 1 && !strcmp(last()->path, "/eof") && last()->status == 200,
	   "ended by the close, with the response's status");
	close_pair(&p);

	/* A request not whole at the close is not counted. */
	if (open_pair(&p) != 0)
		return;
	before = nrecs;
	request(&p, "GET /half HTTP/1.1\r\nHost:", 4096);
	srv_close(&p);
	is_int(nrecs - before, 0, "half a head at the close: nothing counted");
	close_pair(&p);

	/* close_range: marking only leaves tracking alone; a real one ends it. */
	pair_t q;
	if (open_pair(&p) != 0 || open_pair(&q) != 0)
		return;
	int lo = p.srv < q.srv ? p.srv : q.srv, hi = p.srv < q.srv ? q.srv : p.srv;
	rt_conn_close_range((unsigned)lo, (unsigned)hi, CLOSE_RANGE_CLOEXEC);
	ok(rt_fd_tracked(p.srv) && rt_fd_tracked(q.srv), "close_range(CLOEXEC) only marks: still tracked");
	rt_conn_close_range((unsigned)lo, ~0u, 0);
	ok(!rt_fd_tracked(p.srv) && !rt_fd_tracked(q.srv), "close_range ends tracking of the range");
	close(p.srv);
	close(q.srv);
	p.srv = q.srv = -1;
	close_pair(&p);
	close_pair(&q);
}

/* ---- descriptor reuse ---- */

/* Makes p's server side land on fd number want (dup2 when accept gave another). */
static int onto(pair_t *p, int want)
{
	if (p->srv == want)
		return 0;
	if (dup2(p->srv, want) < 0)
		return -1;
	close(p->srv);
	p->srv = want;
	return 0;
}

static void test_reuse(void)
{
	pair_t a, b;
	if (open_pair(&a) != 0)
		return;
	int fd = a.srv, before = nrecs;
	request(&a, "GET /old HTTP/1.1\r\n\r\n", 4096);
	uint64_t old_tok = token(fd);
	srv_close(&a); /* counts /old, status 0 */
	if (connect_raw(&b) != 0 || onto(&b, fd) != 0) {
		ok(0, "a new connection on the old number");
		return;
	}
	rt_conn_accepted(b.srv);
	uint64_t new_tok = token(fd);
	ok(rt_fd_tracked(fd) && new_tok != 0 && new_tok != old_tok,
	   "the new connection on fd %d has a new token", fd);
	before = nrecs;

	/* A read that began on the old connection returns now: its bytes are not ours. */
	static const char stale_req[] = "GET /stale HTTP/1.1\r\n\r\n";
	rt_conn_t *c = rt_conn_lookup(fd);
	struct iovec v = { (void *)stale_req, sizeof stale_req - 1 };
	rt_conn_read(c, fd, old_tok, &v, 1, v.iov_len);
	static const char junk[] = "SSH-2.0-x\r\n";
	struct iovec j = { (void *)junk, sizeof junk - 1 };
	rt_conn_read(c, fd, old_tok, &j, 1, j.iov_len);
	ok(rt_fd_tracked(fd), "old-token bytes (even non-HTTP ones) do not touch the new connection");

	request(&b, "GET /fresh HTTP/1.1\r\n\r\n", 4096);
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct iovec w = { (void *)resp, sizeof resp - 1 };
	rt_conn_wrote(c, fd, old_tok, &w, 1, w.iov_len);
	is_int(nrecs - before, 0, "a write with the old token ends nothing");
	srv_write(&b, resp);
	ok(nrecs - before == 1 && !strcmp(last()->path, "/fresh") && last()->status == 200,
	   "the new connection's own request is the one counted (/fresh)");
	close_pair(&b);
	close_pair(&a);

	/* Closed behind our back (no close event), the number reopened as a file: the
	 * request pending on it is not counted when that file is closed. */
	if (open_pair(&a) != 0)
		return;
	fd = a.srv;
	before = nrecs;
	request(&a, "GET /vanished HTTP/1.1\r\n\r\n", 4096);
	close(fd); /* no rt_conn_closing: a raw system call */
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul != fd && nul >= 0 && dup2(nul, fd) == fd)
		close(nul);
	ok(rt_fd_tracked(fd), "still in the table (we did not see the close)");
	srv_close(&a); /* close of the file now on that number */
	ok(!rt_fd_tracked(fd), "the close of the new file ends tracking");
	is_int(nrecs - before, 0, "and the old connection's pending request is not counted");
	close_pair(&a);

	/* Closed behind our back, the number accepted again: the new one is tracked. */
	if (open_pair(&a) != 0)
		return;
	fd = a.srv;
	request(&a, "GET /gone HTTP/1.1\r\n\r\n", 4096);
	old_tok = token(fd);
	close(fd);
	a.srv = -1;
	if (connect_raw(&b) != 0 || onto(&b, fd) != 0) {
		ok(0, "a new connection on the old number");
		return;
	}
	rt_conn_accepted(b.srv);
	ok(rt_fd_tracked(fd) && token(fd) != old_tok, "accepted again on a stale slot: a new connection");
	before = nrecs;
	request(&b, "GET /again HTTP/1.1\r\n\r\n", 4096);
	srv_write(&b, OK200);
	ok(nrecs - before == 1 && !strcmp(last()->path, "/again"), "and its requests are its own");
	close_pair(&b);
	close_pair(&a);
}

/* ---- the watchdog's scan ---- */

#define SLOW_NS 1000000000000ull /* 1000 s: only an explicit `now` makes anything slow */

static void test_slow(void)
{
	pair_t p;
	if (open_pair(&p) != 0)
		return;
	int before = nrecs, slow0 = nslow;
	uint64_t t0 = rt_mono_ns();
	request(&p, "GET /slow HTTP/1.1\r\n\r\n", 4096);
	uint64_t t1 = rt_mono_ns();
	uint64_t next = rt_conn_scan(t1, SLOW_NS);
	ok(next >= t0 + SLOW_NS && next <= t1 + SLOW_NS, "scan: the request turns slow at its start + threshold");
	is_int(nslow - slow0, 0, "not slow yet");
	ok(rt_conn_scan(t1 + SLOW_NS, SLOW_NS) == 0, "scan past the threshold: nothing else in flight");
	is_int(nslow - slow0, 1, "sink.slow called once");
	rt_conn_scan(t1 + 2 * SLOW_NS, SLOW_NS);
	is_int(nslow - slow0, 1, "and not again on the next scan");
	srv_write(&p, OK200);
	if (ok(nrecs - before == 1 && last()->slow, "its end goes to sink.slow_ended")) {
		is_int(last()->serial, slow_serial, "the serial sink.slow was given");
		ok(!strcmp(last()->path, "/slow") && last()->status == 200, "path and status");
	}

	/* Pipelined: only the oldest request is watched; the next one after it ends. */
	before = nrecs;
	slow0 = nslow;
	t0 = rt_mono_ns();
	request(&p, "GET /s1 HTTP/1.1\r\n\r\nGET /s2 HTTP/1.1\r\n\r\n", 4096);
	t1 = rt_mono_ns();
	rt_conn_scan(t1 + SLOW_NS, SLOW_NS);
	is_int(nslow - slow0, 1, "two in flight: only the oldest marked");
	srv_write(&p, OK200);
	next = rt_conn_scan(t1, SLOW_NS);
	ok(next >= t0 + SLOW_NS && next <= t1 + SLOW_NS, "then the next one is watched");
	srv_write(&p, OK200);
	ok(nrecs - before == 2 && recs[before].slow && !recs[before + 1].slow &&
		   !strcmp(recs[before].path, "/s1") && !strcmp(recs[before + 1].path, "/s2"),
	   "the first ended slow, the second not");

	/* Slow before its head, then the connection goes: dropped, not ended. */
	before = nrecs;
	int dropped0 = ndropped;
	slow0 = nslow;
	request(&p, "GET /never-finished HTTP/1.1\r\nHo", 4096);
	rt_conn_scan(rt_mono_ns() + SLOW_NS, SLOW_NS);
	is_int(nslow - slow0, 1, "a request still reading its head can turn slow");
	uint64_t serial = slow_serial;
	srv_close(&p);
	is_int(ndropped - dropped0, 1, "closed before its head: sink.slow_dropped");
	is_int(dropped_serial, serial, "with its serial");
	is_int(nrecs - before, 0, "and nothing ended");
	close_pair(&p);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	rt_thread_init();
	rt_libnghttp2_resolve(); /* as the library's start does: HTTP/2 decoding */
	if (rt_conn_init() != 0)
		skip_all("rt_conn_init failed: no connection table");
	if (make_listener() != 0)
		skip_all("no loopback TCP listener");
	rt_req_sink_install(&test_sink);
	rt_sink_set_wants_spans(1);
	size_t live0;
	rt_conn_tracked(&live0);

	test_basic();
	test_keepalive();
	test_pipelining();
	test_framing();
	test_traceparent();
	test_upgrade();
	test_not_http();
	test_tls();
	test_h2();
	test_close();
	test_reuse();
	test_slow();

	size_t live;
	rt_conn_tracked(&live);
	is_int(live, live0, "no connection left tracked");
	close(listener);
	return done_testing();
}
