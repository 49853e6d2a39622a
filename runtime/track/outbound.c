/* outbound.c: outbound connections' calls and the traceparent edit (see
 * track/outbound.h). The fd table, locks and delivery are track/conn.c's; spans
 * emit/span.c's. */
#include "track/outbound.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "base/hex.h"
#include "track/request.h"
#include "track/sink.h"

void rt_out_call_span_id(uint8_t id[8])
{
	if (rt_sink_wants_spans())
		rt_req_new_span_id(id);
	else
		memset(id, 0, 8);
}

/* ---- peers ---- */

const char *rt_out_db_system(uint16_t port)
{
	switch (port) {
	case 5432: return "postgresql";
	case 6379: return "redis";
	case 3306: return "mysql";
	case 27017: return "mongodb";
	case 11211: return "memcached";
	}
	return NULL;
}

void rt_out_peer_set(rt_call_peer_t *peer, const struct sockaddr *a, socklen_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int n = 0;
	memset(peer, 0, sizeof *peer);
	peer->addr.family = a->sa_family;
	if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(&peer->addr.v4, a, sizeof peer->addr.v4);
		peer->port = ntohs(peer->addr.v4.sin_port);
		inet_ntop(AF_INET, &peer->addr.v4.sin_addr, ip, sizeof ip);
		n = snprintf(peer->text, sizeof peer->text, "%s:%u", ip, peer->port);
	} else if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(&peer->addr.v6, a, sizeof peer->addr.v6);
		peer->port = ntohs(peer->addr.v6.sin6_port);
		inet_ntop(AF_INET6, &peer->addr.v6.sin6_addr, ip, sizeof ip);
		n = snprintf(peer->text, sizeof peer->text, "[%s]:%u", ip, peer->port);
	} else if (a->sa_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
		const struct sockaddr_un *u = (const struct sockaddr_un *)a;
		size_t max = len - offsetof(struct sockaddr_un, sun_path);
		size_t l = strnlen(u->sun_path, max < sizeof u->sun_path ? max : sizeof u->sun_path);
		if (l == 0 && max > 1) /* abstract: "@name" */
			n = snprintf(peer->text, sizeof peer->text, "@%.*s",
				     (int)strnlen(u->sun_path + 1, max - 1), u->sun_path + 1);
		else
			n = snprintf(peer->text, sizeof peer->text, "%.*s", (int)l, u->sun_path);
	}
	if (n < 0)
		n = 0;
	peer->text_len = (uint8_t)((size_t)n < sizeof peer->text ? (size_t)n : sizeof peer->text - 1);
	peer->db_system = rt_out_db_system(peer->port);
}

/* ---- calls ---- */

static void call_begin(rt_out_t *o, rt_call_t *c, int kind, const rt_call_parent_t *parent,
		       uint64_t t0, rt_out_done_t *d)
{
	memset(c, 0, offsetof(rt_call_t, path));
	c->kind = (uint8_t)kind;
	if (parent)
		c->parent = *parent;
	/* The first call includes the connect made for it. */
	c->start_mono_ns = t0;
	if (o->connect_ns && c->parent.serial == o->connect_serial && o->connect_ns < t0)
		c->start_mono_ns = o->connect_ns;
	o->connect_ns = 0;
	c->peer = o->peer;
	d->new_calls++;
}

static void call_done(rt_call_t *c, uint64_t end, rt_out_done_t *d)
{
	c->end_mono_ns = end > c->start_mono_ns ? end : c->start_mono_ns;
	if (d->ncalls < (int)(sizeof d->calls / sizeof d->calls[0]))
		d->calls[d->ncalls++] = *c;
}

static void ds_add(rt_out_done_t *d, const rt_call_parent_t *p, uint64_t ns, uint32_t calls)
{
	if (!p->serial)
		return;
	for (int i = 0; i < d->nds; i++)
		if (d->ds[i].parent.serial == p->serial) {
			d->ds[i].ns += ns;
			d->ds[i].calls += calls;
			return;
		}
	if (d->nds < RT_OUT_DS_MAX)
		d->ds[d->nds++] = (typeof(d->ds[0])){ *p, ns, calls };
}

void rt_out_init(rt_out_t *o, const struct sockaddr *a, socklen_t len, uint64_t now,
		 const rt_call_parent_t *parent, int record_query)
{
	o->mode = RT_OUT_UNKNOWN;
	o->record_query = record_query;
	rt_out_peer_set(&o->peer, a, len);
	o->connect_ns = now;
	o->connect_serial = parent ? parent->serial : 0;
	rt_http_req_init(&o->rq);
	rt_http_resp_init(&o->rs);
	o->resp_fresh = 1;
	o->qh = o->qn = 0;
	o->writing = -1;
	o->wr_pos = 0;
	o->want_tp = 0;
	o->inj_n = 0;
	o->next_h = o->next_n = 0;
	o->owed_off = o->owed_len = 0;
	o->ex_open = o->ex_read = 0;
}

void rt_out_connect_failed(rt_out_t *o, const rt_call_parent_t *parent, uint64_t now,
			   rt_out_done_t *d)
{
	rt_call_t c;
	uint64_t start = o->connect_ns ? o->connect_ns : now;
	o->mode = RT_OUT_DEAD;
	if (!parent || !parent->serial)
		return;
	call_begin(o, &c, RT_CALL_PEER, parent, start, d);
	c.failed = 1;
	rt_out_call_span_id(c.span_id);
	call_done(&c, now, d);
	ds_add(d, parent, c.end_mono_ns - c.start_mono_ns, 1);
	d->peer = o->peer;
}

/* ---- other protocols: exchanges ---- */

static void exchange_end(rt_out_t *o, uint64_t end, rt_out_done_t *d)
{
	if (!o->ex_open)
		return;
	o->ex_open = 0;
	if (o->ex.parent.serial)
		call_done(&o->ex, end, d);
}

/* A write after an answer (or the first) begins the next exchange. */
static void exchange_wrote(rt_out_t *o, const rt_call_parent_t *parent, uint64_t t0,
			   rt_out_done_t *d)
{
	if (o->ex_open && !o->ex_read)
		return; /* more of the same question */
	exchange_end(o, o->ex_last_read_ns, d);
	call_begin(o, &o->ex, RT_CALL_PEER, parent, t0, d);
	rt_out_call_span_id(o->ex.span_id);
	o->ex_open = 1;
	o->ex_read = 0;
	o->ex_counted_ns = o->ex.start_mono_ns;
}

/* Answer bytes: the time since the exchange's question (or its last answer bytes)
 * is the request's downstream time now, so a request ending before the next
 * question is not short of it. */
static void exchange_read(rt_out_t *o, uint64_t now, rt_out_done_t *d)
{
	if (!o->ex_open)
		return;
	uint64_t from = o->ex_counted_ns;
	ds_add(d, &o->ex.parent, now > from ? now - from : 0, o->ex_read ? 0 : 1);
	o->ex_counted_ns = now;
	o->ex_read = 1;
	o->ex_last_read_ns = now;
	d->peer = o->peer;
}

/* The stream stops being HTTP to us: calls in flight end without a span (what was
 * read of them is not to be trusted); a stream that never was HTTP is timed as
 * exchanges from here on. */
static void http_give_up(rt_out_t *o, int to_other)
{
	o->qn = 0;
	o->writing = -1;
	o->mode = to_other ? RT_OUT_OTHER : RT_OUT_DEAD;
}

/* ---- HTTP: requests written ---- */

static rt_call_t *q_at(rt_out_t *o, unsigned i)
{
	return &o->q[(o->qh + i) % RT_OUT_CALLS];
}

static void on_req_begin(rt_out_t *o, const rt_call_parent_t *parent, int propagate,
			 uint64_t t0, rt_out_done_t *d)
{
	if (o->qn == RT_OUT_CALLS) { /* more in flight than we follow: the rest go unseen */
		if (propagate && parent)
			d->skipped++;
		http_give_up(o, 0);
		return;
	}
	rt_call_t *c = q_at(o, o->qn);
	call_begin(o, c, RT_CALL_HTTP, parent, t0, d);
	if (o->next_n) {
		memcpy(c->span_id, o->next_span[o->next_h], 8);
		o->next_h = (o->next_h + 1) % RT_OUT_CALLS;
		o->next_n--;
	} else if (propagate) { /* a line put into this head later takes this id */
		rt_req_new_span_id(c->span_id);
	} else {
		rt_out_call_span_id(c->span_id);
	}
	o->writing = (int)((o->qh + o->qn) % RT_OUT_CALLS);
	o->qn++;
}

static int injected_at(const rt_out_t *o, uint64_t pos)
{
	unsigned n = o->inj_n < RT_OUT_EDITS_MAX ? o->inj_n : RT_OUT_EDITS_MAX;
	for (unsigned i = 0; i < n; i++)
		if (o->inj_pos[i] == pos)
			return 1;
	return 0;
}

static void on_req_head(rt_out_t *o, int propagate, rt_out_done_t *d)
{
	if (o->writing < 0)
		return;
	rt_call_t *c = &o->q[o->writing];
	const rt_http_req_t *p = &o->rq;
	memcpy(c->method, p->method, p->method_len);
	c->method_len = p->method_len;
	c->path_len = p->path_len < RT_CALL_PATH_MAX ? p->path_len : RT_CALL_PATH_MAX;
	memcpy(c->path, p->path, c->path_len);
	c->query_len = 0;
	if (o->record_query) {
		c->query_len = p->query_len < RT_CALL_QUERY_MAX ? p->query_len : RT_CALL_QUERY_MAX;
		memcpy(c->query, p->query, c->query_len);
	}
	c->is_head = p->is_head;
	/* The head's blank line began at wr_pos - 2 (CRLF) or - 1 (LF). */
	c->injected = injected_at(o, o->wr_pos - 2) || injected_at(o, o->wr_pos - 1);
	if (propagate && c->parent.serial && !c->injected && p->traceparent_len == 0 &&
	    !p->traceparent_overlong)
		d->skipped++;
	o->mode = RT_OUT_HTTP;
}

static void feed_requests(rt_out_t *o, const rt_call_parent_t *parent, int propagate,
			  const char *p, size_t n, uint64_t t0, rt_out_done_t *d)
{
	while (o->mode <= RT_OUT_HTTP) {
		int ev = RT_HTTP_EV_NONE;
		int in_head = rt_http_req_in_header_block(&o->rq);
		size_t used = rt_http_req_feed(&o->rq, p, n, &ev);
		if (p)
			p += used;
		n -= used;
		o->wr_pos += used;
		switch (ev) {
		case RT_HTTP_EV_NONE:
			if (n)
				http_give_up(o, 0);
			return;
		case RT_HTTP_EV_BEGIN:
			on_req_begin(o, parent, propagate, t0, d);
			break;
		case RT_HTTP_EV_HEAD:
			on_req_head(o, propagate, d);
			break;
		case RT_HTTP_EV_END:
			o->writing = -1;
			if (n == 0)
				return;
			break;
		default: {
			/* Not HTTP: a stream whose first request line did not parse is another
			 * protocol (timed as exchanges); a head over the parse limit or broken
			 * framing is an HTTP stream we can no longer follow. */
			int never = o->mode == RT_OUT_UNKNOWN && !in_head;
			if (propagate && parent && parent->serial && !never)
				d->skipped++;
			http_give_up(o, never);
			if (never)
				exchange_wrote(o, parent, t0, d);
			return;
		}
		}
	}
}

void rt_out_wrote(rt_out_t *o, const rt_call_parent_t *parent, int propagate,
		  const struct iovec *iov, int iovcnt, size_t n, uint64_t t0, uint64_t now,
		  rt_out_done_t *d)
{
	(void)now;
	if (parent && !parent->serial)
		parent = NULL;
	if (o->mode <= RT_OUT_HTTP && !iov) {
		/* sendfile: only a body's bytes can go unseen */
		if (rt_http_req_body_left(&o->rq) >= n && n > 0)
			feed_requests(o, parent, propagate, NULL, n, t0, d);
		else
			http_give_up(o, 0);
		return;
	}
	for (int i = 0; i < iovcnt && n > 0 && o->mode <= RT_OUT_HTTP; i++) {
		size_t len = iov[i].iov_len < n ? iov[i].iov_len : n;
		if (len)
			feed_requests(o, parent, propagate, iov[i].iov_base, len, t0, d);
		n -= len;
	}
	if (o->mode == RT_OUT_OTHER)
		exchange_wrote(o, parent, t0, d);
}

/* ---- HTTP: answers read ---- */

static void answer_end(rt_out_t *o, uint64_t now, int failed, rt_out_done_t *d)
{
	if (!o->qn)
		return;
	rt_call_t *c = q_at(o, 0);
	if (failed) {
		c->failed = 1;
		c->status = 0;
	}
	if (c->parent.serial) {
		call_done(c, now, d);
		ds_add(d, &c->parent, c->end_mono_ns - c->start_mono_ns, 1);
		d->peer = o->peer;
	}
	if (o->writing == (int)o->qh)
		o->writing = -1;
	o->qh = (o->qh + 1) % RT_OUT_CALLS;
	o->qn--;
}

static void feed_answers(rt_out_t *o, const char *p, size_t n, uint64_t now, rt_out_done_t *d)
{
	while (o->mode == RT_OUT_HTTP) {
		if (o->resp_fresh) {
			if (!o->qn) { /* an answer to nothing */
				http_give_up(o, 0);
				return;
			}
			rt_http_resp_expect(&o->rs, q_at(o, 0)->is_head);
			o->resp_fresh = 0;
		}
		int ev = RT_HTTP_EV_NONE;
		size_t used = rt_http_resp_feed(&o->rs, p, n, &ev);
		p += used;
		n -= used;
		switch (ev) {
		case RT_HTTP_EV_NONE:
			if (n)
				http_give_up(o, 0);
			return;
		case RT_HTTP_EV_BEGIN:
			break;
		case RT_HTTP_EV_HEAD:
			q_at(o, 0)->status = o->rs.status;
			break;
		case RT_HTTP_EV_END:
			answer_end(o, now, 0, d);
			o->resp_fresh = 1;
			if (n == 0)
				return;
			break;
		case RT_HTTP_EV_UPGRADE:
			answer_end(o, now, 0, d);
			http_give_up(o, 0);
			return;
		default: /* garbage, or a head over the limit: the call failed, no status */
			answer_end(o, now, 1, d);
			http_give_up(o, 0);
			return;
		}
	}
}

void rt_out_read(rt_out_t *o, const struct iovec *iov, int iovcnt, size_t n, uint64_t now,
		 rt_out_done_t *d)
{
	if (o->mode == RT_OUT_UNKNOWN) /* the server speaks first: not HTTP */
		o->mode = RT_OUT_OTHER;
	if (o->mode == RT_OUT_OTHER) {
		exchange_read(o, now, d);
		return;
	}
	if (!iov) {
		http_give_up(o, 0);
		return;
	}
	for (int i = 0; i < iovcnt && n > 0 && o->mode == RT_OUT_HTTP; i++) {
		size_t len = iov[i].iov_len < n ? iov[i].iov_len : n;
		if (len)
			feed_answers(o, iov[i].iov_base, len, now, d);
		n -= len;
	}
}

void rt_out_closing(rt_out_t *o, uint64_t now, rt_out_done_t *d)
{
	if (o->mode == RT_OUT_OTHER) {
		exchange_end(o, o->ex_read ? o->ex_last_read_ns : now, d);
	} else if (o->mode == RT_OUT_HTTP) {
		/* A body delimited by the close ends well; anything else was cut short. */
		if (o->qn && !o->resp_fresh && rt_http_resp_eof(&o->rs))
			answer_end(o, now, 0, d);
		while (o->qn)
			answer_end(o, now, 1, d);
	}
	o->mode = RT_OUT_DEAD;
}

/* ---- propagation ---- */

size_t rt_out_traceparent_line(char *out, const uint8_t trace_id[16], const uint8_t span_id[8],
			       uint8_t flags)
{
	char *o = out;
	memcpy(o, "traceparent: 00-", 16);
	o += 16;
	rt_hex_encode(trace_id, 16, o);
	o += 32;
	*o++ = '-';
	rt_hex_encode(span_id, 8, o);
	o += 16;
	*o++ = '-';
	rt_hex_encode(&flags, 1, o);
	o += 2;
	*o++ = '\r';
	*o++ = '\n';
	return (size_t)(o - out);
}

/* The byte at flat offset off of iov. */
static char iov_byte(const struct iovec *iov, int iovcnt, size_t off)
{
	for (int i = 0; i < iovcnt; i++) {
		if (off < iov[i].iov_len)
			return ((const char *)iov[i].iov_base)[off];
		off -= iov[i].iov_len;
	}
	return 0;
}

/* Where the blank lines ending the heads completed within the first n bytes of iov
 * begin (flat offsets into at[], at most max), reading them with a copy of the
 * request parser (the last may be a blank line whose LF is still to come). A head with
 * a traceparent of its own is left out, and so is one whose blank line began in an
 * earlier write (too late to put a line before it).
 * Returns how many. */
static int find_blank_lines(const rt_out_t *o, const struct iovec *iov, int iovcnt, size_t n,
			    size_t *at, int max)
{
	rt_http_req_t p;
	size_t off = 0;
	rt_http_req_lookahead(&p, &o->rq);
	int found = 0;
	for (int i = 0; i < iovcnt && n > 0 && found < max; i++) {
		const char *b = iov[i].iov_base;
		size_t len = iov[i].iov_len < n ? iov[i].iov_len : n, used = 0;
		n -= len;
		while (found < max) { /* until NONE: a BEGIN may owe its HEAD to a call with no bytes */
			int ev = RT_HTTP_EV_NONE;
			used += rt_http_req_feed(&p, b + used, len - used, &ev);
			if (ev == RT_HTTP_EV_NONE)
				break;
			if (ev == RT_HTTP_EV_ERROR || ev == RT_HTTP_EV_UPGRADE)
				return found;
			if (ev != RT_HTTP_EV_HEAD || p.traceparent_len || p.traceparent_overlong)
				continue;
			size_t end = off + used; /* just past the blank line's LF */
			char before = end >= 2 ? iov_byte(iov, iovcnt, end - 2) : 0;
			if (before == '\r')
				at[found++] = end - 2;
			else if (before == '\n')
				at[found++] = end - 1; /* a bare LF blank line */
		}
		off += len;
	}
	/* Cut between the blank line's CR and LF: the line goes before that CR. */
	if (found < max && off > 0 && rt_http_req_in_blank_line(&p) && !p.traceparent_len &&
	    !p.traceparent_overlong)
		at[found++] = off - 1;
	return found;
}

void rt_out_plan(rt_out_t *o, const rt_call_parent_t *parent, int propagate,
		 const struct iovec *iov, int iovcnt, size_t n, rt_out_plan_t *pl)
{
	size_t at[RT_OUT_EDITS_MAX];
	pl->owed_len = o->owed_len - o->owed_off;
	memcpy(pl->owed, o->owed + o->owed_off, pl->owed_len);
	pl->nedits = 0;
	pl->line_len = 0;
	if (!propagate || !parent || !parent->serial || o->mode > RT_OUT_HTTP || !iov)
		return;
	int found = find_blank_lines(o, iov, iovcnt, n, at, RT_OUT_EDITS_MAX);
	for (int k = 0; k < found; k++) {
		uint64_t pos = o->wr_pos + at[k];
		if (injected_at(o, pos))
			continue; /* this head has its line already (sent in part) */
		typeof(pl->e[0]) *e = &pl->e[pl->nedits++];
		e->at = at[k];
		e->pos = pos;
		e->reserve = 0;
		/* The first head may have begun in an earlier write: its call has its id. */
		if (pl->nedits == 1 && o->writing >= 0 && o->q[o->writing].method_len == 0) {
			memcpy(e->span_id, o->q[o->writing].span_id, 8);
		} else {
			rt_req_new_span_id(e->span_id);
			e->reserve = 1;
		}
		pl->line_len = rt_out_traceparent_line(e->line, parent->trace_id, e->span_id,
						       parent->flags);
	}
}

void rt_out_owed_sent(rt_out_t *o, size_t sent)
{
	size_t left = (size_t)(o->owed_len - o->owed_off);
	o->owed_off = (uint8_t)(o->owed_off + (sent < left ? sent : left));
	if (o->owed_off >= o->owed_len)
		o->owed_off = o->owed_len = 0;
}

size_t rt_out_edit_sent(rt_out_t *o, const rt_out_plan_t *pl, size_t m, rt_out_done_t *d)
{
	size_t L = pl->line_len;
	for (int k = 0; k < pl->nedits; k++) {
		const typeof(pl->e[0]) *e = &pl->e[k];
		size_t start = e->at + (size_t)k * L; /* where line k begins in what was sent */
		if (m <= start)
			return m - (size_t)k * L; /* it did not start: planned again next call */
		o->inj_pos[o->inj_n++ % RT_OUT_EDITS_MAX] = e->pos;
		d->injected++;
		if (e->reserve && o->next_n < RT_OUT_CALLS) {
			memcpy(o->next_span[(o->next_h + o->next_n) % RT_OUT_CALLS], e->span_id, 8);
			o->next_n++;
		}
		if (m < start + L) { /* the rest of the line is owed to the stream */
			size_t sent = m - start;
			memcpy(o->owed, e->line + sent, L - sent);
			o->owed_off = 0;
			o->owed_len = (uint8_t)(L - sent);
			return e->at;
		}
	}
	return m - (size_t)pl->nedits * L;
}
