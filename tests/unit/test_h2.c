/* test_h2.c: the HTTP/2 frame parser (runtime/track/h2.c) on hand-built frames and
 * hand-encoded HPACK blocks: each conversation is fed whole, one byte at a time and
 * split in two at every offset, and must give the same events and fields each way.
 * Then hostile input: bad lengths, frames out of order, an HPACK bomb, an oversized
 * header block, a table size over the limit, garbage after the preface. */
#include <stdint.h>

#include "t.h"
#include "base/libnghttp2.h"
#include "track/h2.h"

/* ---- building frames ---- */

typedef struct buf {
	uint8_t b[1 << 17];
	size_t n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put8(buf_t *b, unsigned v)
{
	b->b[b->n++] = (uint8_t)v;
}

static void put32(buf_t *b, uint32_t v)
{
	put8(b, v >> 24);
	put8(b, v >> 16 & 0xff);
	put8(b, v >> 8 & 0xff);
	put8(b, v & 0xff);
}

static void frame(buf_t *b, uint32_t len, int type, int flags, uint32_t sid)
{
	put8(b, len >> 16);
	put8(b, len >> 8 & 0xff);
	put8(b, len & 0xff);
	put8(b, (unsigned)type);
	put8(b, (unsigned)flags);
	put32(b, sid);
}

/* HPACK integer with an n-bit prefix whose high bits are `first`. */
static void hint(buf_t *b, unsigned first, int nbits, uint32_t v)
{
	uint32_t max = (1u << nbits) - 1;
	if (v < max) {
		put8(b, first | v);
		return;
	}
	put8(b, first | max);
	v -= max;
	while (v >= 128) {
		put8(b, (v & 127) | 128);
		v >>= 7;
	}
	put8(b, v);
}

static void hstr(buf_t *b, const char *s, size_t n)
{
	hint(b, 0, 7, (uint32_t)n); /* no Huffman */
	put(b, s, n);
}

/* A literal field: indexed (added to the dynamic table) or not. */
static void lit(buf_t *b, const char *name, const char *value, int indexed)
{
	put8(b, indexed ? 0x40 : 0x00);
	hstr(b, name, strlen(name));
	hstr(b, value, strlen(value));
}

static void idx(buf_t *b, uint32_t i)
{
	hint(b, 0x80, 7, i);
}

enum { DATA = 0, HEADERS = 1, PRIORITY = 2, RST = 3, SETTINGS = 4, PUSH = 5, PING = 6,
       GOAWAY = 7, WINDOW = 8, CONT = 9 };
#define END_STREAM 1
#define END_HEADERS 4
#define PADDED 8
#define PRIO 0x20

static void headers(buf_t *b, uint32_t sid, int flags, const buf_t *block)
{
	frame(b, (uint32_t)block->n, HEADERS, flags, sid);
	put(b, block->b, block->n);
}

static void data(buf_t *b, uint32_t sid, int flags, size_t n)
{
	frame(b, (uint32_t)n, DATA, flags, sid);
	for (size_t i = 0; i < n; i++)
		put8(b, 'd');
}

static void settings(buf_t *b, int id, uint32_t v)
{
	frame(b, 6, SETTINGS, 0, 0);
	put8(b, (unsigned)id >> 8);
	put8(b, (unsigned)id & 0xff);
	put32(b, v);
}

/* ---- a conversation: pieces in order, each from the client or the server ---- */

typedef struct piece {
	int dir;
	buf_t *b;
} piece_t;

/* What a run saw, as text: one token per event. */
typedef struct seen {
	char log[4096];
	size_t len;
	int err;
	size_t max_mem;
} seen_t;

static void note(seen_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(seen_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->log + s->len, sizeof s->log - s->len, fmt, ap);
	va_end(ap);
	if (n > 0 && s->len + (size_t)n < sizeof s->log)
		s->len += (size_t)n;
}

static void on_event(rt_h2_t *h, int dir, int ev, seen_t *s)
{
	switch (ev) {
	case RT_H2_EV_HEADERS:
		if (dir == RT_H2_CLIENT)
			note(s, "H%u%s[%.*s %.*s q=%.*s tp=%.*s ua=%.*s] ", h->ev_sid,
			     h->ev_end_stream ? "e" : "", h->req.method_len, h->req.method,
			     h->req.path_len, h->req.path, h->req.query_len, h->req.query,
			     h->req.traceparent_len, h->req.traceparent, h->req.user_agent_len,
			     h->req.user_agent);
		else
			note(s, "h%u%s[%u g=%d] ", h->ev_sid, h->ev_end_stream ? "e" : "", h->status,
			     h->grpc_status);
		break;
	case RT_H2_EV_END_STREAM:
		note(s, "%c%u ", dir == RT_H2_CLIENT ? 'E' : 'e', h->ev_sid);
		break;
	case RT_H2_EV_RST:
		note(s, "%c%u ", dir == RT_H2_CLIENT ? 'R' : 'r', h->ev_sid);
		break;
	case RT_H2_EV_GOAWAY:
		note(s, "%c%u ", dir == RT_H2_CLIENT ? 'G' : 'g', h->ev_sid);
		break;
	case RT_H2_EV_ERROR:
		note(s, "X%d ", h->err);
		s->err = h->err;
		break;
	}
}

/* Feeds n bytes from dir. Returns 0, or -1 on a broken feeding contract (consumed
 * more than given, NONE with bytes left). */
static int feed(rt_h2_t *h, int dir, const uint8_t *b, size_t n, seen_t *s)
{
	while (n > 0) {
		int ev = -1;
		size_t used = rt_h2_feed(h, dir, (const char *)b, n, &ev);
		if (used > n || (ev == RT_H2_EV_NONE && used != n))
			return -1;
		if (h->mem_used > s->max_mem)
			s->max_mem = h->mem_used;
		on_event(h, dir, ev, s);
		if (ev == RT_H2_EV_ERROR)
			return 0;
		b += used;
		n -= used;
	}
	return 0;
}

/* Feeds the pieces in order, each in chunks of at most `chunk` bytes (0: whole). */
static int run(const piece_t *p, int np, size_t chunk, seen_t *s)
{
	rt_h2_t h;
	memset(s, 0, sizeof *s);
	if (rt_h2_init(&h) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < np && rc == 0 && !s->err; i++) {
		const uint8_t *b = p[i].b->b;
		size_t n = p[i].b->n, off = 0;
		while (off < n && rc == 0 && !s->err) {
			size_t k = chunk && chunk < n - off ? chunk : n - off;
			rc = feed(&h, p[i].dir, b + off, k, s);
			off += k;
		}
	}
	rt_h2_free(&h);
	return rc;
}

/* Whole, byte by byte, and each piece in turn cut in two at every offset: all must
 * give `want`. */
static void check(const char *name, const piece_t *p, int np, const char *want)
{
	seen_t s;
	int bad = 0;
	if (run(p, np, 0, &s) != 0)
		bad = 1;
	if (!ok(!bad && strcmp(s.log, want) == 0, "%s: whole", name))
		printf("#   got  '%s'\n#   want '%s'\n", s.log, want);
	bad = run(p, np, 1, &s) != 0 || strcmp(s.log, want) != 0;
	if (!ok(!bad, "%s: byte by byte", name))
		printf("#   got  '%s'\n", s.log);
	int splits = 0, fails = 0;
	/* each piece cut at every offset: fed in two chunks */
	for (int k = 0; k < np; k++) {
		for (size_t c = 1; c < p[k].b->n; c++) {
			rt_h2_t h;
			seen_t t;
			memset(&t, 0, sizeof t);
			rt_h2_init(&h);
			splits++;
			for (int i = 0; i < np && !t.err; i++) {
				if (i == k) {
					feed(&h, p[i].dir, p[i].b->b, c, &t);
					if (!t.err)
						feed(&h, p[i].dir, p[i].b->b + c, p[i].b->n - c, &t);
				} else {
					feed(&h, p[i].dir, p[i].b->b, p[i].b->n, &t);
				}
			}
			rt_h2_free(&h);
			if (strcmp(t.log, want) != 0) {
				if (!fails)
					printf("#   piece %d cut at %zu: got '%s'\n", k, c, t.log);
				fails++;
			}
		}
	}
	ok(fails == 0, "%s: split at every offset (%d splits, %d differ)", name, splits, fails);
}

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static buf_t cli, srv, blk, blk2, cli2, srv2;

static void reset(void)
{
	cli.n = srv.n = blk.n = blk2.n = cli2.n = srv2.n = 0;
}

/* A GET with a traceparent, answered 200 with a body; a second request on stream 3
 * whose fields come from the dynamic table the first one filled. */
static void test_basic(void)
{
	reset();
	put(&cli, RT_H2_PREFACE, RT_H2_PREFACE_LEN);
	settings(&cli, 3, 100);
	frame(&cli, 4, WINDOW, 0, 0);
	put32(&cli, 65535);
	idx(&blk, 2); /* :method GET */
	lit(&blk, ":path", "/api/x?q=1", 1);
	idx(&blk, 6); /* :scheme http */
	lit(&blk, ":authority", "localhost", 1);
	lit(&blk, "traceparent", TP, 1);
	lit(&blk, "user-agent", "h2test/1", 1);
	headers(&cli, 1, END_HEADERS | END_STREAM, &blk);
	/* the second request: :path and the rest from the dynamic table (62 newest) */
	idx(&blk2, 2);
	idx(&blk2, 65); /* :path /api/x?q=1 (4 entries added: 65 is the oldest) */
	idx(&blk2, 6);
	idx(&blk2, 62); /* user-agent */
	headers(&cli, 3, END_HEADERS, &blk2);
	data(&cli, 3, END_STREAM, 5);

	settings(&srv, 4, 65535);
	frame(&srv, 0, SETTINGS, 1, 0); /* ACK */
	blk.n = 0;
	idx(&blk, 8); /* :status 200 */
	lit(&blk, "content-type", "text/plain", 1);
	headers(&srv, 1, END_HEADERS, &blk);
	data(&srv, 1, 0, 100);
	data(&srv, 1, END_STREAM, 0);
	blk.n = 0;
	lit(&blk, ":status", "404", 0);
	headers(&srv, 3, END_HEADERS | END_STREAM, &blk);

	piece_t p[] = { { RT_H2_CLIENT, &cli }, { RT_H2_SERVER, &srv } };
	check("two requests, dynamic table", p, 2,
	      "H1e[GET /api/x q=q=1 tp=" TP " ua=h2test/1] H3[GET /api/x q=q=1 tp= ua=h2test/1] E3 "
	      "h1[200 g=-1] e1 h3e[404 g=-1] ");
}

/* HEADERS with PADDED and PRIORITY, then two CONTINUATIONs; a padded DATA. */
static void test_continuation(void)
{
	reset();
	put(&cli, RT_H2_PREFACE, RT_H2_PREFACE_LEN);
	settings(&cli, 2, 0);
	lit(&blk, ":method", "POST", 0);
	lit(&blk, ":path", "/pkg.Greeter/SayHello", 0);
	lit(&blk, "content-type", "application/grpc", 0);
	lit(&blk, "te", "trailers", 0);
	/* HEADERS: pad length 3, priority 5 bytes, 10 bytes of the block, 3 of padding */
	frame(&cli, 1 + 5 + 10 + 3, HEADERS, PADDED | PRIO, 1);
	put8(&cli, 3);
	put32(&cli, 0);
	put8(&cli, 15);
	put(&cli, blk.b, 10);
	put(&cli, "\0\0\0", 3);
	frame(&cli, 7, CONT, 0, 1);
	put(&cli, blk.b + 10, 7);
	frame(&cli, (uint32_t)(blk.n - 17), CONT, END_HEADERS, 1);
	put(&cli, blk.b + 17, blk.n - 17);
	/* padded DATA with END_STREAM */
	frame(&cli, 1 + 5 + 2, DATA, PADDED | END_STREAM, 1);
	put8(&cli, 2);
	put(&cli, "\0\0\0\0\5\0\0", 7);
	/* an unknown frame type and a PRIORITY frame are skipped */
	frame(&cli, 3, 0x42, 0, 0);
	put(&cli, "abc", 3);
	frame(&cli, 5, PRIORITY, 0, 1);
	put(&cli, "\0\0\0\0\1", 5);

	/* gRPC answer: headers, a message, trailers with grpc-status */
	idx(&blk2, 8);
	lit(&blk2, "content-type", "application/grpc", 1);
	headers(&srv, 1, END_HEADERS, &blk2);
	data(&srv, 1, 0, 12);
	blk2.n = 0;
	lit(&blk2, "grpc-status", "13", 0);
	lit(&blk2, "grpc-message", "boom", 0);
	headers(&srv, 1, END_HEADERS | END_STREAM, &blk2);

	piece_t p[] = { { RT_H2_CLIENT, &cli }, { RT_H2_SERVER, &srv } };
	check("CONTINUATION, PADDED, PRIORITY; gRPC trailers", p, 2,
	      "H1[POST /pkg.Greeter/SayHello q= tp= ua=] E1 h1[200 g=-1] h1e[0 g=13] ");
}

/* RST_STREAM both ways, PING, GOAWAY; a PUSH_PROMISE's block keeps the table in step
 * and is no stream of ours. */
static void test_rst_goaway_push(void)
{
	reset();
	put(&cli, RT_H2_PREFACE, RT_H2_PREFACE_LEN);
	idx(&blk, 2);
	idx(&blk, 4);
	headers(&cli, 1, END_HEADERS | END_STREAM, &blk);
	headers(&cli, 3, END_HEADERS | END_STREAM, &blk);
	frame(&cli, 4, RST, 0, 3);
	put32(&cli, 8);
	frame(&cli, 8, PING, 0, 0);
	put(&cli, "12345678", 8);

	frame(&srv, 4, PUSH, END_HEADERS, 1);
	put32(&srv, 2);
	/* the promised request's block (10 bytes), added to the server's table */
	lit(&srv, ":path", "/x", 1);
	srv.b[2] = (uint8_t)(4 + 10);
	blk2.n = 0;
	lit(&blk2, ":status", "500", 1);
	idx(&blk2, 63); /* the pushed :path, now second newest */
	headers(&srv, 1, END_HEADERS | END_STREAM, &blk2);
	frame(&srv, 8, GOAWAY, 0, 0);
	put32(&srv, 1);
	put32(&srv, 0);

	piece_t p[] = { { RT_H2_CLIENT, &cli }, { RT_H2_SERVER, &srv } };
	check("RST_STREAM, PING, PUSH_PROMISE, GOAWAY", p, 2,
	      "H1e[GET / q= tp= ua=] H3e[GET / q= tp= ua=] R3 h1e[500 g=-1] g1 ");
}

/* A bigger table advertised by the client lets the server's encoder use it; the
 * same block without that SETTINGS does not decode. */
static void test_table_size(void)
{
	reset();
	put(&cli, RT_H2_PREFACE, RT_H2_PREFACE_LEN);
	put(&cli2, RT_H2_PREFACE, RT_H2_PREFACE_LEN);
	settings(&cli, 1, 8192);
	idx(&blk, 2);
	idx(&blk, 4);
	headers(&cli, 1, END_HEADERS, &blk);
	headers(&cli2, 1, END_HEADERS, &blk);
	hint(&blk2, 0x20, 5, 8192); /* dynamic table size update */
	idx(&blk2, 8);
	char big[6001];
	memset(big, 'v', 6000);
	big[6000] = 0;
	lit(&blk2, "x-big", big, 1); /* fits only in a table over 4096 */
	idx(&blk2, 62);
	headers(&srv, 1, END_HEADERS | END_STREAM, &blk2);
	piece_t p[] = { { RT_H2_CLIENT, &cli }, { RT_H2_SERVER, &srv } };
	check("SETTINGS_HEADER_TABLE_SIZE 8192 followed", p, 2,
	      "H1[GET / q= tp= ua=] h1e[200 g=-1] ");
	piece_t q[] = { { RT_H2_CLIENT, &cli2 }, { RT_H2_SERVER, &srv } };
	seen_t s;
	run(q, 2, 0, &s);
	is_int(s.err, RT_H2_ERR_HPACK, "a table size update over the advertised limit fails");

	/* over RT_H2_TABLE_MAX: clamped, so an encoder that uses it is refused */
	reset();
	put(&cli, RT_H2_PREFACE, RT_H2_PREFACE_LEN);
	settings(&cli, 1, 1u << 20);
	hint(&blk2, 0x20, 5, 1u << 20);
	idx(&blk2, 8);
	headers(&srv, 1, END_HEADERS | END_STREAM, &blk2);
	piece_t r[] = { { RT_H2_CLIENT, &cli }, { RT_H2_SERVER, &srv } };
	run(r, 2, 0, &s);
	is_int(s.err, RT_H2_ERR_HPACK, "a 1 MiB table is not followed");
}

/* Returns the error a client stream (after the preface) ends in. */
static int client_error(const buf_t *b, size_t *max_mem)
{
	seen_t s;
	buf_t *all = malloc(sizeof *all);
	all->n = 0;
	put(all, RT_H2_PREFACE, RT_H2_PREFACE_LEN);
	put(all, b->b, b->n);
	piece_t p[] = { { RT_H2_CLIENT, all } };
	run(p, 1, 0, &s);
	if (max_mem)
		*max_mem = s.max_mem;
	free(all);
	return s.err;
}

static void test_hostile(void)
{
	static buf_t b;
	size_t mem = 0;
	seen_t s;

	b.n = 0;
	frame(&b, 5, SETTINGS, 0, 0);
	put(&b, "\0\1\0\0\0", 5);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "SETTINGS of 5 bytes");
	b.n = 0;
	frame(&b, 7, PING, 0, 0);
	put(&b, "1234567", 7);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "PING of 7 bytes");
	b.n = 0;
	frame(&b, 3, HEADERS, PADDED | END_HEADERS, 1);
	put(&b, "\x09xx", 3);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "padding longer than the frame");
	b.n = 0;
	frame(&b, 4, HEADERS, PRIO | END_HEADERS, 1);
	put(&b, "\0\0\0\0", 4);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "HEADERS shorter than its priority");
	b.n = 0;
	frame(&b, 1, HEADERS, 0, 1);
	put8(&b, 0x82);
	frame(&b, 1, DATA, 0, 1);
	put8(&b, 0);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "DATA inside a header block");
	b.n = 0;
	frame(&b, 1, HEADERS, 0, 1);
	put8(&b, 0x82);
	frame(&b, 1, CONT, END_HEADERS, 3);
	put8(&b, 0x84);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "CONTINUATION of another stream");
	b.n = 0;
	frame(&b, 1, HEADERS, END_HEADERS, 2);
	put8(&b, 0x82);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "a client's even stream id");
	b.n = 0;
	frame(&b, 2, HEADERS, END_HEADERS, 1);
	put8(&b, 0xff); /* index beyond both tables */
	put8(&b, 0x7f);
	is_int(client_error(&b, NULL), RT_H2_ERR_HPACK, "an index out of the tables");
	b.n = 0;
	frame(&b, 2, HEADERS, END_HEADERS, 1);
	put8(&b, 0x40);
	put8(&b, 0x05); /* a name of 5 bytes that never comes */
	is_int(client_error(&b, NULL), RT_H2_ERR_HPACK, "a block ending inside a field");
	b.n = 0;
	frame(&b, 4, PUSH, END_HEADERS, 1);
	put32(&b, 2);
	is_int(client_error(&b, NULL), RT_H2_ERR_FRAME, "PUSH_PROMISE from a client");

	/* an 8 KiB + 1 header block, over CONTINUATIONs */
	b.n = 0;
	frame(&b, 4096, HEADERS, 0, 1);
	for (int i = 0; i < 4096; i++)
		put8(&b, 0x82);
	frame(&b, 4097, CONT, END_HEADERS, 1);
	for (int i = 0; i < 4097; i++)
		put8(&b, 0x82);
	is_int(client_error(&b, NULL), RT_H2_ERR_LIMIT, "a header block over 8 KiB");

	/* HPACK bomb: one 4000-byte entry, then referred to 4000 times */
	b.n = 0;
	blk.n = 0;
	char v[4001];
	memset(v, 'b', 4000);
	v[4000] = 0;
	lit(&blk, "x-bomb", v, 1);
	for (int i = 0; i < 4000; i++)
		idx(&blk, 62);
	frame(&b, (uint32_t)blk.n, HEADERS, END_HEADERS, 1);
	put(&b, blk.b, blk.n);
	is_int(client_error(&b, &mem), RT_H2_ERR_LIMIT, "an HPACK bomb stops at the decoded limit");
	ok(mem <= RT_H2_HPACK_MEM_MAX, "inflaters held at most %zu bytes (limit %d)", mem,
	   RT_H2_HPACK_MEM_MAX);

	/* garbage after the preface: a frame header of a huge unknown frame is skipped,
	 * bytes that break the rules are refused */
	b.n = 0;
	for (int i = 0; i < 64; i++)
		put8(&b, 0xff);
	int e = client_error(&b, &mem);
	ok(e == RT_H2_ERR_NONE || e == RT_H2_ERR_FRAME, "0xff bytes after the preface: error %d", e);

	/* not the preface */
	b.n = 0;
	put(&b, "PRI * HTTP/1.1\r\n", 16);
	piece_t p[] = { { RT_H2_CLIENT, &b } };
	run(p, 1, 0, &s);
	is_int(s.err, RT_H2_ERR_PREFACE, "a wrong preface");

	/* After an error nothing more is consumed. */
	rt_h2_t h;
	rt_h2_init(&h);
	int ev;
	rt_h2_feed(&h, RT_H2_CLIENT, "GET / HTTP/1.1\r\n", 16, &ev);
	size_t used = rt_h2_feed(&h, RT_H2_CLIENT, RT_H2_PREFACE, 24, &ev);
	ok(used == 0 && ev == RT_H2_EV_ERROR, "dead after an error");
	rt_h2_free(&h);
}

/* Opaque (sendfile) bytes inside a DATA payload are skipped; anywhere else they are
 * an error. */
static void test_opaque(void)
{
	rt_h2_t h;
	int ev;
	uint8_t hdr[9] = { 0, 0x10, 0, DATA, END_STREAM, 0, 0, 0, 1 };
	rt_h2_init(&h);
	size_t used = rt_h2_feed(&h, RT_H2_SERVER, (const char *)hdr, 9, &ev);
	ok(used == 9 && ev == RT_H2_EV_NONE, "DATA frame header");
	used = rt_h2_feed(&h, RT_H2_SERVER, NULL, 4096, &ev);
	ok(used == 4096 && ev == RT_H2_EV_END_STREAM && h.ev_sid == 1,
	   "its 4096-byte payload sent unseen ends the stream");
	used = rt_h2_feed(&h, RT_H2_SERVER, NULL, 9, &ev);
	ok(used == 0 && ev == RT_H2_EV_ERROR && h.err == RT_H2_ERR_FRAME,
	   "unseen bytes where a frame header is due are an error");
	rt_h2_free(&h);
}

static void test_preface_match(void)
{
	is_int(rt_h2_preface_match(0, "PRI *", 5), 5, "a preface's start");
	is_int(rt_h2_preface_match(5, " HTTP/2.0\r\n\r\nSM\r\n\r\nxx", 21), 24, "its rest");
	is_int(rt_h2_preface_match(0, "POST", 4), -1, "POST is not it");
	is_int(rt_h2_preface_match(3, "X", 1), -1, "PRIX is not it");
}

int main(void)
{
	/* The library's start looks libnghttp2's decoder up (boot/init.c); so do we. */
	if (rt_libnghttp2_resolve() != 0)
		skip_all("libnghttp2 could not be loaded");
	test_preface_match();
	test_basic();
	test_continuation();
	test_rst_goaway_push();
	test_table_size();
	test_hostile();
	test_opaque();
	return done_testing();
}
