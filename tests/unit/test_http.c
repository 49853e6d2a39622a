/* test_http.c: the HTTP boundary parsers, table-driven. Every case is fed whole, one
 * byte at a time and split at every offset, from a buffer that ends at a PROT_NONE
 * guard page, so an over-read crashes the test. Then hostile input: giant heads,
 * random bytes, other protocols. */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "t.h"
#include "track/http.h"

/* ---- guard-page buffers ---- */

static char *guard_base;
static size_t guard_size;

/* Copies s to the end of a region followed by an inaccessible page. */
static const char *guarded(const char *s, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t need = ((n + page - 1) / page + 1) * page;
	if (guard_base)
		munmap(guard_base, guard_size);
	guard_size = need + page;
	guard_base = mmap(NULL, guard_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(guard_base + need, page, PROT_NONE);
	char *dst = guard_base + need - n;
	memcpy(dst, s, n);
	return dst;
}

/* ---- drivers: count events over a whole input split into given pieces ---- */

typedef struct counts {
	int begin, head, end, error, upgrade;
	char path[64], tp[64];
	int status;
} counts_t;

static void req_events(rt_http_req_t *p, const char *b, size_t n, counts_t *c)
{
	for (;;) {
		int ev;
		size_t used = rt_http_req_feed(p, b, n, &ev);
		b += used;
		n -= used;
		switch (ev) {
		case RT_HTTP_EV_NONE:
			return;
		case RT_HTTP_EV_BEGIN: c->begin++; break;
		case RT_HTTP_EV_HEAD:
			c->head++;
			snprintf(c->path, sizeof c->path, "%.*s", p->path_len, p->path);
			snprintf(c->tp, sizeof c->tp, "%.*s", p->traceparent_len, p->traceparent);
			break;
		case RT_HTTP_EV_END: c->end++; break;
		case RT_HTTP_EV_ERROR: c->error++; return;
		case RT_HTTP_EV_UPGRADE: c->upgrade++; return;
		}
	}
}

static counts_t run_req(const char *s, size_t len, size_t split_a, size_t split_b)
{
	rt_http_req_t p;
	counts_t c = { 0 };
	const char *g = guarded(s, len);
	rt_http_req_init(&p);
	size_t cuts[3] = { split_a, split_b, len };
	size_t at = 0;
	for (int i = 0; i < 3 && !c.error; i++) {
		size_t to = cuts[i] < at ? at : cuts[i] > len ? len : cuts[i];
		req_events(&p, g + at, to - at, &c);
		at = to;
	}
	return c;
}

static counts_t run_req_bytes(const char *s, size_t len)
{
	rt_http_req_t p;
	counts_t c = { 0 };
	rt_http_req_init(&p);
	for (size_t i = 0; i < len && !c.error; i++)
		req_events(&p, guarded(s + i, 1), 1, &c);
	return c;
}

typedef struct req_case {
	const char *name, *in;
	int begin, head, end, error;
	const char *path, *tp;
} req_case_t;

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
static const req_case_t req_cases[] = {
	{ "simple GET", "GET /a/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 1, 1, 1, 0, "/a/b", "" },
	{ "traceparent kept, trimmed", "GET / HTTP/1.1\r\ntraceparent:  " TP " \r\n\r\n", 1, 1, 1, 0, "/", TP },
	{ "first traceparent wins", "GET / HTTP/1.1\r\nTraceParent: " TP "\r\ntraceparent: x\r\n\r\n", 1, 1, 1, 0, "/", TP },
	{ "keep-alive pair", "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 2, 2, 2, 0, "/2", "" },
	{ "POST with body then GET", "POST /u HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /g HTTP/1.0\r\n\r\n", 2, 2, 2, 0, "/g", "" },
	{ "chunked body, extension, trailer", "POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;e=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nGET /n HTTP/1.1\r\n\r\n", 2, 2, 2, 0, "/n", "" },
	{ "bare LF lines", "GET /lf HTTP/1.1\nHost: x\n\n", 1, 1, 1, 0, "/lf", "" },
	{ "leading empty line", "\r\nGET /e HTTP/1.1\r\n\r\n", 1, 1, 1, 0, "/e", "" },
	{ "HTTP/1.0", "GET /old HTTP/1.0\r\n\r\n", 1, 1, 1, 0, "/old", "" },
	{ "HEAD request", "HEAD /h HTTP/1.1\r\nX: y\r\n\r\n", 1, 1, 1, 0, "/h", "" },
	{ "TLS ClientHello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 0, 0, 0, 1, "", "" },
	{ "HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1, 0, 0, 1, "", "" },
	{ "Redis", "*1\r\n$4\r\nPING\r\n", 0, 0, 0, 1, "", "" },
	{ "lowercase method", "get / HTTP/1.1\r\n\r\n", 0, 0, 0, 1, "", "" },
	{ "SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", 1, 0, 0, 1, "", "" },
	{ "conflicting Content-Length", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 1, 0, 0, 1, "", "" },
	{ "Content-Length overflow", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 1, 0, 0, 1, "", "" },
	{ "unframeable Transfer-Encoding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 1, 0, 0, 1, "", "" },
	{ "obsolete line folding", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 1, 0, 0, 1, "", "" },
	/* Values we do not read are skipped to their end of line: the server judges them. */
	{ "control byte in an unread value", "GET /c HTTP/1.1\r\nX: a\001b\r\n\r\n", 1, 1, 1, 0, "/c", "" },
	{ "odd header name: the server's call", "GET /o HTTP/1.1\r\nX Y: 1\r\n\r\n", 1, 1, 1, 0, "/o", "" },
	/* Only lines that can be ours (first byte c, t or u) are read; the rest go to their LF. */
	{ "CR inside a header name", "GET /r HTTP/1.1\r\nX\rY: 1\r\n\r\n", 1, 1, 1, 0, "/r", "" },
	{ "a line without a colon", "GET /n HTTP/1.1\r\nContent-Length 5\r\nNo colon\r\n\r\n", 1, 1, 1, 0, "/n", "" },
	{ "a CR in our name's dash is another name", "POST /p HTTP/1.1\r\nContent\rLength: 5\r\n\r\nGET /g HTTP/1.1\r\n\r\n", 2, 2, 2, 0, "/g", "" },
	{ "a longer name than ours", "POST /p HTTP/1.1\r\nContent-Lengths: 5\r\nTraceparent-X: y\r\n\r\nGET /g HTTP/1.1\r\n\r\n", 2, 2, 2, 0, "/g", "" },
	{ "our names in capitals", "POST /p HTTP/1.1\r\nCONTENT-LENGTH: 3\r\nTRACEPARENT: " TP "\r\n\r\nabc", 1, 1, 1, 0, "/p", TP },
	{ "a colon inside a value", "POST /p HTTP/1.1\r\nCookie: a:b:c\r\nContent-Length: 2\r\nX-Long-Header-Name-Here: v\r\n\r\nabGET /q HTTP/1.1\r\n\r\n", 2, 2, 2, 0, "/q", "" },
	{ "a name ending early: not ours", "POST /p HTTP/1.1\r\ncontent:length: 5\r\n\r\nGET /g HTTP/1.1\r\n\r\n", 2, 2, 2, 0, "/g", "" },
	{ "control byte in Content-Length", "POST / HTTP/1.1\r\nContent-Length: 1\001\r\n\r\nx", 1, 0, 0, 1, "", "" },
	{ "bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1, 1, 0, 1, "", "" },
};

static void test_request_cases(void)
{
	for (size_t i = 0; i < sizeof req_cases / sizeof req_cases[0]; i++) {
		const req_case_t *k = &req_cases[i];
		size_t len = strlen(k->in);
		if (k->in[0] == '\x16')
			len = 11;
		int bad = 0, splits = 0;
		for (size_t a = 0; a <= len; a++) {
			counts_t c = run_req(k->in, len, a, a);
			splits++;
			if (c.begin != k->begin || c.head != k->head || c.end != k->end || c.error != k->error ||
			    (k->head && !k->error && (strcmp(c.path, k->path) || strcmp(c.tp, k->tp)))) {
				if (!bad)
					diag("%s split at %zu: B%d H%d E%d X%d path '%s' tp '%s'", k->name, a,
					     c.begin, c.head, c.end, c.error, c.path, c.tp);
				bad++;
			}
		}
		counts_t c = run_req_bytes(k->in, len);
		if (c.begin != k->begin || c.head != k->head || c.end != k->end || c.error != k->error)
			bad++;
		ok(bad == 0, "request: %s (whole, byte by byte, %d splits)", k->name, splits);
	}
}

static void test_pipeline(void)
{
	char buf[4096] = "";
	for (int i = 0; i < 10; i++)
		strcat(buf, "GET /p HTTP/1.1\r\nHost: a\r\n\r\n");
	counts_t c = run_req(buf, strlen(buf), strlen(buf), strlen(buf));
	ok(c.begin == 10 && c.head == 10 && c.end == 10, "10 pipelined requests in one buffer");
	c = run_req_bytes(buf, strlen(buf));
	ok(c.begin == 10 && c.end == 10, "10 pipelined requests byte by byte");
}

static void test_request_fields(void)
{
	rt_http_req_t p;
	int ev;
	const char *s = "HEAD /x?q=1 HTTP/1.0\r\nConnection: keep-alive\r\nUser-Agent: t/1\r\n\r\n";
	rt_http_req_init(&p);
	size_t used = 0;
	do
		used += rt_http_req_feed(&p, s + used, strlen(s) - used, &ev);
	while (ev != RT_HTTP_EV_HEAD && ev != RT_HTTP_EV_ERROR);
	ok(p.is_head && p.http_minor == 0 && !p.conn_close, "HEAD, HTTP/1.0, keep-alive recognised");
	ok(p.query_len == 3 && memcmp(p.query, "q=1", 3) == 0, "query kept apart from the path");
	ok(p.user_agent_len == 3 && memcmp(p.user_agent, "t/1", 3) == 0, "User-Agent kept");

	/* A long path is truncated, never overflowed. */
	char big[RT_HTTP_PATH_MAX * 3 + 64];
	int n = snprintf(big, sizeof big, "GET /");
	memset(big + n, 'a', RT_HTTP_PATH_MAX * 2);
	n += RT_HTTP_PATH_MAX * 2;
	n += snprintf(big + n, sizeof big - (size_t)n, " HTTP/1.1\r\n\r\n");
	rt_http_req_init(&p);
	used = 0;
	do
		used += rt_http_req_feed(&p, big + used, (size_t)n - used, &ev);
	while (ev != RT_HTTP_EV_HEAD && ev != RT_HTTP_EV_ERROR);
	ok(ev == RT_HTTP_EV_HEAD && p.path_len == RT_HTTP_PATH_MAX && p.path_truncated,
	   "a 1 KiB path is truncated to %d bytes", RT_HTTP_PATH_MAX);

	/* An overlong traceparent is flagged, so it can never be taken as valid. */
	rt_http_req_init(&p);
	const char *t = "GET / HTTP/1.1\r\ntraceparent: " TP TP "\r\n\r\n";
	used = 0;
	do
		used += rt_http_req_feed(&p, t + used, strlen(t) - used, &ev);
	while (ev != RT_HTTP_EV_HEAD && ev != RT_HTTP_EV_ERROR);
	ok(p.traceparent_overlong && p.traceparent_len <= RT_HTTP_TRACEPARENT_MAX,
	   "overlong traceparent flagged and bounded");
}

static void test_giant_head(void)
{
	size_t n = 64 * 1024;
	char *s = malloc(n + 64);
	strcpy(s, "GET / HTTP/1.1\r\nX-Big: ");
	size_t at = strlen(s);
	memset(s + at, 'x', n - at);
	counts_t c = run_req(s, n, n / 2, n);
	ok(c.begin == 1 && c.error == 1 && c.head == 0, "a 64 KiB header block is refused (limit %d)",
	   RT_HTTP_HEADER_LIMIT);
	is_int(sizeof(rt_http_req_t) < 2048, 1, "parser state stays a small fixed size");
	free(s);
}

static void test_random_bytes(void)
{
	uint64_t x = 0x1234567;
	int crashes_would_abort = 0, errors = 0;
	char buf[512];
	for (int i = 0; i < 10000; i++) {
		for (size_t k = 0; k < sizeof buf; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[k] = (char)x;
		}
		counts_t c = run_req(buf, sizeof buf, (size_t)(x % sizeof buf), sizeof buf);
		errors += c.error;
		rt_http_resp_t r;
		rt_http_resp_init(&r);
		int ev;
		size_t used = 0;
		do
			used += rt_http_resp_feed(&r, buf + used, sizeof buf - used, &ev);
		while (ev != RT_HTTP_EV_NONE && ev != RT_HTTP_EV_ERROR && used < sizeof buf);
	}
	ok(!crashes_would_abort && errors > 9900, "10,000 random buffers: no crash, %d refused", errors);
}

/* ---- responses ---- */

typedef struct resp_case {
	const char *name, *in;
	int expect_head;
	int begin, head, end, error, upgrade, status, eof;
} resp_case_t;

static const resp_case_t resp_cases[] = {
	{ "200 with body, then 204", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n", 0, 2, 2, 2, 0, 0, 204, 0 },
	{ "HEAD response has no body", "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n", 1, 1, 1, 1, 0, 0, 200, 0 },
	{ "304 has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 0, 1, 1, 1, 0, 0, 304, 0 },
	{ "100-continue then chunked 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 1, 1, 1, 0, 0, 200, 0 },
	{ "101 upgrade stops parsing", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 0, 1, 0, 0, 0, 1, 101, 0 },
	{ "body until close", "HTTP/1.0 200 OK\r\n\r\nstreaming...", 0, 1, 1, 0, 0, 0, 200, 1 },
	{ "no reason phrase", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", 0, 1, 1, 1, 0, 0, 404, 0 },
	{ "not a status line", "hello world\r\n", 0, 0, 0, 0, 1, 0, 0, 0 },
	{ "HTTP/2 status", "HTTP/2 200\r\n\r\n", 0, 1, 0, 0, 1, 0, 0, 0 },
};

static counts_t run_resp(const resp_case_t *k, size_t split)
{
	rt_http_resp_t p;
	counts_t c = { 0 };
	size_t len = strlen(k->in);
	const char *g = guarded(k->in, len);
	rt_http_resp_init(&p);
	rt_http_resp_expect(&p, k->expect_head);
	size_t cuts[2] = { split, len }, at = 0;
	for (int i = 0; i < 2; i++) {
		const char *b = g + at;
		size_t n = cuts[i] - at;
		at = cuts[i];
		for (;;) {
			int ev;
			size_t used = rt_http_resp_feed(&p, b, n, &ev);
			b += used;
			n -= used;
			if (ev == RT_HTTP_EV_NONE)
				break;
			c.begin += ev == RT_HTTP_EV_BEGIN;
			c.head += ev == RT_HTTP_EV_HEAD;
			c.end += ev == RT_HTTP_EV_END;
			if (ev == RT_HTTP_EV_END)
				rt_http_resp_expect(&p, k->expect_head);
			if (ev == RT_HTTP_EV_ERROR || ev == RT_HTTP_EV_UPGRADE) {
				c.error += ev == RT_HTTP_EV_ERROR;
				c.upgrade += ev == RT_HTTP_EV_UPGRADE;
				goto out;
			}
		}
	}
out:
	c.status = p.status;
	c.tp[0] = (char)rt_http_resp_eof(&p);
	return c;
}

static void test_response_cases(void)
{
	for (size_t i = 0; i < sizeof resp_cases / sizeof resp_cases[0]; i++) {
		const resp_case_t *k = &resp_cases[i];
		int bad = 0;
		for (size_t a = 0; a <= strlen(k->in); a++) {
			counts_t c = run_resp(k, a);
			if (c.begin != k->begin || c.head != k->head || c.end != k->end || c.error != k->error ||
			    c.upgrade != k->upgrade || (!k->error && c.status != k->status) || c.tp[0] != k->eof) {
				if (!bad)
					diag("%s split %zu: B%d H%d E%d X%d U%d status %d eof %d", k->name, a, c.begin,
					     c.head, c.end, c.error, c.upgrade, c.status, c.tp[0]);
				bad++;
			}
		}
		ok(bad == 0, "response: %s (every split)", k->name);
	}
}

static void test_sendfile_bytes(void)
{
	rt_http_resp_t p;
	int ev;
	const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
	rt_http_resp_init(&p);
	rt_http_resp_expect(&p, 0);
	size_t used = 0;
	do
		used += rt_http_resp_feed(&p, h + used, strlen(h) - used, &ev);
	while (ev != RT_HTTP_EV_NONE);
	size_t got = rt_http_resp_feed(&p, NULL, 60000, &ev);
	ok(got == 60000 && ev == RT_HTTP_EV_NONE, "opaque (sendfile) bytes consumed inside a body");
	got = rt_http_resp_feed(&p, NULL, 40000, &ev);
	ok(got == 40000 && ev == RT_HTTP_EV_END, "and the body ends on its last opaque byte");
	got = rt_http_resp_feed(&p, NULL, 10, &ev);
	ok(ev == RT_HTTP_EV_ERROR, "opaque bytes where a status line belongs are refused");
}

/* A look-ahead copy taken anywhere in a stream parses the rest as the original does:
 * same events, same traceparent, same HEAD flags (the path is not the copy's to keep). */
static void test_lookahead(void)
{
	int bad = 0, runs = 0;
	for (size_t i = 0; i < sizeof req_cases / sizeof req_cases[0]; i++) {
		const req_case_t *k = &req_cases[i];
		size_t len = k->in[0] == '\x16' ? 11 : strlen(k->in);
		for (size_t a = 0; a <= len; a++) {
			rt_http_req_t p, q;
			counts_t cp = { 0 }, cq = { 0 }, pre = { 0 };
			rt_http_req_init(&p);
			req_events(&p, guarded(k->in, a), a, &pre);
			if (pre.error)
				continue;
			rt_http_req_lookahead(&q, &p);
			req_events(&q, guarded(k->in + a, len - a), len - a, &cq);
			int q_head = q.is_head, q_chunked = q.chunked;
			uint64_t q_cl = q.content_length;
			req_events(&p, guarded(k->in + a, len - a), len - a, &cp);
			runs++;
			if (cp.begin != cq.begin || cp.head != cq.head || cp.end != cq.end ||
			    cp.error != cq.error || strcmp(cp.tp, cq.tp) || p.is_head != q_head ||
			    p.chunked != q_chunked || p.content_length != q_cl) {
				if (!bad++)
					diag("%s at %zu: B%d/%d H%d/%d E%d/%d X%d/%d", k->name, a, cp.begin,
					     cq.begin, cp.head, cq.head, cp.end, cq.end, cp.error, cq.error);
			}
		}
	}
	ok(bad == 0 && runs > 500, "a look-ahead copy parses the rest as its original does (%d streams, %d cut points)",
	   (int)(sizeof req_cases / sizeof req_cases[0]), runs);
}

int main(void)
{
	test_request_cases();
	test_pipeline();
	test_request_fields();
	test_giant_head();
	test_response_cases();
	test_sendfile_bytes();
	test_random_bytes();
	test_lookahead();
	return done_testing();
}
