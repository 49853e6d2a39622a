/* h2.c: HTTP/2 frame parser (see track/h2.h). Frames are read piecewise into fixed
 * fields (9-byte header, a few bytes of fixed payload fields); DATA and every other
 * payload is skipped, never kept; header block fragments go straight into the
 * direction's HPACK inflater as they arrive (libnghttp2 keeps a half-decoded field
 * itself), so nothing here grows with the input. */
#include "track/h2.h"

#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "base/libnghttp2.h"

enum { S_PREFACE, S_HDR, S_PREFIX, S_BODY, S_PAD, S_DEAD };
enum { T_DATA, T_HEADERS, T_PRIORITY, T_RST, T_SETTINGS, T_PUSH, T_PING, T_GOAWAY,
       T_WINDOW, T_CONT };
#define F_END_STREAM  0x01
#define F_ACK         0x01
#define F_END_HEADERS 0x04
#define F_PADDED      0x08
#define F_PRIORITY    0x20
#define HPACK_DEFAULT_TABLE 4096 /* SETTINGS_HEADER_TABLE_SIZE until a peer says otherwise */

/* ---- the inflaters' memory, counted against RT_H2_HPACK_MEM_MAX ---- */

typedef struct mem_hdr {
	size_t size;
	size_t align_pad;             /* keeps what follows 16-byte aligned */
} mem_hdr_t;

static int mem_room(rt_h2_t *h, size_t more)
{
	if (more > RT_H2_HPACK_MEM_MAX - h->mem_used) {
		h->mem_refused = 1;
		return 0;
	}
	return 1;
}

static void *mem_malloc(size_t size, void *ud)
{
	rt_h2_t *h = ud;
	if (!mem_room(h, size))
		return NULL;
	mem_hdr_t *m = malloc(sizeof *m + size);
	if (!m) {
		h->mem_refused = 1;
		return NULL;
	}
	m->size = size;
	h->mem_used += size;
	return m + 1;
}

static void mem_free(void *ptr, void *ud)
{
	rt_h2_t *h = ud;
	if (!ptr)
		return;
	mem_hdr_t *m = (mem_hdr_t *)ptr - 1;
	h->mem_used -= m->size;
	free(m);
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
	if (size && n > RT_H2_HPACK_MEM_MAX / size) {
		((rt_h2_t *)ud)->mem_refused = 1;
		return NULL;
	}
	void *p = mem_malloc(n * size, ud);
	if (p)
		memset(p, 0, n * size);
	return p;
}

static void *mem_realloc(void *ptr, size_t size, void *ud)
{
	rt_h2_t *h = ud;
	if (!ptr)
		return mem_malloc(size, ud);
	if (size == 0) {
		mem_free(ptr, ud);
		return NULL;
	}
	mem_hdr_t *m = (mem_hdr_t *)ptr - 1;
	size_t old = m->size;
	if (size > old && !mem_room(h, size - old))
		return NULL;
	mem_hdr_t *n = realloc(m, sizeof *n + size);
	if (!n) {
		h->mem_refused = 1;
		return NULL;
	}
	h->mem_used = h->mem_used - old + size;
	n->size = size;
	return n + 1;
}

/* ---- setup ---- */

int rt_h2_init(rt_h2_t *h)
{
	memset(h, 0, sizeof *h);
	if (!rt_libnghttp2_ready())
		return -1; /* the library could not be had at start (logged then) */
	h->mem = (nghttp2_mem){ h, mem_malloc, mem_free, mem_calloc, mem_realloc };
	for (int d = 0; d < 2; d++) {
		rt_h2_side_t *s = &h->side[d];
		s->state = d == RT_H2_CLIENT ? S_PREFACE : S_HDR;
		s->table_now = s->table_next = HPACK_DEFAULT_TABLE;
		if (rt_nghttp2.inflate_new2(&s->inf, &h->mem) != 0) {
			rt_h2_free(h);
			return -1;
		}
	}
	h->grpc_status = -1;
	return 0;
}

void rt_h2_free(rt_h2_t *h)
{
	for (int d = 0; d < 2; d++) {
		if (h->side[d].inf)
			rt_nghttp2.inflate_del(h->side[d].inf);
		h->side[d].inf = NULL;
	}
}

int rt_h2_preface_match(int matched, const char *buf, size_t len)
{
	for (size_t i = 0; i < len && matched < RT_H2_PREFACE_LEN; i++, matched++)
		if (buf[i] != RT_H2_PREFACE[matched])
			return -1;
	return matched;
}

static int fail(rt_h2_t *h, int err)
{
	h->err = (uint8_t)err;
	h->side[0].state = h->side[1].state = S_DEAD;
	return RT_H2_EV_ERROR;
}

/* ---- header fields ---- */

static int name_is(const nghttp2_nv *nv, const char *name, size_t len)
{
	return nv->namelen == len && memcmp(nv->name, name, len) == 0;
}
#define NAME_IS(nv, lit) name_is(nv, lit, sizeof lit - 1)

static size_t copy_max(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	size_t n = len < cap ? len : cap;
	memcpy(dst, src, n);
	return n;
}

static void client_field(rt_http_req_t *q, const nghttp2_nv *nv)
{
	const uint8_t *v = nv->value;
	size_t n = nv->valuelen;
	if (NAME_IS(nv, ":method")) {
		if (n == 0 || n >= RT_HTTP_METHOD_MAX)
			return; /* as HTTP/1.x: no method longer than that */
		memcpy(q->method, v, n);
		q->method_len = (uint8_t)n;
		q->is_head = n == 4 && memcmp(v, "HEAD", 4) == 0;
	} else if (NAME_IS(nv, ":path")) {
		const uint8_t *qm = memchr(v, '?', n);
		size_t plen = qm ? (size_t)(qm - v) : n;
		q->path_len = (uint16_t)copy_max(q->path, RT_HTTP_PATH_MAX, v, plen);
		q->path_truncated = plen > RT_HTTP_PATH_MAX;
		q->query_len = qm ? (uint16_t)copy_max(q->query, RT_HTTP_QUERY_MAX, qm + 1,
						       n - plen - 1) : 0;
	} else if (NAME_IS(nv, "traceparent")) {
		if (q->traceparent_len || q->traceparent_overlong)
			return; /* the first one counts */
		if (n > RT_HTTP_TRACEPARENT_MAX)
			q->traceparent_overlong = 1;
		else
			q->traceparent_len = (uint8_t)copy_max(q->traceparent, RT_HTTP_TRACEPARENT_MAX, v, n);
	} else if (NAME_IS(nv, "user-agent")) {
		q->user_agent_len = (uint8_t)copy_max(q->user_agent, RT_HTTP_UA_MAX, v, n);
	}
}

static int small_number(const uint8_t *v, size_t n, size_t maxlen)
{
	int x = 0;
	if (n == 0 || n > maxlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static void server_field(rt_h2_t *h, const nghttp2_nv *nv)
{
	if (NAME_IS(nv, ":status")) {
		int st = small_number(nv->value, nv->valuelen, 3);
		h->status = st >= 100 ? (uint16_t)st : 0;
	} else if (NAME_IS(nv, "grpc-status")) {
		int gs = small_number(nv->value, nv->valuelen, 3);
		h->grpc_status = (int16_t)(gs >= 0 && gs < 256 ? gs : -1);
	}
}

static void block_begin(rt_h2_t *h, int dir, rt_h2_side_t *s, int push)
{
	s->in_block = 1;
	s->block_push = (uint8_t)push;
	s->block_sid = s->sid;
	s->block_end_stream = !push && (s->flags & F_END_STREAM);
	s->block_bytes = s->decoded = 0;
	if (push)
		return;
	if (dir == RT_H2_CLIENT) {
		rt_http_req_t *q = &h->req;
		q->method_len = 0;
		q->path_len = q->query_len = 0;
		q->path_truncated = q->is_head = 0;
		q->traceparent_len = q->traceparent_overlong = 0;
		q->user_agent_len = 0;
		q->http_minor = 1;
	} else {
		h->status = 0;
		h->grpc_status = -1;
	}
}

/* Decodes n bytes of the block (final: the block ends here). Returns an error or 0. */
static int inflate(rt_h2_t *h, int dir, rt_h2_side_t *s, const uint8_t *in, size_t n, int final)
{
	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		rt_nghttp2_ssize_t rv = rt_nghttp2.inflate(s->inf, &nv, &fl, in, n, final);
		if (rv < 0)
			return h->mem_refused ? RT_H2_ERR_LIMIT : RT_H2_ERR_HPACK;
		in += rv;
		n -= (size_t)rv;
		if (fl & NGHTTP2_HD_INFLATE_EMIT) {
			/* Decoded size as HPACK counts it: an HPACK bomb (one big entry referred
			 * to over and over) ends here, not in memory or time. */
			s->decoded += (uint32_t)(nv.namelen + nv.valuelen + 32);
			if (s->decoded > RT_H2_DECODED_MAX)
				return RT_H2_ERR_LIMIT;
			if (!s->block_push) {
				if (dir == RT_H2_CLIENT)
					client_field(&h->req, &nv);
				else
					server_field(h, &nv);
			}
		}
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			rt_nghttp2.inflate_end_headers(s->inf);
			return 0;
		}
		if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
			return final ? RT_H2_ERR_HPACK : 0;
	}
}

/* ---- frames ---- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int is_block_frame(int type)
{
	return type == T_HEADERS || type == T_PUSH || type == T_CONT;
}

/* The 9-byte header is in: check the frame against the rules we rely on. */
static int frame_begin(int dir, rt_h2_side_t *s)
{
	uint32_t len = (uint32_t)s->hdr[0] << 16 | (uint32_t)s->hdr[1] << 8 | s->hdr[2];
	s->type = s->hdr[3];
	s->flags = s->hdr[4];
	s->sid = be32(s->hdr + 5) & 0x7fffffffu;
	s->left = len;
	s->pad = 0;
	s->small_len = s->small_want = 0;
	s->block_final = 0;
	s->state = S_PREFIX;
	if (s->in_block && (s->type != T_CONT || s->sid != s->block_sid))
		return -1; /* a header block must be followed by its CONTINUATIONs only */
	switch (s->type) {
	case T_DATA:
		return s->sid ? 0 : -1;
	case T_HEADERS:
		if (s->sid == 0 || (dir == RT_H2_CLIENT && s->sid % 2 == 0))
			return -1;
		s->small_want = (uint8_t)((s->flags & F_PADDED ? 1 : 0) + (s->flags & F_PRIORITY ? 5 : 0));
		s->block_final = s->flags & F_END_HEADERS;
		return len < s->small_want ? -1 : 0;
	case T_PUSH:
		if (dir == RT_H2_CLIENT || s->sid == 0)
			return -1;
		s->small_want = (uint8_t)((s->flags & F_PADDED ? 1 : 0) + 4);
		s->block_final = s->flags & F_END_HEADERS;
		return len < s->small_want ? -1 : 0;
	case T_CONT:
		if (!s->in_block)
			return -1;
		s->block_final = s->flags & F_END_HEADERS;
		return 0;
	case T_PRIORITY:
		return len == 5 && s->sid ? 0 : -1;
	case T_RST:
		s->small_want = 4;
		return len == 4 && s->sid ? 0 : -1;
	case T_SETTINGS:
		if (s->sid)
			return -1;
		return (s->flags & F_ACK) ? (len == 0 ? 0 : -1) : (len % 6 == 0 ? 0 : -1);
	case T_PING:
		return len == 8 && s->sid == 0 ? 0 : -1;
	case T_GOAWAY:
		s->small_want = 8;
		return len >= 8 && s->sid == 0 ? 0 : -1;
	case T_WINDOW:
		return len == 4 ? 0 : -1;
	default:
		return 0; /* extension frames are skipped */
	}
}

/* The fixed fields at the payload's start are in small[]. */
static int prefix_done(rt_h2_t *h, int dir, rt_h2_side_t *s)
{
	s->left -= s->small_want;
	if (s->type == T_HEADERS || s->type == T_PUSH) {
		uint8_t pad = s->flags & F_PADDED ? s->small[0] : 0;
		if (pad > s->left)
			return -1;
		s->left -= pad;
		s->pad = pad;
		/* A new table size takes effect between blocks, never inside one. */
		if (s->table_next != s->table_now) {
			if (rt_nghttp2.inflate_change_table_size(s->inf, s->table_next) != 0)
				return -1;
			s->table_now = s->table_next;
		}
		block_begin(h, dir, s, s->type == T_PUSH);
	}
	s->state = S_BODY;
	return 0;
}

/* One SETTINGS entry from dir: SETTINGS_HEADER_TABLE_SIZE bounds the table the other
 * side's encoder may use, so it is the other direction's inflater limit. Only raised:
 * an encoder that shrinks its table says so in the block itself, which the inflater
 * follows; one that uses more than RT_H2_TABLE_MAX fails to decode (counted). */
static void setting(rt_h2_t *h, int dir, const uint8_t *e)
{
	uint16_t id = (uint16_t)(e[0] << 8 | e[1]);
	uint32_t v = be32(e + 2);
	rt_h2_side_t *o = &h->side[1 - dir];
	if (id != 1)
		return;
	if (v > RT_H2_TABLE_MAX)
		v = RT_H2_TABLE_MAX;
	if (v > o->table_next)
		o->table_next = v;
}

/* Payload body bytes: header block fragments are decoded, SETTINGS read, the rest
 * skipped. Returns an error or 0. */
static int body(rt_h2_t *h, int dir, rt_h2_side_t *s, const uint8_t *p, size_t n)
{
	if (is_block_frame(s->type)) {
		s->block_bytes += (uint32_t)n;
		if (s->block_bytes > RT_HTTP_HEADER_LIMIT)
			return RT_H2_ERR_LIMIT;
		return inflate(h, dir, s, p, n, 0);
	}
	if (s->type == T_SETTINGS) {
		for (size_t i = 0; i < n; i++) {
			s->small[s->small_len++] = p[i];
			if (s->small_len == 6) {
				setting(h, dir, s->small);
				s->small_len = 0;
			}
		}
	}
	return 0;
}

/* The frame is over: what it means. */
static int frame_event(rt_h2_t *h, rt_h2_side_t *s)
{
	switch (s->type) {
	case T_HEADERS:
	case T_CONT:
	case T_PUSH:
		if (!s->block_final || s->block_push)
			return RT_H2_EV_NONE;
		h->ev_sid = s->block_sid;
		h->ev_end_stream = s->block_end_stream;
		return RT_H2_EV_HEADERS;
	case T_DATA:
		h->ev_sid = s->sid;
		return s->flags & F_END_STREAM ? RT_H2_EV_END_STREAM : RT_H2_EV_NONE;
	case T_RST:
		h->ev_sid = s->sid;
		return RT_H2_EV_RST;
	case T_GOAWAY:
		h->ev_sid = be32(s->small) & 0x7fffffffu;
		return RT_H2_EV_GOAWAY;
	}
	return RT_H2_EV_NONE;
}

/* Steps through the parts of the frame that are complete (a part may be empty).
 * Returns the event of a frame that ended, RT_H2_EV_NONE, or RT_H2_EV_ERROR. */
static int settle(rt_h2_t *h, int dir, rt_h2_side_t *s)
{
	static const uint8_t none[1];
	int err;
	for (;;) {
		switch (s->state) {
		case S_PREFIX:
			if (s->small_len < s->small_want)
				return RT_H2_EV_NONE;
			if (prefix_done(h, dir, s) != 0)
				return fail(h, RT_H2_ERR_FRAME);
			s->small_len = 0;
			continue;
		case S_BODY:
			if (s->left)
				return RT_H2_EV_NONE;
			if (is_block_frame(s->type) && s->block_final) {
				if ((err = inflate(h, dir, s, none, 0, 1)) != 0)
					return fail(h, err);
				s->in_block = 0;
			}
			s->state = S_PAD;
			continue;
		case S_PAD:
			if (s->pad)
				return RT_H2_EV_NONE;
			s->state = S_HDR;
			s->hdr_len = 0;
			return frame_event(h, s);
		default:
			return RT_H2_EV_NONE;
		}
	}
}

size_t rt_h2_feed(rt_h2_t *h, int dir, const char *buf, size_t len, int *ev)
{
	rt_h2_side_t *s = &h->side[dir];
	const uint8_t *p = (const uint8_t *)buf;
	size_t i = 0, n;
	int e, err;
	*ev = RT_H2_EV_NONE;
	while (i < len) {
		/* Opaque bytes (sendfile) can only be payload we skip. */
		if (!buf && s->state != S_DEAD && s->state != S_PAD &&
		    !(s->state == S_BODY && !is_block_frame(s->type) && s->type != T_SETTINGS)) {
			*ev = fail(h, RT_H2_ERR_FRAME);
			return i;
		}
		switch (s->state) {
		case S_DEAD:
			*ev = RT_H2_EV_ERROR;
			return i;
		case S_PREFACE: {
			int m = rt_h2_preface_match((int)s->left, buf + i, len - i);
			if (m < 0) {
				*ev = fail(h, RT_H2_ERR_PREFACE);
				return i;
			}
			i += (size_t)m - s->left;
			s->left = (uint32_t)m;
			if (m == RT_H2_PREFACE_LEN) {
				s->state = S_HDR;
				s->hdr_len = 0;
			}
			continue;
		}
		case S_HDR:
			n = 9u - s->hdr_len < len - i ? 9u - s->hdr_len : len - i;
			memcpy(s->hdr + s->hdr_len, p + i, n);
			s->hdr_len = (uint8_t)(s->hdr_len + n);
			i += n;
			if (s->hdr_len < 9)
				continue;
			if (frame_begin(dir, s) != 0) {
				*ev = fail(h, RT_H2_ERR_FRAME);
				return i;
			}
			break;
		case S_PREFIX:
			n = (size_t)(s->small_want - s->small_len);
			n = n < len - i ? n : len - i;
			memcpy(s->small + s->small_len, p + i, n);
			s->small_len = (uint8_t)(s->small_len + n);
			i += n;
			break;
		case S_BODY:
			n = s->left < len - i ? s->left : len - i;
			if (buf && (err = body(h, dir, s, p + i, n)) != 0) {
				*ev = fail(h, err);
				return i;
			}
			s->left -= (uint32_t)n;
			i += n;
			break;
		case S_PAD:
			n = s->pad < len - i ? s->pad : len - i;
			s->pad = (uint8_t)(s->pad - n);
			i += n;
			break;
		}
		if ((e = settle(h, dir, s)) != RT_H2_EV_NONE) {
			*ev = e;
			return i;
		}
	}
	return i;
}
