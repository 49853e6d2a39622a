/* conn_out.c: connections the service opens (connect), in the same fd table as the
 * accepted ones (track/conn.c), so bytes reported on them from any path (plain sockets,
 * TLS plaintext) reach the same state. Owns the events on them: connect and its
 * outcome, the service's writes (made here, to time them from before the system call
 * and to put a traceparent line into request heads), reads and close; and hands the
 * calls that ended to the sink and their time to the request they were made for.
 * What a connection's bytes mean is track/outbound.c's.
 * Context: host threads through boot/events.c, inside the reentrancy guard except
 * around the real system calls. No lock is held across one, nor while another
 * connection's lock is taken. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "base/cfg.h"
#include "base/clock.h"
#include "base/guard.h"
#include "base/libc.h"
#include "base/stats.h"
#include "sample/thread.h"
#include "track/conn.h"
#include "track/outbound.h"
#include "track/request.h"
#include "track/sink.h"

#define EDIT_IOV_MAX 64 /* a call with more pieces is sent unedited */

/* ---- the request served: the calls' parent ---- */

/* The calling thread's request, kept between calls: looking it up takes its
 * connection's lock, and a request makes its calls from its thread. */
static __thread rt_call_parent_t parent_cache __attribute__((tls_model("initial-exec")));

static const rt_call_parent_t *current_parent(void)
{
	rt_thread_t *t = rt_thread_peek();
	uint64_t serial = t ? atomic_load_explicit(&t->cur_serial, memory_order_relaxed) : 0;
	if (!serial)
		return NULL;
	if (parent_cache.serial == serial &&
	    parent_cache.owner == atomic_load_explicit(&t->cur_owner, memory_order_relaxed))
		return &parent_cache;
	rt_call_parent_t p;
	if (!rt_conn_thread_parent(&p))
		return NULL;
	parent_cache = p;
	return &parent_cache;
}

/* ---- delivery, no lock held ---- */

static void deliver(const rt_out_done_t *d)
{
	for (int i = 0; i < d->ncalls; i++) {
		const rt_call_t *c = &d->calls[i];
		if (rt_sink_wants_spans() && c->parent.serial)
			rt_req_sink->call_ended(c);
	}
	for (int i = 0; i < d->nds; i++)
		rt_conn_add_downstream(&d->ds[i].parent, d->peer.text, d->peer.text_len,
				       d->ds[i].calls, d->ds[i].ns);
	if (d->new_calls)
		rt_stat_add(RT_STAT_OUT_CALLS, d->new_calls);
	if (d->injected)
		rt_stat_add(RT_STAT_OUT_INJECTED, (uint64_t)d->injected);
	if (d->skipped)
		rt_stat_add(RT_STAT_OUT_INJECT_SKIPPED, (uint64_t)d->skipped);
}

static void done_init(rt_out_done_t *d)
{
	d->ncalls = d->nds = d->skipped = d->injected = 0;
	d->new_calls = 0;
}

/* ---- connect ---- */

static int trackable(int fd, const struct sockaddr *a, socklen_t len)
{
	int type = 0;
	socklen_t tl = sizeof type;
	if (!a || len < sizeof(sa_family_t))
		return 0;
	if (a->sa_family != AF_INET && a->sa_family != AF_INET6 && a->sa_family != AF_UNIX)
		return 0;
	return REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM;
}

/* A connect that failed at once: a failed call of the request served, no connection. */
static void connect_failed_at_once(const struct sockaddr *a, socklen_t len, uint64_t t0)
{
	const rt_call_parent_t *p = current_parent();
	rt_out_done_t *d;
	if (!p || !(d = malloc(sizeof *d)))
		return;
	done_init(d);
	rt_call_t *c = &d->calls[0];
	memset(c, 0, sizeof *c);
	c->kind = RT_CALL_PEER;
	c->failed = 1;
	c->parent = *p;
	c->start_mono_ns = t0;
	c->end_mono_ns = rt_mono_ns();
	rt_out_peer_set(&c->peer, a, len);
	rt_out_call_span_id(c->span_id);
	d->ncalls = 1;
	d->peer = c->peer;
	d->ds[0].parent = *p;
	d->ds[0].calls = 1;
	d->ds[0].ns = c->end_mono_ns - c->start_mono_ns;
	d->nds = 1;
	d->new_calls = 1;
	deliver(d);
	free(d);
}

/* The outcome of a non-blocking connect, however learnt. c locked, o its state; p
 * looked up before (it takes another connection's lock). */
static void connect_outcome(rt_out_t *o, const rt_call_parent_t *p, int err, rt_out_done_t *d)
{
	if (!o->connecting)
		return;
	o->connecting = 0;
	if (err)
		rt_out_connect_failed(o, p, rt_mono_ns(), d);
}

void rt_conn_connect(int fd, const struct sockaddr *a, socklen_t len, uint64_t t0, int rc, int err)
{
	rt_conn_t *c = rt_conn_lookup(fd);
	if (c && rt_conn_is_outbound(c)) {
		/* connect again on a connecting socket: how some learn the outcome */
		if (rc != 0 && (err == EALREADY || err == EINPROGRESS || err == EINTR))
			return;
		const rt_call_parent_t *p = current_parent();
		rt_out_t *o = rt_conn_out_lock(c, fd, 0);
		if (!o)
			return;
		rt_out_done_t d;
		done_init(&d);
		connect_outcome(o, p, rc == 0 || err == EISCONN ? 0 : err, &d);
		rt_conn_out_unlock(c, fd, 0);
		deliver(&d);
		return;
	}
	if (!rt_cfg.outbound || !trackable(fd, a, len))
		return;
	if (rc != 0 && err != EINPROGRESS) {
		if (err != EINTR && err != EAGAIN && err != EALREADY && err != EISCONN)
			connect_failed_at_once(a, len, t0);
		return;
	}
	const rt_call_parent_t *p = current_parent();
	rt_out_t *o;
	c = rt_conn_opened(fd, &o);
	if (!c)
		return;
	rt_out_init(o, a, len, t0, p, rt_cfg.record_query);
	o->connecting = rc != 0;
	rt_conn_publish(c, fd);
	rt_stat_add(RT_STAT_OUT_CONNS, 1);
}

void rt_conn_sock_error(rt_conn_t *c, int fd, int so_error)
{
	const rt_call_parent_t *p = so_error ? current_parent() : NULL;
	rt_out_t *o = rt_conn_out_lock(c, fd, 0);
	if (!o)
		return;
	rt_out_done_t d;
	done_init(&d);
	connect_outcome(o, p, so_error, &d);
	rt_conn_out_unlock(c, fd, 0);
	deliver(&d);
}

/* ---- bytes ---- */

void rt_conn_out_read(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		      size_t n)
{
	uint64_t now = rt_mono_ns();
	rt_out_t *o = rt_conn_out_lock(c, fd, tok);
	if (!o)
		return;
	rt_out_done_t d;
	done_init(&d);
	o->connecting = 0;
	rt_out_read(o, iov, iovcnt, n, now, &d);
	rt_conn_out_unlock(c, fd, 0);
	deliver(&d);
}

/* Bytes written by a path that is not rt_conn_out_send (TLS plaintext): timed from now. */
void rt_conn_out_wrote(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		       size_t n)
{
	const rt_call_parent_t *p = current_parent();
	uint64_t now = rt_mono_ns();
	rt_out_t *o = rt_conn_out_lock(c, fd, tok);
	if (!o)
		return;
	rt_out_done_t d;
	done_init(&d);
	o->connecting = 0;
	rt_out_wrote(o, p, 0, iov, iovcnt, n, now, now, &d);
	rt_conn_out_unlock(c, fd, 0);
	deliver(&d);
}

void rt_conn_out_closing(rt_conn_t *c, int fd)
{
	rt_out_t *o = rt_conn_out_lock(c, fd, 0);
	if (!o)
		return;
	rt_out_done_t d;
	done_init(&d);
	rt_out_closing(o, rt_mono_ns(), &d);
	rt_conn_out_unlock(c, fd, 1);
	deliver(&d);
}

/* ---- the service's writes ---- */

/* The call as the service made it. */
static ssize_t send_as_made(int fd, const rt_send_t *s)
{
	switch (s->kind) {
	case RT_SEND_WRITE:
		return REAL(write)(fd, s->iov[0].iov_base, s->iov[0].iov_len);
	case RT_SEND_WRITEV:
		return REAL(writev)(fd, s->iov, s->iovcnt);
	case RT_SEND_SEND:
		return REAL(send)(fd, s->iov[0].iov_base, s->iov[0].iov_len, s->flags);
	case RT_SEND_SENDTO:
		return REAL(sendto)(fd, s->iov[0].iov_base, s->iov[0].iov_len, s->flags, s->to, s->tolen);
	case RT_SEND_SENDMSG:
		return REAL(sendmsg)(fd, s->msg, s->flags);
	case RT_SEND_SENDFILE:
		return REAL(sendfile)(fd, s->in_fd, s->off, s->count);
	default:
		return REAL(sendfile64)(fd, s->in_fd, s->off, s->count);
	}
}

/* Flags that keep their meaning for our part of the stream. */
static int own_flags(const rt_send_t *s)
{
	if (s->kind == RT_SEND_SEND || s->kind == RT_SEND_SENDTO || s->kind == RT_SEND_SENDMSG)
		return s->flags & (MSG_NOSIGNAL | MSG_DONTWAIT);
	return 0;
}

/* The service's bytes with pl's lines at their offsets: one sendmsg, the service's
 * own message fields (address, control data) kept. */
static ssize_t send_edited(int fd, const rt_send_t *s, const rt_out_plan_t *pl)
{
	struct iovec v[EDIT_IOV_MAX + 2 * RT_OUT_EDITS_MAX];
	int n = 0, k = 0;
	size_t off = 0;
	for (int i = 0; i < s->iovcnt; i++) {
		const struct iovec *e = &s->iov[i];
		size_t done = 0; /* of this piece */
		while (k < pl->nedits && pl->e[k].at < off + e->iov_len) {
			size_t cut = pl->e[k].at - off;
			if (cut > done)
				v[n++] = (struct iovec){ (char *)e->iov_base + done, cut - done };
			v[n++] = (struct iovec){ (void *)pl->e[k].line, pl->line_len };
			done = cut;
			k++;
		}
		if (e->iov_len > done)
			v[n++] = (struct iovec){ (char *)e->iov_base + done, e->iov_len - done };
		off += e->iov_len;
	}
	struct msghdr m = { 0 };
	if (s->kind == RT_SEND_SENDMSG)
		m = *s->msg;
	else if (s->kind == RT_SEND_SENDTO)
		m.msg_name = (void *)s->to, m.msg_namelen = s->tolen;
	m.msg_iov = v;
	m.msg_iovlen = (size_t)n;
	int flags = s->kind == RT_SEND_WRITE || s->kind == RT_SEND_WRITEV ? 0 : s->flags;
	return REAL(sendmsg)(fd, &m, flags);
}

static size_t total_len(const rt_send_t *s)
{
	size_t n = 0;
	for (int i = 0; s->iov && i < s->iovcnt; i++)
		n += s->iov[i].iov_len;
	return n;
}

/* After a call of the service's that wrote svc of its bytes (t0: before it). */
static void account(rt_conn_t *c, int fd, uint64_t tok, const rt_send_t *s,
		    const rt_call_parent_t *p, int propagate, const rt_out_plan_t *pl, ssize_t m,
		    uint64_t t0, ssize_t *svc)
{
	rt_out_done_t d;
	done_init(&d);
	rt_out_t *o = rt_conn_out_lock(c, fd, tok);
	*svc = m;
	if (!o)
		return;
	if (m >= 0 && pl && pl->nedits)
		*svc = (ssize_t)rt_out_edit_sent(o, pl, (size_t)m, &d);
	if (*svc > 0) {
		o->connecting = 0;
		int opaque = s->kind == RT_SEND_SENDFILE || s->kind == RT_SEND_SENDFILE64;
		rt_out_wrote(o, p, propagate, opaque ? NULL : s->iov, s->iovcnt, (size_t)*svc, t0,
			     rt_mono_ns(), &d);
	}
	rt_conn_out_unlock(c, fd, 0);
	deliver(&d);
}

/* One round: the owed part of a line first, then the service's bytes, edited or not.
 * Returns 1 with *ret set when the service's call is answered, 0 to go round again
 * (a line's part was sent and none of the service's bytes yet). */
static int send_round(rt_conn_t *c, int fd, uint64_t tok, const rt_send_t *s,
		      const rt_call_parent_t *p, int propagate, ssize_t *ret)
{
	rt_out_plan_t pl;
	uint64_t t0 = rt_mono_ns();
	rt_out_t *o = rt_conn_out_lock(c, fd, tok);
	if (!o) {
		*ret = send_as_made(fd, s);
		return 1;
	}
	rt_out_plan(o, p, propagate, s->iov, s->iovcnt, total_len(s), &pl);
	rt_conn_out_unlock(c, fd, 0);
	rt_tls_leave();
	if (pl.owed_len) {
		ssize_t k = REAL(send)(fd, pl.owed, pl.owed_len, own_flags(s));
		int saved = errno;
		rt_tls_enter();
		if (k < 0) {
			*ret = -1;
			errno = saved;
			return 1; /* none of the service's bytes went: as its call would fail */
		}
		if ((o = rt_conn_out_lock(c, fd, tok)) != NULL) {
			rt_out_owed_sent(o, (size_t)k);
			rt_conn_out_unlock(c, fd, 0);
		}
		errno = saved;
		return 0;
	}
	ssize_t m = pl.nedits ? send_edited(fd, s, &pl) : send_as_made(fd, s);
	int saved = errno;
	rt_tls_enter();
	account(c, fd, tok, s, p, propagate, pl.nedits ? &pl : NULL, m, t0, ret);
	errno = saved;
	/* All the service's call wrote was part of the line (it went at offset 0). */
	return !(m > 0 && *ret == 0 && total_len(s) > 0);
}

int rt_conn_out_send(rt_conn_t *c, int fd, const rt_send_t *s, ssize_t *ret)
{
	int propagate = rt_cfg.propagate && s->iovcnt <= EDIT_IOV_MAX;
	const rt_call_parent_t *pp = current_parent();
	rt_call_parent_t p;
	if (pp)
		p = *pp; /* the cache may change under a signal handler's call */
	uint64_t tok = rt_conn_token(c);
	while (!send_round(c, fd, tok, s, pp ? &p : NULL, propagate, ret))
		;
	return 1;
}
