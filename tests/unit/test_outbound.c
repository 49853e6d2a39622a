/* test_outbound.c: the client side of a connection the service opened (track/outbound.c),
 * driven directly: requests written in pieces become calls with their method, path,
 * status and times; pipelined and keep-alive calls pair with their answers; hostile
 * answers end a call failed and stop parsing, never producing a status; other
 * protocols are timed as exchanges. Then the traceparent edit: where the line goes,
 * that the stream is the service's bytes plus exactly one line per head whatever the
 * pieces and however short the system call's writes, and when it is left out (a head
 * with its own traceparent, one over the parse limit, no request served). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "track/outbound.h"

static const rt_call_parent_t parent = {
	.serial = 7, .owner = (void *)1,
	.trace_id = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e,
		      0x0e, 0x47, 0x36 },
	.span_id = { 0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 },
	.flags = 1,
};

static rt_out_t o;
static rt_out_done_t d;

static void open_conn(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "10.0.0.5", &a.sin_addr);
	rt_out_init(&o, (struct sockaddr *)&a, sizeof a, 100, &parent, 0);
	memset(&d, 0, sizeof d);
}

static void wrote(const char *s, size_t n, uint64_t t)
{
	struct iovec v = { (void *)s, n };
	rt_out_wrote(&o, &parent, 0, &v, 1, n, t, t, &d);
}

static void read_s(const char *s, uint64_t t)
{
	struct iovec v = { (void *)s, strlen(s) };
	rt_out_read(&o, &v, 1, v.iov_len, t, &d);
}

/* ---- calls ---- */

static void test_calls(void)
{
	open_conn(8080);
	is_str(o.peer.text, "10.0.0.5:8080", "peer as text");
	const char *req = "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
	for (size_t i = 0; req[i]; i++) /* one byte a write */
		wrote(req + i, 1, 200 + i);
	is_int(d.ncalls, 0, "no call ends before its answer");
	read_s("HTTP/1.1 503 Busy\r\nContent-Len", 1000);
	read_s("gth: 2\r\n\r\nno", 2000);
	is_int(d.ncalls, 1, "the answer ends the call");
	rt_call_t *c = &d.calls[0];
	ok(c->kind == RT_CALL_HTTP && c->status == 503 && !c->failed, "HTTP call, status 503");
	ok(c->method_len == 3 && !memcmp(c->method, "GET", 3) && c->path_len == 4 &&
	   !memcmp(c->path, "/a/b", 4) && c->query_len == 0, "method and path, no query");
	is_int((long long)c->start_mono_ns, 100, "the first call starts at its connect");
	is_int((long long)c->end_mono_ns, 2000, "and ends with its answer's last byte");
	ok(d.nds == 1 && d.ds[0].calls == 1 && d.ds[0].ns == 1900, "downstream time: 1 call, 1900 ns");

	/* keep-alive, pipelined: two requests in one write, answers in one read */
	memset(&d, 0, sizeof d);
	const char *two = "GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\n";
	wrote(two, strlen(two), 3000);
	read_s("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 204 No\r\nContent-Length: 9\r\n\r\n", 4000);
	ok(d.ncalls == 2 && d.calls[0].status == 200 && d.calls[1].status == 204 &&
	   d.calls[1].is_head && d.calls[0].start_mono_ns == 3000, "pipelined: two calls, in order, HEAD without body");
	ok(d.nds == 1 && d.ds[0].calls == 2, "both counted downstream");

	/* POST with a body, the body sent unseen (sendfile) */
	memset(&d, 0, sizeof d);
	wrote("POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\n", 40, 5000);
	rt_out_wrote(&o, &parent, 0, NULL, 0, 10, 5001, 5001, &d);
	read_s("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 6000);
	ok(d.ncalls == 1 && d.calls[0].status == 201, "a body sent by sendfile keeps the framing");
	is_int(o.mode, RT_OUT_HTTP, "still HTTP");
}

static void test_hostile(void)
{
	static const char *bad[] = { "\x01\x02garbage\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "SSH-2.0-x\r\n" };
	for (int k = 0; k < 3; k++) {
		open_conn(80);
		wrote("GET / HTTP/1.1\r\n\r\n", 18, 200);
		read_s(bad[k], 300);
		ok(d.ncalls == 1 && d.calls[0].failed && d.calls[0].status == 0,
		   "hostile answer %d: the call fails, no status", k);
		is_int(o.mode, RT_OUT_DEAD, "and the connection is no longer parsed");
		wrote("GET / HTTP/1.1\r\n\r\n", 18, 400);
		read_s("HTTP/1.1 200 OK\r\n\r\n", 500);
		is_int(d.ncalls, 1, "nothing more from it");
	}
	/* a head over the limit */
	open_conn(80);
	wrote("GET / HTTP/1.1\r\n\r\n", 18, 200);
	read_s("HTTP/1.1 200 OK\r\nX-Big: ", 300);
	char *big = malloc(1 << 20);
	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = 0;
	read_s(big, 400);
	free(big);
	ok(d.ncalls == 1 && d.calls[0].failed && d.calls[0].status == 0, "a 1 MiB header: failed, no status");
	/* truncated, then closed */
	open_conn(80);
	wrote("GET / HTTP/1.1\r\n\r\n", 18, 200);
	read_s("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123", 300);
	rt_out_closing(&o, 900, &d);
	ok(d.ncalls == 1 && d.calls[0].failed && d.calls[0].end_mono_ns == 900, "cut short by close: failed");
	/* an answer to nothing */
	open_conn(80);
	read_s("HTTP/1.1 200 OK\r\n\r\n", 300);
	ok(d.ncalls == 0 && o.mode == RT_OUT_OTHER, "a server speaking first is another protocol");
	/* close-delimited body */
	open_conn(80);
	wrote("GET / HTTP/1.0\r\n\r\n", 18, 200);
	read_s("HTTP/1.0 200 OK\r\n\r\nbody", 300);
	rt_out_closing(&o, 400, &d);
	ok(d.ncalls == 1 && !d.calls[0].failed && d.calls[0].status == 200, "a body ended by close is whole");
}

static void test_other(void)
{
	open_conn(6379);
	ok(o.peer.db_system && !strcmp(o.peer.db_system, "redis"), "6379 is redis");
	wrote("*1\r\n$4\r\nPING\r\n", 14, 200);
	is_int(o.mode, RT_OUT_OTHER, "not HTTP: exchanges");
	read_s("+PO", 300);
	read_s("NG\r\n", 350);
	is_int(d.nds, 1, "downstream counted as answers arrive");
	ok(d.ds[0].calls == 1 && d.ds[0].ns == 250, "one exchange, 250 ns from connect to last byte");
	wrote("*1\r\n$4\r\nPING\r\n", 14, 500);
	ok(d.ncalls == 1 && d.calls[0].kind == RT_CALL_PEER && d.calls[0].end_mono_ns == 350,
	   "the next question ends the first exchange at its last answer byte");
	read_s("+PONG\r\n", 600);
	rt_out_closing(&o, 700, &d);
	ok(d.ncalls == 2 && d.calls[1].start_mono_ns == 500 && d.calls[1].end_mono_ns == 600, "close ends the second");
	/* a failed connect */
	open_conn(5432);
	rt_out_connect_failed(&o, &parent, 900, &d);
	ok(d.ncalls == 1 && d.calls[0].failed && d.calls[0].start_mono_ns == 100 &&
	   d.calls[0].end_mono_ns == 900, "a failed connect is a failed call from connect to outcome");
}

/* ---- the edit ---- */

/* Writes the service's stream in pieces of the given sizes, through plan and
 * edit_sent, the "kernel" accepting at most cap bytes a call; returns the stream. */
static size_t run_stream(const char *svc, size_t n, const size_t *pieces, size_t npieces,
			 size_t cap, char *wire, int with_parent, int *calls_made)
{
	size_t w = 0, off = 0, k = 0;
	*calls_made = 0;
	while (off < n) {
		size_t len = pieces ? pieces[k++ % npieces] : n;
		if (len > n - off)
			len = n - off;
		/* one call of the service's: loop until it returns > 0 */
		for (;;) {
			rt_out_plan_t pl;
			struct iovec v = { (void *)(svc + off), len };
			rt_out_plan(&o, with_parent ? &parent : NULL, 1, &v, 1, len, &pl);
			if (pl.owed_len) {
				size_t s = pl.owed_len < cap ? pl.owed_len : cap;
				memcpy(wire + w, pl.owed, s);
				w += s;
				rt_out_owed_sent(&o, s);
				continue;
			}
			static char tmp[32768];
			size_t tn = 0, from = 0;
			for (int e = 0; e < pl.nedits; e++) {
				memcpy(tmp + tn, svc + off + from, pl.e[e].at - from);
				tn += pl.e[e].at - from;
				memcpy(tmp + tn, pl.e[e].line, pl.line_len);
				tn += pl.line_len;
				from = pl.e[e].at;
			}
			memcpy(tmp + tn, svc + off + from, len - from);
			tn += len - from;
			size_t m = tn < cap ? tn : cap;
			memcpy(wire + w, tmp, m);
			w += m;
			size_t mine = pl.nedits ? rt_out_edit_sent(&o, &pl, m, &d) : m;
			if (mine)
				rt_out_wrote(&o, with_parent ? &parent : NULL, 1, &v, 1, mine, 1, 1, &d);
			(*calls_made)++;
			/* the upstream answers what it has whole */
			while (o.mode == RT_OUT_HTTP && o.qn > (o.writing >= 0 ? 1u : 0u))
				read_s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
			if (mine) {
				off += mine;
				len = mine; /* as a service would: it goes on after what was written */
				break;
			}
		}
	}
	return w;
}

/* Removes every "traceparent: ..." line from wire; returns the new length and counts
 * the lines, checking each sits right before a blank line. */
static size_t strip_lines(char *wire, size_t n, int *lines, int *misplaced)
{
	size_t r = 0, i = 0;
	*lines = *misplaced = 0;
	while (i < n) {
		if (n - i >= 48 && !memcmp(wire + i, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736", 48) &&
		    i >= 2 && wire[i - 1] == '\n') {
			char *eol = memchr(wire + i, '\n', n - i);
			size_t end = (size_t)(eol - wire) + 1;
			if (!(end + 2 <= n && wire[end] == '\r' && wire[end + 1] == '\n'))
				(*misplaced)++;
			if (end - i != 70 || memcmp(wire + i + 16, "4bf92f3577b34da6a3ce929d0e0e4736", 32))
				(*misplaced)++;
			(*lines)++;
			i = end;
			continue;
		}
		wire[r++] = wire[i++];
	}
	return r;
}

static void test_edit(void)
{
	char svc[4096];
	size_t n = 0;
	int heads = 0;
	for (int i = 0; i < 20; i++, heads++) {
		if (i % 4 == 3)
			n += (size_t)sprintf(svc + n, "POST /p%d HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde", i);
		else if (i == 6)
			n += (size_t)sprintf(svc + n, "GET /t HTTP/1.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
		else
			n += (size_t)sprintf(svc + n, "GET /g%d HTTP/1.1\r\nHost: example\r\n\r\n", i);
	}
	static const size_t splits[][4] = { { 200, 200, 200, 200 }, { 1, 1, 1, 1 }, { 7, 3, 11, 2 },
					    { 17, 17, 17, 17 }, { 40, 1, 1, 5 } };
	static const size_t caps[] = { 100000, 1, 5, 33, 69, 71 };
	int all_ok = 1, tries = 0;
	for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++)
		for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
			char wire[16384];
			int calls, lines, misplaced;
			open_conn(80);
			size_t w = run_stream(svc, n, splits[s], 4, caps[c], wire, 1, &calls);
			size_t r = strip_lines(wire, w, &lines, &misplaced);
			int good = r == n && !memcmp(wire, svc, n) && lines == heads - 1 && !misplaced;
			if (!good)
				diag("split %zu cap %zu: %zu bytes (want %zu), %d lines (want %d), %d misplaced",
				     s, caps[c], r, n, lines, heads - 1, misplaced);
			all_ok &= good;
			tries++;
		}
	ok(all_ok, "%d ways of writing 20 heads: the service's bytes in order plus one line in each "
	   "head without its own, right before its blank line", tries);

	/* more heads in one call than it edits: the rest pass untouched and are counted */
	{
		char wire3[16384];
		int calls3, lines3, misplaced3;
		open_conn(80);
		size_t w3 = run_stream(svc, n, NULL, 0, 100000, wire3, 1, &calls3);
		size_t r3 = strip_lines(wire3, w3, &lines3, &misplaced3);
		ok(r3 == n && !memcmp(wire3, svc, n) && lines3 == RT_OUT_EDITS_MAX && !misplaced3 &&
		   d.skipped == 1 && o.mode == RT_OUT_DEAD,
		   "20 heads in one write: %d edited, the rest untouched; more than %d requests in "
		   "flight stop the following of that connection, counted once", RT_OUT_EDITS_MAX,
		   RT_OUT_CALLS);
	}

	/* the span id in the line is the call's */
	open_conn(80);
	char wire[512];
	int calls, lines, misplaced;
	const char *one = "GET /x HTTP/1.1\r\n\r\n";
	size_t w = run_stream(one, strlen(one), NULL, 0, 100000, wire, 1, &calls);
	read_s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 10);
	char hex[17];
	for (int i = 0; i < 8; i++)
		sprintf(hex + 2 * i, "%02x", d.calls[0].span_id[i]);
	ok(d.ncalls == 1 && d.calls[0].injected && w > 66 && !memcmp(wire + 17 + 49, hex, 16),
	   "the line carries the client span's id, and the call knows it was sent");
	(void)lines, (void)misplaced;

	/* no request served: untouched */
	open_conn(80);
	w = run_stream(one, strlen(one), NULL, 0, 100000, wire, 0, &calls);
	ok(w == strlen(one) && !memcmp(wire, one, w), "no request served: the head is untouched");

	/* a head over the parse limit passes untouched and is counted */
	open_conn(80);
	static char hugehead[12000];
	size_t hn = (size_t)sprintf(hugehead, "GET / HTTP/1.1\r\nX-Big: ");
	memset(hugehead + hn, 'b', 10000);
	hn += 10000;
	hn += (size_t)sprintf(hugehead + hn, "\r\n\r\n");
	static char wire2[20000];
	d.skipped = 0;
	w = run_stream(hugehead, hn, NULL, 0, 100000, wire2, 1, &calls);
	ok(w == hn && !memcmp(wire2, hugehead, hn) && d.skipped == 1,
	   "a head over 8 KiB is passed untouched and counted as skipped");

	/* a blank line begun in an earlier write (its LF first here): too late, counted */
	open_conn(80);
	static const size_t lf_split[] = { 17, 2 };
	const char *two = "GET /x HTTP/1.1\r\n\n"; /* bare-LF blank line, alone in the 2nd write */
	d.skipped = 0;
	w = run_stream(two, strlen(two), lf_split, 2, 100000, wire, 1, &calls);
	ok(w == strlen(two) && !memcmp(wire, two, w) && d.skipped == 1,
	   "a blank line that began in an earlier write passes untouched, counted");
}

static void test_line(void)
{
	char line[RT_OUT_LINE_MAX];
	size_t n = rt_out_traceparent_line(line, parent.trace_id, parent.span_id, 1);
	ok(n == 70 && !memcmp(line, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n", 70),
	   "traceparent line format");
}

int main(void)
{
	test_calls();
	test_hostile();
	test_other();
	test_edit();
	test_line();
	return done_testing();
}
