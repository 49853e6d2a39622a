/* fuzz_http.c: libFuzzer target for the incremental HTTP/1.x parsers (runtime/track/http.c).
 * Owns the parsers' invariants under arbitrary bytes split at arbitrary points; the
 * table-driven cases are tests/unit/test_http.c's.
 *
 * Input: byte 0 picks how the streams are cut into reads (whole, byte by byte, fixed
 * size, random sizes), byte 1 seeds the random sizes and (bit 7) feeds some response
 * pieces as opaque sendfile bytes (buf == NULL). The rest is the request stream, then
 * optionally MARKER and the response stream. Requests are fed first; responses are
 * then fed as track/conn.c feeds them: rt_http_resp_expect() with the is_head of the
 * request each response answers, in order, and no response without a request.
 *
 * Checked, for every feed: it never consumes more than given; RT_HTTP_EV_NONE only
 * once all is consumed; events come in order (BEGIN HEAD END, or BEGIN UPGRADE for a
 * 101); ERROR and UPGRADE are final; no call allocates; fields are within their
 * arrays and hold only what the grammar lets in; a head is at most 8 KiB; a body is
 * exactly its Content-Length. And the same streams fed whole must give the same
 * events at the same offsets with the same fields (BEGIN's offset may differ: it is
 * reported early when the first line is split). */
#include "fuzz.h"

#include "track/http.h"

#define MARKER "\0RESPONSE\0"
#define MARKER_LEN (sizeof MARKER - 1)
#define MAX_LOG 256 /* events kept for a readable mismatch report */

enum { PH_IDLE, PH_BEGUN, PH_HEAD, PH_DONE };

typedef struct cut {
	uint8_t mode, fixed, opaque;
	uint32_t rng;
} cut_t;

/* What one pass saw, to compare a cut pass with a whole one. */
typedef struct trace {
	size_t n;
	uint64_t hash;
	struct { int ev; size_t off; uint64_t fields; } log[MAX_LOG];
} trace_t;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void trace_add(trace_t *t, int ev, size_t off, uint64_t fields)
{
	if (ev == RT_HTTP_EV_BEGIN || ev == RT_HTTP_EV_ERROR)
		off = 0; /* by design these may be reported at different offsets */
	if (t->n < MAX_LOG) {
		t->log[t->n].ev = ev;
		t->log[t->n].off = off;
		t->log[t->n].fields = fields;
	}
	t->n++;
	t->hash = fnv(t->hash, &ev, sizeof ev);
	t->hash = fnv(t->hash, &off, sizeof off);
	t->hash = fnv(t->hash, &fields, sizeof fields);
}

static size_t next_piece(cut_t *c, size_t left)
{
	static const uint32_t spans[] = { 2, 8, 64, 1024, 16384 };
	size_t n;
	switch (c->mode) {
	case 0: n = left; break;
	case 1: n = 1; break;
	case 2: n = c->fixed; break;
	default: {
		uint32_t r = fuzz_rand(&c->rng);
		n = 1 + fuzz_rand(&c->rng) % spans[r % 5];
	}
	}
	return n < left ? n : left;
}

static int ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* ---- request direction ---- */

typedef struct req_run {
	rt_http_req_t p;
	int phase;
	size_t msg_start, head_off;  /* stream offsets */
	uint8_t heads[1024];         /* is_head of each begun request, for the responses */
	size_t nreq;
} req_run_t;

static uint64_t req_fields(const rt_http_req_t *p)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv(h, p->method, p->method_len);
	h = fnv(h, p->path, p->path_len);
	h = fnv(h, p->query, p->query_len);
	h = fnv(h, p->traceparent, p->traceparent_len);
	h = fnv(h, p->user_agent, p->user_agent_len);
	uint8_t f[] = { p->method_len, p->http_minor, p->is_head, p->chunked,
			p->has_content_length, p->conn_close, p->path_truncated,
			p->traceparent_overlong, p->traceparent_len, p->user_agent_len };
	h = fnv(h, f, sizeof f);
	h = fnv(h, &p->path_len, sizeof p->path_len);
	h = fnv(h, &p->query_len, sizeof p->query_len);
	return fnv(h, &p->content_length, sizeof p->content_length);
}

static void check_req_head(const rt_http_req_t *p)
{
	FUZZ_CHECK(p->method_len >= 1 && p->method_len < RT_HTTP_METHOD_MAX, "method_len %u",
		   p->method_len);
	FUZZ_CHECK(p->method[0] >= 'A' && p->method[0] <= 'Z', "method[0] 0x%02x",
		   (unsigned char)p->method[0]);
	for (size_t i = 1; i < p->method_len; i++) {
		char ch = p->method[i];
		FUZZ_CHECK((ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_', "method byte 0x%02x",
			   (unsigned char)ch);
	}
	FUZZ_CHECK(p->path_len <= RT_HTTP_PATH_MAX, "path_len %u", p->path_len);
	FUZZ_CHECK(p->query_len <= RT_HTTP_QUERY_MAX, "query_len %u", p->query_len);
	FUZZ_CHECK(p->traceparent_len <= RT_HTTP_TRACEPARENT_MAX, "tp_len %u", p->traceparent_len);
	FUZZ_CHECK(p->user_agent_len <= RT_HTTP_UA_MAX, "ua_len %u", p->user_agent_len);
	FUZZ_CHECK(!p->path_truncated || p->path_len == RT_HTTP_PATH_MAX, "truncated, path_len %u",
		   p->path_len);
	FUZZ_CHECK(p->http_minor <= 1 && p->is_head <= 1 && p->chunked <= 1 &&
		   p->has_content_length <= 1 && p->conn_close <= 1, "flag out of range");
	FUZZ_CHECK(p->is_head == (p->method_len == 4 && memcmp(p->method, "HEAD", 4) == 0),
		   "is_head %u for %.*s", p->is_head, p->method_len, p->method);
	FUZZ_CHECK(p->has_content_length || p->content_length == 0, "length %llu without header",
		   (unsigned long long)p->content_length);
	for (size_t i = 0; i < p->path_len; i++)
		FUZZ_CHECK(!ctl((unsigned char)p->path[i]) && p->path[i] != ' ' && p->path[i] != '?',
			   "path byte 0x%02x", (unsigned char)p->path[i]);
	for (size_t i = 0; i < p->query_len; i++)
		FUZZ_CHECK(!ctl((unsigned char)p->query[i]) && p->query[i] != ' ', "query byte 0x%02x",
			   (unsigned char)p->query[i]);
	for (size_t i = 0; i < p->traceparent_len; i++)
		FUZZ_CHECK(!ctl((unsigned char)p->traceparent[i]), "traceparent byte 0x%02x",
			   (unsigned char)p->traceparent[i]);
	if (p->traceparent_len) {
		char last = p->traceparent[p->traceparent_len - 1];
		FUZZ_CHECK(last != ' ' && last != '\t', "traceparent not trimmed");
		FUZZ_CHECK(p->traceparent[0] != ' ' && p->traceparent[0] != '\t',
			   "traceparent leading blank");
	}
	for (size_t i = 0; i < p->user_agent_len; i++)
		FUZZ_CHECK(!ctl((unsigned char)p->user_agent[i]), "user-agent byte 0x%02x",
			   (unsigned char)p->user_agent[i]);
}

/* The private state's indexes stay inside its arrays. (head_bytes may pass the limit
 * once a long first line is taken whole: the next line is then refused. The limit
 * itself is checked where it shows, at HEAD.) */
static void check_state(const rt_http_state_t *s)
{
	FUZZ_CHECK(s->name_len <= sizeof s->name || s->name_len == 0xff, "name_len %u", s->name_len);
	FUZZ_CHECK(s->win_len <= sizeof s->win, "win_len %u", s->win_len);
}

/* One request event at stream offset off (just past the bytes consumed). */
static void req_event(req_run_t *r, const char *stream, int ev, size_t off, trace_t *t)
{
	rt_http_req_t *p = &r->p;
	switch (ev) {
	case RT_HTTP_EV_BEGIN:
		FUZZ_CHECK(r->phase == PH_IDLE, "BEGIN in phase %d", r->phase);
		r->phase = PH_BEGUN;
		while (stream[r->msg_start] == '\r' || stream[r->msg_start] == '\n')
			r->msg_start++; /* blank lines between requests are not the head */
		FUZZ_CHECK(off > r->msg_start, "BEGIN at %zu before its first byte %zu", off,
			   r->msg_start);
		if (r->nreq < sizeof r->heads)
			r->heads[r->nreq] = 0;
		r->nreq++;
		break;
	case RT_HTTP_EV_HEAD:
		FUZZ_CHECK(r->phase == PH_BEGUN, "HEAD in phase %d", r->phase);
		r->phase = PH_HEAD;
		r->head_off = off;
		check_req_head(p);
		FUZZ_CHECK(off - r->msg_start <= RT_HTTP_HEADER_LIMIT, "head of %zu bytes accepted",
			   off - r->msg_start);
		if (r->nreq <= sizeof r->heads)
			r->heads[r->nreq - 1] = p->is_head;
		break;
	case RT_HTTP_EV_END:
		FUZZ_CHECK(r->phase == PH_HEAD, "END in phase %d", r->phase);
		if (!p->chunked)
			FUZZ_CHECK(off - r->head_off == p->content_length,
				   "body of %zu bytes, Content-Length %llu", off - r->head_off,
				   (unsigned long long)p->content_length);
		r->phase = PH_IDLE;
		r->msg_start = off;
		break;
	case RT_HTTP_EV_ERROR:
		r->phase = PH_DONE;
		break;
	default:
		FUZZ_CHECK(0, "request event %d", ev);
	}
	trace_add(t, ev, off, ev == RT_HTTP_EV_HEAD ? req_fields(p) : 0);
	if (ev != RT_HTTP_EV_ERROR)
		check_state(&p->s);
}

/* Feeds one read as track/conn.c's feed_request does: until NONE. */
static void req_feed_piece(req_run_t *r, const char *stream, size_t at, size_t n, trace_t *t)
{
	char *piece = fuzz_piece(stream + at, n);
	const char *b = piece;
	size_t calls = 0, limit = 3 * n + 4;
	for (;;) {
		int ev = -1;
		size_t used;
		FUZZ_NO_ALLOC("rt_http_req_feed", used = rt_http_req_feed(&r->p, b, n, &ev));
		FUZZ_CHECK(used <= n, "consumed %zu of %zu", used, n);
		FUZZ_CHECK(++calls <= limit, "no progress after %zu calls", calls);
		b += used;
		n -= used;
		at += used;
		if (ev == RT_HTTP_EV_NONE) {
			FUZZ_CHECK(n == 0, "NONE with %zu bytes left", n);
			break;
		}
		req_event(r, stream, ev, at, t);
		if (ev == RT_HTTP_EV_ERROR) {
			FUZZ_CHECK(rt_http_req_feed(&r->p, "G", 1, &ev) == 0 &&
					   ev == RT_HTTP_EV_ERROR, "parser went on after ERROR");
			break;
		}
	}
	free(piece);
}

static void run_requests(req_run_t *r, const char *s, size_t len, cut_t c, trace_t *t)
{
	rt_http_req_init(&r->p);
	for (size_t at = 0; at < len && r->phase != PH_DONE;) {
		size_t n = next_piece(&c, len - at);
		req_feed_piece(r, s, at, n, t);
		at += n;
	}
}

/* ---- response direction ---- */

typedef struct resp_run {
	rt_http_resp_t p;
	int phase, fresh, stop;
	size_t head_off, answered;
	uint8_t expect_head;
	rt_http_resp_t at_head; /* the fields at HEAD: END resets all but status */
} resp_run_t;

static uint64_t resp_fields(const rt_http_resp_t *p)
{
	uint8_t f[] = { p->chunked, p->has_content_length, p->conn_close, p->http_minor };
	uint64_t h = fnv(0xcbf29ce484222325ull, f, sizeof f);
	h = fnv(h, &p->status, sizeof p->status);
	return fnv(h, &p->content_length, sizeof p->content_length);
}

static void resp_event(resp_run_t *r, int ev, size_t off, trace_t *t)
{
	rt_http_resp_t *p = &r->p;
	switch (ev) {
	case RT_HTTP_EV_BEGIN:
		FUZZ_CHECK(r->phase == PH_IDLE, "BEGIN in phase %d", r->phase);
		r->phase = PH_BEGUN;
		break;
	case RT_HTTP_EV_HEAD:
		FUZZ_CHECK(r->phase == PH_BEGUN, "HEAD in phase %d", r->phase);
		FUZZ_CHECK(p->status >= 200 && p->status <= 999, "final status %u", p->status);
		FUZZ_CHECK(p->http_minor <= 1 && p->chunked <= 1 && p->has_content_length <= 1 &&
			   p->conn_close <= 1, "flag out of range");
		FUZZ_CHECK(p->body_bytes == 0, "body bytes %llu at HEAD",
			   (unsigned long long)p->body_bytes);
		r->phase = PH_HEAD;
		r->head_off = off;
		r->at_head = *p;
		break;
	case RT_HTTP_EV_END:
		FUZZ_CHECK(r->phase == PH_HEAD, "END in phase %d", r->phase);
		p = &r->at_head;
		if (r->expect_head || p->status == 204 || p->status == 304)
			FUZZ_CHECK(off == r->head_off, "bodiless response has %zu body bytes",
				   off - r->head_off);
		else if (p->has_content_length && !p->chunked)
			FUZZ_CHECK(off - r->head_off == p->content_length,
				   "body of %zu bytes, Content-Length %llu", off - r->head_off,
				   (unsigned long long)p->content_length);
		else
			FUZZ_CHECK(p->chunked, "close-delimited body ended before close");
		r->phase = PH_IDLE;
		r->fresh = 1;
		r->answered++;
		break;
	case RT_HTTP_EV_UPGRADE:
		FUZZ_CHECK(r->phase == PH_BEGUN, "UPGRADE in phase %d", r->phase);
		FUZZ_CHECK(p->status == 101, "UPGRADE with status %u", p->status);
		r->stop = 1;
		break;
	case RT_HTTP_EV_ERROR:
		r->stop = 1;
		break;
	default:
		FUZZ_CHECK(0, "response event %d", ev);
	}
	p = &r->p;
	trace_add(t, ev, off, ev == RT_HTTP_EV_HEAD ? resp_fields(p) : 0);
	if (ev != RT_HTTP_EV_ERROR && ev != RT_HTTP_EV_UPGRADE)
		check_state(&p->s);
	if (r->stop) {
		int again = -1;
		FUZZ_CHECK(rt_http_resp_feed(p, "H", 1, &again) == 0 && again == ev,
			   "parser went on after event %d", ev);
	}
}

/* Feeds one write as track/conn.c's feed_response does. */
static void resp_feed_piece(resp_run_t *r, const req_run_t *q, const char *stream, size_t at,
			    size_t n, int opaque, trace_t *t)
{
	char *piece = opaque ? NULL : fuzz_piece(stream + at, n);
	const char *b = piece;
	size_t calls = 0, limit = 3 * n + 4;
	while (!r->stop) {
		int ev = -1;
		if (r->fresh) {
			size_t k = r->answered;
			if (k >= q->nreq) {
				r->stop = 1; /* answering nothing: not HTTP */
				break;
			}
			r->expect_head = k < sizeof q->heads ? q->heads[k] : 0;
			rt_http_resp_expect(&r->p, r->expect_head);
			r->fresh = 0;
		}
		size_t used;
		FUZZ_NO_ALLOC("rt_http_resp_feed", used = rt_http_resp_feed(&r->p, b, n, &ev));
		FUZZ_CHECK(used <= n, "consumed %zu of %zu", used, n);
		FUZZ_CHECK(++calls <= limit, "no progress after %zu calls", calls);
		if (b)
			b += used;
		n -= used;
		at += used;
		if (ev == RT_HTTP_EV_NONE) {
			FUZZ_CHECK(n == 0, "NONE with %zu bytes left", n);
			break;
		}
		resp_event(r, ev, at, t);
		/* BEGIN and HEAD may owe an event to a call with no bytes; END owes none */
		if (n == 0 && ev != RT_HTTP_EV_BEGIN && ev != RT_HTTP_EV_HEAD)
			break;
	}
	free(piece);
}

static void run_responses(resp_run_t *r, const req_run_t *q, const char *s, size_t len,
			  cut_t c, trace_t *t)
{
	rt_http_resp_init(&r->p);
	r->fresh = 1;
	for (size_t at = 0; at < len && !r->stop;) {
		size_t n = next_piece(&c, len - at);
		int opaque = c.opaque && (fuzz_rand(&c.rng) & 3) == 0;
		resp_feed_piece(r, q, s, at, n, opaque, t);
		at += n;
	}
	if (!r->stop && rt_http_resp_eof(&r->p)) {
		FUZZ_CHECK(r->phase == PH_HEAD && !r->p.chunked && !r->p.has_content_length &&
				   !r->expect_head,
			   "close ends a response in phase %d (chunked %u, length %u)", r->phase,
			   r->p.chunked, r->p.has_content_length);
		trace_add(t, 100, len, 0); /* the close-delimited END */
	}
}

/* ---- the target ---- */

static void run_both(const char *req, size_t req_len, const char *resp, size_t resp_len,
		     cut_t c, trace_t *t)
{
	static req_run_t q;
	static resp_run_t r;
	memset(&q, 0, sizeof q);
	memset(&r, 0, sizeof r);
	memset(t, 0, sizeof *t);
	run_requests(&q, req, req_len, c, t);
	trace_add(t, 200, 0, 0); /* separates the directions */
	if (resp)
		run_responses(&r, &q, resp, resp_len, c, t);
}

static void compare(const trace_t *a, const trace_t *b, const cut_t *c)
{
	if (a->n == b->n && a->hash == b->hash)
		return;
	fprintf(stderr, "whole and cut (mode %u) feeds differ: %zu vs %zu events\n", c->mode,
		a->n, b->n);
	for (size_t i = 0; i < MAX_LOG && (i < a->n || i < b->n); i++)
		fprintf(stderr, "  %3zu: ev %d @%zu %016llx | ev %d @%zu %016llx\n", i,
			i < a->n ? a->log[i].ev : -1, i < a->n ? a->log[i].off : 0,
			i < a->n ? (unsigned long long)a->log[i].fields : 0ull,
			i < b->n ? b->log[i].ev : -1, i < b->n ? b->log[i].off : 0,
			i < b->n ? (unsigned long long)b->log[i].fields : 0ull);
	FUZZ_CHECK(0, "split points changed what the parser saw");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_count_allocs_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static trace_t whole, cut;
	if (size < 2)
		return 0;
	cut_t c = { .mode = data[0] & 3, .fixed = (uint8_t)(1 + (data[0] >> 2)),
		    .opaque = (data[1] & 0x80) != 0, .rng = (uint32_t)data[0] << 8 | data[1] };
	const char *s = (const char *)data + 2, *resp = NULL;
	size_t len = size - 2, req_len = len, resp_len = 0;
	const char *m = memmem(s, len, MARKER, MARKER_LEN);
	if (m) {
		req_len = (size_t)(m - s);
		resp = m + MARKER_LEN;
		resp_len = len - req_len - MARKER_LEN;
	}
	cut_t all = { .mode = 0 };
	run_both(s, req_len, resp, resp_len, all, &whole);
	run_both(s, req_len, resp, resp_len, c, &cut);
	if (!c.opaque)
		compare(&whole, &cut, &c);
	return 0;
}
