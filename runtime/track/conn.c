/* conn.c: connection tracking (see track/conn.h). Owns the fd table, the live list,
 * the per-connection parsers and request queue. A request's lifecycle is track/request.c;
 * deciding that a request is slow happens here only as the watchdog's scan. */
#include "track/conn.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include "base/cfg.h"
#include "base/log.h"
#include "base/stats.h"
#include "sample/process_cpu.h"
#include "sample/thread.h"
#include "track/h2.h"
#include "track/h2_conn.h"
#include "track/http.h"
#include "track/outbound.h"
#include "track/request.h"
#include "track/sink.h"
#include "track/tls.h"
#include "track/waits.h"

#define CONN_TABLE_MAX (1u << 20)

/* A connection's lock is taken twice per request by the thread serving it and almost
 * never by anyone else (the watchdog's scan of a late request, a heap sample asking
 * for ids): an exchange to take it and a store to release it, where a pthread mutex
 * cost some 130 instructions a pair. A waiter yields its CPU rather than spin: the
 * holder may be the watchdog arming a timer (system calls). */
static inline void conn_lock(_Atomic int *mu)
{
	while (atomic_exchange_explicit(mu, 1, memory_order_acquire) != 0)
		while (atomic_load_explicit(mu, memory_order_relaxed) != 0)
			sched_yield();
}

static inline void conn_unlock(_Atomic int *mu)
{
	atomic_store_explicit(mu, 0, memory_order_release);
}

struct rt_conn {
	_Atomic int mu;               /* conn_lock(); 0 free */
	int fd;
	_Atomic uint64_t gen;         /* incarnation: unique per accept, never 0 */
	dev_t sock_dev;               /* the accepted socket's identity (ino 0: unknown) */
	ino_t sock_ino;
	int live;                     /* cleared (under mu) when tracking stops */
	int served;                   /* at least one request head was parsed */
	int resp_fresh;               /* response parser is at a message start */
	unsigned ends;                /* responses ended, for the identity check's period */
	rt_conn_t *prev, *next;       /* live list, or free list (next only) */
	rt_http_req_t rq;
	rt_http_resp_t rs;
	rt_req_t *head, *tail;        /* requests read, oldest first, awaiting responses */
	rt_req_t *reading;            /* request whose bytes are being read */
	rt_req_t *spare;              /* a finished request kept for reuse (saves malloc) */
	_Atomic uint64_t head_start;  /* head's start (0 when none or already slow) */
	rt_thread_t *io_thread;       /* thread that last moved bytes on this connection
	                                 (written atomically: the watchdog reads it unlocked) */
	uint8_t proto;                /* PROTO_*: what the first bytes read said */
	uint8_t preface;              /* bytes of the HTTP/2 preface matched so far */
	rt_h2_conn_t *h2;             /* the HTTP/2 side (PROTO_H2), else NULL */
	/* TLS (track/tls.h): the socket's own bytes are libssl's ciphertext, not parsed;
	 * the plaintext comes through rt_conn_tls_read/rt_conn_tls_wrote */
	_Atomic int tls;              /* a TLS connection (its first bytes were a record) */
	_Atomic int tls_seen;         /* an SSL_* call was made on it */
	int moved;                    /* some byte moved on the socket */
	int alpn_h2;                  /* ALPN chose h2 (read with the first plaintext) */
	const void *ssl;              /* the SSL session whose plaintext is parsed */
	/* for spans only (read at accept when export is on) */
	struct sockaddr_storage peer;
	uint16_t local_port;
	/* A connection the service opened (track/conn_out.c) rather than accepted: its
	 * state is out's (made on first use, kept while the struct is recycled). */
	_Atomic int outbound;
	rt_out_t *out;
};

/* Until its first bytes are read a connection may be HTTP/2: they are held back from
 * the HTTP/1.x parser while they match the preface (then replayed from it). */
enum { PROTO_FIRST, PROTO_H1, PROTO_H2 };

_Atomic(rt_conn_t *) *rt_conn_table;
size_t rt_conn_table_len;
_Atomic int rt_outbound_opened; /* see rt.h: set for good by the first outbound */

static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;
static rt_conn_t *live_list, *free_list;
static _Atomic uint64_t last_gen;
static _Atomic int fd_high;           /* highest fd ever tracked: bounds close_range */
/* For the stats file: structs made (never freed), live ones, spare requests held. */
static _Atomic size_t n_structs, n_live, n_spares;

size_t rt_conn_tracked(size_t *live)
{
	*live = atomic_load(&n_live);
	return atomic_load(&n_structs) * sizeof(rt_conn_t) + atomic_load(&n_spares) * sizeof(rt_req_t) +
	       rt_h2_conn_bytes();
}

static int ids_for_sample(rt_thread_t *t, uint64_t serial);

int rt_conn_init(void)
{
	struct rlimit rl;
	size_t n = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
		n = rl.rlim_max > n ? (size_t)rl.rlim_max : n;
	if (n > CONN_TABLE_MAX)
		n = CONN_TABLE_MAX;
	/* Untouched pages cost nothing: only fds in use fault their page in. */
	void *p = mmap(NULL, n * sizeof *rt_conn_table, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	rt_conn_table = p;
	rt_conn_table_len = n;
	rt_thread_set_ids_source(ids_for_sample);
	return 0;
}

/* The peer's address and our port, which spans report. Two system calls per
 * connection, paid only when spans are exported. */
static void read_addresses(rt_conn_t *c, int fd)
{
	struct sockaddr_storage local;
	socklen_t n = sizeof c->peer;
	if (getpeername(fd, (struct sockaddr *)&c->peer, &n) != 0)
		c->peer.ss_family = AF_UNSPEC;
	n = sizeof local;
	if (getsockname(fd, (struct sockaddr *)&local, &n) != 0)
		return;
	if (local.ss_family == AF_INET)
		c->local_port = ntohs(((struct sockaddr_in *)&local)->sin_port);
	else if (local.ss_family == AF_INET6)
		c->local_port = ntohs(((struct sockaddr_in6 *)&local)->sin6_port);
}

/* ---- the live list (list_mu) ---- */

/* Connection structs are never freed, only recycled, so a stale pointer read from the
 * table by a racing thread still points at a connection; it re-checks fd and live
 * under the connection's lock before using it. */
static rt_conn_t *conn_alloc(int fd)
{
	pthread_mutex_lock(&list_mu);
	rt_conn_t *c = free_list;
	if (c)
		free_list = c->next;
	pthread_mutex_unlock(&list_mu);
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c)
			return NULL;
		atomic_store_explicit(&c->mu, 0, memory_order_relaxed);
		atomic_fetch_add(&n_structs, 1);
	}
	struct stat st;
	int known = fstat(fd, &st) == 0;
	conn_lock(&c->mu);
	c->fd = fd;
	atomic_store_explicit(&c->gen, atomic_fetch_add(&last_gen, 1) + 1, memory_order_relaxed);
	c->sock_dev = known ? st.st_dev : 0;
	c->sock_ino = known ? st.st_ino : 0;
	c->live = 1;
	c->served = 0;
	c->resp_fresh = 1;
	c->ends = 0;
	c->head = c->tail = c->reading = NULL;
	__atomic_store_n(&c->io_thread, NULL, __ATOMIC_RELAXED);
	c->proto = PROTO_FIRST;
	c->preface = 0;
	c->h2 = NULL;
	atomic_store_explicit(&c->tls, 0, memory_order_relaxed);
	atomic_store_explicit(&c->tls_seen, 0, memory_order_relaxed);
	c->moved = 0;
	c->alpn_h2 = 0;
	c->ssl = NULL;
	c->peer.ss_family = AF_UNSPEC;
	c->local_port = 0;
	atomic_store_explicit(&c->outbound, 0, memory_order_relaxed);
	if (rt_sink_wants_spans())
		read_addresses(c, fd);
	atomic_store(&c->head_start, 0);
	rt_http_req_init(&c->rq);
	rt_http_resp_init(&c->rs);
	conn_unlock(&c->mu);

	pthread_mutex_lock(&list_mu);
	c->prev = NULL;
	c->next = live_list;
	if (live_list)
		live_list->prev = c;
	live_list = c;
	atomic_fetch_add(&n_live, 1);
	pthread_mutex_unlock(&list_mu);
	return c;
}

/* After tracking stopped (live == 0), not holding c->mu. */
static void conn_recycle(rt_conn_t *c)
{
	pthread_mutex_lock(&list_mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		live_list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = free_list;
	free_list = c;
	atomic_fetch_sub(&n_live, 1);
	pthread_mutex_unlock(&list_mu);
}

/* Unlocks c->mu, and recycles c if tracking stopped while it was held. */
static void conn_release(rt_conn_t *c)
{
	int stopped = !c->live;
	conn_unlock(&c->mu);
	if (stopped)
		conn_recycle(c);
}

/* ---- identity (c->mu held) ----
 * A connection closed behind our back (a raw close system call, a close inside
 * another library) keeps its slot until its number is accepted again, and a file or
 * pipe opened on that number meanwhile would feed it bytes. The fd is compared with
 * the socket accepted (its inode, one fstat) before a request is written down: a slow
 * one (files, index line), one whose response ends with the close, and every
 * IDENTITY_PERIOD-th response, which bounds what a stale connection can miscount.
 * Not every response: a system call costs 0.6-0.9 us here, some 9 % of a keep-alive
 * request (doc/DESIGN.md, "Tracking details"). */
#define IDENTITY_PERIOD 64

static int same_socket(rt_conn_t *c)
{
	struct stat st;
	if (c->sock_ino == 0)
		return 1;
	return fstat(c->fd, &st) == 0 && st.st_ino == c->sock_ino && st.st_dev == c->sock_dev;
}

/* Whether the response ending now must be checked first (c->head is its request). */
static int check_due(rt_conn_t *c)
{
	return c->head->slow || ++c->ends % IDENTITY_PERIOD == 0;
}

/* ---- request queue (c->mu held) ---- */

/* t is working on h, c's head (or on nothing). While a whole-process CPU profile runs,
 * h's ids are made (they are the same ids its span and files will have) and kept with
 * the thread, so the samples taken meanwhile carry them; otherwise a heap sample asks
 * for them (ids_for_sample). c->mu held. */
static void set_current(rt_thread_t *t, rt_conn_t *c, rt_req_t *h)
{
	atomic_store_explicit(&t->cur_serial, h ? h->serial : 0, memory_order_relaxed);
	atomic_store_explicit(&t->cur_start_ns, h ? h->start_mono_ns : 0, memory_order_relaxed);
	atomic_store_explicit(&t->cur_owner, h ? (void *)c : NULL, memory_order_relaxed);
	if (!rt_process_cpu_running())
		return;
	if (!h || !h->head_done) { /* before the head, the trace id is not known yet */
		rt_thread_set_ids(t, 0, NULL, NULL);
		return;
	}
	rt_req_ensure_ids(h);
	rt_thread_set_ids(t, h->serial, h->ctx.trace_id, h->span_id);
}

/* The ids source of sample/thread.h: t sampled an allocation while working on request
 * serial, which may have no ids yet. It runs in that host thread, inside a malloc but
 * outside the runtime, holding no runtime lock, so it may take the connection's; the
 * serial, unique in the process, tells whether c (recycled, never freed, so still a
 * connection) still has that request at its head. */
static int ids_for_sample(rt_thread_t *t, uint64_t serial)
{
	rt_conn_t *c = atomic_load_explicit(&t->cur_owner, memory_order_relaxed);
	int ok = 0;
	if (!c)
		return 0;
	conn_lock(&c->mu);
	rt_req_t *h = c->head;
	/* Before its head is read, a request's trace id is not known. */
	if (c->live && h && h->serial == serial && h->head_done) {
		rt_req_ensure_ids(h);
		rt_thread_set_ids(t, serial, h->ctx.trace_id, h->span_id);
		ok = 1;
	}
	conn_unlock(&c->mu);
	return ok;
}

static void queue_changed(rt_conn_t *c)
{
	rt_req_t *h = c->head;
	atomic_store_explicit(&c->head_start, h && !h->slow ? h->start_mono_ns : 0,
			      memory_order_release);
	if (c->io_thread)
		set_current(c->io_thread, c, h);
}

static void queue_push(rt_conn_t *c, rt_req_t *r)
{
	r->next = NULL;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	if (c->head == r)
		queue_changed(c);
}

static rt_req_t *queue_pop(rt_conn_t *c)
{
	rt_req_t *r = c->head;
	if (!r)
		return NULL;
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	if (c->reading == r)
		c->reading = NULL;
	queue_changed(c);
	return r;
}

/* The spare saves a malloc for a request already waiting (pipelining); an idle
 * keep-alive connection holds none, so that 10,000 of them cost 1.5 KiB less each:
 * its thread keeps it for its next request instead (rt_req_recycle). */
static void end_request(rt_conn_t *c, rt_req_t *r, int status_known)
{
	r = rt_req_end(r, status_known);
	if (r && !c->spare && c->head) {
		c->spare = r;
		atomic_fetch_add(&n_spares, 1);
	} else {
		rt_req_recycle(r);
	}
}

/* Stops tracking: requests whose head was read are counted as ended (the service saw
 * them; it may still answer, unseen by us); the rest are dropped. c->mu held. */
static void conn_stop(rt_conn_t *c, int fd, int count_pending)
{
	rt_req_t *r;
	c->live = 0;
	rt_conn_t *expect = c;
	atomic_compare_exchange_strong(&rt_conn_table[fd], &expect, NULL);
	while ((r = queue_pop(c)) != NULL) {
		if (count_pending && r->head_done)
			end_request(c, r, 0);
		else
			rt_req_discard(r);
	}
	if (c->h2) {
		rt_h2_conn_free(c->h2, count_pending);
		c->h2 = NULL;
	}
	atomic_store(&c->head_start, 0);
}

/* Bytes that are not HTTP/1.x. Before any request this is a non-HTTP connection
 * (TLS, HTTP/2, another protocol): dropped at once. After some, a framing error. */
static void conn_give_up(rt_conn_t *c, int fd)
{
	if (!c->served && c->io_thread)
		atomic_fetch_add_explicit(&c->io_thread->non_http, 1, memory_order_relaxed);
	else
		rt_stat_add(RT_STAT_CONN_ERRORS, 1);
	conn_stop(c, fd, 1);
}

/* ---- events ---- */

void rt_conn_accepted(int fd)
{
	if ((size_t)fd >= rt_conn_table_len)
		return;
	rt_conn_t *c = conn_alloc(fd);
	if (!c)
		return;
	int high = atomic_load_explicit(&fd_high, memory_order_relaxed);
	while (fd > high && !atomic_compare_exchange_weak(&fd_high, &high, fd))
		;
	/* A connection still in the table was closed by a path we do not see (a raw
	 * close system call, freopen): its state is stale. */
	rt_conn_t *old = atomic_exchange(&rt_conn_table[fd], c);
	if (old) {
		conn_lock(&old->mu);
		int was_live = old->live && old->fd == fd;
		if (was_live)
			conn_stop(old, fd, 1);
		conn_unlock(&old->mu);
		if (was_live)
			conn_recycle(old);
		/* conn_stop may have cleared the slot we just filled; put ours back. */
		rt_conn_t *none = NULL;
		atomic_compare_exchange_strong(&rt_conn_table[fd], &none, c);
	}
}

/* The stream on fd ends (c->mu held; released here). */
static void close_locked(rt_conn_t *c, int fd)
{
	__atomic_store_n(&c->io_thread, rt_thread_self(), __ATOMIC_RELAXED);
	/* A TLS connection whose plaintext no SSL_* call ever showed us. */
	if (atomic_load_explicit(&c->tls, memory_order_relaxed) &&
	    !atomic_load_explicit(&c->tls_seen, memory_order_relaxed))
		rt_stat_add(RT_STAT_TLS_UNSEEN, 1);
	if (c->head && !same_socket(c)) {
		conn_stop(c, fd, 0); /* what is closed is not our connection */
		conn_unlock(&c->mu);
		conn_recycle(c);
		return;
	}
	/* A body delimited by connection close ends here. */
	if (c->head && rt_http_resp_eof(&c->rs)) {
		rt_req_t *r = queue_pop(c);
		r->status = c->rs.status;
		end_request(c, r, 1);
	}
	conn_stop(c, fd, 1);
	conn_unlock(&c->mu);
	conn_recycle(c);
}

void rt_conn_closing(rt_conn_t *c, int fd)
{
	if (rt_conn_is_outbound(c)) {
		rt_conn_out_closing(c, fd);
		return;
	}
	conn_lock(&c->mu);
	if (!c->live || c->fd != fd) {
		conn_unlock(&c->mu);
		return;
	}
	close_locked(c, fd);
}

/* CLOSE_RANGE_CLOEXEC only marks (exec closes, and the new image starts afresh).
 * CLOSE_RANGE_UNSHARE closes in a private copy of the table: the other threads keep
 * the fds, but stop being tracked on them rather than risk mixing. Arguments the
 * kernel refuses close nothing. */
void rt_conn_close_range(unsigned int first, unsigned int last, int flags)
{
	unsigned int known = CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE;
	int high = atomic_load_explicit(&fd_high, memory_order_relaxed);
	if (((unsigned int)flags & ~known) || (flags & CLOSE_RANGE_CLOEXEC) || first > last)
		return;
	if (last > (unsigned int)high)
		last = (unsigned int)high;
	for (unsigned int fd = first; fd <= last && high >= 0; fd++) {
		rt_conn_t *c = rt_conn_lookup((int)fd);
		if (c)
			rt_conn_closing(c, (int)fd);
	}
}

uint64_t rt_conn_token(rt_conn_t *c)
{
	return atomic_load_explicit(&c->gen, memory_order_relaxed);
}

/* Handles one request-parser event. Returns -1 when tracking must stop. */
static int on_request_event(rt_conn_t *c, int ev)
{
	rt_req_t *r;
	switch (ev) {
	case RT_HTTP_EV_BEGIN:
		if (c->spare)
			atomic_fetch_sub(&n_spares, 1);
		r = rt_req_begin(c->spare);
		c->spare = NULL;
		if (!r)
			return -1;
		c->reading = r;
		queue_push(c, r);
		return 0;
	case RT_HTTP_EV_HEAD:
		if (c->reading) {
			rt_req_head(c->reading, &c->rq, rt_cfg.record_query);
			c->reading->tls = (uint8_t)atomic_load_explicit(&c->tls, memory_order_relaxed);
			if (rt_sink_wants_spans()) {
				c->reading->peer = c->peer;
				c->reading->local_port = c->local_port;
			}
			c->served = 1;
		}
		return 0;
	case RT_HTTP_EV_END:
		c->reading = NULL;
		return 0;
	case RT_HTTP_EV_ERROR:
	case RT_HTTP_EV_UPGRADE:
		return -1;
	}
	return 0;
}

static int feed_request(rt_conn_t *c, const char *p, size_t n)
{
	for (;;) {
		int ev = RT_HTTP_EV_NONE;
		size_t used = rt_http_req_feed(&c->rq, p, n, &ev);
		p += used;
		n -= used;
		if (ev == RT_HTTP_EV_NONE)
			return n == 0 ? 0 : -1;
		if (on_request_event(c, ev) != 0)
			return -1;
		/* A BEGIN or a HEAD can owe an event without bytes (the HEAD of a head
		 * read whole, the END of a request with no body): out of bytes after an
		 * END, there is nothing more to learn. */
		if (n == 0 && ev == RT_HTTP_EV_END)
			return 0;
	}
}

#define RESP_STALE 2

/* Returns 1 when the stream stops being HTTP after this response (101), RESP_STALE
 * when the fd is no longer the socket accepted. */
static int on_response_event(rt_conn_t *c, int ev)
{
	rt_req_t *r;
	switch (ev) {
	case RT_HTTP_EV_HEAD:
		if (c->head)
			c->head->status = c->rs.status;
		return 0;
	case RT_HTTP_EV_END:
	case RT_HTTP_EV_UPGRADE:
		if (c->head && check_due(c) && !same_socket(c))
			return RESP_STALE;
		if ((r = queue_pop(c)) != NULL) {
			if (ev == RT_HTTP_EV_UPGRADE)
				r->status = c->rs.status;
			end_request(c, r, 1);
		}
		c->resp_fresh = 1;
		return ev == RT_HTTP_EV_UPGRADE ? 1 : 0;
	case RT_HTTP_EV_ERROR:
		return -1;
	}
	return 0;
}

static int feed_response(rt_conn_t *c, const char *p, size_t n)
{
	for (;;) {
		int ev = RT_HTTP_EV_NONE;
		if (c->resp_fresh) {
			/* A server speaking first, or answering nothing, is not HTTP. */
			if (!c->head)
				return -1;
			rt_http_resp_expect(&c->rs, c->head->is_head);
			c->resp_fresh = 0;
		}
		size_t used = rt_http_resp_feed(&c->rs, p, n, &ev);
		if (p)
			p += used;
		n -= used;
		if (ev == RT_HTTP_EV_NONE)
			return n == 0 ? 0 : -1;
		int rc = on_response_event(c, ev);
		if (rc != 0)
			return rc;
		/* A head may end the whole response (HEAD, 204, 304, Content-Length: 0),
		 * and a BEGIN may owe the HEAD of a head read whole: the parser reports
		 * those on the next call even with no bytes left, and they must be taken
		 * now, not when the connection next speaks. After an END the next response
		 * has not begun, so out of bytes means done. */
		if (n == 0 && ev == RT_HTTP_EV_END)
			return 0;
	}
}

/* Locks c if it is still the connection on fd that tok was taken from. */
static int lock_live(rt_conn_t *c, int fd, uint64_t tok)
{
	conn_lock(&c->mu);
	if (c->live && c->fd == fd && atomic_load_explicit(&c->gen, memory_order_relaxed) == tok) {
		rt_thread_t *t = rt_thread_self();
		if (t && t != c->io_thread) {
			__atomic_store_n(&c->io_thread, t, __ATOMIC_RELAXED);
		}
		if (t) {
			rt_waits_ensure(t);
			set_current(t, c, c->head);
		}
		return 0;
	}
	conn_unlock(&c->mu);
	return -1;
}

/* The first bytes of a connection, and all of an HTTP/2 one. Returns -1 when
 * tracking must stop (an HTTP/2 connection's drop is counted by track/h2_conn.c). */
static int feed_first_or_h2(rt_conn_t *c, const char *p, size_t n)
{
	if (c->proto == PROTO_H2)
		return rt_h2_conn_read(c->h2, p, n);
	int m = rt_h2_preface_match(c->preface, p, n);
	if (m >= 0 && m < RT_H2_PREFACE_LEN) {
		c->preface = (uint8_t)m; /* all of it matched: wait for more */
		return 0;
	}
	size_t held = c->preface;
	if (m < 0 && c->h2) { /* the server spoke first, not HTTP/2: not HTTP at all */
		rt_h2_conn_free(c->h2, 0);
		c->h2 = NULL;
		return -1;
	}
	if (m < 0) { /* HTTP/1.x or not HTTP: what was held back, then these bytes */
		c->proto = PROTO_H1;
		if (held && feed_request(c, RT_H2_PREFACE, held) != 0)
			return -1;
		return feed_request(c, p, n);
	}
	if (!c->h2)
		c->h2 = rt_h2_conn_new(&c->peer, c->local_port);
	if (!c->h2)
		return -1;
	if (atomic_load_explicit(&c->tls, memory_order_relaxed))
		rt_h2_conn_set_tls(c->h2);
	c->proto = PROTO_H2;
	rt_stat_add(RT_STAT_H2_CONNECTIONS, 1);
	size_t rest = RT_H2_PREFACE_LEN - held;
	if (rt_h2_conn_read(c->h2, RT_H2_PREFACE, RT_H2_PREFACE_LEN) != 0)
		return -1;
	return rt_h2_conn_read(c->h2, p + rest, n - rest);
}

/* A read or write's pieces for a connection that is HTTP/2 or not yet known. */
static int feed_pieces(rt_conn_t *c, int write, const struct iovec *iov, int iovcnt, size_t n)
{
	int rc = 0;
	if (!iov) /* bytes we could not see: only an HTTP/2 DATA payload may be skipped */
		return !c->h2 ? -1 : write ? rt_h2_conn_wrote(c->h2, NULL, n)
					   : rt_h2_conn_read(c->h2, NULL, n);
	for (int i = 0; i < iovcnt && n > 0 && rc == 0; i++) {
		size_t len = iov[i].iov_len < n ? iov[i].iov_len : n;
		if (write)
			rc = rt_h2_conn_wrote(c->h2, iov[i].iov_base, len);
		else if (c->proto == PROTO_H1) /* decided by an earlier piece */
			rc = feed_request(c, iov[i].iov_base, len);
		else
			rc = feed_first_or_h2(c, iov[i].iov_base, len);
		n -= len;
	}
	return rc;
}

/* An HTTP/2 server may send its SETTINGS before it reads the client's preface: a
 * first write that begins with a SETTINGS frame makes the HTTP/2 side early, kept only
 * if the client's first bytes are the preface. Anything else written first is not
 * HTTP (the caller gives up as before). */
static int server_spoke_first(rt_conn_t *c, const struct iovec *iov, int iovcnt)
{
	const uint8_t *f = iov && iovcnt > 0 ? iov[0].iov_base : NULL;
	if (c->proto != PROTO_FIRST || c->head || !f || iov[0].iov_len < 9)
		return 0;
	uint32_t len = (uint32_t)f[0] << 16 | (uint32_t)f[1] << 8 | f[2];
	if (f[3] != 4 || f[4] != 0 || (f[5] | f[6] | f[7] | f[8]) != 0 || len % 6 != 0)
		return 0;
	c->h2 = rt_h2_conn_new(&c->peer, c->local_port);
	return c->h2 != NULL;
}

/* After an HTTP/2 connection's bytes: stop on error, else tell the watchdog. */
static void h2_after(rt_conn_t *c, int fd, int rc)
{
	if (rc != 0) {
		conn_stop(c, fd, 1); /* counted by track/h2_conn.c */
		return;
	}
	atomic_store_explicit(&c->head_start, rt_h2_conn_oldest(c->h2), memory_order_release);
	if (c->io_thread)
		set_current(c->io_thread, c, rt_h2_conn_current(c->h2));
}

/* ---- TLS (c->mu held unless said) ---- */

/* Bytes on the socket itself. The first ones tell whether it is TLS: then it is a TLS
 * connection from now on, and 1 is returned. */
static int tls_begins(rt_conn_t *c, const struct iovec *iov, int iovcnt, size_t n)
{
	if (c->moved)
		return 0;
	c->moved = 1;
	if (!iov || !rt_tls_record_start(iov, iovcnt, n))
		return 0;
	atomic_store_explicit(&c->tls, 1, memory_order_relaxed);
	return 1;
}

/* Plaintext through ssl: the first makes c a TLS connection (its handshake may have
 * gone by unseen) and reads what ALPN chose. */
static void tls_plaintext(rt_conn_t *c, const void *ssl)
{
	if (c->ssl == ssl)
		return;
	c->ssl = ssl;
	c->moved = 1;
	atomic_store_explicit(&c->tls, 1, memory_order_relaxed);
	atomic_store_explicit(&c->tls_seen, 1, memory_order_relaxed);
	c->alpn_h2 = rt_tls_alpn_h2(ssl);
}

/* A TLS handshake began on c (c->mu not held: finding libssl may take the loader's
 * lock). With no shared libssl loaded, the TLS is linked into the service and its
 * plaintext will never be seen: the connection is counted and dropped now. */
static void tls_check_lib(rt_conn_t *c, int fd, uint64_t tok)
{
	if (rt_tls_lib_loaded() || lock_live(c, fd, tok) != 0)
		return;
	if (!atomic_load_explicit(&c->tls_seen, memory_order_relaxed)) {
		rt_stat_add(RT_STAT_TLS_UNSEEN, 1);
		conn_stop(c, fd, 0);
	}
	conn_release(c);
}

/* Locks c for bytes that moved (ssl: plaintext through that session; NULL: the
 * socket's own bytes). Returns -1, unlocked, when they are not to be parsed: c is no
 * longer that connection, or they are a TLS connection's ciphertext. */
static int lock_for_bytes(rt_conn_t *c, int fd, uint64_t tok, const void *ssl,
			  const struct iovec *iov, int iovcnt, size_t n)
{
	if (lock_live(c, fd, tok) != 0)
		return -1;
	if (ssl) {
		tls_plaintext(c, ssl);
		return 0;
	}
	if (atomic_load_explicit(&c->tls, memory_order_relaxed)) {
		conn_unlock(&c->mu);
		return -1;
	}
	if (tls_begins(c, iov, iovcnt, n)) {
		conn_unlock(&c->mu);
		tls_check_lib(c, fd, tok);
		return -1;
	}
	return 0;
}

static void conn_read(rt_conn_t *c, int fd, uint64_t tok, const void *ssl,
		      const struct iovec *iov, int iovcnt, size_t n)
{
	int rc = 0;
	if (lock_for_bytes(c, fd, tok, ssl, iov, iovcnt, n) != 0)
		return;
	if (c->proto != PROTO_H1) {
		rc = feed_pieces(c, 0, iov, iovcnt, n);
	} else if (!iov) {
		rc = -1; /* bytes we could not see: framing is lost */
	} else {
		for (int i = 0; i < iovcnt && n > 0 && rc == 0; i++) {
			size_t len = iov[i].iov_len < n ? iov[i].iov_len : n;
			rc = feed_request(c, iov[i].iov_base, len);
			n -= len;
		}
	}
	/* A head read now gives the ids a whole-process profile's samples carry. */
	if (rc == 0 && c->head && c->io_thread && rt_process_cpu_running())
		set_current(c->io_thread, c, c->head);
	if (c->h2)
		h2_after(c, fd, rc);
	else if (rc != 0)
		conn_give_up(c, fd);
	conn_release(c);
}

static void conn_wrote(rt_conn_t *c, int fd, uint64_t tok, const void *ssl,
		       const struct iovec *iov, int iovcnt, size_t n)
{
	int rc = 0;
	if (lock_for_bytes(c, fd, tok, ssl, iov, iovcnt, n) != 0)
		return;
	if (c->h2 || server_spoke_first(c, iov, iovcnt)) {
		h2_after(c, fd, feed_pieces(c, 1, iov, iovcnt, n));
	} else if (!iov) {
		rc = feed_response(c, NULL, n);
	} else {
		for (int i = 0; i < iovcnt && n > 0 && rc == 0; i++) {
			size_t len = iov[i].iov_len < n ? iov[i].iov_len : n;
			rc = feed_response(c, iov[i].iov_base, len);
			n -= len;
		}
	}
	if (rc < 0)
		conn_give_up(c, fd);
	else if (rc == RESP_STALE)
		conn_stop(c, fd, 0); /* not our socket any more: nothing of it counts */
	else if (rc > 0)
		conn_stop(c, fd, 1); /* upgraded: no longer HTTP, not an error */
	conn_release(c);
}

/* A connection the service opened goes to its own side (track/conn_out.c). A TLS
 * connection's socket bytes are ciphertext: one load, no lock, and they are dropped
 * (a stale answer is settled under the lock). */
void rt_conn_read(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		  size_t n)
{
	if (rt_conn_is_outbound(c))
		rt_conn_out_read(c, fd, tok, iov, iovcnt, n);
	else if (!atomic_load_explicit(&c->tls, memory_order_relaxed))
		conn_read(c, fd, tok, NULL, iov, iovcnt, n);
}

void rt_conn_wrote(rt_conn_t *c, int fd, uint64_t tok, const struct iovec *iov, int iovcnt,
		   size_t n)
{
	if (rt_conn_is_outbound(c))
		rt_conn_out_wrote(c, fd, tok, iov, iovcnt, n);
	else if (!atomic_load_explicit(&c->tls, memory_order_relaxed))
		conn_wrote(c, fd, tok, NULL, iov, iovcnt, n);
}

void rt_conn_tls_read(rt_conn_t *c, int fd, uint64_t tok, const void *ssl, const void *buf,
		      size_t n)
{
	struct iovec v = { (void *)buf, n };
	conn_read(c, fd, tok, ssl, &v, 1, n);
}

void rt_conn_tls_wrote(rt_conn_t *c, int fd, uint64_t tok, const void *ssl, const void *buf,
		       size_t n)
{
	struct iovec v = { (void *)buf, n };
	conn_wrote(c, fd, tok, ssl, &v, 1, n);
}

void rt_conn_tls_call(rt_conn_t *c)
{
	if (!atomic_load_explicit(&c->tls_seen, memory_order_relaxed))
		atomic_store_explicit(&c->tls_seen, 1, memory_order_relaxed);
}

void rt_conn_tls_free(rt_conn_t *c, int fd, uint64_t tok, const void *ssl)
{
	if (lock_live(c, fd, tok) != 0)
		return;
	if (c->ssl != ssl) {
		conn_unlock(&c->mu);
		return;
	}
	close_locked(c, fd);
}

/* ---- the outbound side's access (track/conn_out.c) ---- */

int rt_conn_is_outbound(rt_conn_t *c)
{
	return atomic_load_explicit(&c->outbound, memory_order_relaxed);
}

rt_conn_t *rt_conn_opened(int fd, rt_out_t **out)
{
	if ((size_t)fd >= rt_conn_table_len)
		return NULL;
	rt_conn_t *c = conn_alloc(fd);
	if (!c)
		return NULL;
	conn_lock(&c->mu);
	if (!c->out)
		c->out = malloc(sizeof *c->out);
	if (!c->out) {
		conn_stop(c, fd, 0);
		conn_unlock(&c->mu);
		conn_recycle(c);
		return NULL;
	}
	atomic_store_explicit(&c->outbound, 1, memory_order_relaxed);
	atomic_store_explicit(&rt_outbound_opened, 1, memory_order_relaxed);
	*out = c->out;
	return c; /* locked: published by rt_conn_publish */
}

void rt_conn_publish(rt_conn_t *c, int fd)
{
	conn_unlock(&c->mu);
	int high = atomic_load_explicit(&fd_high, memory_order_relaxed);
	while (fd > high && !atomic_compare_exchange_weak(&fd_high, &high, fd))
		;
	rt_conn_t *old = atomic_exchange(&rt_conn_table[fd], c);
	if (old) { /* closed behind our back: as in rt_conn_accepted */
		conn_lock(&old->mu);
		int was_live = old->live && old->fd == fd;
		if (was_live) {
			if (old->out && rt_conn_is_outbound(old))
				old->out->mode = RT_OUT_DEAD;
			conn_stop(old, fd, 1);
		}
		conn_unlock(&old->mu);
		if (was_live)
			conn_recycle(old);
		rt_conn_t *none = NULL;
		atomic_compare_exchange_strong(&rt_conn_table[fd], &none, c);
	}
}

rt_out_t *rt_conn_out_lock(rt_conn_t *c, int fd, uint64_t tok)
{
	conn_lock(&c->mu);
	if (c->live && c->fd == fd && rt_conn_is_outbound(c) &&
	    (!tok || atomic_load_explicit(&c->gen, memory_order_relaxed) == tok))
		return c->out;
	conn_unlock(&c->mu);
	return NULL;
}

void rt_conn_out_unlock(rt_conn_t *c, int fd, int stop)
{
	if (stop && c->live)
		conn_stop(c, fd, 0);
	conn_release(c);
}

/* The request the calling thread serves, with its ids made: the parent of the calls it
 * makes. Takes that request's connection lock; the caller holds none. */
int rt_conn_thread_parent(rt_call_parent_t *p)
{
	rt_thread_t *t = rt_thread_peek();
	if (!t)
		return 0;
	uint64_t serial = atomic_load_explicit(&t->cur_serial, memory_order_relaxed);
	rt_conn_t *c = atomic_load_explicit(&t->cur_owner, memory_order_relaxed);
	if (!serial || !c)
		return 0;
	int ok = 0;
	conn_lock(&c->mu);
	for (rt_req_t *r = c->live ? c->head : NULL; r && !ok; r = r->next) {
		if (r->serial != serial || !r->head_done)
			continue;
		memset(p, 0, sizeof *p);
		p->serial = serial;
		p->owner = c;
		/* The ids go only into a traceparent line and spans: without either, the
		 * downstream time needs the serial alone, and no randomness is spent. */
		if (rt_cfg.propagate || rt_sink_wants_spans()) {
			rt_req_ensure_ids(r);
			memcpy(p->trace_id, r->ctx.trace_id, 16);
			memcpy(p->span_id, r->span_id, 8);
			p->flags = r->ctx.flags;
		}
		ok = 1;
	}
	conn_unlock(&c->mu);
	return ok;
}

void rt_conn_add_downstream(const rt_call_parent_t *p, const char *peer, size_t len,
			    uint32_t calls, uint64_t ns)
{
	rt_conn_t *c = p->owner;
	if (!c || !p->serial)
		return;
	conn_lock(&c->mu);
	for (rt_req_t *r = c->live ? c->head : NULL; r; r = r->next)
		if (r->serial == p->serial) {
			rt_req_add_downstream(r, peer, len, calls, ns);
			break;
		}
	conn_unlock(&c->mu);
}

/* ---- watchdog scan ---- */

/* Whether thread t served c's request alone until now, as far as the watchdog can
 * tell: no slow request has it sampled, and no other connection it moves bytes for has
 * a request in flight that began before now. (One that began and ended meanwhile shows
 * in t's request count: track/request.c.) Then what t's ring kept before the threshold
 * is c's request's. list_mu held. */
static int thread_alone(const rt_conn_t *c, rt_thread_t *t, uint64_t now)
{
	if (!t || atomic_load_explicit(&t->armed, memory_order_acquire))
		return 0;
	for (rt_conn_t *o = live_list; o; o = o->next) {
		if (o == c || __atomic_load_n(&o->io_thread, __ATOMIC_RELAXED) != t)
			continue;
		uint64_t s = atomic_load_explicit(&o->head_start, memory_order_acquire);
		if (s && s <= now)
			return 0;
	}
	return 1;
}

uint64_t rt_conn_scan(uint64_t now, uint64_t slow_ns)
{
	uint64_t next = 0;
	pthread_mutex_lock(&list_mu);
	for (rt_conn_t *c = live_list; c; c = c->next) {
		uint64_t start = atomic_load_explicit(&c->head_start, memory_order_acquire);
		/* A request that began after `now` was taken is not late (and would
		 * underflow the subtraction). */
		if (start == 0 || start > now)
			continue;
		if (now - start < slow_ns) {
			if (next == 0 || start + slow_ns < next)
				next = start + slow_ns;
			continue;
		}
		conn_lock(&c->mu);
		rt_req_t *h = c->head;
		if (c->live && c->h2) { /* streams: each may be slow, all on the serving thread */
			rt_h2_conn_scan(c->h2, now, slow_ns, c->io_thread);
			atomic_store_explicit(&c->head_start, rt_h2_conn_oldest(c->h2),
					      memory_order_release);
		} else if (c->live && h && !h->slow && h->start_mono_ns <= now &&
		    now - h->start_mono_ns >= slow_ns) {
			h->pre_alone = thread_alone(c, c->io_thread, now);
			rt_req_mark_slow(h, c->io_thread, now);
			queue_changed(c);
		}
		conn_unlock(&c->mu);
	}
	pthread_mutex_unlock(&list_mu);
	return next;
}

/* ---- fork ---- */

void rt_conn_fork_prepare(void)
{
	pthread_mutex_lock(&list_mu);
}

void rt_conn_fork_parent(void)
{
	pthread_mutex_unlock(&list_mu);
}

/* A connection lock held by a thread that did not survive the fork would never be
 * released: every lock is made anew. The child keeps tracking inherited connections
 * that are between requests (a forking server serves them in the child). Requests in
 * flight are the parent's, which answers and counts them: the child drops them
 * uncounted (closing its copy of the fd must not count them twice, nor export their
 * spans again) and stops tracking their connection, whose framing is mid-message. */
void rt_conn_fork_child(void)
{
	rt_conn_t *next; /* list_mu: released by the forking thread (boot/init.c) */
	/* Recycled ones too: a racing lookup, or a heap sample asking for ids, may have
	 * held one's lock at the fork. */
	for (rt_conn_t *c = free_list; c; c = c->next)
		atomic_store_explicit(&c->mu, 0, memory_order_relaxed);
	for (rt_conn_t *c = live_list; c; c = next) {
		next = c->next;
		atomic_store_explicit(&c->mu, 0, memory_order_relaxed);
		__atomic_store_n(&c->io_thread, NULL, __ATOMIC_RELAXED);
		for (rt_req_t *r = c->head; r; r = r->next) {
			/* The sampled thread is the parent's: nothing to release or unwatch. */
			r->slow = 0;
			r->thread = NULL;
			r->cpu_route = 0;
		}
		/* An HTTP/2 connection's frames and streams are mid-way too. */
		if (c->h2)
			rt_h2_conn_fork_child(c->h2);
		if (c->head || c->reading || c->h2) {
			conn_stop(c, c->fd, 0);
			conn_recycle(c);
		}
	}
}
